//! `scaleboard team init|status` and `scaleboard audit --team`: the team store from the command
//! line.

use crate::profiles::{AppDirs, Profile};
use crate::team::{PageKey, TeamQuery, TeamStore, migrations};
use anyhow::{Context, bail};
use std::io::Write;
use std::sync::Arc;

/// The role the printed GRANTs name when none is given.
pub const DEFAULT_ROLE: &str = "scaleboard_operator";

fn store(dirs: &AppDirs, profile: &Profile) -> anyhow::Result<Arc<TeamStore>> {
    match TeamStore::for_profile(profile, &dirs.data_dir) {
        Some(s) => Ok(s),
        None => bail!(
            "profile \"{}\" has no team store: add a [profile.team] section with a dsn",
            profile.name
        ),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// `team init`: creates or migrates the schema, or with `print_sql` prints the SQL and the
/// GRANTs for a DBA to run (nothing is connected then).
pub fn init(
    dirs: &AppDirs,
    profile: &Profile,
    print_sql: bool,
    role: &str,
    mut out: impl Write,
) -> anyhow::Result<()> {
    let schema = profile
        .team
        .as_ref()
        .map_or(crate::profiles::TEAM_DEFAULT_SCHEMA, |t| t.schema.as_str());
    if !crate::profiles::validate::valid_schema_name(schema) {
        bail!("the team schema name \"{schema}\" is not a plain lower-case name");
    }
    if print_sql {
        writeln!(out, "-- Scaleboard team store, schema {schema}")?;
        out.write_all(migrations::script(schema).as_bytes())?;
        writeln!(out, "\n-- The operators' role: read and append only.")?;
        out.write_all(migrations::grants(schema, role).as_bytes())?;
        return Ok(());
    }
    let store = store(dirs, profile)?;
    let applied = runtime()?
        .block_on(store.migrate_now())
        .map_err(|why| anyhow::anyhow!("team store: {why}"))?;
    if applied.is_empty() {
        writeln!(
            out,
            "Team store schema {schema} is up to date (version {}).",
            migrations::latest()
        )?;
    } else {
        let list: Vec<String> = applied.iter().map(ToString::to_string).collect();
        writeln!(
            out,
            "Team store schema {schema}: applied migration(s) {}.",
            list.join(", ")
        )?;
    }
    Ok(())
}

/// `team status`: the store's reachability, open locks and records not shared yet. Returns
/// whether the store answered.
pub fn status(dirs: &AppDirs, profile: &Profile, mut out: impl Write) -> anyhow::Result<bool> {
    let store = store(dirs, profile)?;
    let rt = runtime()?;
    let (locks, sent) = rt.block_on(async {
        let sent = store.flush_pending().await;
        (store.open_locks().await, sent)
    });
    let pending = store.pending();
    let ok = locks.is_ok();
    match locks {
        Ok(locks) => {
            writeln!(out, "Team store: reachable (schema {}).", store.schema())?;
            if let Ok(n) = sent
                && n > 0
            {
                writeln!(out, "Shared {n} record(s) that were not shared yet.")?;
            }
            if locks.is_empty() {
                writeln!(out, "No change locks held.")?;
            }
            for l in locks {
                writeln!(
                    out,
                    "{}  {}@{} since {} UTC — {} [{}]",
                    l.target,
                    l.operator,
                    l.host,
                    l.since.format("%Y-%m-%d %H:%M:%S"),
                    l.summary,
                    l.state
                )?;
            }
        }
        Err(why) => writeln!(out, "Team mode: {}.", store.unreachable(&why))?,
    }
    if pending.is_empty() {
        writeln!(out, "Every local record is shared.")?;
    } else {
        writeln!(out, "Not shared yet: {} record(s):", pending.len())?;
        for r in &pending {
            writeln!(
                out,
                "  {}  {} {}  {}",
                r.when.to_rfc3339(),
                r.action,
                r.target,
                r.outcome
            )?;
        }
    }
    Ok(ok)
}

/// Options of `audit --team`.
#[derive(Debug, Clone, Default)]
pub struct HistoryArgs {
    pub filter: String,
    pub outcome: Option<String>,
    pub limit: i64,
    /// The cursor printed under the previous page.
    pub before: Option<String>,
}

fn parse_cursor(text: &str) -> anyhow::Result<PageKey> {
    let mut parts = text.splitn(3, '/');
    let (Some(at), Some(phase), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        bail!("--before takes the cursor printed under a page (MICROS/PHASE/ID)");
    };
    Ok(PageKey {
        at_micros: at
            .parse()
            .context("--before: the cursor's time is not a number")?,
        phase: phase.to_owned(),
        action_id: id.to_owned(),
    })
}

/// `audit --team`: one page of the team's history, newest first, then the next page's cursor.
pub fn history(
    dirs: &AppDirs,
    profile: &Profile,
    args: &HistoryArgs,
    mut out: impl Write,
) -> anyhow::Result<()> {
    let store = store(dirs, profile)?;
    let query = TeamQuery {
        text: args.filter.clone(),
        outcome: args.outcome.clone(),
        after: args.before.as_deref().map(parse_cursor).transpose()?,
        limit: args.limit,
    };
    let (rows, next) = runtime()?
        .block_on(store.history(&query))
        .map_err(|why| anyhow::anyhow!("team store: {why}"))?;
    if rows.is_empty() {
        writeln!(out, "No team audit records match.")?;
    }
    for r in &rows {
        writeln!(
            out,
            "{}  {}@{}  [{}]  {} {} {} → {}  {}  {}",
            r.when.format("%Y-%m-%d %H:%M:%S"),
            r.operator,
            r.host,
            r.profile,
            r.action,
            r.target,
            r.before,
            r.after,
            r.outcome,
            r.detail
        )?;
    }
    if let Some(k) = next {
        writeln!(
            out,
            "-- more: --before {}/{}/{}",
            k.at_micros, k.phase, k.action_id
        )?;
    }
    Ok(())
}
