//! A small, lossless reader of nginx configuration: it finds `upstream` blocks, their `server`
//! lines (weight, max_fails, fail_timeout, backup, down), balancing method and keepalive, and
//! `include` directives, each with its byte span in the file. Edits (see `edit.rs`) replace
//! spans, so every byte outside them — comments, blank lines, indentation, other blocks — stays
//! as it was.
//!
//! Why not a crate: `nginx-config` parses into an AST and prints it back (comments and layout
//! are lost, and it has not been released since 2020); `nginx-lint-parser` is lossless but pulls
//! in a rowan syntax tree for what is, here, two hundred lines of tokenizer over one block type.

use std::ops::Range;

/// A word (bare or quoted, unquoted here) or `{`, `}`, `;`, with where it is in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    kind: Tok,
    span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Open,
    Close,
    Semi,
}

/// A parse failure with its 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// 1-based line and column of byte `at`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, column)
}

fn err(text: &str, at: usize, message: impl Into<String>) -> ParseError {
    let (line, column) = line_col(text, at);
    ParseError {
        line,
        column,
        message: message.into(),
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, ParseError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'{' | b'}' | b';' => {
                let kind = match c {
                    b'{' => Tok::Open,
                    b'}' => Tok::Close,
                    _ => Tok::Semi,
                };
                out.push(Token {
                    kind,
                    span: i..i + 1,
                });
                i += 1;
            }
            b'"' | b'\'' => {
                let start = i;
                i += 1;
                let mut word = String::new();
                loop {
                    let Some(&b) = bytes.get(i) else {
                        return Err(err(text, start, "a quoted string is not closed"));
                    };
                    if b == b'\\' && i + 1 < bytes.len() {
                        word.push(char::from(bytes[i + 1]));
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if b == c {
                        break;
                    }
                    word.push(char::from(b));
                }
                out.push(Token {
                    kind: Tok::Word(word),
                    span: start..i,
                });
            }
            _ => {
                let start = i;
                while i < bytes.len() && !b" \t\r\n{};#\"'".contains(&bytes[i]) {
                    // `${var}` keeps its braces inside the word.
                    if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
                        while i < bytes.len() && bytes[i] != b'}' {
                            i += 1;
                        }
                    }
                    i += 1;
                }
                out.push(Token {
                    kind: Tok::Word(text[start..i.min(text.len())].to_string()),
                    span: start..i.min(text.len()),
                });
            }
        }
    }
    Ok(out)
}

/// One directive: its name and arguments, the span from its name to its `;` or closing `}`,
/// and its children when it opens a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    /// Spans of the arguments as written (quotes included).
    pub arg_spans: Vec<Range<usize>>,
    pub span: Range<usize>,
    /// `{ … }` contents, and the span of the closing brace.
    pub block: Option<(Vec<Directive>, Range<usize>)>,
}

/// The directive tree of a whole file.
pub fn directives(text: &str) -> Result<Vec<Directive>, ParseError> {
    let tokens = tokenize(text)?;
    let mut pos = 0;
    let out = block(text, &tokens, &mut pos, None)?;
    Ok(out)
}

fn block(
    text: &str,
    tokens: &[Token],
    pos: &mut usize,
    opened_at: Option<usize>,
) -> Result<Vec<Directive>, ParseError> {
    let mut out = Vec::new();
    loop {
        let Some(tok) = tokens.get(*pos) else {
            return match opened_at {
                Some(at) => Err(err(text, at, "this `{` is never closed")),
                None => Ok(out),
            };
        };
        match &tok.kind {
            Tok::Close => {
                return match opened_at {
                    Some(_) => Ok(out),
                    None => Err(err(text, tok.span.start, "a `}` without its `{`")),
                };
            }
            Tok::Open | Tok::Semi => {
                return Err(err(text, tok.span.start, "a directive name was expected"));
            }
            Tok::Word(name) => {
                let start = tok.span.start;
                let name = name.clone();
                *pos += 1;
                let mut args = Vec::new();
                let mut arg_spans = Vec::new();
                loop {
                    let Some(t) = tokens.get(*pos) else {
                        return Err(err(text, start, format!("`{name}` does not end with `;`")));
                    };
                    match &t.kind {
                        Tok::Word(w) => {
                            args.push(w.clone());
                            arg_spans.push(t.span.clone());
                            *pos += 1;
                        }
                        Tok::Semi => {
                            *pos += 1;
                            out.push(Directive {
                                name,
                                args,
                                arg_spans,
                                span: start..t.span.end,
                                block: None,
                            });
                            break;
                        }
                        Tok::Open => {
                            let open = t.span.start;
                            *pos += 1;
                            let children = block(text, tokens, pos, Some(open))?;
                            let close = tokens[*pos].span.clone();
                            *pos += 1;
                            out.push(Directive {
                                name,
                                args,
                                arg_spans,
                                span: start..close.end,
                                block: Some((children, close)),
                            });
                            break;
                        }
                        Tok::Close => {
                            return Err(err(
                                text,
                                t.span.start,
                                format!("`{name}` does not end with `;` before this `}}`"),
                            ));
                        }
                    }
                }
            }
        }
    }
}

/// One `server` line of an upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// As written: `10.0.0.5:8080`, `api:8000`, `unix:/run/app.sock`.
    pub address: String,
    pub weight: Option<u32>,
    pub max_fails: Option<u32>,
    pub fail_timeout: Option<String>,
    pub backup: bool,
    pub down: bool,
    /// Parameters not listed above (`resolve`, `max_conns=`, `slow_start=`…), kept as written.
    pub other: Vec<String>,
    pub span: Range<usize>,
    /// Span of the `down` parameter when present (to lift it).
    pub down_span: Option<Range<usize>>,
}

