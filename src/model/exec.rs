//! What the engine hands a connector to carry out an action.

use super::action::Action;
use super::snapshot::Snapshot;

/// One child process: program and arguments, extra environment, working directory. The plan
/// builds it, the operator approves its [`CommandLine::display`], the audit records that text,
/// and the connector runs this very value: the argv that runs is the argv that was approved.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommandLine {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<String>,
}

impl CommandLine {
    /// What a user would type in a POSIX shell to do the same.
    pub fn display(&self) -> String {
        let mut parts = Vec::new();
        if let Some(dir) = &self.cwd {
            parts.push(format!("cd {} &&", quote(dir)));
        }
        for (k, v) in &self.env {
            parts.push(format!("{k}={}", quote(v)));
        }
        parts.extend(self.argv.iter().map(|a| quote(a)));
        parts.join(" ")
    }
}

/// Single-quote a word for a POSIX shell when it holds anything beyond plain characters.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./=:,@%+".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// An approved action, ready to run.
#[derive(Clone, Copy, Debug)]
pub struct Execution<'a> {
    pub action: &'a Action,
    /// The exact process the plan showed, for connectors that run one (Docker).
    pub command_line: Option<&'a CommandLine>,
    /// What the re-check read from the system right before this write: connectors take their
    /// preconditions from it (Kubernetes `resourceVersion`).
    pub fresh: Option<&'a Snapshot>,
}

impl<'a> Execution<'a> {
    /// An execution with nothing but the action (tests, connectors without preconditions).
    pub fn bare(action: &'a Action) -> Self {
        Self {
            action,
            command_line: None,
            fresh: None,
        }
    }
}
