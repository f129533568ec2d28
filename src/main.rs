//! Entry point: arguments, logging, then either a CLI command or the window.

use clap::{Parser, Subcommand};
use scaleboard::app::{AppOptions, ScaleboardApp};
use scaleboard::engine::EngineConfig;
use scaleboard::engine::clock::SystemClock;
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

#[derive(Subcommand)]
enum Cmd {
    /// Poll every endpoint once; exit code 1 if any is down.
    Status {
        #[arg(long)]
        json: bool,
        /// Seconds to wait for every endpoint to answer.
        #[arg(long, default_value_t = 15)]
        timeout: u64,
    },
    /// Print the audit log.
    Audit {
        /// As spreadsheet-safe CSV.
        #[arg(long)]
        csv: bool,
    },
    /// Cost models and cost reports.
    Cost {
        #[command(subcommand)]
        command: CostCmd,
    },
}

#[derive(Subcommand)]
enum CostCmd {
    /// List the cost models: saved ones and the built-in seeds' template.
    List,
    /// Write a cost report of a model (planned figures).
    Report {
        /// Model name, e.g. seed-phases (built in).
        #[arg(long, value_name = "NAME", default_value = scaleboard::cost::SEED_TEMPLATE_NAME)]
        model: String,
        #[arg(long, value_enum)]
        format: CostFormat,
        /// File to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
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
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Args::parse();
    match run(args, started) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("scaleboard: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args, started: std::time::Instant) -> anyhow::Result<ExitCode> {
    let dirs = AppDirs::from_env(args.config_dir.clone())?;
    let store = ProfileStore::load(&dirs.config_dir);
    match args.command {
        Some(Cmd::Status { json, timeout }) => {
            let profile =
                scaleboard::cli::choose_profile(&store, args.profile.as_deref(), args.demo)?;
            let (reports, all_up) =
                scaleboard::cli::status(&dirs, profile, Duration::from_secs(timeout))?;
            scaleboard::cli::print_status(&reports, json, std::io::stdout().lock())?;
            Ok(if all_up {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Some(Cmd::Audit { csv }) => {
            scaleboard::cli::audit(&dirs, csv, std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Cost { command }) => {
            match command {
                CostCmd::List => scaleboard::cli::cost::list(&dirs, std::io::stdout().lock())?,
                CostCmd::Report { model, format, out } => {
                    let summary =
                        scaleboard::cli::cost::report(&dirs, &model, format.into(), &out)?;
                    eprintln!("{summary}");
                }
            }
            Ok(ExitCode::SUCCESS)
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
