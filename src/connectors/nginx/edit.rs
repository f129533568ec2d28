//! Changes to one upstream block as byte-span edits: a new `server` line is inserted after the
//! last one (same indentation, same parameters as its neighbour), a leaving server gets ` down`
//! before its `;` or its line is removed, a returning server loses its `down`. Everything else in
//! the file is copied through unchanged.

use std::ops::Range;

use super::parse::Upstream;

/// Replace `range` of the original text with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub range: Range<usize>,
    pub text: String,
}

/// What happens to servers that are not in the target list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaving {
    /// `server … down;`: nginx stops sending new requests, open ones finish.
    MarkDown,
    /// The line goes (after the replicas behind it are stopped).
    Remove,
}

/// `src` with `edits` applied; edits must not overlap (they are sorted here).
pub fn apply(src: &str, edits: &[Edit]) -> String {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| e.range.start);
    let mut out = String::with_capacity(src.len() + 128);
    let mut at = 0;
    for e in sorted {
        out.push_str(&src[at..e.range.start.max(at)]);
        out.push_str(&e.text);
        at = e.range.end.max(at);
    }
    out.push_str(&src[at..]);
    out
}

fn line_start(src: &str, at: usize) -> usize {
    src[..at].rfind('\n').map_or(0, |i| i + 1)
}

fn indent_of(src: &str, at: usize) -> String {
    let start = line_start(src, at);
    src[start..at]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect()
}

/// The whole line of `span` when nothing but blanks and a comment share it, else just the span.
fn line_of(src: &str, span: &Range<usize>) -> Range<usize> {
    let start = line_start(src, span.start);
    let end = src[span.end..]
        .find('\n')
        .map_or(src.len(), |i| span.end + i + 1);
    let before_blank = src[start..span.start].trim().is_empty();
    let after = src[span.end..end].trim();
    if before_blank && (after.is_empty() || after.starts_with('#')) {
        start..end
    } else {
        span.clone()
    }
}

/// Edits that make `up`'s active (not `down`, not `backup`) servers exactly `target`.
pub fn upstream_edits(src: &str, up: &Upstream, target: &[String], leaving: Leaving) -> Vec<Edit> {
    let mut edits = Vec::new();
    for s in up.servers.iter().filter(|s| !s.backup) {
        let wanted = target.contains(&s.address);
        match (wanted, s.down, leaving) {
            (true, true, _) => {
                if let Some(span) = &s.down_span {
                    // Take the blank before `down` with it.
                    let start = src[..span.start].trim_end_matches([' ', '\t']).len();
                    edits.push(Edit {
                        range: start..span.end,
                        text: String::new(),
                    });
                }
            }
            (false, false, Leaving::MarkDown) => {
                let semi = s.span.end - 1;
                edits.push(Edit {
                    range: semi..semi,
                    text: " down".into(),
                });
            }
            (false, _, Leaving::Remove) => edits.push(Edit {
                range: line_of(src, &s.span),
                text: String::new(),
            }),
            _ => {}
        }
    }
    let new: Vec<&String> = target
        .iter()
        .filter(|a| !up.servers.iter().any(|s| &s.address == *a))
        .collect();
    if !new.is_empty() {
        let model = up.servers.iter().rev().find(|s| !s.backup);
        let params = model.map_or(String::new(), |m| {
            let mut p = String::new();
            if let Some(w) = m.weight {
                p.push_str(&format!(" weight={w}"));
            }
            if let Some(f) = m.max_fails {
                p.push_str(&format!(" max_fails={f}"));
            }
            if let Some(t) = &m.fail_timeout {
                p.push_str(&format!(" fail_timeout={t}"));
            }
            for o in &m.other {
                p.push(' ');
                p.push_str(o);
            }
            p
        });
        // After the last server's line, or before the closing brace of a block with none.
        // After the last active server, so backups stay last.
        let (at, indent, lead) = match model.or(up.servers.last()) {
            Some(last) => {
                let end = src[last.span.end..]
                    .find('\n')
                    .map_or(src.len(), |i| last.span.end + i + 1);
                let inline = !src[last.span.end..end].trim().is_empty()
                    && !src[last.span.end..end].trim_start().starts_with('#');
                if inline || end == src.len() && !src.ends_with('\n') {
                    (last.span.end, " ".to_string(), String::new())
                } else {
                    (end, indent_of(src, last.span.start), String::new())
                }
            }
            None => (
                up.close.start,
                format!("{}    ", indent_of(src, up.span.start)),
                "\n".into(),
            ),
        };
        let inline = indent == " ";
        let mut text = lead;
        for a in new {
            if inline {
                text.push_str(&format!(" server {a}{params};"));
            } else {
                text.push_str(&format!("{indent}server {a}{params};\n"));
            }
        }
        edits.push(Edit {
            range: at..at,
            text,
        });
    }
    edits
}

