//! Following one action on the command line, from `Execute` to its audited outcome. Ctrl-C
//! (or SIGTERM) cancels it through the pipeline — the grace period ends, or the running command
//! is stopped — and the process exits with code 130 only once the record is written.

use crate::actions::ActionId;
use crate::actions::audit::{AuditOutcome, AuditRecord};
use crate::engine::{ActionStage, Command, EngineHandle, Event};
use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Exit code of a command whose action was cancelled with Ctrl-C (128 + SIGINT, as shells do).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Sends the action, prints its stages, and returns its final audit record. `verb` names the
/// execute stage ("Executing pg_promote…").
pub fn follow(
    engine: &mut EngineHandle,
    id: ActionId,
    plan: crate::actions::Plan,
    forced: bool,
    executing: &str,
    out: impl Write,
) -> anyhow::Result<AuditRecord> {
    follow_command(
        engine,
        Command::Execute {
            id,
            plan: Box::new(plan),
            forced,
        },
        executing,
        out,
    )
}

/// [`follow`] for a run command already built: `Execute`, or `ExecuteTakingOver` when the
/// operator takes a colleague's change lock over with a typed reason (team mode).
pub fn follow_command(
    engine: &mut EngineHandle,
    command: Command,
    executing: &str,
    out: impl Write,
) -> anyhow::Result<AuditRecord> {
    let id = match &command {
        Command::Execute { id, .. } | Command::ExecuteTakingOver { id, .. } => *id,
        _ => anyhow::bail!("internal: only an action can be followed"),
    };
    // Once the action is sent it is followed to its audited outcome, even if stdout closes.
    let mut out = super::KeepGoing::new(out);
    let interrupted = engine.catch_interrupts();
    engine.send(command)?;
    let mut last_stage = String::new();
    let mut cancel_sent = false;
    loop {
        if interrupted.load(Ordering::SeqCst) && !cancel_sent {
            writeln!(
                out,
                "Interrupted: cancelling through the pipeline and waiting for the audit record…"
            )?;
            engine.send(Command::Cancel { id })?;
            cancel_sent = true;
        }
        let Some(event) = engine.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        match event {
            Event::ActionProgress { id: got, stage } if got == id => {
                let line = match stage {
                    ActionStage::Grace { remaining } => {
                        format!("Starting in {} s (Ctrl-C cancels)…", remaining.as_secs())
                    }
                    ActionStage::Rechecking => {
                        "Re-checking the target against the server…".to_string()
                    }
                    ActionStage::Executing => executing.to_string(),
                    ActionStage::Verifying { observed } => format!("Verifying: {observed}"),
                };
                if line != last_stage {
                    writeln!(out, "{line}")?;
                    last_stage = line;
                }
            }
            Event::ActionFinished { id: got, record } if got == id => {
                let text = record.outcome_text();
                writeln!(out, "{}", text.headline)?;
                if let Some(transcript) = &text.transcript {
                    for line in transcript.lines() {
                        writeln!(out, "    {line}")?;
                    }
                }
                if cancel_sent && record.outcome == AuditOutcome::Cancelled {
                    writeln!(out, "Exit code {EXIT_INTERRUPTED}: cancelled by Ctrl-C.")?;
                    out.flush()?;
                    std::process::exit(i32::from(EXIT_INTERRUPTED));
                }
                return Ok(*record);
            }
            Event::Notice(text) => writeln!(out, "{text}")?,
            _ => {}
        }
    }
}
