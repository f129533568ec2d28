//! tokio-postgres errors in the words an operator needs: what went wrong and what to check.

use super::dsn::Dsn;
use std::error::Error as _;
use tokio_postgres::error::SqlState;

/// The server refused the password (or asked for one): a changed secret is looked up again.
pub fn is_refused_login(e: &tokio_postgres::Error) -> bool {
    e.as_db_error()
        .is_some_and(|db| *db.code() == SqlState::INVALID_PASSWORD)
        || e.to_string().contains("password")
}

pub fn describe(e: &tokio_postgres::Error, dsn: &Dsn) -> String {
    let at = dsn.address();
    if let Some(db) = e.as_db_error() {
        let msg = db.message();
        let code = db.code();
        return if *code == SqlState::INVALID_PASSWORD {
            format!(
                "wrong password for user \"{}\" at {at} (the server said: {msg})",
                dsn.user
            )
        } else if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            format!(
                "{at} does not let user \"{}\" in: {msg} (check pg_hba.conf)",
                dsn.user
            )
        } else if *code == SqlState::INVALID_CATALOG_NAME {
            format!("database \"{}\" does not exist on {at}", dsn.dbname)
        } else if *code == SqlState::CANNOT_CONNECT_NOW {
            format!("{at} is starting up or shutting down: {msg}")
        } else if *code == SqlState::ADMIN_SHUTDOWN || *code == SqlState::CRASH_SHUTDOWN {
            format!("{at} stopped while being polled: {msg}")
        } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
            format!(
                "user \"{}\" lacks a privilege on {at}: {msg} (grant it pg_monitor)",
                dsn.user
            )
        } else if *code == SqlState::TOO_MANY_CONNECTIONS {
            format!("{at} has no free connection slot: {msg}")
        } else {
            format!("{at}: {msg} (SQLSTATE {})", code.code())
        };
    }
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    format!(
                        "connection refused at {at}: is PostgreSQL running and listening there?"
                    )
                }
                std::io::ErrorKind::NotFound if dsn.host.starts_with('/') => {
                    format!("no PostgreSQL socket at {at}: is the server running?")
                }
                std::io::ErrorKind::TimedOut => {
                    format!("{at} did not answer in time (network or firewall?)")
                }
                std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::BrokenPipe => {
                    format!(
                        "{at} closed the connection during the poll (the server stopped or restarted)"
                    )
                }
                _ if io
                    .get_ref()
                    .is_some_and(|inner| inner.is::<rustls::Error>()) =>
                {
                    format!("TLS with {at} failed (sslmode={:?}): {io}", dsn.sslmode)
                }
                _ => format!("cannot talk to {at}: {io}"),
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
    if e.is_closed() {
        format!("{at} closed the connection during the poll (the server stopped or restarted)")
    } else if text.contains("password missing") {
        format!(
            "{at} asks user \"{}\" for a password but none is set: give it with `scaleboard secret set` (the endpoint's keyring entry or \
             credentials file), its SCALEBOARD_SECRET_… variable, PGPASSFILE or ~/.pgpass",
            dsn.user
        )
    } else if text.contains("does not support TLS") {
        format!("{at} does not offer TLS, but sslmode requires it")
    } else if text.contains("unexpected EOF") || text.contains("connection closed") {
        format!("{at} closed the connection during the poll (the server stopped or restarted)")
    } else {
        format!("{at}: {text}")
    }
}
