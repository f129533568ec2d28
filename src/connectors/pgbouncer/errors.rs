//! PgBouncer's refusals in the words an operator needs. PgBouncer answers a wrong password,
//! a user outside `admin_users`/`stats_users` or an unknown database with a FATAL error of its
//! own wording (its SQLSTATE varies between versions), so both the code and its words are read.

use super::super::postgres::dsn::Dsn;
use crate::model::error::ConnectorError;
use std::error::Error as _;
use tokio_postgres::error::SqlState;

/// Where the password may come from, for "wrong/missing password" messages.
const PASSWORD_PLACES: &str = "the endpoint's SCALEBOARD_SECRET_… variable, keyring entry or \
                               credentials file, PGPASSWORD, or ~/.pgpass";

pub fn describe(e: &tokio_postgres::Error, dsn: &Dsn, endpoint: &str) -> ConnectorError {
    let at = dsn.address();
    let user = &dsn.user;
    if let Some(db) = e.as_db_error() {
        let msg = db.message();
        let code = db.code();
        let lower = msg.to_ascii_lowercase();
        return if *code == SqlState::INVALID_PASSWORD || lower.contains("password authentication") {
            ConnectorError::Auth(format!(
                "PgBouncer refused the password for user \"{user}\" at {at} (it said: {msg}); \
                 check the password in {PASSWORD_PLACES}, and the user's line in PgBouncer's auth_file"
            ))
        } else if lower.contains("not allowed") {
            ConnectorError::Forbidden(format!(
                "PgBouncer at {at} does not let user \"{user}\" into its admin console (it said: \
                 {msg}): add the user to admin_users or stats_users in pgbouncer.ini"
            ))
        } else if lower.contains("no such database") {
            ConnectorError::NotFound(format!(
                "PgBouncer at {at} has no database \"{}\" (it said: {msg}): the admin console \
                 is the database \"pgbouncer\"",
                dsn.dbname
            ))
        } else if lower.contains("no such user") {
            ConnectorError::Auth(format!(
                "PgBouncer at {at} does not know user \"{user}\" (it said: {msg}): add it to \
                 PgBouncer's auth_file"
            ))
        } else if *code == SqlState::TOO_MANY_CONNECTIONS || lower.contains("no more connections") {
            ConnectorError::Refused(format!(
                "PgBouncer at {at} accepts no more clients (it said: {msg}): max_client_conn reached"
            ))
        } else {
            ConnectorError::Failed(format!(
                "PgBouncer at {at}: {msg} (SQLSTATE {})",
                code.code()
            ))
        };
    }
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            let reason = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return ConnectorError::NotListening {
                        endpoint: endpoint.to_owned(),
                        reason: format!(
                            "connection refused at {at}: is PgBouncer running and listening there?"
                        ),
                    };
                }
                std::io::ErrorKind::TimedOut => {
                    return ConnectorError::Timeout(format!(
                        "PgBouncer at {at} did not answer in time (network or firewall?)"
                    ));
                }
                std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::BrokenPipe => {
                    format!("PgBouncer at {at} closed the connection (it stopped or restarted)")
                }
                _ => format!("cannot talk to PgBouncer at {at}: {io}"),
            };
            return ConnectorError::Unreachable {
                endpoint: endpoint.to_owned(),
                reason,
            };
        }
        source = s.source();
    }
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    if text.contains("password missing") {
        ConnectorError::Auth(format!(
            "PgBouncer at {at} asks user \"{user}\" for a password but none is set: store it in \
             {PASSWORD_PLACES}"
        ))
    } else if e.is_closed() || text.contains("unexpected EOF") || text.contains("connection closed")
    {
        ConnectorError::Unreachable {
            endpoint: endpoint.to_owned(),
            reason: format!("PgBouncer at {at} closed the connection (it stopped or restarted)"),
        }
    } else if text.contains("does not support TLS") {
        ConnectorError::Failed(format!(
            "PgBouncer at {at} does not offer TLS, but sslmode requires it (client_tls_sslmode)"
        ))
    } else {
        ConnectorError::Failed(format!("PgBouncer at {at}: {text}"))
    }
}
