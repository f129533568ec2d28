//! `scaleboard secret set|delete|list`: give an endpoint its password or token on any machine.
//!
//! `set` saves into the OS keyring when one answers, else into `credentials.toml` beside
//! `profiles.toml` (mode 0600), and says once where the secret went. `list` shows, for each
//! endpoint that takes a secret, where it is found (environment variable, keyring, credentials
//! file, the ecosystem's convention, or missing), never the value.
//!
//! Endpoints are named `PROFILE/ENDPOINT`, or `PROFILE/KIND/ENDPOINT` (`postgres`, `redis`,
//! `rabbitmq`, `prometheus`, `pgbouncer`) when two endpoints of a profile share a name.

use crate::connectors::postgres::dsn;
use crate::connectors::redis::{REDISCLI_AUTH, convention_password};
use crate::profiles::secrets::kind_word;
use crate::profiles::{
    CredentialsFile, EndpointKind, EndpointSecret, KeyringStatus, Profile, ProfileStore, Resolver,
    SecretError, Secrets,
};
use std::io::{IsTerminal, Read, Write};

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretCommand {
    /// Save the secret of PROFILE/ENDPOINT, read from the terminal (no echo) or stdin.
    Set(String),
    /// Remove it from the keyring and the credentials file.
    Delete(String),
    /// Where each endpoint's secret is found: all profiles, one profile, or one endpoint.
    List(Option<String>),
}

/// Runs a `secret` command with this process's keyring, credentials file and environment.
/// Returns false when `list` finds a required secret missing (exit code 1).
pub fn run(
    store: &ProfileStore,
    default_profile: Option<&str>,
    command: &SecretCommand,
    credentials: &CredentialsFile,
    mut out: impl Write,
) -> anyhow::Result<bool> {
    if let Some(damaged) = store.damaged() {
        anyhow::bail!("the profile file is damaged: {damaged}");
    }
    let env = |name: &str| std::env::var(name).ok();
    match command {
        SecretCommand::Set(target_text) => {
            let secret = target(store, target_text, default_profile)?;
            let value = read_value(&secret)?;
            set(
                &secret,
                &value,
                Secrets::shared(),
                credentials,
                env,
                &mut out,
            )?;
            Ok(true)
        }
        SecretCommand::Delete(target_text) => {
            let secret = target(store, target_text, default_profile)?;
            delete(&secret, Secrets::shared(), credentials, env, &mut out)?;
            Ok(true)
        }
        SecretCommand::List(filter) => {
            let resolver = Resolver::new(env, Some(Secrets::shared()), Some(credentials.clone()));
            list(store, filter.as_deref(), &resolver, &mut out)
        }
    }
}

/// The endpoint named by `PROFILE/ENDPOINT` or `PROFILE/KIND/ENDPOINT` (or `ENDPOINT` with
/// `--profile`). Profile names may hold `/`: the longest profile name that fits wins.
pub fn target(
    store: &ProfileStore,
    text: &str,
    default_profile: Option<&str>,
) -> anyhow::Result<EndpointSecret> {
    let text = text.trim();
    let mut candidates: Vec<(&Profile, &str)> = store
        .profiles()
        .iter()
        .filter_map(|p| Some((p, text.strip_prefix(p.name.as_str())?.strip_prefix('/')?)))
        .collect();
    if candidates.is_empty()
        && let Some(p) = default_profile.and_then(|n| store.get(n))
    {
        candidates.push((p, text));
    }
    candidates.sort_by_key(|(p, _)| std::cmp::Reverse(p.name.len()));
    let Some(&(profile, rest)) = candidates.first() else {
        // A profile refused on load is named with its errors, not "not found".
        if let Some(rejected) = text
            .split_once('/')
            .and_then(|(name, _)| store.issues().rejected(name))
        {
            anyhow::bail!("{rejected}");
        }
        let names: Vec<&str> = store.profiles().iter().map(|p| p.name.as_str()).collect();
        anyhow::bail!(
            "no saved profile matches \"{text}\": name the endpoint as PROFILE/ENDPOINT (saved \
             profiles: {}; in {})",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            },
            store.path().display()
        );
    };
    let all = EndpointSecret::all(profile);
    let by_name: Vec<&EndpointSecret> = all.iter().filter(|s| s.endpoint == rest).collect();
    match by_name.as_slice() {
        [one] => return Ok((*one).clone()),
        [] => {}
        many => {
            let ways: Vec<String> = many
                .iter()
                .map(|s| format!("{}/{}/{}", profile.name, kind_word(s.kind), s.endpoint))
                .collect();
            anyhow::bail!(
                "\"{text}\" names {} endpoints of profile \"{}\": say which, as {}",
                many.len(),
                profile.name,
                ways.join(" or ")
            );
        }
    }
    if let Some((kind, name)) = rest.split_once('/')
        && let Some(s) = all
            .iter()
            .find(|s| s.endpoint == name && kind_word(s.kind).eq_ignore_ascii_case(kind))
    {
        return Ok(s.clone());
    }
    if let Some((kind, _)) = profile
        .endpoint_names()
        .into_iter()
        .find(|(_, n)| n == rest)
    {
        anyhow::bail!(
            "{}/{rest} is a {kind} endpoint: it takes no password or token from Scaleboard ({})",
            profile.name,
            match kind {
                EndpointKind::Kubernetes => "the kubeconfig carries its own credentials",
                EndpointKind::Compose => "Docker's own contexts and config carry its credentials",
                _ => "its URL needs none",
            }
        );
    }
    let names: Vec<String> = all.iter().map(EndpointSecret::address).collect();
    anyhow::bail!(
        "profile \"{}\" has no endpoint \"{rest}\" that takes a password or token (it has: {})",
        profile.name,
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    )
}

