//! cluster.toml → a validated `Config`. Every mistake a user can make in the file is reported
//! as one line naming the problem, before the node touches its data directory.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ids::{GroupId, META_GROUP, NodeId};
use crate::resp::Limits;
use crate::slots::{SLOT_COUNT, Slot};

/// When the log is fsynced (cluster.toml `fsync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// Before any append is reported durable: an acknowledged write is on a majority's disks.
    Always,
    /// At most once a second (votes always at once); writes reach the OS immediately.
    EverySec,
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
    /// The cluster secret file is missing, unreadable or too short (`read_secret`).
    #[error("cluster secret {path}: {why}")]
    Secret { path: PathBuf, why: String },
}

/// How a node answers a request for a slot whose leader is elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedirectMode {
    /// `-MOVED slot host:port`, as Redis Cluster does; needs a cluster-aware client.
    Moved,
    /// Run the command on the leader over gRPC and relay its reply; any client works.
    Proxy,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    cluster: RawCluster,
    #[serde(default)]
    node: Vec<RawNode>,
    #[serde(default)]
    group: Vec<RawGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    #[serde(default = "default_data_dir")]
    data_dir: PathBuf,
    #[serde(default = "default_fsync")]
    fsync: FsyncPolicy,
    #[serde(default = "default_redirect")]
    redirect: RedirectMode,
    #[serde(default = "default_snapshot_every")]
    snapshot_every: u64,
    #[serde(default = "default_snapshot_log_bytes")]
    snapshot_log_bytes: u64,
    #[serde(default = "default_min_free_disk")]
    min_free_disk: u64,
    #[serde(default = "default_heartbeat_ms")]
    heartbeat_ms: u64,
    #[serde(default = "default_election_timeout_ms")]
    election_timeout_ms: u64,
    #[serde(default)]
    threads: usize,
    #[serde(default)]
    limits: Limits,
    /// The default user's password (Redis's `requirepass`); none: no password.
    #[serde(default)]
    requirepass: Option<String>,
    /// Where ACL SAVE writes the users and ACL LOAD reads them (Redis's `aclfile`).
    #[serde(default)]
    acl_file: Option<PathBuf>,
    /// Redis's `protected-mode`: while the default user needs no password, only loopback
    /// clients are served.
    #[serde(default = "default_protected_mode")]
    protected_mode: bool,
    tls: Option<RawTls>,
    #[serde(default = "default_secret_file")]
    secret_file: PathBuf,
}

fn default_protected_mode() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    id: NodeId,
    resp: Option<String>,
    resp_tls: Option<String>,
    rpc: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    id: GroupId,
    members: Vec<NodeId>,
    slots: Vec<String>,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_fsync() -> FsyncPolicy {
    FsyncPolicy::Always
}
fn default_redirect() -> RedirectMode {
    RedirectMode::Moved
}
/// ~64 MiB of log per group for SETs of 100-byte values, as Redis's `auto-aof-rewrite-min-size`:
/// fewer made snapshots a noticeable share of the CPU per write (docs/performance.md).
fn default_snapshot_every() -> u64 {
    500_000
}
/// Log bytes applied between two snapshots of a group (or as many as its last snapshot file
/// holds, if more), beside `snapshot_every`: 500,000 writes of large values would otherwise
/// let a group's log grow to many times its data. Four times `snapshot_every`'s ~64 MiB of
/// 100-byte SETs, so the count still decides for small values (snapshots as often as before);
/// from values of ~500 bytes up the bytes decide, and a group's log between snapshots holds
/// 256 MiB, or as much as its last snapshot, at most.
fn default_snapshot_log_bytes() -> u64 {
    256 * 1024 * 1024
}
/// Free bytes below which the data directory's filesystem refuses writes (`-MISCONF`). A fixed
/// amount rather than a share of the disk (1% is 40 GiB of a 4 TB disk, 100 MiB of a 10 GB
/// one): it must hold what arrives before the refusal takes hold (the check runs every 250 ms:
/// 25 MiB at 100 MiB/s of writes), the entries this node still takes as a follower of other
/// nodes' groups, fjall's 8 MiB memtable flushes, and small groups' next snapshots.
fn default_min_free_disk() -> u64 {
    256 * 1024 * 1024
}
/// Next to cluster.toml rather than in `data_dir`: the secret belongs to the cluster, like the
/// file, is copied to every machine with it, and survives wiping the data.
fn default_secret_file() -> PathBuf {
    PathBuf::from("cluster.secret")
}
fn default_heartbeat_ms() -> u64 {
    100
}
/// A follower campaigns after 1.25–1.5 s of silence (openraft's leader lease, 1.5 × this, then
/// a randomised 1–1.5 × this), so a crashed leader is replaced in about 1.3–1.6 s.
fn default_election_timeout_ms() -> u64 {
    500
}

