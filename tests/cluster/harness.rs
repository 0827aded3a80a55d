//! Real clusters for tests: node processes of the built binary on free loopback ports, each
//! in its own temporary directory (with its cluster.toml and cluster secret), killed when the
//! test ends.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const BIN: &str = env!("CARGO_BIN_EXE_slotraft");

/// The binary clusters run: `BIN`, or `SLOTRAFT_TEST_BIN` (to run a test against another
/// build, e.g. to see that it fails against one without the change it tests).
pub fn bin() -> String {
    std::env::var("SLOTRAFT_TEST_BIN").unwrap_or_else(|_| BIN.to_string())
}

/// Writes a new cluster secret to `path`: 32 random bytes as hex, owner-only, as
/// `slotraft secret` does.
pub fn write_secret(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let hex: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    std::fs::write(path, format!("{hex}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Picks a free loopback port (bound then released) that no earlier call in this test process
/// returned: the kernel hands a just-released port out again, so two picks in a row (or two
/// tests running side by side) could otherwise get the same one.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if handed_out.insert(port) {
            return port;
        }
    }
}

/// One group of a test cluster: members and slot ranges as cluster.toml writes them.
pub struct GroupSpec {
    pub members: Vec<u64>,
    pub slots: Vec<String>,
}

/// Splits 16384 slots evenly over `groups` groups, each on `members`.
pub fn even_groups(groups: u64, members: &[u64]) -> Vec<GroupSpec> {
    let per = 16384 / groups;
    (0..groups)
        .map(|i| {
            let lo = i * per;
            let hi = if i == groups - 1 { 16383 } else { lo + per - 1 };
            GroupSpec {
                members: members.to_vec(),
                slots: vec![format!("{lo}-{hi}")],
            }
        })
        .collect()
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub resp: BTreeMap<u64, u16>,
    /// Each node's node-to-node (RPC) port.
    pub rpc: BTreeMap<u64, u16>,
    procs: BTreeMap<u64, Child>,
}