/// Reads the secret: from the terminal without echo, or all of stdin when it is piped (one
/// trailing newline removed). An empty value is refused.
pub fn read_value(secret: &EndpointSecret) -> anyhow::Result<String> {
    let value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!(
            "{} for {} (not shown): ",
            capitalised(secret.what()),
            secret.address()
        ))?
    } else {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        strip_newline(text)
    };
    if value.is_empty() {
        anyhow::bail!(
            "the {} for {} is empty: nothing was saved",
            secret.what(),
            secret.address()
        );
    }
    Ok(value)
}

fn strip_newline(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Saves `value`: the OS keyring when it answers, else the credentials file. Says once where it
/// went, and when an environment variable would win over it.
pub fn set(
    secret: &EndpointSecret,
    value: &str,
    secrets: &Secrets,
    credentials: &CredentialsFile,
    env: impl Fn(&str) -> Option<String> + Send + Sync,
    mut out: impl Write,
) -> anyhow::Result<()> {
    let r = &secret.reference;
    let (what, address) = (secret.what(), secret.address());
    match secrets.keyring_set(r, value) {
        Some(Ok(())) => {
            writeln!(
                out,
                "Saved the {what} for {address} in the system keyring (entry {r})."
            )?;
            // The keyring is read first; an older copy in the file would only mislead.
            if credentials.delete(r).unwrap_or(false) {
                writeln!(
                    out,
                    "Removed the older copy from {}.",
                    credentials.path().display()
                )?;
            }
        }
        Some(Err(e)) => anyhow::bail!(
            "the system keyring did not save the {what} for {address}: {e}. Nothing was saved; \
             to keep it in {} instead, run again with SCALEBOARD_KEYRING=off",
            credentials.path().display()
        ),
        None => {
            let why = match secrets.keyring_status() {
                KeyringStatus::Unavailable(why) => why,
                KeyringStatus::Available => "it stopped answering".to_owned(),
            };
            credentials.set(r, value)?;
            writeln!(
                out,
                "No system keyring here ({why}).\nSaved the {what} for {address} in {} \
                 (mode 0600: only you can read it; never in profiles.toml).",
                credentials.path().display()
            )?;
        }
    }
    env_note(secret, &env, &mut out)
}

fn env_note(
    secret: &EndpointSecret,
    env: &(impl Fn(&str) -> Option<String> + Send + Sync),
    mut out: impl Write,
) -> anyhow::Result<()> {
    let resolver = Resolver::new(env, None, None);
    if let Some((var, _)) = resolver.env_value(secret) {
        writeln!(
            out,
            "Note: {var} is set in this environment; it is used before the saved {}.",
            secret.what()
        )?;
    }
    Ok(())
}

/// Removes the secret from the keyring and the credentials file, saying from where.
pub fn delete(
    secret: &EndpointSecret,
    secrets: &Secrets,
    credentials: &CredentialsFile,
    env: impl Fn(&str) -> Option<String> + Send + Sync,
    mut out: impl Write,
) -> anyhow::Result<()> {
    let r = &secret.reference;
    let mut removed = Vec::new();
    match secrets.keyring_delete(r) {
        Some(Ok(())) => removed.push(format!("the system keyring (entry {r})")),
        Some(Err(SecretError::NotFound)) | None => {}
        Some(Err(e)) => writeln!(out, "The system keyring could not delete {r}: {e}")?,
    }
    if credentials.delete(r)? {
        removed.push(credentials.path().display().to_string());
    }
    if removed.is_empty() {
        writeln!(
            out,
            "No saved {} for {} (nothing in the system keyring or {}).",
            secret.what(),
            secret.address(),
            credentials.path().display()
        )?;
    } else {
        writeln!(
            out,
            "Deleted the {} for {} from {}.",
            secret.what(),
            secret.address(),
            removed.join(" and ")
        )?;
    }
    env_note(secret, &env, &mut out)
}

/// Where an endpoint's secret is found, as `list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whereabouts {
    /// Scaleboard's own sources: variable, keyring, memory, credentials file.
    Found(String),
    /// The ecosystem's convention (PGPASSWORD, the libpq password file, REDISCLI_AUTH).
    Convention(String),
    /// Nowhere; `required` says whether the endpoint cannot work without it.
    Missing {
        required: bool,
        note: Option<String>,
    },
}

