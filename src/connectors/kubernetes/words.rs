//! API errors in words: the server's own message, the verb and resource, and what to do. Never
//! the `Display` of a `kube::Error::Api` (it appends the Rust debug dump of the `Status`), never
//! `{:?}`.

use kube::core::Status;
use kube::runtime::watcher;

/// What the API server said, or why it could not be asked, in one sentence.
pub(super) fn kube_words(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => status_words(status),
        kube::Error::HyperError(_) | kube::Error::Service(_) => unanswered(e).words,
        kube::Error::SerdeError(inner) => {
            format!("the API server's answer could not be read: {inner}")
        }
        other => deepest(other),
    }
}

/// A request that got no answer from the API server, in words.
pub(super) struct Unanswered {
    pub words: String,
    /// The Kubernetes client's own request queue (a tower `Buffer` worker) failed: the request
    /// never reached the server, so this says nothing about the server. Worth one more try.
    pub client_fault: bool,
}

/// What tower's `Buffer` says when its worker task is gone; its type is private to tower's
/// error chain, so it is recognised by its text.
const BUFFER_CLOSED: &str = "buffer's worker closed unexpectedly";

/// Why a request got no answer. A closed client queue is not blamed on the API server (the
/// report's "check that the API server is up" at 30,000 pods while the server was fine). The
/// likely way it happens: the `Buffer` worker is a task of the engine's runtime, and when
/// `status` ends, the runtime's
/// shutdown drops it while a slow poll (large clusters) may still have a request queued; that
/// request then fails with `Closed`. The probe asks once more, and the words say what
/// happened.
pub(super) fn unanswered(e: &kube::Error) -> Unanswered {
    let cause = deepest(e);
    if cause.contains(BUFFER_CLOSED) {
        return Unanswered {
            words: "the request was not sent: this program's Kubernetes client stopped taking \
                    requests (its request queue closed), the API server was not asked"
                .into(),
            client_fault: true,
        };
    }
    Unanswered {
        words: format!("no answer from the API server: {cause}"),
        client_fault: false,
    }
}

/// `the API server answered 403 Forbidden: deployments.apps is forbidden: …`.
pub(super) fn status_words(s: &Status) -> String {
    let reason = if s.reason.is_empty() {
        http_reason(s.code)
    } else {
        s.reason.as_str()
    };
    let message = s.message.trim();
    if message.is_empty() {
        format!("the API server answered {} {reason}", s.code)
    } else {
        format!("the API server answered {} {reason}: {message}", s.code)
    }
}

/// The most specific cause of an error chain ("Connection refused (os error 111)"), not the
/// wrappers around it ("ServiceError: client error (Connect)").
fn deepest(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

fn http_reason(code: u16) -> &'static str {
    match code {
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        410 => "Gone",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "",
    }
}

/// The HTTP status of a watcher error, when the API server answered one.
pub(super) fn watch_status(e: &watcher::Error) -> Option<u16> {
    match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => Some(s.code),
        watcher::Error::WatchError(s) => Some(s.code),
        _ => None,
    }
}

/// "list deployments in all namespaces: the API server answered 403 Forbidden: …".
pub(super) fn watch_words(e: &watcher::Error, resource: &str, scope: Option<&str>) -> String {
    let place = match scope {
        Some(ns) => format!("in namespace {ns}"),
        None => "in all namespaces".into(),
    };
    let (verb, why) = match e {
        watcher::Error::InitialListFailed(inner) => ("list", kube_words(inner)),
        watcher::Error::WatchStartFailed(inner) => ("watch", kube_words(inner)),
        watcher::Error::WatchFailed(inner) => ("watch", kube_words(inner)),
        watcher::Error::WatchError(status) => ("watch", status_words(status)),
        watcher::Error::NoResourceVersion => (
            "watch",
            "the API server's list carried no resourceVersion".into(),
        ),
    };
    format!("{verb} {resource} {place}: {why}")
}

/// What the operator can do about an error with this HTTP status (None: the server did not
/// answer).
pub(super) fn advice(code: Option<u16>) -> &'static str {
    match code {
        None => {
            "check that the API server is up and reachable from this machine (kubectl cluster-info)"
        }
        Some(401) => {
            "the context's credentials were refused: log in again or renew the token in the kubeconfig"
        }
        Some(403) => {
            "ask for list and watch permission on it (RBAC), or name the namespaces you may read in the profile"
        }
        Some(404) => "this API server does not serve it (an older Kubernetes version?)",
        Some(429) => "the API server is throttling: it is retried with backoff",
        Some(c) if c >= 500 => {
            "the API server is failing: check its health (kubectl get --raw /readyz)"
        }
        Some(_) => "it is retried with backoff",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_client_queue_is_not_blamed_on_the_api_server() {
        // tower's `Closed` as kube hands it over (its constructor is private to tower).
        let e = kube::Error::Service(Box::new(std::io::Error::other(
            "buffer's worker closed unexpectedly",
        )));
        let u = unanswered(&e);
        assert!(u.client_fault);
        assert!(
            u.words.contains("the API server was not asked"),
            "{}",
            u.words
        );
        assert!(
            !u.words.contains("no answer from the API server"),
            "{}",
            u.words
        );
        let refused = kube::Error::Service(Box::new(std::io::Error::other(
            "Connection refused (os error 111)",
        )));
        assert!(!unanswered(&refused).client_fault);
    }

    #[test]
    fn a_forbidden_list_reads_as_words_without_a_debug_dump() {
        let status = Status {
            status: None,
            code: 403,
            message: "deployments.apps is forbidden: User \"jane\" cannot list resource \
                      \"deployments\" in API group \"apps\" at the cluster scope"
                .into(),
            metadata: None,
            reason: "Forbidden".into(),
            details: None,
        };
        let e = watcher::Error::InitialListFailed(kube::Error::Api(Box::new(status)));
        let words = watch_words(&e, "deployments", None);
        assert_eq!(
            words,
            "list deployments in all namespaces: the API server answered 403 Forbidden: \
             deployments.apps is forbidden: User \"jane\" cannot list resource \"deployments\" \
             in API group \"apps\" at the cluster scope"
        );
        assert!(!words.contains("Status {"), "{words}");
        assert_eq!(watch_status(&e), Some(403));
    }
}
