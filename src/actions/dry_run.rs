//! The system's own check of a plan before confirmation (Kubernetes `dryRun=All`): what it
//! said, as a guard in the plan, so the dialog, the confirmation rule, the CLI and the audit
//! record all see the same verdict.

use super::plan::Guard;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DryRunOutcome {
    /// The endpoint has no dry run (Docker, PostgreSQL, the demo).
    NotOffered,
    Accepted(String),
    /// The system refused (admission webhook, quota, validation): confirming would fail too.
    Refused(String),
    /// No verdict (timeout, connection trouble): said, but it does not block the action.
    NoAnswer(String),
}

impl DryRunOutcome {
    pub fn guard(&self) -> Option<Guard> {
        match self {
            Self::NotOffered => None,
            Self::Accepted(text) => Some(Guard::pass(format!("Dry run: {text}."))),
            Self::Refused(reason) => Some(Guard::refuse(format!(
                "Dry run refused by the server: {reason}"
            ))),
            Self::NoAnswer(reason) => Some(Guard::warn(format!(
                "The server's dry run gave no verdict ({reason}); the action itself may still be refused."
            ))),
        }
    }

    /// One line for the dialog's dry-run row.
    pub fn note(&self) -> &'static str {
        match self {
            Self::NotOffered => "This endpoint has no server-side dry run.",
            Self::Accepted(_) => "Server dry run: accepted.",
            Self::Refused(_) => "Server dry run: refused (see above).",
            Self::NoAnswer(_) => "Server dry run: no verdict (see above).",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::GuardLevel;

    #[test]
    fn only_a_refusal_blocks_and_no_verdict_is_a_warning() {
        let level = |o: DryRunOutcome| o.guard().map(|g| g.level);
        assert_eq!(level(DryRunOutcome::NotOffered), None);
        assert_eq!(
            level(DryRunOutcome::Accepted("ok".into())),
            Some(GuardLevel::Pass)
        );
        assert_eq!(
            level(DryRunOutcome::Refused("quota".into())),
            Some(GuardLevel::Refuse)
        );
        assert_eq!(
            level(DryRunOutcome::NoAnswer("timeout".into())),
            Some(GuardLevel::Warn)
        );
    }
}
