//! An action's outcome in words for a terminal line or a notification: the outcome once (the
//! pipeline's details already start with "not run: …"), and the command's own output (docker
//! compose's progress lines) apart from the outcome, never spliced into it.

use super::{AuditOutcome, AuditRecord};
use crate::model::units::terminal_text;

/// What follows a command's transcript in a detail (see `engine::pipeline`'s verify step).
const AFTER_TRANSCRIPT: [&str; 3] = [
    "; verified: ",
    "; applied, not ready yet after ",
    "; not verified within ",
];

/// The outcome line and, apart, the output the command printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeText {
    /// "Succeeded: verified: api 3/3 running", "Not run: changed since planned: …".
    pub headline: String,
    /// `$ docker compose … up …` and what it printed, trimmed; None when nothing ran.
    pub transcript: Option<String>,
}

impl AuditRecord {
    pub fn outcome_text(&self) -> OutcomeText {
        outcome_text(self.outcome, self.forced, &self.detail)
    }
}

pub fn outcome_text(outcome: AuditOutcome, forced: bool, detail: &str) -> OutcomeText {
    let label = outcome.label();
    let (transcript, rest) = split_transcript(detail);
    let rest = rest.trim();
    // A detail that starts with its own outcome ("not run: changed since planned: …") says it
    // once; the label's words already in the detail are not repeated either.
    let after = strip_prefix_ci(rest, &format!("{label}:"))
        .unwrap_or(rest)
        .trim();
    let words = if after.is_empty() {
        label.to_owned()
    } else {
        format!("{label}: {after}")
    };
    let headline = if forced {
        match words.split_once(": ") {
            Some((head, tail)) => format!("{head} (forced): {tail}"),
            None => format!("{words} (forced)"),
        }
    } else {
        words
    };
    OutcomeText {
        headline,
        transcript,
    }
}

/// `$ command\noutput; verified: …` → (the command and its output, "verified: …"). A detail
/// without a multi-line transcript is left whole.
fn split_transcript(detail: &str) -> (Option<String>, &str) {
    if !detail.starts_with("$ ") {
        return (None, detail);
    }
    let cut = AFTER_TRANSCRIPT
        .iter()
        .filter_map(|marker| detail.rfind(marker))
        .max();
    match cut {
        Some(at) => {
            let transcript = terminal_text(&detail[..at]);
            (Some(transcript), &detail[at + 2..])
        }
        None => (None, detail),
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_run_says_its_prefix_once() {
        let t = outcome_text(
            AuditOutcome::NotRun,
            false,
            "not run: changed since planned: desired replicas of web: 3 → 4. Plan again to see \
             the new state.",
        );
        assert_eq!(
            t.headline,
            "Not run: changed since planned: desired replicas of web: 3 → 4. Plan again to see \
             the new state."
        );
        assert_eq!(t.transcript, None);
        // A re-check that could not read the target is "not run" too, without a false reason.
        let t = outcome_text(
            AuditOutcome::NotRun,
            false,
            "not run: the target did not answer the re-check within 4 s; nothing was changed",
        );
        assert_eq!(
            t.headline,
            "Not run: the target did not answer the re-check within 4 s; nothing was changed"
        );
        assert!(!t.headline.to_lowercase().contains("not run: not run"));
        // Other words that merely start like the label stay.
        let t = outcome_text(
            AuditOutcome::Cancelled,
            false,
            "cancelled by the operator during the grace period; nothing was changed",
        );
        assert_eq!(
            t.headline,
            "Cancelled: cancelled by the operator during the grace period; nothing was changed"
        );
    }

    #[test]
    fn compose_progress_lines_stay_out_of_the_succeeded_line() {
        let detail = "$ docker-compose -p shop up -d --no-recreate --scale api=3 api\n\
                      Creating shop_api_2 ... \r\nCreating shop_api_2 ... done\n\
                      \u{1b}[1A\u{1b}[2KCreating shop_api_3 ... \u{1b}[32mdone\u{1b}[0m\n\
                      ; verified: api 3/3 running";
        let t = outcome_text(AuditOutcome::Succeeded, false, detail);
        assert_eq!(t.headline, "Succeeded: verified: api 3/3 running");
        assert_eq!(
            t.transcript.as_deref(),
            Some(
                "$ docker-compose -p shop up -d --no-recreate --scale api=3 api\n\
                 Creating shop_api_2 ...\nCreating shop_api_2 ... done\n\
                 Creating shop_api_3 ... done"
            )
        );
        let t = outcome_text(
            AuditOutcome::TimedOut,
            true,
            "$ docker compose up\n Container x  Started; not verified within 1 s: api 1/3 running",
        );
        assert_eq!(
            t.headline,
            "Timed out (forced): not verified within 1 s: api 1/3 running"
        );
        // A one-line detail (an API call) stays as it was.
        let t = outcome_text(
            AuditOutcome::Succeeded,
            false,
            "scale subresource now wants 3; verified: 3 desired, 3 ready",
        );
        assert_eq!(
            t.headline,
            "Succeeded: scale subresource now wants 3; verified: 3 desired, 3 ready"
        );
        assert_eq!(t.transcript, None);
    }
}