impl Cluster {
    /// Writes a cluster.toml for `nodes` nodes and `groups`, with extra `[cluster]` settings, and
    /// a cluster secret at its default place (`cluster.secret` beside it).
    pub fn configure(nodes: u64, groups: &[GroupSpec], settings: &str) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        write_secret(&dir.path().join("cluster.secret"));
        let mut text = format!("[cluster]\ndata_dir = \"data\"\n{settings}\n");
        let (mut resp, mut rpc) = (BTreeMap::new(), BTreeMap::new());
        for id in 1..=nodes {
            let (r, p) = (free_port(), free_port());
            resp.insert(id, r);
            rpc.insert(id, p);
            let _ = write!(
                text,
                "\n[[node]]\nid = {id}\nresp = \"127.0.0.1:{r}\"\nrpc = \"127.0.0.1:{p}\"\n"
            );
        }
        for (i, g) in groups.iter().enumerate() {
            let slots: Vec<String> = g.slots.iter().map(|s| format!("\"{s}\"")).collect();
            let members: Vec<String> = g.members.iter().map(|m| m.to_string()).collect();
            let _ = write!(
                text,
                "\n[[group]]\nid = {}\nmembers = [{}]\nslots = [{}]\n",
                i + 1,
                members.join(", "),
                slots.join(", ")
            );
        }
        let config = dir.path().join("cluster.toml");
        std::fs::write(&config, text).unwrap();
        Cluster {
            dir,
            config,
            resp,
            rpc,
            procs: BTreeMap::new(),
        }
    }

    /// The default shape: three nodes, three groups of three replicas.
    pub async fn three(settings: &str) -> Cluster {
        let mut c = Cluster::configure(3, &even_groups(3, &[1, 2, 3]), settings);
        c.start_all();
        c.wait_ready().await;
        assert!(
            c.wait_balanced(1, Duration::from_secs(30)).await,
            "each node should lead one group"
        );
        c.wait_ready().await;
        c
    }

    /// One node, one group owning every slot, ready.
    pub async fn one() -> Cluster {
        let mut c = Cluster::configure(1, &even_groups(1, &[1]), "");
        c.start_all();
        c.wait_ready().await;
        c
    }

    pub fn start_all(&mut self) {
        let ids: Vec<u64> = self.resp.keys().copied().collect();
        for id in ids {
            self.start(id);
        }
    }

    pub fn start(&mut self, id: u64) {
        let config = self.config.clone();
        self.start_in(id, Command::new(bin()), &config);
    }

    /// Starts node `id` with another cluster.toml (hence another secret beside it).
    pub fn start_with_config(&mut self, id: u64, config: &std::path::Path) {
        self.start_in(id, Command::new(bin()), config);
    }

    /// Starts node `id` with its open files limited to `files` (`ulimit -n`).
    pub fn start_with_file_limit(&mut self, id: u64, files: u64) {
        let mut sh = Command::new("sh");
        sh.args(["-c", &format!("ulimit -n {files} && exec \"$0\" \"$@\""), &bin()]);
        let config = self.config.clone();
        self.start_in(id, sh, &config);
    }

    fn start_in(&mut self, id: u64, mut command: Command, config: &std::path::Path) {
        assert!(!self.procs.contains_key(&id), "node {id} is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("node-{id}.log")))
            .unwrap();
        let child = command
            .args(["serve", "--config"])
            .arg(config)
            .args(["--node", &id.to_string()])
            .env(
                "RUST_LOG",
                "info,openraft=warn,openraft::core::heartbeat=error,openraft::replication=error",
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.procs.insert(id, child);
    }

    /// SIGKILL: a crash, nothing flushed beyond what the node already made durable.
    pub fn kill(&mut self, id: u64) {
        if let Some(mut c) = self.procs.remove(&id) {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// Sends a signal to a running node ("STOP" pauses it, "CONT" resumes it).
    pub fn signal(&self, id: u64, signal: &str) {
        let pid = self.procs[&id].id();
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {pid}");
    }

    /// CPU time a running node has used so far (user + system), from /proc.
    pub fn cpu_time(&self, id: u64) -> Duration {
        let pid = self.procs[&id].id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        // Fields after the command name, which ends at the last ')': state is the first,
        // utime and stime the 12th and 13th; in clock ticks of 1/100 s on Linux.
        let fields: Vec<u64> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .skip(1)
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        Duration::from_millis((fields[11] + fields[12]) * 10)
    }

    pub fn kill_all(&mut self) {
        let ids: Vec<u64> = self.procs.keys().copied().collect();
        for id in ids {
            self.kill(id);
        }
    }

    /// Nodes this test started whose process has since ended, with how it ended.
    pub fn exited(&mut self) -> Vec<(u64, std::process::ExitStatus)> {
        self.procs
            .iter_mut()
            .filter_map(|(id, child)| Some((*id, child.try_wait().ok()??)))
            .collect()
    }

    pub fn running(&self) -> Vec<u64> {
        self.procs.keys().copied().collect()
    }

    pub fn addr(&self, id: u64) -> String {
        format!("127.0.0.1:{}", self.resp[&id])
    }

    /// Node `id`'s node-to-node (RPC) address.
    pub fn rpc_addr(&self, id: u64) -> String {
        format!("127.0.0.1:{}", self.rpc[&id])
    }

    pub fn url(&self, id: u64) -> String {
        format!("redis://127.0.0.1:{}/", self.resp[&id])
    }

    pub fn log(&self, id: u64) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("node-{id}.log"))).unwrap_or_default()
    }

    pub fn data_dir(&self, id: u64) -> PathBuf {
        self.dir.path().join("data").join(format!("node-{id}"))
    }

    pub async fn cluster_client(&self) -> redis::cluster_async::ClusterConnection {
        let urls: Vec<String> = self.running().iter().map(|&id| self.url(id)).collect();
        redis::cluster::ClusterClientBuilder::new(urls)
            .retries(40)
            .min_retry_wait(20)
            .max_retry_wait(500)
            .connection_timeout(Duration::from_secs(2))
            .response_timeout(Duration::from_secs(5))
            .build()
            .unwrap()
            .get_async_connection()
            .await
            .unwrap()
    }

    /// Waits until every running node reports cluster_state:ok (all groups have a leader)
    /// and agrees on the leaders. On failure, says what the last check saw.
    pub async fn wait_ready(&self) {
        let ids = self.running();
        let last = std::sync::Mutex::new(String::new());
        let ok = wait_until(Duration::from_secs(30), || async {
            let mut seen: Option<(u64, Masters)> = None;
            for &id in &ids {
                let why = match command(&self.addr(id), &["CLUSTER", "INFO"]).await {
                    Err(e) => Some(format!("node {id}: CLUSTER INFO: {e}")),
                    Ok(info) if !info.contains("cluster_state:ok") => Some(format!("node {id}: {info}")),
                    Ok(_) => match command(&self.addr(id), &["CLUSTER", "NODES"]).await {
                        Err(e) => Some(format!("node {id}: CLUSTER NODES: {e}")),
                        Ok(nodes) => {
                            let masters = master_slots(&nodes);
                            match &seen {
                                Some((other, m)) if *m != masters => Some(format!(
                                    "node {id} and node {other} disagree on the masters; node {id} says:\n{nodes}\nnode {other} says: {m:?}"
                                )),
                                _ => {
                                    seen = Some((id, masters));
                                    None
                                }
                            }
                        }
                    },
                };
                if let Some(why) = why {
                    *last.lock().unwrap() = why;
                    return false;
                }
            }
            true
        })
        .await;
        if !ok {
            for id in ids {
                eprintln!("--- node {id} log ---\n{}", tail(&self.log(id), 40));
            }
            panic!("cluster did not become ready; last check: {}", last.lock().unwrap());
        }
    }

    /// The node id leading the slot, according to node `ask`'s CLUSTER NODES.
    pub async fn leader_of_slot(&self, ask: u64, slot: u16) -> Option<u64> {
        let nodes = command(&self.addr(ask), &["CLUSTER", "NODES"]).await.ok()?;
        for line in nodes.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            let port: u16 = f.get(1)?.split(['@', ':']).nth(1)?.parse().ok()?;
            let leads = f[8..].iter().any(|r| {
                let (lo, hi) = r.split_once('-').unwrap_or((r, r));
                let (lo, hi): (u16, u16) = (lo.parse().unwrap_or(1), hi.parse().unwrap_or(0));
                lo <= slot && slot <= hi
            });
            if leads {
                return self.resp.iter().find(|(_, p)| **p == port).map(|(id, _)| *id);
            }
        }
        None
    }

    /// The node id leading `key`'s slot, according to node 1.
    pub async fn leader_of_key(&self, key: &str) -> u64 {
        let slot = slotraft::slots::key_slot(key.as_bytes());
        self.leader_of_slot(1, slot)
            .await
            .unwrap_or_else(|| panic!("slot {slot} of {key} has no leader"))
    }

    /// Waits until each running node leads `per_node` groups (leadership balance).
    pub async fn wait_balanced(&self, per_node: usize, within: Duration) -> bool {
        let ids = self.running();
        wait_until(within, || async {
            let Ok(nodes) = command(&self.addr(ids[0]), &["CLUSTER", "NODES"]).await else {
                return false;
            };
            let counts = master_slots(&nodes);
            let shares = ids.iter().all(|id| {
                let port = self.resp[id];
                counts
                    .iter()
                    .filter(|(p, _)| *p == port)
                    .map(|(_, r)| r.len())
                    .sum::<usize>()
                    == per_node
            });
            // Counts can be right while leadership is still moving to the preferred leaders;
            // a client that reads the slot map then sees it change under it.
            shares && self.leadership_settled().await
        })
        .await
    }

    /// Whether every running node says leadership sits on the preferred leaders.
    async fn leadership_settled(&self) -> bool {
        for id in self.running() {
            let Ok(info) = command(&self.addr(id), &["INFO", "replication"]).await else {
                return false;
            };
            if !info.contains("raft_leadership_settled:1") {
                return false;
            }
        }
        true
    }

    /// The leader of `slot` once leadership has settled on the preferred leaders (it may move
    /// for a moment after `wait_ready`, while a leader hands over to the preferred one).
    pub async fn settled_leader_of_slot(&self, slot: u16) -> Option<u64> {
        let settled = wait_until(Duration::from_secs(30), || async {
            self.leadership_settled().await && self.leader_of_slot(1, slot).await.is_some()
        })
        .await;
        if settled {
            self.leader_of_slot(1, slot).await
        } else {
            None
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill_all();
        if std::thread::panicking() {
            for &id in self.resp.keys() {
                eprintln!("--- node {id} log (tail) ---\n{}", tail(&self.log(id), 30));
            }
            return;
        }
        // A node that panicked fails the test, even if the cluster carried on around it (a
        // panicking task dies alone, and its peer retries).
        for &id in self.resp.keys() {
            let log = self.log(id);
            if let Some(at) = log.find("panicked at") {
                let excerpt: Vec<&str> = log[at..].lines().take(6).collect();
                panic!("node {id} panicked:\n{}", excerpt.join("\n"));
            }
        }
    }
}