/// Finds where one endpoint's secret would come from, as the connector looks (never the value).
pub fn whereabouts(
    profile: &Profile,
    secret: &EndpointSecret,
    resolver: &Resolver<'_>,
) -> Whereabouts {
    match resolver.find(secret) {
        Ok(Some(found)) => return Whereabouts::Found(found.source.to_string()),
        Ok(None) => {}
        Err(e) => {
            return Whereabouts::Missing {
                required: true,
                note: Some(e.to_string()),
            };
        }
    }
    if let Some(c) = convention(profile, secret) {
        return match c {
            Ok(c) => Whereabouts::Convention(c),
            Err(note) => Whereabouts::Missing {
                required: true,
                note: Some(note),
            },
        };
    }
    Whereabouts::Missing {
        required: secret.required,
        // A refused credentials file fails only the endpoints that needed something from it.
        note: resolver
            .credentials_problem()
            .map(|p| format!("the credentials file was not read: {p}")),
    }
}

/// The ecosystem's own place that has it: Ok(where), Err(why a file there is ignored), or None.
fn convention(profile: &Profile, secret: &EndpointSecret) -> Option<Result<String, String>> {
    match secret.kind {
        EndpointKind::Postgres | EndpointKind::Pgbouncer => {
            let mut defaults = dsn::Defaults::from_env();
            let text = if secret.kind == EndpointKind::Pgbouncer {
                // The admin console's database, whatever PGDATABASE says (as the connector).
                defaults.dbname = Some("pgbouncer".into());
                &profile
                    .pgbouncer
                    .iter()
                    .find(|e| e.name == secret.endpoint)?
                    .dsn
            } else {
                &profile
                    .postgres
                    .iter()
                    .find(|e| e.name == secret.endpoint)?
                    .primary_dsn
            };
            let parsed = dsn::parse(text, &defaults).ok()?;
            if parsed.password.is_some() {
                return Some(Ok("the DSN itself".into()));
            }
            if defaults.password.is_some() {
                return Some(Ok("PGPASSWORD".into()));
            }
            let path = parsed.passfile.clone().or_else(dsn::default_passfile)?;
            match dsn::passfile_lookup(&path, &parsed) {
                dsn::Passfile::Found(_) => Some(Ok(format!("password file {}", path.display()))),
                dsn::Passfile::TooOpen(mode) => Some(Err(format!(
                    "password file {} is ignored, as libpq ignores it: mode {mode:04o} lets \
                     others read it; fix it with: chmod 600 {}",
                    path.display(),
                    path.display()
                ))),
                _ => None,
            }
        }
        EndpointKind::Redis => convention_password().map(|_| Ok(REDISCLI_AUTH.to_owned())),
        EndpointKind::Mysql => std::env::var("MYSQL_PWD")
            .ok()
            .filter(|p| !p.is_empty())
            .map(|_| Ok("MYSQL_PWD".to_owned())),
        _ => None,
    }
}

