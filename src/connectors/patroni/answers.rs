//! Patroni's answers to POST /switchover, POST /failover and DELETE /switchover, translated
//! into what happened and what to do. Patroni's own words are always kept beside ours: its
//! messages are short and famously cryptic ("412 no good candidates have been found", "503
//! Switchover status unknown").

use crate::model::error::ConnectorError;

/// What the write was, for the wording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    Switchover,
    Failover,
    CancelSwitchover,
}

impl Write {
    fn word(self) -> &'static str {
        match self {
            Self::Switchover => "switchover",
            Self::Failover => "failover",
            Self::CancelSwitchover => "cancel of the scheduled switchover",
        }
    }
}

/// One HTTP answer: `Ok` is the text for the audit record, `Err` a typed error whose words say
/// what happened and what to do.
pub fn translate(write: Write, status: u16, body: &str) -> Result<String, ConnectorError> {
    let said = body.trim().trim_matches('"');
    let patroni = format!("Patroni answered {status} \"{said}\"");
    let lower = said.to_ascii_lowercase();
    match status {
        200 => Ok(match write {
            Write::CancelSwitchover => format!("{patroni}: the scheduled switchover is cancelled"),
            _ => format!("{patroni}: the leader lock has moved"),
        }),
        202 => Ok(format!(
            "{patroni}: the switchover is scheduled; Patroni carries it out at the given time \
             (cancel it before then with `switchover --cancel`)"
        )),
        401 => Err(ConnectorError::Auth(format!(
            "{patroni}: the REST API wants a user name and password for changes (its \
             restapi.authentication). Set `username` on the patroni endpoint and store the \
             password with `scaleboard secret set`, or check that the stored one is right. \
             Nothing was changed."
        ))),
        403 => Err(ConnectorError::Forbidden(format!(
            "{patroni}: this address is not allowed to change the cluster (restapi.allowlist). \
             Nothing was changed."
        ))),
        404 if write == Write::CancelSwitchover => Err(ConnectorError::NotFound(format!(
            "{patroni}: no switchover is scheduled any more (it ran or was cancelled already). \
             Nothing was changed."
        ))),
        412 => Err(precondition(write, &patroni, &lower)),
        400 => Err(ConnectorError::Refused(format!(
            "{patroni}: Patroni rejected the request as written{}. Nothing was changed.",
            bad_request_hint(&lower)
        ))),
        503 if lower.contains("status unknown") => Err(ConnectorError::Timeout(format!(
            "{patroni}: Patroni wrote the {} request but stopped waiting before the cluster \
             showed the result, so it may or may not have happened. Read the cluster (`scaleboard \
             status`) to see who leads now before trying again.",
            write.word()
        ))),
        503 if lower.contains("dcs") => Err(ConnectorError::Failed(format!(
            "{patroni}: Patroni could not write the request into its DCS (etcd, Consul or \
             ZooKeeper): the DCS may be down or have lost quorum. Nothing was changed; fix the \
             DCS first."
        ))),
        503 => Err(ConnectorError::Failed(format!(
            "{patroni}: Patroni tried and the {} did not complete: the candidate did not take \
             the leader lock in time, so the old leader keeps it. Check the candidate's Patroni \
             log and state, then plan again.",
            write.word()
        ))),
        _ => Err(ConnectorError::Failed(format!(
            "{patroni}: an answer this version does not know; read the cluster to see what \
             happened"
        ))),
    }
}