/// A unified-style diff of the lines that differ, with two lines of context: the preview.
pub fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    if prefix == a.len() && prefix == b.len() {
        return String::new();
    }
    let ctx = 2;
    let from = prefix.saturating_sub(ctx);
    let mut out = format!("@@ line {} @@\n", from + 1);
    for l in &a[from..prefix] {
        out.push_str(&format!("  {l}\n"));
    }
    for l in &a[prefix..a.len() - suffix] {
        out.push_str(&format!("- {l}\n"));
    }
    for l in &b[prefix..b.len() - suffix] {
        out.push_str(&format!("+ {l}\n"));
    }
    let tail = a.len() - suffix;
    for l in &a[tail..(tail + ctx).min(a.len())] {
        out.push_str(&format!("  {l}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::parse::file_facts;
    use super::*;

    const FILE: &str = "# upstreams for nexus\n\nupstream other { server 1.1.1.1:80; }\n\nupstream nexus_api {\n\tleast_conn; # spread\n\tserver 172.20.0.2:8080 max_fails=2 fail_timeout=5s;   # first\n\tserver 172.20.0.3:8080 max_fails=2 fail_timeout=5s;\n\tserver spare:8080 backup;\n\tkeepalive 32;\n}\n# trailing   comment, odd  spacing\n";

    fn edit(target: &[&str], leaving: Leaving) -> String {
        let f = file_facts(FILE).unwrap();
        let up = f.upstreams.iter().find(|u| u.name == "nexus_api").unwrap();
        let target: Vec<String> = target.iter().map(ToString::to_string).collect();
        apply(FILE, &upstream_edits(FILE, up, &target, leaving))
    }

    /// The bytes before and after the block are the same bytes.
    fn outside_block_unchanged(new: &str) {
        let old_up = file_facts(FILE).unwrap().upstreams[1].clone();
        let new_up = file_facts(new).unwrap().upstreams[1].clone();
        assert_eq!(
            &FILE.as_bytes()[..old_up.span.start],
            &new.as_bytes()[..new_up.span.start]
        );
        assert_eq!(
            &FILE.as_bytes()[old_up.span.end..],
            &new.as_bytes()[new_up.span.end..]
        );
    }

    #[test]
    fn adds_a_server_like_its_neighbour() {
        let new = edit(
            &["172.20.0.2:8080", "172.20.0.3:8080", "172.20.0.4:8080"],
            Leaving::MarkDown,
        );
        assert!(
            new.contains("\tserver 172.20.0.3:8080 max_fails=2 fail_timeout=5s;\n\tserver 172.20.0.4:8080 max_fails=2 fail_timeout=5s;\n"),
            "{new}"
        );
        outside_block_unchanged(&new);
        assert!(new.contains("least_conn; # spread") && new.contains("   # first"));
        let up = &file_facts(&new).unwrap().upstreams[1];
        assert_eq!(up.servers.len(), 4);
    }

    #[test]
    fn marks_down_then_removes_then_lifts() {
        let down = edit(&["172.20.0.2:8080"], Leaving::MarkDown);
        assert!(
            down.contains("\tserver 172.20.0.3:8080 max_fails=2 fail_timeout=5s down;\n"),
            "{down}"
        );
        assert!(
            !down.contains("spare:8080 backup down"),
            "backups are left alone"
        );
        outside_block_unchanged(&down);

        let removed = edit(&["172.20.0.2:8080"], Leaving::Remove);
        assert!(!removed.contains("172.20.0.3"), "{removed}");
        assert_eq!(
            removed.len(),
            FILE.len() - "\tserver 172.20.0.3:8080 max_fails=2 fail_timeout=5s;\n".len()
        );
        outside_block_unchanged(&removed);

        // Back up again: the `down` flag goes, byte for byte to the original.
        let f = file_facts(&down).unwrap();
        let target = vec!["172.20.0.2:8080".to_string(), "172.20.0.3:8080".to_string()];
        let lifted = apply(
            &down,
            &upstream_edits(&down, &f.upstreams[1], &target, Leaving::MarkDown),
        );
        assert_eq!(lifted, FILE);
    }

    #[test]
    fn an_upstream_on_one_line() {
        let src = "upstream a { server x:1; }\n";
        let f = file_facts(src).unwrap();
        let out = apply(
            src,
            &upstream_edits(
                src,
                &f.upstreams[0],
                &["x:1".into(), "y:2".into()],
                Leaving::Remove,
            ),
        );
        assert_eq!(out, "upstream a { server x:1; server y:2; }\n");
        let f = file_facts(&out).unwrap();
        assert_eq!(f.upstreams[0].servers.len(), 2);
    }

    #[test]
    fn diff_shows_only_the_change() {
        let new = edit(&["172.20.0.2:8080"], Leaving::MarkDown);
        let d = diff(FILE, &new);
        assert!(
            d.contains("- \tserver 172.20.0.3:8080 max_fails=2 fail_timeout=5s;"),
            "{d}"
        );
        assert!(
            d.contains("+ \tserver 172.20.0.3:8080 max_fails=2 fail_timeout=5s down;"),
            "{d}"
        );
        assert!(!d.contains("upstream other"), "{d}");
        assert_eq!(diff(FILE, FILE), "");
    }
}