/// (RESP port, slot ranges) of each node shown as a master with slots in CLUSTER NODES.
type Masters = Vec<(u16, Vec<String>)>;

fn master_slots(nodes: &str) -> Masters {
    let mut out: Masters = nodes
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let port = f.get(1)?.split(['@', ':']).nth(1)?.parse().ok()?;
            let ranges: Vec<String> = f.get(8..)?.iter().map(|s| s.to_string()).collect();
            (!ranges.is_empty()).then_some((port, ranges))
        })
        .collect();
    out.sort();
    out
}

pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Polls `cond` every 50 ms until it holds or `within` passes.
pub async fn wait_until<F, Fut>(within: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + within;
    loop {
        if cond().await {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A plain (not cluster-aware) connection with a generous reply timeout: tests assert
/// behaviour, and a loaded CI machine can take longer than the crate's default 500 ms.
pub async fn plain_conn(client: &redis::Client) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(10)));
    client.get_multiplexed_async_connection_with_config(&config).await
}

/// Sends one command as RESP and returns the reply as text (bulk and verbatim strings as
/// their content, errors as Err).
pub async fn command(addr: &str, args: &[&str]) -> Result<String, String> {
    let client = redis::Client::open(format!("redis://{addr}/")).map_err(|e| e.to_string())?;
    let mut conn = tokio::time::timeout(Duration::from_secs(2), plain_conn(&client))
        .await
        .map_err(|_| "connect timeout".to_string())?
        .map_err(|e| e.to_string())?;
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    let v: redis::Value = tokio::time::timeout(Duration::from_secs(5), cmd.query_async(&mut conn))
        .await
        .map_err(|_| "timeout".to_string())?
        .map_err(|e| match e.code() {
            // As the server sent it: "MOVED 12182 127.0.0.1:7003".
            Some(code) => format!("{code} {}", e.detail().unwrap_or_default()),
            None => e.to_string(),
        })?;
    Ok(match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
        redis::Value::SimpleString(s) => s,
        redis::Value::Okay => "OK".into(),
        redis::Value::VerbatimString { text, .. } => text,
        redis::Value::Int(i) => i.to_string(),
        redis::Value::Nil => "(nil)".into(),
        other => format!("{other:?}"),
    })
}

