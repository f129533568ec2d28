//! `scaleboard man` and `scaleboard completions SHELL`: the man pages and shell completions the
//! packages install, generated from the clap definitions in `main.rs` so they never drift from
//! `--help`. Neither needs a home directory, a profile or the network (package builds run them).

use std::io::{self, Write};
use std::path::Path;

/// Extra sections of `scaleboard(1)` that `--help` does not carry. Plain roff: no line may start
/// with `.` or `'`, and `\` is written `\e`.
const MAIN_PAGE_EXTRA: &str = r#".SH FILES
.TP
\fI$XDG_CONFIG_HOME/scaleboard/profiles.toml\fR (default \fI~/.config/scaleboard\fR)
Saved connection profiles. Passwords and tokens are kept in the OS keyring, never in this file.
.TP
\fI$XDG_CONFIG_HOME/scaleboard/cost\-models.toml\fR
Saved cost models, next to the profiles.
.TP
\fI$XDG_DATA_HOME/scaleboard/audit.jsonl\fR (default \fI~/.local/share/scaleboard\fR)
The append\-only audit log of every action (JSON Lines).
.PP
The window's ? menu, About Scaleboard, shows the paths this run uses.
.SH ENVIRONMENT
.TP
\fBSCALEBOARD_CONFIG_DIR\fR
Keep profiles and cost models here (as \fB\-\-config\-dir\fR); the audit log then goes to
its \fIdata\fR subdirectory unless \fBSCALEBOARD_DATA_DIR\fR is set.
.TP
\fBSCALEBOARD_DATA_DIR\fR
Keep the audit log here.
.TP
\fBKUBECONFIG\fR
Kubeconfig files of a Kubernetes endpoint that names none (then \fI~/.kube/config\fR).
.TP
\fBPGPASSWORD\fR, \fBPGPASSFILE\fR
PostgreSQL passwords when the keyring has none.
.TP
\fBRUST_LOG\fR
Log filter, replacing the default whole. By default only Scaleboard's own warnings reach
stderr, and one line in words per Kubernetes context state change (connected, lost,
forbidden); library records appear only when \fBRUST_LOG\fR asks for them
(e.g. \fBRUST_LOG=debug\fR).
.TP
\fBSCALEBOARD_SECRET_\fR\fIPROFILE\fR\fB_\fR\fIENDPOINT\fR
An endpoint's password or token; never passed on to the processes Scaleboard starts.
.TP
\fBSCALEBOARD_KEYRING\fR=\fBoff\fR
Do not ask the OS keyring (\fBscaleboard secret set\fR then saves to \fIcredentials.toml\fR).
.SH EXIT STATUS
\fBstatus\fR and \fBadvise\fR follow the monitoring\-plugins convention; the worst
endpoint wins (2 over 1 over 3 over 0):
.TP
\fB0\fR
OK: every endpoint answers and nothing crosses a threshold (\fBadvise\fR: no rule fires).
.TP
\fB1\fR
WARNING: degraded, e.g. a queue backlog over its threshold or one member of several down.
.TP
\fB2\fR
CRITICAL: an endpoint down, no primary or leader, two servers accepting writes, a Kubernetes
context not watched; also any error before polling (no such profile).
.TP
\fB3\fR
UNKNOWN: no outcome within \fB\-\-timeout\fR (\fBadvise\fR: a rule could not be judged).
.PP
Acting commands (\fBscale\fR, \fBautoscale\fR, \fBpromote\fR, \fBswitchover\fR,
\fBfailover\fR): 0 when the action was verified, 1 otherwise, 130 when cancelled with Ctrl\-C.
"#;

/// Without `out_dir`, prints `scaleboard(1)` to `out`. With it, writes `scaleboard.1` and one
/// page per subcommand (`scaleboard-status.1`, `scaleboard-cost-report.1`, …) into `out_dir`,
/// which must exist, and prints the written file names to `out`.
pub fn man_pages(
    cmd: clap::Command,
    out_dir: Option<&Path>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let Some(dir) = out_dir else {
        return main_page(&cmd, out);
    };
    let path = dir.join("scaleboard.1");
    let mut file = io::BufWriter::new(std::fs::File::create(&path)?);
    main_page(&cmd, &mut file)?;
    file.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_all()?;
    writeln!(out, "{}", path.display())?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        subcommand_pages(sub, dir, out)?;
    }
    Ok(())
}

fn main_page(cmd: &clap::Command, out: &mut dyn Write) -> io::Result<()> {
    clap_mangen::Man::new(cmd.clone())
        .manual("Scaleboard Manual")
        .render(out)?;
    out.write_all(MAIN_PAGE_EXTRA.as_bytes())
}

fn subcommand_pages(cmd: &clap::Command, dir: &Path, out: &mut dyn Write) -> io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        subcommand_pages(sub, dir, out)?;
    }
    let path = clap_mangen::Man::new(cmd.clone())
        .manual("Scaleboard Manual")
        .generate_to(dir)?;
    writeln!(out, "{}", path.display())
}

/// Prints the completion script of `shell` for `cmd` to `out`.
pub fn completions(
    shell: clap_complete::Shell,
    mut cmd: clap::Command,
    out: &mut dyn Write,
) -> io::Result<()> {
    clap_complete::generate(shell, &mut cmd, "scaleboard", out);
    out.flush()
}
