//! Typed connector errors. The dry-run verdict, the pipeline's outcome and every message derive
//! from the variant, never from matching strings; the server's own words are kept.

/// What went wrong talking to a system. `detail` fields hold the server's or the OS's own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// The connection could not be made or broke (DNS, refused, reset, TLS).
    #[error("cannot reach {endpoint}: {reason}")]
    Unreachable { endpoint: String, reason: String },
    /// No answer in time: the system may or may not have acted.
    #[error("no answer in time: {0}")]
    Timeout(String),
    /// Credentials missing or rejected (HTTP 401, a wrong password).
    #[error("not authenticated: {0}")]
    Auth(String),
    /// Authenticated but not allowed (HTTP 403, RBAC, a read-only user).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The target does not exist (any more).
    #[error("not found: {0}")]
    NotFound(String),
    /// The target changed since the plan was made (HTTP 409, a failed precondition, a re-check
    /// that saw something else): nothing was written.
    #[error("changed since planned: {0}")]
    Conflict(String),
    /// The server understood the request and refused it (admission webhook, validation, quota).
    #[error("refused by the server: {0}")]
    Refused(String),
    /// This connector cannot do that at all.
    #[error("{0}")]
    Unsupported(String),
    /// Anything else, in words.
    #[error("{0}")]
    Failed(String),
    /// Nothing listens at the address (the connection was refused): the server is not
    /// running there — not slow, so the engine says down at once instead of stale.
    #[error("cannot reach {endpoint}: {reason}")]
    NotListening { endpoint: String, reason: String },
}

impl ConnectorError {
    /// True when the error is the system's own verdict on the request (so a dry run that ends
    /// this way is a refusal), false when no verdict was reached (transport, time-out).
    pub fn is_verdict(&self) -> bool {
        matches!(
            self,
            Self::Forbidden(_) | Self::NotFound(_) | Self::Conflict(_) | Self::Refused(_)
        )
    }

    /// True when the request may have reached the system and been acted on without an answer
    /// coming back: the outcome is unknown, not failed.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }

    /// True when the connection was refused: the server is certainly not running there.
    pub fn is_refused_connection(&self) -> bool {
        matches!(self, Self::NotListening { .. })
    }

    /// Whether an I/O error anywhere in `e`'s chain is a refused connection.
    pub fn refused_in_chain(e: &(dyn std::error::Error + 'static)) -> bool {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(s) = source {
            if s.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
            {
                return true;
            }
            source = s.source();
        }
        false
    }
}