/// One node of the cluster.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub id: NodeId,
    /// The plain RESP port; port 0 when the node has only `resp_tls` (Redis's `port 0`: no
    /// plain listener, and replies to plain clients name port 0).
    pub resp: SocketAddr,
    /// The RESP-over-TLS port (`[cluster.tls]` says with which certificate).
    pub resp_tls: Option<SocketAddr>,
    pub rpc: SocketAddr,
}

/// One Raft group: its replicas and the slots it owns.
#[derive(Clone, Debug)]
pub struct GroupConfig {
    pub id: GroupId,
    pub members: Vec<NodeId>,
    pub slots: Vec<(Slot, Slot)>,
}

/// A validated cluster description: every slot has exactly one group, every member is a node.
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub fsync: FsyncPolicy,
    pub redirect: RedirectMode,
    pub snapshot_every: u64,
    /// Log bytes applied between two snapshots (`default_snapshot_log_bytes`).
    pub snapshot_log_bytes: u64,
    /// Free bytes on the data directory's filesystem below which writes that may grow the data
    /// are refused (`default_min_free_disk`); 0: never.
    pub min_free_disk: u64,
    pub heartbeat_ms: u64,
    pub election_timeout_ms: u64,
    /// Worker threads of each node's runtime; 0: `Config::threads_for` decides.
    pub threads: usize,
    pub limits: Limits,
    /// The default user's password until an ACL change names the default user.
    pub requirepass: Option<String>,
    /// ACL SAVE / ACL LOAD's file, relative paths taken from cluster.toml's directory.
    pub acl_file: Option<PathBuf>,
    pub protected_mode: bool,
    /// `[cluster.tls]`, when the cluster has one.
    pub tls: Option<TlsConfig>,
    /// The file holding the cluster secret (`[cluster] secret_file`, relative to cluster.toml).
    pub secret_file: PathBuf,
    /// Its contents, once `load_secret` has read them: a node does not start without them.
    pub secret: Option<Secret>,
    pub nodes: BTreeMap<NodeId, NodeConfig>,
    pub groups: BTreeMap<GroupId, GroupConfig>,
}

