//! Entry point: arguments, logging, then either a CLI command or the window.

mod cli_docs;

use clap::{CommandFactory, Parser, Subcommand};
use scaleboard::app::{AppOptions, ScaleboardApp};
use scaleboard::engine::EngineConfig;
use scaleboard::model::clock::SystemClock;
use scaleboard::profiles::{AppDirs, ProfileStore};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "scaleboard",
    version,
    about = "A native desktop scaling console"
)]
struct Args {
    /// Open the built-in demo fleet, whatever profiles are saved.
    #[arg(long, global = true)]
    demo: bool,
    /// Use this saved profile.
    #[arg(long, global = true, value_name = "NAME")]
    profile: Option<String>,
    /// Read and write profiles here instead of the platform config dir (also SCALEBOARD_CONFIG_DIR).
    #[arg(long, global = true, value_name = "DIR")]
    config_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

/// How `scale` and `autoscale` run an action: confirmation, force, grace period, verification.
#[derive(clap::Args)]
struct ActionFlags {
    /// Do not ask to type the target's name.
    #[arg(long)]
    yes: bool,
    /// Run even though a guard refuses; the audit record says so.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    pacing: Pacing,
}

/// The grace period and the verification time of every acting command.
#[derive(clap::Args)]
struct Pacing {
    /// Seconds between confirmation and execution (Ctrl-C cancels).
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    grace: u64,
    /// Seconds to wait for the target to reach the new state after the write; then the
    /// outcome is "timed out" (or "applied, not ready") and the exit code 1.
    #[arg(long, value_name = "SECS", default_value_t = 180)]
    verify_timeout: u64,
}

impl Pacing {
    fn grace(&self) -> Duration {
        Duration::from_secs(self.grace)
    }

