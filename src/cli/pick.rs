//! Which endpoint a name given on the command line means. Snapshots live in a `HashMap`, so
//! "the first match" would be a random one: every match is collected, an endpoint named
//! exactly so wins, and more than one otherwise is an error naming the candidates.

/// `matches`: (endpoint, value) for every endpoint the name fits. `Ok(None)`: none fits.
pub fn choose<T>(
    name: &str,
    mut matches: Vec<(String, T)>,
    hint: &str,
) -> Result<Option<(String, T)>, String> {
    if let Some(i) = matches.iter().position(|(e, _)| e == name) {
        return Ok(Some(matches.swap_remove(i)));
    }
    if matches.len() > 1 {
        let mut names: Vec<&str> = matches.iter().map(|(e, _)| e.as_str()).collect();
        names.sort_unstable();
        return Err(format!(
            "{name} is ambiguous: endpoints {}; {hint}",
            names.join(", ")
        ));
    }
    Ok(matches.pop())
}

#[cfg(test)]
mod tests {
    use super::choose;

    #[test]
    fn an_exact_endpoint_wins_and_two_scopes_are_ambiguous() {
        let two = || vec![("us-ha".to_string(), 2), ("eu-ha".to_string(), 1)];
        assert_eq!(
            choose("pg-main", two(), "name the endpoint"),
            Err("pg-main is ambiguous: endpoints eu-ha, us-ha; name the endpoint".into())
        );
        assert_eq!(
            choose("eu-ha", two(), "x"),
            Ok(Some(("eu-ha".to_string(), 1)))
        );
        assert_eq!(
            choose("pg-main", vec![("eu-ha".to_string(), 1)], "x"),
            Ok(Some(("eu-ha".to_string(), 1)))
        );
        assert_eq!(choose::<u8>("pg-main", Vec::new(), "x"), Ok(None));
    }
}