impl Config {
    /// Reads and validates a cluster.toml file; relative `data_dir` is taken relative to the
    /// file's own directory so a cluster works wherever it is started from.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Config::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        if config.data_dir.is_relative() {
            config.data_dir = base.join(&config.data_dir);
        }
        if let Some(f) = config.acl_file.as_mut().filter(|f| f.is_relative()) {
            *f = base.join(&*f);
        }
        if let Some(tls) = &mut config.tls {
            tls.resolve_paths(base);
        }
        if config.secret_file.is_relative() {
            config.secret_file = base.join(&config.secret_file);
        }
        Ok(config)
    }

    /// Reads the cluster secret from `secret_file`. Separate from `load` so that scripts can
    /// list the nodes (`slotraft nodes`) before the secret exists.
    pub fn load_secret(&mut self) -> Result<(), ConfigError> {
        self.secret = Some(read_secret(&self.secret_file)?);
        Ok(())
    }

    /// Parses and validates the text of a cluster.toml.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let mut message = e.message().trim().replace('\n', " ");
            if let Some(span) = e.span() {
                let line_no = text[..span.start.min(text.len())].matches('\n').count() + 1;
                let line = text.lines().nth(line_no - 1).unwrap_or_default().trim();
                message = format!("line {line_no} `{line}`: {message}");
            }
            ConfigError::Parse {
                path: PathBuf::from("cluster.toml"),
                message,
            }
        })?;
        let invalid = |m: String| ConfigError::Invalid(m);
        let c = raw.cluster;
        if c.snapshot_every == 0 {
            return Err(invalid("cluster.snapshot_every must be at least 1".into()));
        }
        if c.snapshot_log_bytes == 0 {
            return Err(invalid("cluster.snapshot_log_bytes must be at least 1".into()));
        }
        if c.heartbeat_ms == 0 || c.election_timeout_ms < 3 * c.heartbeat_ms {
            return Err(invalid(
                "cluster.election_timeout_ms must be at least 3 × heartbeat_ms (and heartbeat_ms > 0)".into(),
            ));
        }
        if raw.node.is_empty() {
            return Err(invalid("no [[node]] is defined".into()));
        }
        let mut nodes = BTreeMap::new();
        let mut addrs = BTreeSet::new();
        for n in raw.node {
            let (resp, resp_tls) = parse_resp_addrs(&n)?;
            let rpc = parse_addr(&n.rpc, n.id, "rpc")?;
            let listened = [Some(resp).filter(|a| a.port() != 0), resp_tls, Some(rpc)];
            for a in listened.into_iter().flatten() {
                if !addrs.insert(a) {
                    return Err(invalid(format!("address {a} is used twice")));
                }
            }
            let node = NodeConfig {
                id: n.id,
                resp,
                resp_tls,
                rpc,
            };
            if nodes.insert(n.id, node).is_some() {
                return Err(invalid(format!("node {} is defined twice", n.id)));
            }
        }
        if raw.group.is_empty() {
            return Err(invalid("no [[group]] is defined".into()));
        }
        let mut owner: Vec<Option<GroupId>> = vec![None; SLOT_COUNT as usize];
        let mut groups = BTreeMap::new();
        for g in raw.group {
            if g.id == META_GROUP {
                return Err(invalid(format!(
                    "group id {META_GROUP} is reserved for the metadata group every node hosts"
                )));
            }
            if g.members.is_empty() {
                return Err(invalid(format!("group {} has no members", g.id)));
            }
            let mut seen = BTreeSet::new();
            for m in &g.members {
                if !nodes.contains_key(m) {
                    return Err(invalid(format!("group {} names unknown node {m}", g.id)));
                }
                if !seen.insert(*m) {
                    return Err(invalid(format!("group {} lists node {m} twice", g.id)));
                }
            }
            let mut ranges = Vec::new();
            for s in &g.slots {
                let (lo, hi) = parse_range(s).ok_or_else(|| {
                    invalid(format!(
                        "group {}: bad slot range {s:?} (want \"a-b\" or \"a\", 0-16383)",
                        g.id
                    ))
                })?;
                for slot in lo..=hi {
                    if let Some(other) = owner[slot as usize].replace(g.id) {
                        return Err(invalid(format!(
                            "slot {slot} is given to group {other} and group {}",
                            g.id
                        )));
                    }
                }
                ranges.push((lo, hi));
            }
            let id = g.id;
            let group = GroupConfig {
                id,
                members: g.members,
                slots: ranges,
            };
            if groups.insert(id, group).is_some() {
                return Err(invalid(format!("group {id} is defined twice")));
            }
        }
        if let Some(free) = owner.iter().position(Option::is_none) {
            let end = owner[free..]
                .iter()
                .position(Option::is_some)
                .map_or(SLOT_COUNT as usize, |e| free + e);
            return Err(invalid(format!("slots {free}-{} are not owned by any group", end - 1)));
        }
        let tls = c.tls.map(TlsConfig::from_raw).transpose()?;
        if tls.is_none()
            && let Some(n) = nodes.values().find(|n| n.resp_tls.is_some())
        {
            return Err(invalid(format!(
                "node {} has resp_tls but there is no [cluster.tls] with its certificate",
                n.id
            )));
        }
        Ok(Config {
            data_dir: c.data_dir,
            fsync: c.fsync,
            redirect: c.redirect,
            snapshot_every: c.snapshot_every,
            snapshot_log_bytes: c.snapshot_log_bytes,
            min_free_disk: c.min_free_disk,
            heartbeat_ms: c.heartbeat_ms,
            election_timeout_ms: c.election_timeout_ms,
            threads: c.threads,
            limits: c.limits,
            requirepass: c.requirepass,
            acl_file: c.acl_file,
            protected_mode: c.protected_mode,
            tls,
            secret_file: c.secret_file,
            secret: None,
            nodes,
            groups,
        })
    }

    /// How many members `group` has (0 for a group this file does not name).
    pub fn group_size(&self, group: GroupId) -> usize {
        self.members_of(group).len()
    }

    /// The members of `group`: every node for the metadata group, else cluster.toml's list.
    pub fn members_of(&self, group: GroupId) -> Vec<NodeId> {
        if group == META_GROUP {
            return self.nodes.keys().copied().collect();
        }
        self.groups.get(&group).map_or_else(Vec::new, |g| g.members.clone())
    }

    /// Which member should lead each group, so that leadership (and so the write load) spreads
    /// evenly: groups in id order each go to their least-loaded member, ties broken by rotating
    /// through the member list. Every node computes the same table from the same file.
    pub fn preferred_leaders(&self) -> BTreeMap<GroupId, NodeId> {
        let mut load: BTreeMap<NodeId, usize> = BTreeMap::new();
        let mut out = BTreeMap::new();
        for (i, g) in self.groups.values().enumerate() {
            let n = g.members.len();
            let pick = (0..n)
                .map(|k| g.members[(i + k) % n])
                .min_by_key(|m| load.get(m).copied().unwrap_or(0))
                .unwrap_or(g.members[0]);
            *load.entry(pick).or_default() += 1;
            out.insert(g.id, pick);
        }
        out
    }

    /// Worker threads for `node`'s runtime on a machine of `cores` cores: `threads` if set,
    /// else the cores shared out among the nodes of this file that run on the node's host (its
    /// RESP address's IP), one at least: nodes sharing a machine each with a thread per core
    /// wake and preempt each other's threads (docs/performance.md).
    pub fn threads_for(&self, node: NodeId, cores: usize) -> usize {
        if self.threads > 0 {
            return self.threads;
        }
        let Some(me) = self.nodes.get(&node) else {
            return cores.max(1);
        };
        // `here` counts the node itself, so it is at least 1.
        let here = self.nodes.values().filter(|n| n.resp.ip() == me.resp.ip()).count();
        (cores / here).max(1)
    }

    /// The slot → group table this configuration seeds.
    pub fn slot_owners(&self) -> Vec<GroupId> {
        let mut owners = vec![0; SLOT_COUNT as usize];
        for g in self.groups.values() {
            for &(lo, hi) in &g.slots {
                for s in lo..=hi {
                    owners[s as usize] = g.id;
                }
            }
        }
        owners
    }
}