    fn verify_timeout(&self) -> Duration {
        Duration::from_secs(self.verify_timeout)
    }
}

impl ActionFlags {
    fn run_options(&self) -> scaleboard::cli::scale::RunOptions {
        scaleboard::cli::scale::RunOptions {
            yes: self.yes,
            force: self.force,
            grace: self.pacing.grace(),
            verify_timeout: self.pacing.verify_timeout(),
            connect_timeout: Duration::from_secs(20),
            no_lb: false,
            take_over: None,
        }
    }
}

#[derive(Subcommand)]
enum LbCmd {
    /// For each `[[profile.nginx.links]]`: the servers the upstream lists vs the running
    /// replicas' addresses ("LB: 2 of 3 replicas behind nexus_api; 1 listed server has no
    /// replica"). For a DNS name, replicas started after nginx's last reload are not behind it.
    ///
    /// Exit code: 0 in sync; 1 drift; 2 an upstream missing from the configuration or no
    /// replica behind it; 3 nothing could be read. The worst wins.
    Check {
        /// One JSON report per link (drift, missing, orphans, exit_code) instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum Cmd {
    /// Poll every endpoint once and print each one's state with its reasons. Each endpoint's
    /// outcome is waited for up to its own time-out (a health probe's timeout_ms, at most 9 s),
    /// and the whole command ends within --timeout.
    ///
    /// Exit code: 0 every endpoint ok; 1 warning (degraded: a threshold crossed such as a queue
    /// backlog, a member not ok); 2 critical (an endpoint down, no primary, two writable
    /// servers, a Kubernetes context not watched); 3 unknown (no outcome within --timeout:
    /// nothing to judge). The worst wins: 2 over 1 over 3 over 0.
    Status {
        /// One JSON report per endpoint (state, reasons, members, exit_code) instead of text.
        #[arg(long)]
        json: bool,
        /// Seconds the whole command may take; an endpoint with no outcome by then is unknown.
        #[arg(long, value_name = "SECS", default_value_t = 15)]
        timeout: u64,
    },
    /// Load balancers: `lb check` compares every linked nginx upstream with the replicas
    /// running behind it.
    Lb {
        #[command(subcommand)]
        command: LbCmd,
    },
    /// Poll the workload endpoints once and print each Kubernetes context's capacity:
    /// allocatable, requested and headroom of CPU, memory and pods, nodes with problems
    /// (not ready, pressure, cordoned), quotas, whether a cluster autoscaler runs, and per
    /// workload how many more replicas would fit now (nodes' free room and the namespace's
    /// quota, by the scale plans' fit check).
    ///
    /// Exit code: 0 when some context's nodes were read, 3 when no capacity could be read.
    Capacity {
        /// The report as JSON (contexts with their figures and per-workload fits) instead of text.
        #[arg(long)]
        json: bool,
        /// Seconds the poll may take.
        #[arg(long, value_name = "SECS", default_value_t = 15)]
        timeout: u64,
    },
    /// Judge the scaling advisor's rules once and print what fires with its recommendation.
    /// Where the endpoints hand over their history (the demo fleet, Prometheus-backed rules) it
    /// answers at once; otherwise it samples every endpoint for up to --window, telling on
    /// stderr how long is left.
    ///
    /// Exit code: 0 nothing firing, 1 warnings, 2 critical, 3 unknown (nothing fires but a rule
    /// could not be judged because an endpoint it watches was down or silent).
    Advise {
        /// The report as JSON (firing, pending, not judged, window_secs, sampled_secs,
        /// exit_code) instead of text.
        #[arg(long)]
        json: bool,
        /// How much data each rule is judged on: sample for up to this long when there is no
        /// history (e.g. 30s, 5m, 1h). A rule's own duration caps it.
        #[arg(long, value_name = "DURATION", default_value = "5m")]
        window: String,
    },
    /// Scale a workload through the action pipeline (plan, confirm, verify, audit):
    /// CONTEXT/NAMESPACE/KIND/NAME N, CONTEXT/NAMESPACE N --all, compose/PROJECT/SERVICE N,
    /// compose/PROJECT --set SERVICE=N…, or swarm/SERVICE N.
    Scale {
        /// CONTEXT/NAMESPACE/KIND/NAME, CONTEXT/NAMESPACE (with --all), compose/PROJECT/SERVICE,
        /// compose/PROJECT (with --set) or swarm/SERVICE
        target: String,
        /// The replica count (not with --set).
        replicas: Option<u32>,
        /// SERVICE=N for each service of a project scaled together (repeat it).
        #[arg(long = "set", value_name = "SERVICE=N")]
        set: Vec<String>,
        /// Every Deployment and StatefulSet of the namespace CONTEXT/NAMESPACE.
        #[arg(long)]
        all: bool,
        /// The endpoint, when several endpoints of the profile hold the target.
        #[arg(long)]
        endpoint: Option<String>,
        /// Scale without the load-balancer steps: a linked nginx upstream is left as it is
        /// (`scaleboard lb check` then shows the drift).
        #[arg(long)]
        no_lb: bool,
        /// Team mode: take over the change lock another console holds on the target, with a
        /// reason (recorded in the team store and the audit; the run counts as forced).
        #[arg(long, value_name = "REASON")]
        take_over: Option<String>,
        #[command(flatten)]
        action: ActionFlags,
    },
    /// Create, edit or delete a Kubernetes workload's HorizontalPodAutoscaler through the action
    /// pipeline, like `kubectl autoscale`: CONTEXT/NAMESPACE/KIND/NAME --min N --max N. On an
    /// existing autoscaler only the options given change (e.g. --max alone); the rest keep
    /// their current values. A new one needs --max (--min defaults to 1, --cpu-percent to 80).
    Autoscale {
        /// CONTEXT/NAMESPACE/KIND/NAME (KIND deployment or statefulset)
        target: String,
        /// Minimum replicas (new autoscaler: 1 when left out).
        #[arg(long)]
        min: Option<u32>,
        /// Maximum replicas (required for a new autoscaler).
        #[arg(long)]
        max: Option<u32>,
        /// Target average CPU utilisation, % of the pods' requests (new autoscaler: 80 when
        /// left out).
        #[arg(long)]
        cpu_percent: Option<u32>,
        /// Delete the autoscaler instead (the replica count stays where it is).
        #[arg(long, conflicts_with_all = ["min", "max", "cpu_percent"])]
        delete: bool,
        /// The endpoint, when several endpoints of the profile hold the target.
        #[arg(long)]
        endpoint: Option<String>,
        #[command(flatten)]
        action: ActionFlags,
    },
    /// Promote a PostgreSQL or MySQL/MariaDB replica: prints the plan and its guards, asks for the replica's
    /// name, runs it through the action pipeline and records it in the audit log.
    Promote {
        /// The server to promote, as the Databases panel names it (or ENDPOINT/NAME).
        replica: String,
        /// Go on although a guard refuses (the audit record says so).
        #[arg(long)]
        force: bool,
        /// Do not ask for the replica's name.
        #[arg(long)]
        yes: bool,
        /// Seconds to wait for the servers' first answer.
        #[arg(long, default_value_t = 15)]
        timeout: u64,
        #[command(flatten)]
        pacing: Pacing,
    },
    /// Patroni switchover: the healthy leader hands over to --candidate (or to the member
    /// Patroni picks), now or at --scheduled; --cancel cancels a scheduled one. Prints the plan
    /// and its guards, asks for the candidate's (or cluster's) name, runs it through the action
    /// pipeline and records it in the audit log.
    Switchover {
        /// The Patroni endpoint's name, or its cluster (scope) name.
        cluster: String,
        /// The member to hand the leader lock to.
        #[arg(long)]
        candidate: Option<String>,
        /// When, ISO 8601 with a time zone (e.g. 2026-12-01T03:00:00+00:00).
        #[arg(long, conflicts_with = "cancel")]
        scheduled: Option<String>,
        /// Cancel the scheduled switchover instead.
        #[arg(long, conflicts_with = "candidate")]
        cancel: bool,
        /// Go on although a guard refuses (the audit record says so).
        #[arg(long)]
        force: bool,
        /// Do not ask for the name.
        #[arg(long)]
        yes: bool,
        /// Seconds to wait for the cluster's first answer.
        #[arg(long, default_value_t = 15)]
        timeout: u64,
        #[command(flatten)]
        pacing: Pacing,
    },
    /// Patroni failover: a cluster without a healthy leader gets --candidate as its leader.
    Failover {
        /// The Patroni endpoint's name, or its cluster (scope) name.
        cluster: String,
        /// The member to make leader.
        #[arg(long)]
        candidate: String,
        /// Go on although a guard refuses (the audit record says so).
        #[arg(long)]
        force: bool,
        /// Do not ask for the candidate's name.
        #[arg(long)]
        yes: bool,
        /// Seconds to wait for the cluster's first answer.
        #[arg(long, default_value_t = 15)]
        timeout: u64,
        #[command(flatten)]
        pacing: Pacing,
    },
    /// Print the audit log: first the actions whose outcome is unknown (an intent recorded
    /// before a write, with no outcome after it: check those targets), then one line per action,
    /// oldest first. Damaged lines are reported on stderr. Exits 0 either way.
    Audit {
        /// As spreadsheet-safe CSV.
        #[arg(long)]
        csv: bool,
        /// The team's shared history from the profile's team store instead (newest first,
        /// with operator, host and profile), one page at a time.
        #[command(flatten)]
        team: TeamAudit,
    },
    /// Team mode: the shared audit history and change locks in the profile's team store.
    Team {
        #[command(subcommand)]
        command: TeamCmd,
    },
    /// Cost models and cost reports.
    Cost {
        #[command(subcommand)]
        command: CostCmd,
    },
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell
    /// (e.g. `source <(scaleboard completions bash)`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page scaleboard(1); with --out-dir, write it and one page per subcommand.
    Man {
        /// Write scaleboard.1, scaleboard-status.1, … into this existing directory.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Passwords and tokens of the profiles' endpoints, for machines with or without an OS
    /// keyring. Lookup order: SCALEBOARD_SECRET_<PROFILE>_<ENDPOINT>, the OS keyring,
    /// credentials.toml beside profiles.toml, then PGPASSWORD / ~/.pgpass / REDISCLI_AUTH.
    Secret {
        #[command(subcommand)]
        command: SecretCmd,
    },
}

#[derive(clap::Args)]
struct TeamAudit {
    /// Read the team store's history (`[profile.team]`) instead of the local log.
    #[arg(long)]
    team: bool,
    /// Only records whose operator, host, profile, action or target contains this.
    #[arg(long, requires = "team", default_value = "")]
    filter: String,
    /// Only this outcome (intent, succeeded, failed, refused, not_run, unknown…).
    #[arg(long, requires = "team")]
    outcome: Option<String>,
    /// Rows per page (at most 1000).
    #[arg(long, requires = "team", default_value_t = 50)]
    limit: i64,
    /// The cursor printed under the previous page.
    #[arg(long, requires = "team")]
    before: Option<String>,
}

#[derive(Subcommand)]
enum TeamCmd {
    /// Create or migrate the team store's schema, or print its SQL and GRANTs for a DBA.
    Init {
        /// Print the SQL and the GRANTs instead of running them.
        #[arg(long)]
        print_sql: bool,
        /// The operators' role named in the printed GRANTs.
        #[arg(long, default_value = scaleboard::cli::team::DEFAULT_ROLE)]
        role: String,
    },
    /// Who holds which change lock, locks left by consoles that died, and local records not
    /// shared yet (sent now when the store answers). Exit code 1 when the store is unreachable.
    Status,
}

#[derive(Subcommand)]
enum SecretCmd {
    /// Save the password or token of PROFILE/ENDPOINT (PROFILE/KIND/ENDPOINT when two endpoints
    /// share a name): into the OS keyring, or, without one, into credentials.toml (mode 0600).
    /// Asks without echo on a terminal; reads stdin when it is piped.
    Set {
        /// PROFILE/ENDPOINT
        target: String,
    },
    /// Delete the saved password or token of PROFILE/ENDPOINT (keyring and credentials file).
    Delete {
        /// PROFILE/ENDPOINT
        target: String,
    },
    /// Show which endpoints need a secret and where each is found (never the value); exit code
    /// 1 when a required one is missing.
    List {
        /// A profile, or PROFILE/ENDPOINT; all profiles when left out.
        target: Option<String>,
    },
}

#[derive(Subcommand)]
enum CostCmd {
    /// List the cost models: saved ones and the built-in seeds' template.
    List,
    /// Write a cost report of a model (planned figures; with --live also the run rate of the
    /// profile's fleet as it is now).
    Report {
        /// Model name, e.g. seed-phases (built in).
        #[arg(long, value_name = "NAME", default_value = scaleboard::cost::SEED_TEMPLATE_NAME)]
        model: String,
        #[arg(long, value_enum)]
        format: CostFormat,
        /// File to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Add the live run rate: poll the profile (--profile, or the demo with --demo) once.
        #[arg(long)]
        live: bool,
        /// With --live: a replica count to price as a what-if (repeatable), e.g.
        /// `--what-if search-index=5`; also says whether it fits and, if not, the nodes it
        /// would take and their monthly cost.
        #[arg(long = "what-if", value_name = "WORKLOAD=N", requires = "live")]
        what_if: Vec<String>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CostFormat {
    Csv,
    Json,
    Html,
    Pdf,
}

impl From<CostFormat> for scaleboard::cost::ReportFormat {
    fn from(f: CostFormat) -> Self {
        match f {
            CostFormat::Csv => Self::Csv,
            CostFormat::Json => Self::Json,
            CostFormat::Html => Self::Html,
            CostFormat::Pdf => Self::Pdf,
        }
    }
}

fn main() -> ExitCode {
    let started = std::time::Instant::now();
    scaleboard::logging::builder().init();
    let args = Args::parse();
    // One rustls crypto provider for the whole process, before any HTTPS client exists.
    scaleboard::connectors::http::install_crypto_provider();
    match run(args, started) {
        Ok(code) => code,
        // The reader of stdout went away (`| head -1`): a quiet end, not an error.
        Err(e) if scaleboard::cli::is_closed_output(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scaleboard: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args, started: std::time::Instant) -> anyhow::Result<ExitCode> {
    // Generated documentation needs no config dir, profile or home directory.
    match &args.command {
        Some(Cmd::Completions { shell }) => {
            cli_docs::completions(*shell, Args::command(), &mut std::io::stdout().lock())?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(Cmd::Man { out_dir }) => {
            let out = &mut std::io::stdout().lock();
            cli_docs::man_pages(Args::command(), out_dir.as_deref(), out)?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let dirs = AppDirs::from_env(args.config_dir.clone())?;
    // A save killed between write and rename left its temp file: gone once its process is.
    scaleboard::profiles::temp_files::remove_stale_temp_files(&dirs.config_dir);
    // Connectors find secrets saved by `scaleboard secret set` without a keyring here.
    scaleboard::profiles::secrets::use_credentials_dir(&dirs.config_dir);
    let store = ProfileStore::load(&dirs.config_dir);
    match args.command {
        Some(Cmd::Status { json, timeout }) => {
            let profile =
                scaleboard::cli::choose_profile(&store, args.profile.as_deref(), args.demo)?;
            // Linked nginx upstreams that drift from their replicas: a warning on stderr (the
            // JSON on stdout keeps its shape) and in the exit code.
            let lb_profile = profile.clone();
            let (reports, code) =
                scaleboard::cli::status(&dirs, profile, Duration::from_secs(timeout))?;
            scaleboard::cli::ignore_closed_output(scaleboard::cli::print_status(
                &reports,
                json,
                std::io::stdout().lock(),
            ))?;
            let (lb_lines, lb_code) = scaleboard::cli::lb::status_lines(&lb_profile);
            for line in lb_lines {
                eprintln!("{line}");
            }
            Ok(ExitCode::from(scaleboard::health::worst_exit_code([
                code, lb_code,
            ])))
        }
        Some(Cmd::Lb {
            command: LbCmd::Check { json },
        }) => {
            let profile =
                scaleboard::cli::choose_profile(&store, args.profile.as_deref(), args.demo)?;
            let (reports, code) = scaleboard::cli::lb::lb_check(&profile)?;
            scaleboard::cli::ignore_closed_output(scaleboard::cli::lb::print_lb(
                &reports,
                json,
                std::io::stdout().lock(),
            ))?;
            Ok(ExitCode::from(code))
        }
        Some(Cmd::Capacity { json, timeout }) => {
            let profile =
                scaleboard::cli::choose_profile(&store, args.profile.as_deref(), args.demo)?;
            let report =
                scaleboard::cli::capacity::capacity(&dirs, profile, Duration::from_secs(timeout))?;
            scaleboard::cli::ignore_closed_output(scaleboard::cli::capacity::print_capacity(
                &report,
                json,
                std::io::stdout().lock(),
            ))?;
            Ok(ExitCode::from(report.exit_code))
        }
        Some(Cmd::Advise { json, window }) => {
            let window = scaleboard::cli::advise::parse_window(&window)?;
            let profile =
                scaleboard::cli::choose_profile(&store, args.profile.as_deref(), args.demo)?;
            let report = scaleboard::cli::advise::advise(&dirs, profile, window)?;
            scaleboard::cli::ignore_closed_output(scaleboard::cli::advise::print_advice(
                &report,
                json,
                std::io::stdout().lock(),
            ))?;
            Ok(ExitCode::from(report.exit_code))
        }
        Some(Cmd::Scale {
            target,
            replicas,
            set,
            all,
            endpoint,
            no_lb,
            take_over,
            action,
        }) => {
            let profile =
                scaleboard::cli::choose_profile(&store, args.profile.as_deref(), args.demo)?;
            let mut run = action.run_options();
            run.no_lb = no_lb;
            run.take_over = take_over;
            let request = scaleboard::cli::scale::ScaleRequest {
                target,
                replicas,
                set,
                all,
                endpoint,
                run,
            };
            let ok = scaleboard::cli::scale::scale(
                &dirs,
                profile,
                &request,
                std::io::stdin().lock(),
                acting_output(),
            )?;
            Ok(exit_code(ok))
        }
        Some(Cmd::Autoscale {
            target,
            min,
            max,
            cpu_percent,
            delete,
            endpoint,
            action,
        }) => {
            let profile =
                scaleboard::cli::choose_profile(&store, args.profile.as_deref(), args.demo)?;
            let request = scaleboard::cli::kube::AutoscaleRequest {
                target,
                min,
                max,
                cpu_percent,
                delete,
                endpoint,
                run: action.run_options(),
            };
            let ok = scaleboard::cli::kube::autoscale(
                &dirs,
                profile,
                &request,
                std::io::stdin().lock(),
                acting_output(),
            )?;
            Ok(exit_code(ok))
        }
        Some(Cmd::Promote {
            replica,
            force,
            yes,
            timeout,
            pacing,
        }) => {
            let profile =
                scaleboard::cli::choose_profile(&store, args.profile.as_deref(), args.demo)?;
            let args = scaleboard::cli::promote::PromoteArgs {
                replica,
                force,
                yes,
                timeout: Duration::from_secs(timeout),
                grace: pacing.grace(),
                verify_timeout: pacing.verify_timeout(),
            };
            let ok = scaleboard::cli::promote::promote(
                &dirs,
                profile,
                &args,
                std::io::stdin().lock(),
                acting_output(),
            )?;
            Ok(exit_code(ok))
        }
        Some(Cmd::Switchover {
            cluster,
            candidate,
            scheduled,
            cancel,
            force,
            yes,
            timeout,
            pacing,
        }) => {
            let request = if cancel {
                scaleboard::cli::switchover::Request::CancelScheduled
            } else {
                scaleboard::cli::switchover::Request::Switchover {
                    candidate,
                    scheduled_at: scheduled,
                }
            };
            patroni_command(
                &dirs,
                &store,
                (args.profile.as_deref(), args.demo),
                cluster,
                request,
                (force, yes, timeout, &pacing),
            )
        }
        Some(Cmd::Failover {
            cluster,
            candidate,
            force,
            yes,
            timeout,
            pacing,
        }) => {
            let request = scaleboard::cli::switchover::Request::Failover { candidate };
            patroni_command(
                &dirs,
                &store,
                (args.profile.as_deref(), args.demo),
                cluster,
                request,
                (force, yes, timeout, &pacing),
            )
        }
        Some(Cmd::Audit { team, .. }) if team.team => {
            let profile = scaleboard::cli::choose_profile(&store, args.profile.as_deref(), false)?;
            let history = scaleboard::cli::team::HistoryArgs {
                filter: team.filter,
                outcome: team.outcome,
                limit: team.limit,
                before: team.before,
            };
            let out = std::io::stdout().lock();
            scaleboard::cli::ignore_closed_output(scaleboard::cli::team::history(
                &dirs, &profile, &history, out,
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Audit { csv, .. }) => {
            scaleboard::cli::audit(&dirs, csv, std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Team { command }) => {
            let profile = scaleboard::cli::choose_profile(&store, args.profile.as_deref(), false)?;
            let out = std::io::stdout().lock();
            let ok = match command {
                TeamCmd::Init { print_sql, role } => {
                    let init = scaleboard::cli::team::init(&dirs, &profile, print_sql, &role, out);
                    scaleboard::cli::ignore_closed_output(init)?;
                    true
                }
                TeamCmd::Status => scaleboard::cli::team::status(&dirs, &profile, out)?,
            };
            Ok(exit_code(ok))
        }
        Some(Cmd::Cost { command }) => {
            match command {
                CostCmd::List => scaleboard::cli::cost::list(&dirs, std::io::stdout().lock())?,
                CostCmd::Report {
                    model,
                    format,
                    out,
                    live,
                    what_if,
                } => {
                    let asked = what_if
                        .iter()
                        .map(|s| scaleboard::cli::cost::parse_what_if(s))
                        .collect::<anyhow::Result<Vec<_>>>()?;
                    let (live, changes) = if live {
                        let profile = scaleboard::cli::choose_profile(
                            &store,
                            args.profile.as_deref(),
                            args.demo,
                        )?;
                        let fleet = scaleboard::cli::cost::live_what_if(
                            &dirs,
                            profile,
                            Duration::from_secs(20),
                            &asked,
                            &model,
                        )?;
                        scaleboard::cli::ignore_closed_output(
                            scaleboard::cli::cost::print_what_if(
                                &fleet.lines,
                                std::io::stdout().lock(),
                            ),
                        )?;
                        (Some(fleet.inventory), fleet.what_if)
                    } else {
                        (None, Default::default())
                    };
                    let summary = scaleboard::cli::cost::report(
                        &dirs,
                        &model,
                        format.into(),
                        &out,
                        live,
                        changes,
                    )?;
                    eprintln!("{summary}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        // Handled before the config dir is resolved, above.
        Some(Cmd::Completions { .. } | Cmd::Man { .. }) => Ok(ExitCode::SUCCESS),
        Some(Cmd::Secret { command }) => {
            use scaleboard::cli::secret::SecretCommand;
            let command = match command {
                SecretCmd::Set { target } => SecretCommand::Set(target),
                SecretCmd::Delete { target } => SecretCommand::Delete(target),
                SecretCmd::List { target } => SecretCommand::List(target),
            };
            let ok = scaleboard::cli::secret::run(
                &store,
                args.profile.as_deref(),
                &command,
                &scaleboard::profiles::CredentialsFile::in_dir(&dirs.config_dir),
                std::io::stdout().lock(),
            )?;
            Ok(exit_code(ok))
        }
        None => {
            run_window(args, dirs, &store, started)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_window(
    args: Args,
    dirs: AppDirs,
    store: &ProfileStore,
    started: std::time::Instant,
) -> anyhow::Result<()> {
    let options = AppOptions {
        engine: EngineConfig::new(Arc::new(SystemClock), dirs.config_dir, dirs.data_dir),
        demo_seed: 42,
        profile: args.profile,
        force_demo: args.demo,
        started: Some(started),
    };
    let app = ScaleboardApp::new(options, store)?;
    scaleboard::app::run_window(app)
}

/// 0 when the action was verified (or every endpoint is up), 1 otherwise.
/// `switchover` and `failover`: the profile, then the shared Patroni flow.
fn patroni_command(
    dirs: &AppDirs,
    store: &ProfileStore,
    (profile, demo): (Option<&str>, bool),
    cluster: String,
    request: scaleboard::cli::switchover::Request,
    (force, yes, timeout, pacing): (bool, bool, u64, &Pacing),
) -> anyhow::Result<ExitCode> {
    let profile = scaleboard::cli::choose_profile(store, profile, demo)?;
    let args = scaleboard::cli::switchover::SwitchoverArgs {
        cluster,
        request,
        force,
        yes,
        timeout: Duration::from_secs(timeout),
        grace: pacing.grace(),
        verify_timeout: pacing.verify_timeout(),
    };
    let ok = scaleboard::cli::switchover::switchover(
        dirs,
        profile,
        &args,
        std::io::stdin().lock(),
        acting_output(),
    )?;
    Ok(exit_code(ok))
}

fn exit_code(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Where an acting command prints: a reader that goes away (`| head -1`) does not stop the
/// action; it runs to its audited outcome and the exit code says how it ended.
fn acting_output() -> scaleboard::cli::KeepGoing<std::io::StdoutLock<'static>> {
    scaleboard::cli::KeepGoing::new(std::io::stdout().lock())
}