/// Prints where each endpoint's secret is found. Returns false when a required one is missing.
pub fn list(
    store: &ProfileStore,
    filter: Option<&str>,
    resolver: &Resolver<'_>,
    mut out: impl Write,
) -> anyhow::Result<bool> {
    let mut rows: Vec<(&Profile, EndpointSecret)> = Vec::new();
    let mut own_auth = Vec::new();
    for profile in store.profiles() {
        for s in EndpointSecret::all(profile) {
            let address = s.address();
            let wanted = match filter {
                None => true,
                Some(f) => {
                    f == profile.name
                        || f == address
                        || f == format!("{}/{}/{}", s.profile, kind_word(s.kind), s.endpoint)
                }
            };
            if wanted {
                rows.push((profile, s));
            }
        }
        if filter.is_none_or(|f| f == profile.name) {
            for (kind, name) in profile.endpoint_names() {
                if matches!(kind, EndpointKind::Kubernetes | EndpointKind::Compose) {
                    own_auth.push(format!("{}/{name} ({kind})", profile.name));
                }
            }
        }
    }
    if let Some(f) = filter
        && rows.is_empty()
        && own_auth.is_empty()
    {
        // Say why, in the words `set` would use.
        target(store, f, None)?;
    }

    match resolver.secrets().map(Secrets::keyring_status) {
        Some(KeyringStatus::Available) => writeln!(out, "System keyring: available.")?,
        Some(KeyringStatus::Unavailable(why)) => writeln!(
            out,
            "System keyring: not available ({why}); `scaleboard secret set` saves to the \
             credentials file."
        )?,
        None => {}
    }
    if let Some(file) = resolver.credentials_file() {
        let state = match file.list() {
            Ok(entries) if file.exists() => format!(
                "{} entr{}, mode 0600",
                entries.len(),
                if entries.len() == 1 { "y" } else { "ies" }
            ),
            Ok(_) => "none yet".to_owned(),
            Err(e) => format!("REFUSED: {e}"),
        };
        writeln!(out, "Credentials file: {} ({state})", file.path().display())?;
    }
    writeln!(out)?;
    if rows.is_empty() {
        writeln!(out, "No endpoint here takes a password or token.")?;
    }
    let mut all_found = true;
    let address_width = rows
        .iter()
        .map(|(_, s)| s.address().len())
        .max()
        .unwrap_or(0)
        .max("ENDPOINT".len());
    let var_width = rows
        .iter()
        .map(|(_, s)| s.env_var.len())
        .max()
        .unwrap_or(0)
        .max("VARIABLE".len());
    if !rows.is_empty() {
        writeln!(
            out,
            "{:<address_width$}  {:<11} {:<8}  {:<var_width$}  FOUND IN",
            "ENDPOINT", "KIND", "NEEDS", "VARIABLE"
        )?;
    }
    for (profile, s) in &rows {
        let needs = if s.required { s.what() } else { "optional" };
        let found = match whereabouts(profile, s, resolver) {
            Whereabouts::Found(w) => w,
            Whereabouts::Convention(w) => format!("{w} (convention)"),
            Whereabouts::Missing { required, note } => {
                let mut text = if required {
                    all_found = false;
                    format!("MISSING: scaleboard secret set {}", s.address())
                } else {
                    "none (the server may need none)".to_owned()
                };
                if let Some(note) = note {
                    text.push_str(&format!("; {note}"));
                }
                text
            }
        };
        writeln!(
            out,
            "{:<address_width$}  {:<11} {:<8}  {:<var_width$}  {found}",
            s.address(),
            s.kind.label(),
            needs,
            s.env_var
        )?;
    }
    if !own_auth.is_empty() {
        writeln!(
            out,
            "\nNo secret from Scaleboard needed (kubeconfig / Docker carry their own auth): {}",
            own_auth.join(", ")
        )?;
    }
    Ok(all_found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_trailing_newline_is_removed() {
        assert_eq!(strip_newline("pw\n".into()), "pw");
        assert_eq!(strip_newline("pw\r\n".into()), "pw");
        assert_eq!(strip_newline("pw \n\n".into()), "pw \n");
        assert_eq!(strip_newline("pw".into()), "pw");
        assert_eq!(capitalised("token"), "Token");
    }
}