fn parse_addr(s: &str, node: NodeId, what: &str) -> Result<SocketAddr, ConfigError> {
    s.parse().map_err(|_| {
        ConfigError::Invalid(format!(
            "node {node}: {what} address {s:?} is not host:port with a numeric IP"
        ))
    })
}

// ---- TLS: `[cluster.tls]` and each node's `resp_tls` ----

/// Redis's `tls-auth-clients`: whether a client on a TLS port must show a certificate signed
/// by the cluster's CA. `yes` by default, as in Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthClients {
    No,
    Optional,
    Yes,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    ca_file: Option<PathBuf>,
    cert_file: PathBuf,
    key_file: PathBuf,
    #[serde(default = "default_auth_clients")]
    auth_clients: AuthClients,
    #[serde(default)]
    replication: bool,
}

fn default_auth_clients() -> AuthClients {
    AuthClients::Yes
}

/// `[cluster.tls]`: the files of the cluster's TLS, as written (`{node}` in `cert_file` and
/// `key_file` stands for a node's id) and resolved against the file's directory by `load`.
/// The files themselves are read when a node starts (`tls::Identity`), which names the file
/// when one is missing or not a certificate or key.
#[derive(Clone, Debug)]
pub struct TlsConfig {
    /// The CA that signs the nodes' and clients' certificates; needed to check a peer's.
    pub ca_file: Option<PathBuf>,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub auth_clients: AuthClients,
    /// Node-to-node connections over mutual TLS (each node's certificate bound to its id).
    pub replication: bool,
}