/// A 412: Patroni's own check refused before it wrote anything.
fn precondition(write: Write, patroni: &str, lower: &str) -> ConnectorError {
    if lower.contains("leader name does not match") {
        return ConnectorError::Conflict(format!(
            "{patroni}: the member named as leader does not hold the leader lock any more \
             (another switchover or failover happened). Nothing was changed; plan again."
        ));
    }
    let why = if lower.contains("no good candidates") {
        "no member may take over: every candidate is unreachable through its REST API, tagged \
         nofailover, or (with synchronous_mode) not a sync standby. Remove the nofailover tag \
         of the member you want, or make sure its Patroni answers, then plan again."
    } else if lower.contains("sync_standby") {
        "synchronous_mode is on, so only the synchronous standby may take over. Name the sync \
         standby as the candidate, or turn synchronous_mode off first."
    } else if lower.contains("candidate does not exist") {
        "Patroni has no member by that name. Pick a member from the cluster's list."
    } else if lower.contains("members except leader") {
        "the cluster has no member besides the leader: add a replica first."
    } else {
        "Patroni's own check refused it."
    };
    ConnectorError::Refused(format!(
        "{patroni}: {why} Nothing was changed by this {}.",
        write.word()
    ))
}

fn bad_request_hint(lower: &str) -> &'static str {
    if lower.contains("paused") && lower.contains("candidate") {
        " (the cluster is paused: name a candidate)"
    } else if lower.contains("paused") {
        " (the cluster is paused: a switchover cannot be scheduled; resume it first)"
    } else if lower.contains("same") {
        " (the candidate is the leader already)"
    } else if lower.contains("past") || lower.contains("parse") || lower.contains("timezone") {
        " (the scheduled time must be in the future, ISO 8601 with a time zone, e.g. \
         2026-12-01T03:00+00:00)"
    } else if lower.contains("specific candidate") {
        " (a failover needs a candidate)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_and_schedule_are_outputs() {
        let ok = translate(
            Write::Switchover,
            200,
            "Successfully switched over to \"m2\"",
        )
        .unwrap();
        assert!(ok.contains("Successfully switched over"), "{ok}");
        let s = translate(Write::Switchover, 202, "Switchover scheduled").unwrap();
        assert!(s.contains("scheduled"), "{s}");
    }

    #[test]
    fn no_good_candidates_is_explained() {
        let e = translate(
            Write::Switchover,
            412,
            "switchover is not possible: no good candidates have been found",
        )
        .unwrap_err();
        let ConnectorError::Refused(text) = &e else {
            panic!("{e:?}")
        };
        assert!(text.contains("nofailover"), "{text}");
        assert!(text.contains("412"), "{text}");
        assert!(text.contains("no good candidates"), "{text}");
        assert!(e.is_verdict());
    }

    #[test]
    fn a_moved_leader_is_a_conflict_and_unknown_status_is_a_timeout() {
        let e = translate(Write::Switchover, 412, "leader name does not match").unwrap_err();
        assert!(matches!(e, ConnectorError::Conflict(_)), "{e:?}");
        let e = translate(Write::Switchover, 503, "Switchover status unknown").unwrap_err();
        assert!(e.outcome_unknown(), "{e:?}");
        assert!(e.to_string().contains("who leads now"), "{e}");
        let e = translate(Write::Failover, 503, "Failover failed").unwrap_err();
        assert!(matches!(e, ConnectorError::Failed(_)));
        assert!(e.to_string().contains("old leader keeps it"), "{e}");
    }

    #[test]
    fn auth_sync_and_cancel_answers() {
        let e = translate(Write::Switchover, 401, "no auth header received").unwrap_err();
        assert!(matches!(e, ConnectorError::Auth(_)), "{e:?}");
        let e = translate(
            Write::Switchover,
            412,
            "candidate name does not match with sync_standby",
        )
        .unwrap_err();
        assert!(e.to_string().contains("synchronous standby"), "{e}");
        let e = translate(Write::CancelSwitchover, 404, "no switchover is scheduled").unwrap_err();
        assert!(matches!(e, ConnectorError::NotFound(_)));
        let e = translate(
            Write::Switchover,
            400,
            "Switchover is possible only to a specific candidate in a paused state",
        )
        .unwrap_err();
        assert!(e.to_string().contains("paused: name a candidate"), "{e}");
    }
}