/// The sum of `field` over the groups this node leads, from INFO raft.
pub async fn leader_counter(addr: &str, field: &str) -> u64 {
    let info = command(addr, &["INFO", "raft"]).await.unwrap();
    info.lines()
        .filter(|l| l.contains("state=Leader"))
        .flat_map(|l| l.split(','))
        .filter_map(|kv| kv.strip_prefix(field)?.strip_prefix('=')?.parse::<u64>().ok())
        .sum()
}

/// Writes raw bytes to a fresh connection and returns whatever comes back before the server
/// closes the connection or goes quiet for `quiet`.
pub async fn raw_exchange(addr: &str, bytes: &[u8], quiet: Duration) -> (Vec<u8>, bool) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(bytes).await;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(quiet, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (out, false),
        }
    }
}

/// One key per slot: `keys[slot]` hashes to `slot`.
pub fn keys_for_all_slots(prefix: &str) -> Vec<String> {
    let mut keys: Vec<Option<String>> = vec![None; 16384];
    let mut missing = 16384;
    let mut n = 0u64;
    while missing > 0 {
        let k = format!("{prefix}{n}");
        let slot = slotraft::slots::key_slot(k.as_bytes()) as usize;
        if keys[slot].is_none() {
            keys[slot] = Some(k);
            missing -= 1;
        }
        n += 1;
    }
    keys.into_iter().flatten().collect()
}
