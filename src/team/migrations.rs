//! The team store's schema: versioned migrations, each applied once, in one transaction, with
//! concurrent migrators (two consoles starting at once) serialised by a transaction-level
//! advisory lock. `scaleboard team init --print-sql` prints the same SQL for a DBA.
//!
//! Records are append-only: an outcome is a new row linked to its intent by `action_id`, a lock
//! release is a new row linked to its lock. The operator role needs INSERT and SELECT only.

use tokio_postgres::Client;

/// The migrations, oldest first: (version, SQL with `{schema}` for the schema name).
const MIGRATIONS: &[(i32, &str)] = &[(1, V1)];

const V1: &str = "
CREATE TABLE {schema}.audit (
    action_id  text        NOT NULL,
    phase      text        NOT NULL CHECK (phase IN ('intent', 'outcome')),
    at         timestamptz NOT NULL,
    operator   text        NOT NULL,
    host       text        NOT NULL,
    profile    text        NOT NULL,
    action     text        NOT NULL,
    target     text        NOT NULL,
    before     text        NOT NULL,
    after      text        NOT NULL,
    command    text        NOT NULL,
    outcome    text        NOT NULL,
    detail     text        NOT NULL,
    forced     boolean     NOT NULL,
    record     jsonb       NOT NULL,
    shared_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (action_id, phase)
);
-- Keyset pagination, newest first: WHERE (at, action_id, phase) < (…) ORDER BY … DESC.
CREATE INDEX audit_at_idx ON {schema}.audit (at DESC, action_id DESC, phase DESC);
-- The history's text filter (ILIKE '%…%' on who, where and what) without reading every row:
-- pg_trgm is a trusted extension (PostgreSQL 13+), shipped with the server packages.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX audit_text_idx ON {schema}.audit
    USING gin ((operator || ' ' || host || ' ' || profile || ' ' || action || ' ' || target) gin_trgm_ops);
-- The live feed reads what was shared since it last looked.
CREATE INDEX audit_shared_idx ON {schema}.audit (shared_at);
CREATE TABLE {schema}.locks (
    action_id   text        NOT NULL,
    event       text        NOT NULL CHECK (event IN ('taken', 'released', 'taken_over')),
    lock_key    bigint      NOT NULL,
    target      text        NOT NULL,
    summary     text        NOT NULL,
    operator    text        NOT NULL,
    host        text        NOT NULL,
    profile     text        NOT NULL,
    backend_pid integer     NOT NULL,
    reason      text        NOT NULL DEFAULT '',
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (action_id, event)
);
CREATE INDEX locks_key_idx ON {schema}.locks (lock_key, at DESC);
";

fn bootstrap(schema: &str) -> String {
    format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};\n\
         CREATE TABLE IF NOT EXISTS {schema}.migrations (\n    \
             version    integer     PRIMARY KEY,\n    \
             applied_at timestamptz NOT NULL DEFAULT now()\n);\n"
    )
}

/// The key of the transaction-level advisory lock that serialises migrators of one schema.
fn migrate_lock(schema: &str) -> String {
    format!("SELECT pg_advisory_xact_lock(hashtextextended('scaleboard-migrate:{schema}', 0));\n")
}

/// The whole schema as one script a DBA can run (`team init --print-sql`). `schema` must have
/// passed `validate::valid_schema_name`.
pub fn script(schema: &str) -> String {
    let mut out = String::from("BEGIN;\n");
    out.push_str(&migrate_lock(schema));
    out.push_str(&bootstrap(schema));
    for (version, sql) in MIGRATIONS {
        out.push_str(&format!("-- migration {version}\n"));
        out.push_str(sql.replace("{schema}", schema).trim());
        out.push_str(&format!(
            "\nINSERT INTO {schema}.migrations (version) VALUES ({version});\n"
        ));
    }
    out.push_str("COMMIT;\n");
    out
}

/// What the operators' role needs: read and append, never change or delete.
pub fn grants(schema: &str, role: &str) -> String {
    format!(
        "GRANT USAGE ON SCHEMA {schema} TO {role};\n\
         GRANT SELECT ON {schema}.migrations TO {role};\n\
         GRANT INSERT, SELECT ON {schema}.audit, {schema}.locks TO {role};\n\
         -- Nothing else: records are append-only, UPDATE and DELETE stay refused.\n"
    )
}

/// The newest version this build knows.
pub fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Applies the migrations the schema lacks, in one transaction; returns the versions applied
/// (empty when it was up to date). A role that may only read and append gets a clear error
/// when something is missing, and nothing when nothing is.
pub async fn migrate(client: &mut Client, schema: &str) -> Result<Vec<i32>, String> {
    // Up to date: nothing to do, and no CREATE right needed (the operator role has none).
    if applied(client, schema).await.is_ok_and(|v| v >= latest()) {
        return Ok(Vec::new());
    }
    let tx = client
        .transaction()
        .await
        .map_err(|e| format!("team store: cannot start the migration: {e}"))?;
    let fail = |e: tokio_postgres::Error| {
        let why = e
            .as_db_error()
            .map_or_else(|| e.to_string(), |d| d.message().to_owned());
        format!(
            "team store: migrating schema {schema} failed ({why}); a DBA can run the SQL of \
             `scaleboard team init --print-sql` instead"
        )
    };
    tx.batch_execute(&migrate_lock(schema))
        .await
        .map_err(fail)?;
    tx.batch_execute(&bootstrap(schema)).await.map_err(fail)?;
    let have: Vec<i32> = tx
        .query(&format!("SELECT version FROM {schema}.migrations"), &[])
        .await
        .map_err(fail)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut done = Vec::new();
    for (version, sql) in MIGRATIONS {
        if have.contains(version) {
            continue;
        }
        tx.batch_execute(&sql.replace("{schema}", schema))
            .await
            .map_err(fail)?;
        tx.execute(
            &format!("INSERT INTO {schema}.migrations (version) VALUES ($1)"),
            &[version],
        )
        .await
        .map_err(fail)?;
        done.push(*version);
    }
    tx.commit().await.map_err(fail)?;
    Ok(done)
}

/// The newest applied version.
pub async fn applied(client: &Client, schema: &str) -> Result<i32, String> {
    let row = client
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {schema}.migrations"),
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_creates_every_table_once_and_grants_no_update_or_delete() {
        let sql = script("ops");
        assert!(sql.starts_with("BEGIN;") && sql.trim_end().ends_with("COMMIT;"));
        assert_eq!(sql.matches("CREATE TABLE ops.audit").count(), 1);
        assert!(sql.contains("INSERT INTO ops.migrations (version) VALUES (1);"));
        assert!(!sql.contains("{schema}"));
        let g = grants("ops", "operators");
        assert!(g.contains("GRANT INSERT, SELECT ON ops.audit, ops.locks TO operators;"));
        assert!(!g.contains("UPDATE,") && !g.contains("DELETE,"));
    }
}
