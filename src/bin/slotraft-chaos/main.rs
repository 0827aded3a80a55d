//! `slotraft-chaos`: the workload and the checker of scripts/chaos.sh, usable alone.
//!   slotraft-chaos run --seeds 10.77.0.1:7001 --time 60 --out history.jsonl
//!   slotraft-chaos check --history history.jsonl [--nemesis nemesis.log] [--threads N]
//!
//! The workload, its cluster client and the checkers are this binary's own modules (`check`),
//! not the server library's; their unit tests run with `cargo test --bin slotraft-chaos`.

mod check;

// The checker's threads allocate the parsed lines that its main thread frees; under glibc's
// malloc those frees queued on the other threads' arena locks and halved the checking speed
// (docs/performance.md, "The chaos checker").
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use check::{history, report, workload};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "slotraft-chaos",
    version,
    about = "Record a history of concurrent operations against a slotraft cluster, and check it"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the workload (registers and list-append transactions) and write its history.
    Run {
        /// RESP addresses of one or more nodes, comma-separated; the rest is learned.
        #[arg(long, value_delimiter = ',', required = true)]
        seeds: Vec<String>,
        /// Seconds to run.
        #[arg(long)]
        time: u64,
        /// The history file to write (JSON lines, written as operations complete).
        #[arg(long)]
        out: PathBuf,
        /// Concurrent clients.
        #[arg(long, default_value_t = 10)]
        workers: usize,
        /// A request unanswered for this long has an unknown outcome (ms).
        #[arg(long, default_value_t = 4000)]
        timeout_ms: u64,
        /// How long one operation retries refusals (MOVED, TRYAGAIN, CLUSTERDOWN) before it
        /// is recorded as failed (ms).
        #[arg(long, default_value_t = 5000)]
        budget_ms: u64,
        /// Register keys, and list-append key groups, in use at once.
        #[arg(long, default_value_t = 6)]
        keys: usize,
        /// Operations per register key (transactions per key group) before a fresh one.
        #[arg(long, default_value_t = 300)]
        ops_per_key: u32,
        /// Seed of the operation mix (default: random).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Check a history and print the report; exits 1 when an anomaly is found.
    Check {
        #[arg(long)]
        history: PathBuf,
        /// The nemesis log (`<unix ms> <event>` per line), for availability per fault phase.
        #[arg(long)]
        nemesis: Option<PathBuf>,
        /// Bound of the linearizability search of one key (s); past it the key is "unknown".
        #[arg(long, default_value_t = 60)]
        search_secs: u64,
        /// Threads that parse the history and check keys (default: the number of CPUs).
        #[arg(long)]
        threads: Option<usize>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            seeds,
            time,
            out,
            workers,
            timeout_ms,
            budget_ms,
            keys,
            ops_per_key,
            seed,
        } => {
            let opts = workload::Options {
                seeds,
                duration: Duration::from_secs(time),
                workers,
                timeout: Duration::from_millis(timeout_ms),
                op_budget: Duration::from_millis(budget_ms),
                keys,
                ops_per_key,
                seed: seed.unwrap_or_else(rand::random),
            };
            eprintln!(
                "workload: {} workers for {} s against {} (seed {})",
                opts.workers,
                time,
                opts.seeds.join(","),
                opts.seed
            );
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("slotraft-chaos: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let (lines, writer) = match history::spawn_writer(&out) {
                Ok(w) => w,
                Err(e) => {
                    eprintln!("slotraft-chaos: {}: {e}", out.display());
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(workload::run(opts, lines));
            match writer.join() {
                Ok(Ok(n)) => {
                    eprintln!("workload: {n} operations written to {}", out.display());
                    ExitCode::SUCCESS
                }
                Ok(Err(e)) => {
                    eprintln!("slotraft-chaos: {}: {e}", out.display());
                    ExitCode::FAILURE
                }
                Err(_) => {
                    eprintln!("slotraft-chaos: the history writer panicked");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Check {
            history: path,
            nemesis,
            search_secs,
            threads,
        } => {
            let mut input = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("slotraft-chaos: {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            };
            let phases = match nemesis.map(|p| {
                std::fs::read_to_string(&p)
                    .map_err(|e| format!("{}: {e}", p.display()))
                    .and_then(|text| report::parse_nemesis_log(&text).map_err(|e| format!("{}: {e}", p.display())))
            }) {
                None => Vec::new(),
                Some(Ok(p)) => p,
                Some(Err(e)) => {
                    eprintln!("slotraft-chaos: {e}");
                    return ExitCode::from(2);
                }
            };
            let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
            // The lines an anomaly involves are read again from the file, by their offsets.
            let mut line_at = |at| {
                let mut f = std::fs::File::open(&path).ok()?;
                history::line_at(&mut f, at).ok()
            };
            let r = match report::check(
                &mut input,
                &mut line_at,
                &phases,
                Duration::from_secs(search_secs),
                threads,
            ) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("slotraft-chaos: {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            };
            print!("{}", r.text);
            if r.anomalies > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}