/// One `upstream NAME { … }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub name: String,
    /// `least_conn`, `ip_hash`, `hash $x consistent`, `random two`…; `None` is round robin.
    pub method: Option<String>,
    pub keepalive: Option<u32>,
    pub servers: Vec<Server>,
    /// From `upstream` to its closing `}`.
    pub span: Range<usize>,
    /// The closing brace.
    pub close: Range<usize>,
}

const METHODS: [&str; 5] = ["least_conn", "ip_hash", "hash", "random", "least_time"];

fn server(d: &Directive) -> Option<Server> {
    let address = d.args.first()?.clone();
    let mut s = Server {
        address,
        weight: None,
        max_fails: None,
        fail_timeout: None,
        backup: false,
        down: false,
        other: Vec::new(),
        span: d.span.clone(),
        down_span: None,
    };
    for (arg, span) in d.args.iter().zip(&d.arg_spans).skip(1) {
        match arg.split_once('=') {
            Some(("weight", v)) => s.weight = v.parse().ok(),
            Some(("max_fails", v)) => s.max_fails = v.parse().ok(),
            Some(("fail_timeout", v)) => s.fail_timeout = Some(v.to_string()),
            None if arg == "backup" => s.backup = true,
            None if arg == "down" => {
                s.down = true;
                s.down_span = Some(span.clone());
            }
            _ => s.other.push(arg.clone()),
        }
    }
    Some(s)
}

fn upstream(d: &Directive) -> Option<Upstream> {
    let (children, close) = d.block.as_ref()?;
    let mut up = Upstream {
        name: d.args.first()?.clone(),
        method: None,
        keepalive: None,
        servers: Vec::new(),
        span: d.span.clone(),
        close: close.clone(),
    };
    for c in children {
        if c.name == "server" {
            up.servers.extend(server(c));
        } else if c.name == "keepalive" {
            up.keepalive = c.args.first().and_then(|v| v.parse().ok());
        } else if METHODS.contains(&c.name.as_str()) {
            let mut m = c.name.clone();
            for a in &c.args {
                m.push(' ');
                m.push_str(a);
            }
            up.method = Some(m);
        }
    }
    Some(up)
}

/// What one file holds that matters here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileFacts {
    pub upstreams: Vec<Upstream>,
    /// `include` arguments, as written (may be globs, relative to nginx's prefix/conf dir).
    pub includes: Vec<String>,
}

/// Upstream blocks and includes anywhere in `text` (any depth: `http { upstream … }`, or at the
/// top of an included file).
pub fn file_facts(text: &str) -> Result<FileFacts, ParseError> {
    fn walk(list: &[Directive], out: &mut FileFacts) {
        for d in list {
            if d.name == "include" {
                out.includes.extend(d.args.first().cloned());
            }
            if d.name == "upstream" {
                out.upstreams.extend(upstream(d));
                continue;
            }
            if let Some((children, _)) = &d.block {
                walk(children, out);
            }
        }
    }
    let mut out = FileFacts::default();
    walk(&directives(text)?, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const SAMPLE: &str = "# the front door\nhttp {\n    upstream nexus_api {\n        least_conn;   # fewest connections\n        server 10.0.0.2:8080 weight=2 max_fails=3 fail_timeout=10s;\n        # server 10.0.0.9:8080;\n        server 10.0.0.3:8080 down;\n        server backup.local:8080 backup;\n        keepalive 32;\n    }\n    include conf.d/*.conf;\n    server { listen 80; location / { proxy_pass http://nexus_api; set $x \"a;b{\"; } }\n}\n";

    #[test]
    fn reads_an_upstream_block() {
        let f = file_facts(SAMPLE).unwrap();
        assert_eq!(f.includes, vec!["conf.d/*.conf"]);
        assert_eq!(f.upstreams.len(), 1);
        let u = &f.upstreams[0];
        assert_eq!(u.name, "nexus_api");
        assert_eq!(u.method.as_deref(), Some("least_conn"));
        assert_eq!(u.keepalive, Some(32));
        let addrs: Vec<&str> = u.servers.iter().map(|s| s.address.as_str()).collect();
        assert_eq!(
            addrs,
            ["10.0.0.2:8080", "10.0.0.3:8080", "backup.local:8080"],
            "the commented-out server is not a server"
        );
        let s = &u.servers[0];
        assert_eq!(
            (s.weight, s.max_fails, s.fail_timeout.as_deref()),
            (Some(2), Some(3), Some("10s"))
        );
        assert!(u.servers[1].down && !u.servers[1].backup);
        assert!(u.servers[2].backup);
        assert_eq!(&SAMPLE[u.span.clone()][..18], "upstream nexus_api");
        assert_eq!(&SAMPLE[u.close.clone()], "}");
        assert_eq!(
            &SAMPLE[u.servers[1].down_span.clone().unwrap()],
            "down",
            "the span of the flag"
        );
    }

    #[test]
    fn methods_with_arguments_and_quoted_words() {
        let f = file_facts("upstream a { hash $request_uri consistent; server 'x:1'; }").unwrap();
        assert_eq!(
            f.upstreams[0].method.as_deref(),
            Some("hash $request_uri consistent")
        );
        assert_eq!(f.upstreams[0].servers[0].address, "x:1");
    }

    #[test]
    fn errors_have_line_and_column() {
        let e = file_facts("http {\n  upstream a {\n    server x:1\n  }\n").unwrap_err();
        assert_eq!((e.line, e.column), (4, 3), "{e}");
        let e = file_facts("http {\n  upstream a { server x:1; }\n").unwrap_err();
        assert_eq!((e.line, e.column), (1, 6), "{e}");
        assert!(e.message.contains("never closed"));
        let e = file_facts("a \"b;").unwrap_err();
        assert_eq!((e.line, e.column), (1, 3));
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