impl TlsConfig {
    fn from_raw(raw: RawTls) -> Result<TlsConfig, ConfigError> {
        let tls = TlsConfig {
            ca_file: raw.ca_file,
            cert_file: raw.cert_file,
            key_file: raw.key_file,
            auth_clients: raw.auth_clients,
            replication: raw.replication,
        };
        if tls.ca_file.is_none() && (tls.auth_clients != AuthClients::No || tls.replication) {
            return Err(ConfigError::Invalid(
                "cluster.tls.ca_file is needed to check certificates (auth_clients other than \"no\", or replication = true)".into(),
            ));
        }
        Ok(tls)
    }

    fn resolve_paths(&mut self, base: &Path) {
        for p in [
            Some(&mut self.cert_file),
            Some(&mut self.key_file),
            self.ca_file.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }

    /// `cert_file` for `node` (`{node}` replaced by its id).
    pub fn cert_file_for(&self, node: NodeId) -> PathBuf {
        for_node(&self.cert_file, node)
    }

    /// `key_file` for `node` (`{node}` replaced by its id).
    pub fn key_file_for(&self, node: NodeId) -> PathBuf {
        for_node(&self.key_file, node)
    }
}

fn for_node(path: &Path, node: NodeId) -> PathBuf {
    PathBuf::from(path.to_string_lossy().replace("{node}", &node.to_string()))
}

/// A node's `resp` and `resp_tls`: at least one of them.
fn parse_resp_addrs(n: &RawNode) -> Result<(SocketAddr, Option<SocketAddr>), ConfigError> {
    let resp_tls = n
        .resp_tls
        .as_deref()
        .map(|a| parse_addr(a, n.id, "resp_tls"))
        .transpose()?;
    let resp = match (&n.resp, resp_tls) {
        (Some(a), _) => parse_addr(a, n.id, "resp")?,
        (None, Some(tls)) => SocketAddr::new(tls.ip(), 0),
        (None, None) => {
            return Err(ConfigError::Invalid(format!(
                "node {}: needs a resp or a resp_tls address (or both)",
                n.id
            )));
        }
    };
    Ok((resp, resp_tls))
}

/// `text` (a cluster.toml of nodes on ports 7001…) with a `[cluster.tls]` and each node's
/// `resp_tls` on its RESP port + 100: the TLS cases' tests start from it.
#[cfg(test)]
pub(crate) fn with_tls_ports(text: &str) -> String {
    let tls = "\n[cluster.tls]\ncert_file = \"node-{node}.crt\"\nkey_file = \"node-{node}.key\"\nauth_clients = \"no\"\n\n[[node]]";
    let mut out = text.replacen("\n[[node]]", tls, 1);
    for id in 1..=9 {
        out = out.replace(
            &format!("resp = \"127.0.0.1:700{id}\""),
            &format!("resp = \"127.0.0.1:700{id}\"\nresp_tls = \"127.0.0.1:71{id:02}\""),
        );
    }
    out
}

fn parse_range(s: &str) -> Option<(Slot, Slot)> {
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (a.trim().parse::<Slot>().ok()?, b.trim().parse::<Slot>().ok()?),
        None => {
            let v = s.trim().parse::<Slot>().ok()?;
            (v, v)
        }
    };
    (lo <= hi && hi < SLOT_COUNT).then_some((lo, hi))
}

/// Fewest bytes a cluster secret may hold (after surrounding whitespace is removed): 32 random
/// bytes, or 32 hex digits (128 bits) at the least.
pub const MIN_SECRET_BYTES: usize = 32;

