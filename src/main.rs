//! The `slotraft` command line: run one node of a cluster in the foreground.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use slotraft::config::Config;
use slotraft::node::Node;
use slotraft::tls::NodeTls;
use tokio::net::TcpListener;

// jemalloc, as Redis uses: the store and the Raft log allocate and free many small objects
// (snapshots copy the store, purged log entries are freed in bulk); with it 285,000 keys took
// ~445 MiB per node instead of ~490 MiB under glibc's malloc (scripts/bench.sh measures).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

// jemalloc's settings, read at its start (`_RJEM_MALLOC_CONF` in the environment still applies
// on top): memory freed in bulk goes back to the system within a second, from one background
// thread; thread caches keep blocks up to 128 KiB (the journal's buffers for large entries);
// huge pages for the heap, since writes touch cache lines at random over the whole keyspace.
// The measurements behind each: docs/performance.md, "Figures behind the code".
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8; 114] =
    b"background_thread:true,max_background_threads:1,dirty_decay_ms:1000,muzzy_decay_ms:0,tcache_max:131072,thp:always\0";

#[derive(Parser)]
#[command(
    name = "slotraft",
    version,
    about = "A Redis-compatible key-value cluster replicated with Raft"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one node in the foreground, logging to stderr.
    Serve {
        /// The cluster description (cluster.toml).
        #[arg(long)]
        config: PathBuf,
        /// This node's id, as in the config's [[node]] entries.
        #[arg(long)]
        node: u64,
        /// Where this node keeps its files (default: <data_dir>/node-<id>).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Check a cluster.toml (and its cluster secret file) and print a summary.
    Check {
        #[arg(long)]
        config: PathBuf,
    },
    /// Write a development CA and certificates for a cluster.toml's nodes and a client
    /// (ca.crt/.key, node-<id>.crt/.key, client.crt/.key), and print the lines that turn TLS on.
    Certs {
        #[arg(long)]
        config: PathBuf,
        /// The folder to write them to (made if missing).
        #[arg(long)]
        out: PathBuf,
        /// Replace files that are already there.
        #[arg(long)]
        force: bool,
    },
    /// Print each node of a cluster.toml as "id resp-address rpc-address data-dir groups-to-lead"
    /// (for scripts; the last is the node's share of leaderships once balanced).
    Nodes {
        #[arg(long)]
        config: PathBuf,
    },
    /// Create the cluster secret file a cluster.toml names (`secret_file`), if there is none:
    /// 32 random bytes as hex, readable by its owner only. Every node needs the same file.
    Secret {
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => e.exit(),
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        Err(e) => {
            // One line naming the problem, as for a bad config.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default().trim_start_matches("error: ");
            eprintln!("slotraft: {first} (see slotraft --help)");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(
                    "info,openraft=warn,openraft::core::heartbeat=error,openraft::replication=error",
                )
            }),
        )
        .init();
    match cli.command {
        Command::Check { config } => match Config::load(&config).and_then(|mut c| c.load_secret().map(|()| c)) {
            Ok(c) => {
                println!(
                    "{}: {} nodes, {} groups, all 16384 slots owned",
                    config.display(),
                    c.nodes.len(),
                    c.groups.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("slotraft: {e}");
                ExitCode::from(2)
            }
        },
        Command::Nodes { config } => match Config::load(&config) {
            Ok(c) => {
                let leaders = c.preferred_leaders();
                for n in c.nodes.values() {
                    println!(
                        "{} {} {} {} {}",
                        n.id,
                        n.resp,
                        n.rpc,
                        c.data_dir.join(format!("node-{}", n.id)).display(),
                        leaders.values().filter(|&&l| l == n.id).count()
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("slotraft: {e}");
                ExitCode::from(2)
            }
        },
        Command::Certs { config, out, force } => match write_certs(&config, &out, force) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("slotraft: {e}");
                ExitCode::from(2)
            }
        },
        Command::Secret { config } => match Config::load(&config) {
            Ok(c) => match slotraft::config::create_secret(&c.secret_file) {
                Ok(created) => {
                    let what = if created { "created" } else { "exists" };
                    println!("{} {what}", c.secret_file.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("slotraft: cannot create {}: {e}", c.secret_file.display());
                    ExitCode::FAILURE
                }
            },
            Err(e) => {
                eprintln!("slotraft: {e}");
                ExitCode::from(2)
            }
        },
        Command::Serve { config, node, data_dir } => {
            let mut config = match Config::load(&config).and_then(|mut c| c.load_secret().map(|()| c)) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("slotraft: {e}");
                    return ExitCode::from(2);
                }
            };
            if let Err(e) = fit_maxclients(&mut config) {
                eprintln!("slotraft: {e}");
                return ExitCode::from(2);
            }
            // The certificate and key are read before anything starts: a bad file is a bad
            // configuration, reported in one line naming it.
            let tls = match node_tls(&config, node) {
                Ok(tls) => tls,
                Err(e) => {
                    eprintln!("slotraft: {e}");
                    return ExitCode::from(2);
                }
            };
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let threads = config.threads_for(node, cores);
            tracing::info!(threads, cores, "runtime worker threads");
            // One thread: tokio's current-thread scheduler, the same single thread without the
            // multi-thread scheduler's work-stealing queues and its worker on the blocking pool.
            let mut builder = if threads == 1 {
                tokio::runtime::Builder::new_current_thread()
            } else {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(threads);
                b
            };
            let runtime = match builder.enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("slotraft: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(serve(config, node, data_dir, tls)) {
                Ok(Ended::Stopped) => ExitCode::SUCCESS,
                Ok(Ended::Failed(reason)) => {
                    eprintln!("slotraft: {reason}");
                    // Tasks stuck on a failing disk must not hold the exit up.
                    runtime.shutdown_timeout(Duration::from_secs(1));
                    ExitCode::from(EXIT_FAILED)
                }
                Err(e) => {
                    eprintln!("slotraft: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// `slotraft certs`: a development CA, each node's certificate (its id's name, and the IPs of
/// its addresses) and a client's, written to `out`; then the cluster.toml lines to use them.
fn write_certs(config_path: &std::path::Path, out: &std::path::Path, force: bool) -> anyhow::Result<()> {
    use slotraft::tls::dev_ca::{DevCa, Issued};
    let config = Config::load(config_path)?;
    let mut files: Vec<(String, String)> = Vec::new();
    let ca = DevCa::new("slotraft development CA")?;
    files.push(("ca.crt".into(), ca.cert_pem()));
    files.push(("ca.key".into(), ca.key_pem()));
    let mut push = |name: &str, issued: Issued| {
        files.push((format!("{name}.crt"), issued.cert_pem));
        files.push((format!("{name}.key"), issued.key_pem));
    };
    for n in config.nodes.values() {
        let mut hosts: Vec<String> = Vec::new();
        let addrs = [Some(n.resp), n.resp_tls, Some(n.rpc)];
        for ip in addrs.into_iter().flatten().map(|a| a.ip()) {
            hosts.push(ip.to_string());
            if ip.is_loopback() {
                hosts.push("localhost".into());
            }
        }
        hosts.dedup();
        push(&format!("node-{}", n.id), ca.node(n.id, &hosts)?);
    }
    push("client", ca.client("slotraft client")?);
    if !force && let Some((name, _)) = files.iter().find(|(name, _)| out.join(name).exists()) {
        anyhow::bail!("{} exists (--force replaces it)", out.join(name).display());
    }
    std::fs::create_dir_all(out).map_err(|e| anyhow::anyhow!("cannot make {}: {e}", out.display()))?;
    for (name, pem) in &files {
        let path = out.join(name);
        write_private(&path, pem, name.ends_with(".key"))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    // Paths in cluster.toml are relative to its folder.
    let base = config_path.parent().unwrap_or(std::path::Path::new(""));
    let shown = out.strip_prefix(base).unwrap_or(out);
    let shown = if shown.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        shown
    };
    println!("\nIn {} (paths relative to its folder):\n", config_path.display());
    println!("[cluster.tls]");
    println!("ca_file = \"{}\"", shown.join("ca.crt").display());
    println!("cert_file = \"{}\"", shown.join("node-{node}.crt").display());
    println!("key_file = \"{}\"", shown.join("node-{node}.key").display());
    println!("auth_clients = \"yes\"   # \"no\" | \"optional\" | \"yes\" (client.crt/.key is a client's)");
    let missing: Vec<String> = config
        .nodes
        .values()
        .filter(|n| n.resp_tls.is_none())
        .map(|n| n.id.to_string())
        .collect();
    if !missing.is_empty() {
        println!(
            "\nand a resp_tls = \"host:port\" in each [[node]] that serves TLS (nodes without one: {})",
            missing.join(", ")
        );
    }
    Ok(())
}

/// Writes a file, readable by its owner only when it holds a private key.
fn write_private(path: &std::path::Path, text: &str, private: bool) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if private {
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

/// This node's TLS identity, when `[cluster.tls]` gives one and the node uses it (a TLS port,
/// or TLS between nodes).
fn node_tls(config: &Config, id: u64) -> Result<Option<NodeTls>, slotraft::tls::TlsError> {
    let (Some(tls), Some(me)) = (&config.tls, config.nodes.get(&id)) else {
        return Ok(None);
    };
    if me.resp_tls.is_none() && !tls.replication {
        return Ok(None);
    }
    NodeTls::load(tls, id).map(Some)
}

/// Raises the soft limit on open files to what `maxclients` needs (up to the hard limit), and
/// lowers `maxclients` to what the limit allows, with a warning, as Redis does at start.
fn fit_maxclients(config: &mut Config) -> Result<(), String> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let requested = config.limits.maxclients;
    let needed = requested as u64 + slotraft::config::RESERVED_FDS;
    let limit = getrlimit(Resource::Nofile);
    let mut files = limit.current.unwrap_or(u64::MAX);
    if files < needed {
        let raised = limit.maximum.map_or(needed, |hard| hard.min(needed));
        let wanted = Rlimit {
            current: Some(raised),
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, wanted) {
            Ok(()) => files = raised,
            Err(e) => tracing::warn!("cannot raise the open files limit to {raised}: {e}"),
        }
    }
    let Some(clients) = slotraft::config::clients_for_files(requested, files) else {
        return Err(format!(
            "the open files limit ({files}, `ulimit -n`) is too low to start: a node needs {} for itself and one per client",
            slotraft::config::RESERVED_FDS
        ));
    };
    if clients < requested {
        tracing::warn!(
            "maxclients {requested} needs {needed} open files, the limit is {files} (`ulimit -n`): maxclients has been reduced to {clients}; raise the limit for more"
        );
    }
    config.limits.maxclients = clients;
    Ok(())
}

/// The exit status of a node that stopped because it could not go on (`Node::failed`: a group's
/// Raft core stopped, the log engine failed), told apart from 1 (it could not start) and 2 (a
/// bad command line or configuration): sysexits' EX_SOFTWARE.
const EXIT_FAILED: u8 = 70;

/// How a node that started ended.
enum Ended {
    /// Asked to (SIGINT, SIGTERM).
    Stopped,
    /// It could not go on, for this reason.
    Failed(String),
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} ({what}): {e}"))
}

async fn serve(config: Config, id: u64, data_dir: Option<PathBuf>, tls: Option<NodeTls>) -> anyhow::Result<Ended> {
    let Some(me) = config.nodes.get(&id).cloned() else {
        anyhow::bail!(
            "node {id} is not in the configuration (known: {:?})",
            config.nodes.keys().collect::<Vec<_>>()
        );
    };
    // Port 0: no plain RESP port (resp_tls only).
    let plain = match me.resp.port() {
        0 => None,
        _ => Some(bind(me.resp, "resp").await?),
    };
    let resp_tls = match (me.resp_tls, &tls) {
        (Some(addr), Some(tls)) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.resp_server()?);
            Some((bind(addr, "resp_tls").await?, acceptor))
        }
        _ => None,
    };
    let rpc = bind(me.rpc, "rpc").await?;
    let node = Node::start(config, id, data_dir).await?;
    let rpc_task = tokio::spawn(slotraft::rpc::serve(node.clone(), rpc));
    let listeners = slotraft::server::Listeners { plain, tls: resp_tls };
    let resp_task = tokio::spawn(slotraft::server::serve(node.clone(), listeners));
    let resp_tls = me.resp_tls.map_or_else(|| "-".to_string(), |a| a.to_string());
    tracing::info!(node = id, resp = %me.resp, %resp_tls, rpc = %me.rpc, "serving");

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted, shutting down"),
        _ = term.recv() => tracing::info!("terminated, shutting down"),
        reason = node.failed() => {
            // The healthy groups stop too, and their other replicas elect leaders without this
            // node; a shutdown held up by a failing disk is not waited for long.
            let _ = tokio::time::timeout(Duration::from_secs(5), node.shutdown()).await;
            return Ok(Ended::Failed(reason));
        }
    }
    node.shutdown().await;
    let _ = rpc_task.await;
    let _ = resp_task.await;
    Ok(Ended::Stopped)
}