/// The cluster secret every node holds: node-to-node connections start by proving knowledge of
/// it (`wire::handshake`). Its bytes never appear in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(std::sync::Arc<[u8]>);

impl Secret {
    /// A secret of at least `MIN_SECRET_BYTES`, or `None`.
    pub fn new(bytes: &[u8]) -> Option<Secret> {
        (bytes.len() >= MIN_SECRET_BYTES).then(|| Secret(bytes.into()))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// Reads a cluster secret file: its bytes, surrounding whitespace removed (a hex text file with
/// a newline and raw random bytes alike), at least `MIN_SECRET_BYTES` of them.
pub fn read_secret(path: &Path) -> Result<Secret, ConfigError> {
    let refused = |why: String| ConfigError::Secret {
        path: path.to_path_buf(),
        why,
    };
    let bytes = std::fs::read(path).map_err(|e| {
        refused(format!(
            "cannot read it: {e} (`slotraft secret --config <cluster.toml>` creates one; every node needs the same file)"
        ))
    })?;
    let key = bytes.trim_ascii();
    Secret::new(key).ok_or_else(|| {
        refused(format!(
            "it holds {} bytes; a cluster secret needs at least {MIN_SECRET_BYTES} random bytes",
            key.len()
        ))
    })
}

/// Creates a cluster secret file at `path` if there is none: 32 random bytes from the operating
/// system, as 64 hex digits, readable by its owner only. True if it was created.
pub fn create_secret(path: &Path) -> std::io::Result<bool> {
    use rand::TryRngCore;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut key = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut key)
        .map_err(std::io::Error::other)?;
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match file {
        Ok(mut f) => {
            f.write_all(format!("{hex}\n").as_bytes())?;
            f.sync_all()?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// File descriptors a node keeps for itself beyond its clients: listeners, the log engine's
/// files, snapshots, peers' channels and replication streams (Redis keeps 32; a node here has
/// more of its own).
pub const RESERVED_FDS: u64 = 256;

/// The clients a node can serve with `files` descriptors: `requested` (maxclients) if they fit
/// beside `RESERVED_FDS`, fewer if not (as Redis lowers maxclients to its `ulimit -n`), `None`
/// when not even one does.
pub fn clients_for_files(requested: usize, files: u64) -> Option<usize> {
    let room = usize::try_from(files.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
    (room > 0).then(|| requested.min(room))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maxclients_fits_the_open_files_limit() {
        assert_eq!(clients_for_files(10_000, 1_048_576), Some(10_000));
        assert_eq!(clients_for_files(10_000, 10_000 + RESERVED_FDS), Some(10_000));
        assert_eq!(clients_for_files(10_000, 1024), Some(1024 - RESERVED_FDS as usize));
        assert_eq!(clients_for_files(10_000, RESERVED_FDS + 1), Some(1));
        assert_eq!(clients_for_files(10_000, RESERVED_FDS), None);
        assert_eq!(clients_for_files(10_000, 0), None);
    }

    const ONE: &str = r#"
[cluster]
[[node]]
id = 1
resp = "127.0.0.1:7001"
rpc = "127.0.0.1:17001"
[[group]]
id = 1
members = [1]
slots = ["0-16383"]
"#;

    fn err(text: &str) -> String {
        Config::parse(text).map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn one_node_one_group() {
        let c = Config::parse(ONE).unwrap();
        assert_eq!(c.fsync, FsyncPolicy::Always);
        assert_eq!(c.redirect, RedirectMode::Moved);
        assert_eq!((c.snapshot_log_bytes, c.min_free_disk), (256 << 20, 256 << 20));
        assert_eq!(c.slot_owners().iter().filter(|&&g| g == 1).count(), 16384);
    }

    #[test]
    fn default_file_is_valid() {
        let text = include_str!("../cluster.toml");
        let c = Config::parse(text).unwrap();
        assert_eq!(c.nodes.len(), 3);
        assert_eq!(c.groups.len(), 3);
    }

    #[test]
    fn preferred_leaders_spread_evenly() {
        let c = Config::parse(include_str!("../cluster.toml")).unwrap();
        let want: BTreeMap<GroupId, NodeId> = [(1, 1), (2, 2), (3, 3)].into();
        assert_eq!(c.preferred_leaders(), want);
        // Five nodes, ten groups of three rotating replicas: two groups each.
        let mut text = String::from("[cluster]\n");
        for id in 1..=5 {
            text += &format!(
                "[[node]]\nid = {id}\nresp = \"127.0.0.1:{}\"\nrpc = \"127.0.0.1:{}\"\n",
                7000 + id,
                17000 + id
            );
        }
        for g in 0..10u64 {
            let members: Vec<String> = (0..3).map(|k| ((g + k) % 5 + 1).to_string()).collect();
            let (lo, hi) = (g * 1638, if g == 9 { 16383 } else { g * 1638 + 1637 });
            text += &format!(
                "[[group]]\nid = {}\nmembers = [{}]\nslots = [\"{lo}-{hi}\"]\n",
                g + 1,
                members.join(", ")
            );
        }
        let c = Config::parse(&text).unwrap();
        let leaders = c.preferred_leaders();
        for id in 1..=5 {
            assert_eq!(leaders.values().filter(|&&l| l == id).count(), 2, "{leaders:?}");
        }
        for (g, l) in &leaders {
            assert!(c.groups[g].members.contains(l));
        }
    }

    #[test]
    fn threads_share_the_cores_of_a_host() {
        let local = Config::parse(include_str!("../cluster.toml")).unwrap();
        assert_eq!(local.threads_for(1, 2), 1);
        assert_eq!(local.threads_for(2, 16), 5);
        assert_eq!(Config::parse(ONE).unwrap().threads_for(1, 8), 8);
        // Two of three nodes on one host, the third elsewhere.
        let split = include_str!("../cluster.toml").replace("127.0.0.1:7003", "10.0.0.3:7003");
        let split = Config::parse(&split).unwrap();
        assert_eq!((split.threads_for(1, 8), split.threads_for(3, 8)), (4, 8));
        let set = include_str!("../cluster.toml").replace("threads = 0", "threads = 3");
        assert_eq!(Config::parse(&set).unwrap().threads_for(1, 2), 3);
    }

    #[test]
    fn the_secret_is_read_from_its_file_and_refused_when_short_or_missing() {
        let dir = tempfile::tempdir().unwrap();
        let toml = dir.path().join("cluster.toml");
        std::fs::write(&toml, ONE).unwrap();
        let mut c = Config::load(&toml).unwrap();
        assert_eq!(c.secret_file, dir.path().join("cluster.secret"));
        let missing = c.load_secret().unwrap_err().to_string();
        assert!(
            missing.contains("cluster.secret") && missing.contains("cannot read"),
            "{missing}"
        );
        assert!(!missing.contains('\n'));
        std::fs::write(&c.secret_file, "0123456789abcdef\n").unwrap();
        let short = c.load_secret().unwrap_err().to_string();
        assert!(short.contains("holds 16 bytes"), "{short}");
        assert!(!create_secret(&c.secret_file).unwrap(), "an existing secret is kept");
        std::fs::remove_file(&c.secret_file).unwrap();
        assert!(create_secret(&c.secret_file).unwrap());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&c.secret_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        c.load_secret().unwrap();
        let secret = c.secret.clone().unwrap();
        assert_eq!(secret.bytes().len(), 64, "hex digits, the newline left out");
        assert!(!format!("{c:?}").contains(std::str::from_utf8(secret.bytes()).unwrap()));
        // Elsewhere, and absolute.
        let other = dir.path().join("elsewhere.key");
        let text = ONE.replace(
            "[cluster]",
            &format!("[cluster]\nsecret_file = {:?}", other.display().to_string()),
        );
        std::fs::write(&toml, text).unwrap();
        assert_eq!(Config::load(&toml).unwrap().secret_file, other);
    }

    #[test]
    fn refuses_bad_files() {
        assert!(err(&ONE.replace("0-16383", "0-16000")).contains("slots 16001-16383 are not owned"));
        assert!(err(&ONE.replace("members = [1]", "members = [1, 9]")).contains("unknown node 9"));
        let twice = format!("{ONE}\n[[group]]\nid = 2\nmembers = [1]\nslots = [\"5\"]\n");
        assert!(err(&twice).contains("slot 5 is given to group 1 and group 2"));
        assert!(err(&ONE.replace("[cluster]", "[cluster]\nfsync = \"sometimes\"")).contains("sometimes"));
        assert!(err(&ONE.replace("0-16383", "0-16384")).contains("bad slot range"));
        assert!(err(&ONE.replace("127.0.0.1:17001", "nowhere")).contains("rpc address"));
        assert!(err(&ONE.replace("[cluster]", "[cluster]\nbogus = 1")).contains("bogus"));
        assert!(err(&ONE.replace("[cluster]", "[cluster]\nsnapshot_log_bytes = 0")).contains("snapshot_log_bytes"));
    }

    #[test]
    fn tls_section_and_ports() {
        let c = Config::parse(&with_tls_ports(include_str!("../cluster.toml"))).unwrap();
        let tls = c.tls.clone().unwrap();
        assert_eq!(c.nodes[&2].resp_tls, Some("127.0.0.1:7102".parse().unwrap()));
        assert_eq!(tls.auth_clients, AuthClients::No);
        assert!(!tls.replication);
        assert_eq!(tls.cert_file_for(3), PathBuf::from("node-3.crt"));
        assert_eq!(tls.key_file_for(3), PathBuf::from("node-3.key"));
        // auth_clients is "yes" by default, as Redis's tls-auth-clients, and then needs the CA.
        let yes = with_tls_ports(ONE).replace("auth_clients = \"no\"\n", "");
        assert!(err(&yes).contains("ca_file is needed"));
        let yes = yes.replace("[cluster.tls]", "[cluster.tls]\nca_file = \"ca.crt\"");
        assert_eq!(Config::parse(&yes).unwrap().tls.unwrap().auth_clients, AuthClients::Yes);
        let replication = with_tls_ports(ONE).replace("[cluster.tls]", "[cluster.tls]\nreplication = true");
        assert!(err(&replication).contains("ca_file is needed"));
        let optional = yes.replace("[cluster.tls]", "[cluster.tls]\nauth_clients = \"optional\"");
        assert_eq!(
            Config::parse(&optional).unwrap().tls.unwrap().auth_clients,
            AuthClients::Optional
        );
        assert!(err(&yes.replace("[cluster.tls]", "[cluster.tls]\nauth_clients = \"maybe\"")).contains("maybe"));
        // Only TLS: the plain port is 0, as Redis's `port 0`.
        let only_tls = with_tls_ports(ONE).replace("resp = \"127.0.0.1:7001\"\n", "");
        let c = Config::parse(&only_tls).unwrap();
        assert_eq!(c.nodes[&1].resp, "127.0.0.1:0".parse().unwrap());
        assert!(err(&ONE.replace("resp = \"127.0.0.1:7001\"\n", "")).contains("needs a resp or a resp_tls"));
        let no_section = ONE.replace("rpc =", "resp_tls = \"127.0.0.1:7101\"\nrpc =");
        assert!(err(&no_section).contains("no [cluster.tls]"));
        assert!(err(&with_tls_ports(ONE).replace("7101", "7001")).contains("used twice"));
    }

    #[test]
    fn tls_paths_are_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.toml");
        let text = with_tls_ports(ONE).replace("[cluster.tls]", "[cluster.tls]\nca_file = \"/etc/ca.crt\"");
        std::fs::write(&path, text).unwrap();
        let tls = Config::load(&path).unwrap().tls.unwrap();
        assert_eq!(tls.cert_file_for(7), dir.path().join("node-7.crt"));
        assert_eq!(tls.ca_file, Some(PathBuf::from("/etc/ca.crt")));
    }
}
