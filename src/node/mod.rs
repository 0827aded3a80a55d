//! A running node: its Raft groups (one replica per group it is a member of), the shared log
//! engine, the channels to its peers and its view of the cluster. `server` and `rpc` both
//! execute commands against it.

pub mod acl;
pub mod clients;
pub mod disk;
pub mod proposer;
pub mod pubsub;
mod tasks;
pub mod waiters;

pub use tasks::{leader_claims, learn_claims};

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use openraft::async_runtime::watch::WatchReceiver;
use openraft::error::{LinearizableReadError, RaftError};
use openraft::type_config::alias::WatchReceiverOf;
use openraft::vote::RaftLeaderId;
use openraft::{BasicNode, Instant as _, RaftMetrics, ReadPolicy};
use parking_lot::RwLock;
use tokio::sync::watch;

use crate::cluster::view::View;
use crate::config::Config;
use crate::ids::META_GROUP;
use crate::raft::Raft;
use crate::raft::log_engine::{GroupLog, LogEngine};
use crate::raft::network::GroupNetwork;
use crate::raft::state_machine::{GroupStateMachine, SnapshotEvery};
use crate::raft::types::{GroupId, NodeId, TypeConfig};
use crate::store::Store;
use crate::wire::{PeerAuth, Peers};

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("node {0} is not in the configuration")]
    UnknownNode(NodeId),
    #[error("data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("log engine: {0}")]
    Log(String),
    #[error("raft: {0}")]
    Raft(String),
    #[error("network: {0}")]
    Net(String),
}

/// This node's replica of one group.
pub struct Group {
    pub id: GroupId,
    raft: Raft,
    sm: GroupStateMachine,
    log: GroupLog,
    /// Client writes go through it: proposed together while earlier ones are in flight.
    proposer: proposer::Proposer,
    /// Preferred leader, so that leadership spreads evenly over the nodes.
    preferred_leader: NodeId,
    /// This node's id, which the lease check compares the vote's leader with.
    me: NodeId,
    /// Raft's metrics as its core last published them: the lease check reads them.
    metrics: WatchReceiverOf<TypeConfig, RaftMetrics<TypeConfig>>,
    /// How long after a quorum acknowledged an AppendEntries this leader still serves reads on
    /// its own: half of openraft's leader lease (`election_timeout_max`), the other half a
    /// margin for clock drift between the nodes.
    read_lease: Duration,
    /// The term in which this node last asked to hand its leadership over (0: never), and
    /// until when (ms on `clock`) that request may still take effect. A transfer lets the
    /// target be elected while followers still hold this leader's lease, so no read in that
    /// term, nor until the request has surely lapsed (the published metrics may lag the
    /// core's term), is served on the lease alone.
    transfer_term: AtomicU64,
    transfer_until_ms: AtomicU64,
    /// The base of `transfer_until_ms`.
    clock: Instant,
    /// Linearizable reads (or pipelined batches of them) served on the lease alone, and those
    /// that went through the Raft core (INFO raft `lease_reads`, `core_reads`).
    lease_reads: AtomicU64,
    core_reads: AtomicU64,
    /// While this replica's log is short of this index (0: not at all), it is being rebuilt
    /// after its data was lost (`rejoin`) and grants no votes: it may have acknowledged
    /// entries it no longer holds, and a vote from it could elect a candidate missing them.
    rebuild_until: AtomicU64,
    /// True while this replica, its data lost, waits for a leader's consent to replicate it
    /// from the beginning (`rejoin`); it takes no replication meanwhile (see `rpc`).
    awaiting_revert: AtomicBool,
    /// True while this replica, started on an empty data directory, has not heard from every
    /// other member of its group: with one unreachable it cannot tell a new cluster from data
    /// it lost, so it neither votes nor takes replication until all of them answer
    /// (`tasks::ask_to_rejoin`).
    unconfirmed: AtomicBool,
}

impl Group {
    /// Starts this node's replica of group `id` over its loaded state machine: its Raft core
    /// (initialised with cluster.toml's membership when the log is pristine and the group is
    /// not being rejoined), its proposer, and its rebuild state.
    async fn start(
        config: &Config,
        Placement {
            me,
            id,
            preferred_leader,
        }: Placement,
        sm: GroupStateMachine,
        engine: &Arc<LogEngine>,
        peers: &Peers,
        raft_config: &Arc<openraft::Config>,
        rejoining: &Rejoining,
    ) -> Result<Group, StartError> {
        let log = engine.group(id).map_err(|e| StartError::Log(e.to_string()))?;
        tracing::info!(
            group = id,
            snapshot_index = sm.snapshot_index.load(Ordering::Relaxed),
            keys = sm.state.read().store.len(),
            log_purged = ?log.last_purged_index(),
            log_last = ?log.last_log_index(),
            "recovering group"
        );
        let network = GroupNetwork {
            peers: peers.clone(),
            group: id,
        };
        let raft = Raft::new(me, raft_config.clone(), network, log.clone(), sm.clone())
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| StartError::Raft(e.to_string()))?;
        let rejoined = rejoining.rejoined.get(&id);
        if !initialized && rejoined.is_none() {
            let members: BTreeMap<NodeId, BasicNode> = config
                .members_of(id)
                .iter()
                .filter_map(|m| config.nodes.get(m).map(|n| (*m, BasicNode::new(n.rpc.to_string()))))
                .collect();
            if let Err(e) = raft.initialize(members).await {
                tracing::debug!(group = id, "initialize: {e}");
            }
        }
        Ok(Group {
            id,
            sm,
            log,
            preferred_leader,
            me,
            metrics: raft.metrics(),
            proposer: proposer::Proposer::start(id, raft.clone()),
            read_lease: Duration::from_millis(raft_config.election_timeout_max / 2),
            transfer_term: AtomicU64::new(0),
            transfer_until_ms: AtomicU64::new(0),
            clock: Instant::now(),
            lease_reads: AtomicU64::new(0),
            core_reads: AtomicU64::new(0),
            rebuild_until: AtomicU64::new(match rejoined {
                Some(Rejoin::Allowed(last) | Rejoin::Awaiting(last)) => (*last).max(1),
                Some(Rejoin::Fresh { .. }) | None => 0,
            }),
            awaiting_revert: AtomicBool::new(matches!(rejoined, Some(Rejoin::Awaiting(_)))),
            unconfirmed: AtomicBool::new(rejoining.unconfirmed.contains(&id)),
            raft,
        })
    }

    /// True while this replica is being rebuilt (see `rebuild_until`, `awaiting_revert`); false
    /// for good once its log (or the snapshot it was given) reaches what its leader had when
    /// the rebuild began.
    pub fn rebuilding(&self) -> bool {
        if self.awaiting_revert() || self.unconfirmed() {
            return true;
        }
        let until = self.rebuild_until.load(Ordering::Relaxed);
        if until == 0 {
            return false;
        }
        let held = self.log.last_log_index().max(self.log.last_purged_index()).unwrap_or(0);
        if held < until {
            return true;
        }
        self.rebuild_until.store(0, Ordering::Relaxed);
        tracing::info!(
            group = self.id,
            "rebuilt after lost data: caught up to index {until}, voting again"
        );
        false
    }

    /// See `awaiting_revert`.
    pub fn awaiting_revert(&self) -> bool {
        self.awaiting_revert.load(Ordering::Acquire)
    }

    /// The last log index this replica, being rebuilt, knows its group to have reached (0
    /// when not being rebuilt).
    pub fn known_history(&self) -> u64 {
        self.rebuild_until.load(Ordering::Relaxed)
    }

    /// See `unconfirmed`.
    pub fn unconfirmed(&self) -> bool {
        self.unconfirmed.load(Ordering::Acquire)
    }

    /// A leader agreed to replicate this replica from the beginning, having `last_log`.
    fn revert_allowed(&self, last_log: u64) {
        self.rebuild_until.fetch_max(last_log.max(1), Ordering::Relaxed);
        self.awaiting_revert.store(false, Ordering::Release);
        self.unconfirmed.store(false, Ordering::Release);
    }

    /// An unconfirmed replica learnt that the group has had a leader (a peer's log reaches
    /// `last_log`): it lost its data, and waits for a leader's consent as `rejoin` does.
    fn await_revert(&self, last_log: u64) {
        self.rebuild_until.fetch_max(last_log.max(1), Ordering::Relaxed);
        self.awaiting_revert.store(true, Ordering::Release);
        self.unconfirmed.store(false, Ordering::Release);
    }

    /// Every member answered and none has seen a leader: the group is new.
    fn confirm_fresh(&self) {
        self.unconfirmed.store(false, Ordering::Release);
    }

    /// Waits until a linearizable read of this group may be served from the local state: at
    /// once while the leader's lease holds (`holds_read_lease`), otherwise through the Raft
    /// core (openraft's lease read: refused when the lease has lapsed or leadership moved).
    pub async fn read_barrier(&self) -> Result<(), RaftError<TypeConfig, LinearizableReadError<TypeConfig>>> {
        if self.holds_read_lease() {
            self.lease_reads.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        self.core_reads.fetch_add(1, Ordering::Relaxed);
        self.raft.ensure_linearizable(ReadPolicy::LeaseRead).await.map(|_| ())
    }

    /// Whether this replica may serve a linearizable read from its applied state without a
    /// message to its Raft core, which costs a wake-up of another task per read. True when
    /// - it is the leader of the current term, and a quorum acknowledged an AppendEntries it
    ///   sent less than `read_lease` ago: no other leader can be elected before that lease ends
    ///   (voters refuse while they hold it), so nothing is committed elsewhere;
    /// - it has applied an entry of its own term: every entry of earlier terms (writes the
    ///   previous leader acknowledged) is applied, and its own writes are applied before they
    ///   are acknowledged;
    /// - it has not asked to transfer its leadership in this term.
    pub fn holds_read_lease(&self) -> bool {
        let leader = {
            let m = self.metrics.borrow_watched();
            let ok = m.state.is_leader()
                && m.vote.is_committed()
                && *m.vote.leader_id().node_id() == self.me
                && m.vote.leader_id().term() > self.transfer_term.load(Ordering::Acquire)
                && self.clock_ms() >= self.transfer_until_ms.load(Ordering::Acquire)
                && m.last_quorum_acked.is_some_and(|t| t.elapsed() < self.read_lease);
            ok.then(|| m.vote.leader_id().to_committed())
        };
        let Some(leader) = leader else { return false };
        self.sm
            .state
            .read()
            .last_applied
            .as_ref()
            .is_some_and(|applied| applied.leader_id == leader)
    }

    /// Hands leadership to `to`; reads stop being served on the lease first (see
    /// `transfer_term`).
    pub async fn transfer_leadership(&self, to: NodeId) {
        let term = self.metrics.borrow_watched().vote.leader_id().term();
        self.transfer_term.fetch_max(term, Ordering::AcqRel);
        // Past this, the request has timed out or taken effect; and if it took effect, this
        // node's quorum acknowledgements stopped when the voters moved to the new term, so
        // its lease has run out too.
        let lapse = self.clock_ms() + 4 * self.read_lease.as_millis() as u64;
        self.transfer_until_ms.fetch_max(lapse, Ordering::AcqRel);
        let _ = self.raft.trigger().transfer_leader(to).await;
    }

    fn clock_ms(&self) -> u64 {
        self.clock.elapsed().as_millis() as u64
    }

    /// Runs `f` on the applied keyspace at the group's time: the wall clock, never before the
    /// time of the last entry applied (which a leader with a clock ahead may have written), so
    /// a key the log has seen expire stays expired.
    pub fn read<R>(&self, f: impl FnOnce(&Store, u64) -> R) -> R {
        let state = self.sm.state.read();
        f(&state.store, now_ms().max(state.clock_ms))
    }

    /// Keys in the applied keyspace, expired ones not yet deleted included.
    pub fn keys(&self) -> usize {
        self.sm.state.read().store.len()
    }

    /// The index of the last entry applied (0 before any).
    pub fn applied_index(&self) -> u64 {
        self.sm.state.read().last_applied.map_or(0, |l| l.index)
    }

    /// Runs `f` on the applied keyspace and the index it is at, under one lock (DEBUG DIGEST,
    /// INFO keyspace): no time is involved.
    pub fn read_applied<R>(&self, f: impl FnOnce(&Store, u64) -> R) -> R {
        let state = self.sm.state.read();
        f(&state.store, state.last_applied.map_or(0, |l| l.index))
    }

    /// Completes at the next entry applied; enable it before looking at the state, so an entry
    /// applied in between is not missed.
    pub fn next_apply(&self) -> tokio::sync::futures::Notified<'_> {
        self.sm.applied.notified()
    }

    /// The group's Raft replica, for what openraft itself answers (RPCs, metrics).
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// On the leader, after applying an entry at `index`: tells the followers at once that it
    /// is committed (a heartbeat carries the commit index), after waiting (at most `wait`) for
    /// every voter that answers to hold it, so that they apply it a network hop later rather
    /// than at the next heartbeat. Used for cluster-wide changes (the metadata group), which
    /// should hold on every node as soon as they are acknowledged.
    pub async fn spread_commit(&self, index: u64, wait: Duration) {
        let _ = self.raft.trigger().heartbeat().await;
        let deadline = tokio::time::Instant::now() + wait;
        let mut metrics = self.raft.metrics();
        loop {
            let all_hold = {
                let m = metrics.borrow_watched();
                m.replication.as_ref().is_some_and(|r| {
                    r.values()
                        .all(|matched| matched.as_ref().is_some_and(|l| l.index >= index))
                })
            };
            if all_hold || tokio::time::timeout_at(deadline, metrics.changed()).await.is_err() {
                break;
            }
        }
        let _ = self.raft.trigger().heartbeat().await;
    }

    /// The leader this replica knows of, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.metrics.borrow_watched().current_leader
    }

    /// Whether this replica leads the group now (its Raft core's view).
    pub fn is_leader(&self) -> bool {
        self.raft.is_leader()
    }

    /// Proposes client writes through the group-commit queue (`proposer`).
    pub async fn propose(&self, commands: Vec<Vec<bytes::Bytes>>) -> proposer::Proposed {
        self.proposer.propose(commands).await
    }

    /// Proposals made and writes they carried (INFO raft `proposals`, `proposed_writes`).
    pub fn proposals(&self) -> (u64, u64) {
        let s = self.proposer.stats();
        (s.proposals.load(Ordering::Relaxed), s.writes.load(Ordering::Relaxed))
    }

    /// Linearizable reads served on the lease alone, and through the Raft core.
    pub fn read_counts(&self) -> (u64, u64) {
        (
            self.lease_reads.load(Ordering::Relaxed),
            self.core_reads.load(Ordering::Relaxed),
        )
    }

    /// Where a snapshot sent by the leader is received before it is installed.
    pub fn incoming_snapshot_path(&self) -> PathBuf {
        self.sm.incoming_path()
    }

    /// The node that should lead this group when it is up and caught up.
    pub fn preferred_leader(&self) -> NodeId {
        self.preferred_leader
    }
}

/// Counters shown by INFO.
#[derive(Default)]
pub struct Stats {
    pub connected_clients: AtomicU64,
    pub total_connections: AtomicU64,
    pub total_commands: AtomicU64,
    pub rejected_connections: AtomicU64,
}

/// Settings CONFIG SET may change while the node runs; they start from the configuration.
pub struct Tunables {
    /// Seconds a client may stay idle before it is closed; 0 = never (Redis's `timeout`).
    pub timeout: AtomicU64,
    /// Notified (all waiters) when `timeout` changes.
    pub timeout_changed: tokio::sync::Notify,
    pub proto_max_bulk_len: AtomicUsize,
    pub client_query_buffer_limit: AtomicUsize,
    /// `client-output-buffer-limit normal`: hard bytes, soft bytes, soft seconds.
    pub normal_output_limits: [AtomicU64; 3],
}

impl Tunables {
    /// `client-output-buffer-limit normal` now: (hard bytes, soft bytes, soft seconds).
    pub fn normal_output_limits(&self) -> (u64, u64, u64) {
        let [h, s, secs] = &self.normal_output_limits;
        (
            h.load(Ordering::Relaxed),
            s.load(Ordering::Relaxed),
            secs.load(Ordering::Relaxed),
        )
    }

    fn new(config: &Config) -> Tunables {
        Tunables {
            timeout: AtomicU64::new(0),
            timeout_changed: tokio::sync::Notify::new(),
            proto_max_bulk_len: AtomicUsize::new(config.limits.proto_max_bulk_len),
            client_query_buffer_limit: AtomicUsize::new(config.limits.client_query_buffer_limit),
            normal_output_limits: [
                AtomicU64::new(config.limits.normal_output_buffer_limit as u64),
                AtomicU64::new(config.limits.normal_output_buffer_soft_limit as u64),
                AtomicU64::new(config.limits.normal_output_buffer_soft_seconds),
            ],
        }
    }
}

pub struct Node {
    pub id: NodeId,
    pub config: Config,
    data_dir: PathBuf,
    groups: BTreeMap<GroupId, Group>,
    pub view: RwLock<View>,
    /// Notified (all waiters) when the view learns of a change of leader of a local group:
    /// blocked clients wake on it to be redirected at once.
    pub leaders_changed: tokio::sync::Notify,
    pub peers: Peers,
    engine: Arc<LogEngine>,
    pub stats: Stats,
    pub tunables: Tunables,
    pub pubsub: pubsub::PubSub,
    /// The users, from the metadata group (`acl`).
    pub acl: acl::Acl,
    pub clients: clients::Clients,
    pub waiters: waiters::Waiters,
    started: Instant,
    next_client_id: AtomicU64,
    shutdown_tx: watch::Sender<bool>,
    /// The free-disk watermark of the data directory.
    disk: disk::DiskWatch,
    /// Why the node cannot go on (a group's Raft core stopped, the log engine failed), once it
    /// cannot: the process then exits (`failed`).
    failure: watch::Sender<Option<String>>,
}

/// Wall-clock milliseconds since the Unix epoch; only the proposer reads the clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// How a replica whose data was lost rejoins its group (see `rejoin`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Rejoin {
    /// The group's leader replicates it from the beginning; it had this last log index.
    Allowed(u64),
    /// The group has had a leader (a peer's log reaches this index) but none agreed yet: the
    /// replica asks again (`tasks`) and neither votes nor takes replication meanwhile.
    Awaiting(u64),
    /// No peer that answered has seen the group have a leader; this many peers hosting it
    /// answered.
    Fresh { answered: usize },
}

impl Rejoin {
    /// A new group, by the word of every one of its `members` (this replica among them). A
    /// majority would not do: two members of three that both lost their data would make one
    /// while the third, the only one holding the group's log, is unreachable, and would serve
    /// an empty group, a second history beside the one the third returns with.
    fn fresh_by_all(self, members: usize) -> bool {
        matches!(self, Rejoin::Fresh { answered } if answered + 1 >= members)
    }
}

/// A node whose log is empty may be a new node of a new cluster, or one that lost its data
/// (a replaced disk, a wiped directory): then the entries it had acknowledged are gone, each
/// leader would refuse to replicate to a log that went backwards (openraft's guard against log
/// reversion), and a vote from it could elect a candidate missing them. Asks every peer about
/// `groups`: a group whose leader agrees to replicate it from the beginning is `Allowed`; one
/// that some peer's log shows has had a leader is `Awaiting`; one no peer that answered knows
/// history of is `Fresh` (a cluster starting for the first time, or peers unreachable: new
/// only if every other member answered).
async fn rejoin(peers: &Peers, me: NodeId, groups: &[GroupId]) -> BTreeMap<GroupId, Rejoin> {
    let mut asks = Vec::new();
    for peer in peers.ids().collect::<Vec<_>>() {
        asks.push(peers.allow_revert(peer, me, groups, Duration::from_secs(2)));
    }
    let mut out = BTreeMap::new();
    let mut answered: BTreeMap<GroupId, usize> = BTreeMap::new();
    for reply in futures::future::join_all(asks).await.into_iter().flatten() {
        for &(group, _) in &reply.held {
            *answered.entry(group).or_default() += 1;
        }
        for (group, last_log) in reply.held.into_iter().filter(|&(_, last_log)| last_log > 0) {
            let r = out.entry(group).or_insert(Rejoin::Awaiting(0));
            if let Rejoin::Awaiting(last) = r {
                *last = (*last).max(last_log);
            }
        }
        for (group, last_log) in reply.allowed {
            out.insert(group, Rejoin::Allowed(last_log));
        }
    }
    for &g in groups {
        out.entry(g).or_insert(Rejoin::Fresh {
            answered: answered.get(&g).copied().unwrap_or(0),
        });
    }
    out
}

/// The groups a node that starts on an empty data directory may not treat as new, as `rejoin`
/// found them.
struct Rejoining {
    /// Groups whose leader replicates them to this node from the beginning, or that some peer
    /// shows have had a leader: their membership and data come from that leader, not from
    /// cluster.toml.
    rejoined: BTreeMap<GroupId, Rejoin>,
    /// Groups no peer that answered knows history of, while not every other member answered:
    /// a new cluster cannot be told from lost data yet.
    unconfirmed: BTreeSet<GroupId>,
}

impl Rejoining {
    /// Asks the peers about `groups` when this node's log is empty (nothing to ask otherwise).
    async fn ask(config: &Config, engine: &LogEngine, peers: &Peers, id: NodeId, groups: &[GroupId]) -> Rejoining {
        let asked = if engine.is_empty() {
            rejoin(peers, id, groups).await
        } else {
            BTreeMap::new()
        };
        let unconfirmed: BTreeSet<GroupId> = asked
            .iter()
            .filter(|&(&g, &r)| matches!(r, Rejoin::Fresh { .. }) && !r.fresh_by_all(config.group_size(g)))
            .map(|(&g, _)| g)
            .collect();
        let rejoined: BTreeMap<GroupId, Rejoin> = asked
            .into_iter()
            .filter(|(_, r)| !matches!(r, Rejoin::Fresh { .. }))
            .collect();
        if !unconfirmed.is_empty() {
            tracing::warn!(
                groups = ?unconfirmed,
                "empty data directory, and not every other member of these groups answers (as when the first node of a new cluster starts): a new cluster cannot be told from lost data yet, so the node grants no votes and takes no replication until they all do"
            );
        }
        if !rejoined.is_empty() {
            tracing::warn!(
                groups = ?rejoined,
                "empty data directory while the other nodes already hold these groups' logs (a node started after the others on a new cluster, or one that lost its data): each group's leader replicates it to this node from the beginning; until it has, the node grants no votes"
            );
        }
        Rejoining { rejoined, unconfirmed }
    }
}

/// Which replica a `Group::start` makes: of group `id`, on node `me`, and who should lead it.
struct Placement {
    me: NodeId,
    id: GroupId,
    preferred_leader: NodeId,
}

/// openraft's settings for every group, from cluster.toml.
fn raft_config(config: &Config) -> Result<Arc<openraft::Config>, StartError> {
    let raft_config = openraft::Config {
        cluster_name: "slotraft".into(),
        heartbeat_interval: config.heartbeat_ms,
        // openraft's leader lease is `election_timeout_max`, and a follower campaigns only once
        // the lease and then its randomised timeout have passed without a word from the leader:
        // 2.5–3 × election_timeout_ms. A narrow spread keeps that short; pre-vote already keeps
        // two followers' campaigns apart.
        election_timeout_min: config.election_timeout_ms,
        election_timeout_max: config.election_timeout_ms * 3 / 2,
        // openraft counts entries, and an entry may carry many writes (group commit): the node
        // asks for snapshots itself, by writes and keys (state_machine::snapshot_threshold,
        // tasks::snapshot_by_writes; every entry but a blank or a membership change holds a
        // write, so this bounds the entries too), and keeps at most a quarter of
        // `snapshot_every` entries behind a snapshot.
        snapshot_policy: openraft::SnapshotPolicy::Never,
        max_in_snapshot_log_to_keep: 1000.min(config.snapshot_every / 4),
        install_snapshot_timeout: 10_000,
        ..Default::default()
    };
    Ok(Arc::new(
        raft_config.validate().map_err(|e| StartError::Raft(e.to_string()))?,
    ))
}

/// The groups node `id` hosts: the metadata group, then cluster.toml's groups it is a member of.
fn local_groups(config: &Config, id: NodeId) -> Vec<GroupId> {
    std::iter::once(META_GROUP)
        .chain(config.groups.values().filter(|g| g.members.contains(&id)).map(|g| g.id))
        .collect()
}

/// Each local group's state machine, loaded from its newest snapshot, each on a thread of its
/// own: a restart's time is mostly reading snapshots, and groups need not wait for each other.
fn open_state_machines(
    config: &Config,
    id: NodeId,
    data_dir: &Path,
) -> BTreeMap<GroupId, Result<GroupStateMachine, StartError>> {
    let snap_dir = |g: GroupId| data_dir.join("snapshots").join(format!("group-{g}"));
    std::thread::scope(|scope| {
        let opening: Vec<_> = local_groups(config, id)
            .into_iter()
            .map(|g| {
                let dir = snap_dir(g);
                let every = SnapshotEvery {
                    writes: config.snapshot_every,
                    log_bytes: config.snapshot_log_bytes,
                };
                (g, scope.spawn(move || GroupStateMachine::open(g, &dir, every)))
            })
            .collect();
        opening
            .into_iter()
            .map(|(g, t)| {
                let opened = t
                    .join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("panicked while loading")));
                let opened = opened.map_err(|source| StartError::DataDir {
                    path: snap_dir(g),
                    source,
                });
                (g, opened)
            })
            .collect()
    })
}

impl Node {
    /// Opens the data directory, starts a Raft replica for every group this node is a member of
    /// (initialising pristine ones with the membership from the config), and spawns the
    /// background tasks. Serving RESP and gRPC is started by the caller.
    pub async fn start(config: Config, id: NodeId, data_dir: Option<PathBuf>) -> Result<Arc<Node>, StartError> {
        if !config.nodes.contains_key(&id) {
            return Err(StartError::UnknownNode(id));
        }
        let data_dir = data_dir.unwrap_or_else(|| config.data_dir.join(format!("node-{id}")));
        std::fs::create_dir_all(&data_dir).map_err(|source| StartError::DataDir {
            path: data_dir.clone(),
            source,
        })?;
        let engine =
            LogEngine::open(&data_dir.join("log"), config.fsync).map_err(|e| StartError::Log(e.to_string()))?;
        let peer_addrs = config
            .nodes
            .values()
            .filter(|n| n.id != id)
            .map(|n| (n.id, n.rpc))
            .collect();
        let auth = PeerAuth::new(&config, id).map_err(|e| StartError::Net(e.to_string()))?;
        let peers = Peers::new(&peer_addrs, auth).map_err(|e| StartError::Net(e.to_string()))?;
        let local = local_groups(&config, id);
        let rejoining = Rejoining::ask(&config, &engine, &peers, id, &local).await;
        let raft_config = raft_config(&config)?;
        let preferred = config.preferred_leaders();
        let mut groups = BTreeMap::new();
        for (g, sm) in open_state_machines(&config, id, &data_dir) {
            let preferred_leader = preferred.get(&g).copied().unwrap_or(config.members_of(g)[0]);
            let at = Placement {
                me: id,
                id: g,
                preferred_leader,
            };
            let group = Group::start(&config, at, sm?, &engine, &peers, &raft_config, &rejoining).await?;
            groups.insert(g, group);
        }
        tracing::info!(node = id, groups = ?local, dir = %data_dir.display(), "node started");

        let (shutdown_tx, _) = watch::channel(false);
        let tunables = Tunables::new(&config);
        let acl = acl::Acl::new(config.requirepass.as_deref());
        let disk = disk::DiskWatch::new(&data_dir, config.min_free_disk);
        disk.check();
        let node = Arc::new(Node {
            id,
            view: RwLock::new(View::from_config(&config, id)),
            leaders_changed: tokio::sync::Notify::new(),
            config,
            data_dir,
            groups,
            peers,
            engine,
            stats: Stats::default(),
            tunables,
            pubsub: pubsub::PubSub::default(),
            acl,
            clients: clients::Clients::default(),
            waiters: waiters::Waiters::default(),
            started: Instant::now(),
            next_client_id: AtomicU64::new(1),
            shutdown_tx,
            disk,
            failure: watch::channel(None).0,
        });
        tasks::spawn_all(&node);
        Ok(node)
    }

    /// This node's replica of `id`, if it hosts one.
    pub fn group(&self, id: GroupId) -> Option<&Group> {
        self.groups.get(&id)
    }

    /// Every group of slots this node hosts a replica of, by id (not the metadata group).
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values().filter(|g| g.id != META_GROUP)
    }

    /// This node's replica of the metadata group (every node hosts one).
    pub fn meta(&self) -> &Group {
        &self.groups[&META_GROUP]
    }

    /// Whether this node hosts a replica of `id`.
    pub fn hosts(&self, id: GroupId) -> bool {
        self.groups.contains_key(&id)
    }

    /// Where this node keeps its log and snapshots.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The node's log engine, shared by all its groups.
    pub fn log_engine(&self) -> &LogEngine {
        &self.engine
    }

    /// How long the node has been up.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A receiver that turns true when the node is shutting down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    /// The data directory's free-disk watermark: writes that may grow the data ask it first.
    pub fn disk(&self) -> &disk::DiskWatch {
        &self.disk
    }

    /// Records why the node cannot go on (the first reason stays), and says it at error level.
    fn fail(&self, reason: String) {
        tracing::error!("{reason}; the node stops so that it is restarted rather than serve on without it");
        self.failure.send_if_modified(|f| {
            let first = f.is_none();
            if first {
                *f = Some(reason);
            }
            first
        });
    }

    /// Resolves, with the reason, once the node cannot go on: a group's Raft core stopped (a
    /// storage error in its log or its snapshots, a panic) or the log engine failed. A node
    /// serving on with a dead group would refuse that group's commands for good while looking
    /// alive; the caller exits instead, so that a supervisor restarts it.
    pub async fn failed(&self) -> String {
        let mut rx = self.failure.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            // The sender lives as long as the node.
            Err(_) => std::future::pending().await,
        }
    }

    /// Stops the Raft groups and tells every task to end.
    pub async fn shutdown(&self) {
        let _ = self.shutdown_tx.send(true);
        for g in self.groups.values() {
            let _ = g.raft.shutdown().await;
        }
    }

    /// Keys in this node's groups (DBSIZE counts the groups this node leads, like a Redis
    /// Cluster master counts its own slots).
    pub fn dbsize(&self) -> usize {
        let view = self.view.read();
        self.groups
            .values()
            .filter(|g| view.groups.get(&g.id).is_some_and(|gi| gi.leader == Some(self.id)))
            .map(Group::keys)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::Rejoin;

    #[test]
    fn a_group_is_new_only_when_every_other_member_answered() {
        // Three members: this replica and two others.
        assert!(Rejoin::Fresh { answered: 2 }.fresh_by_all(3));
        // One of the others unreachable: it may be the only one holding the group's log.
        assert!(!Rejoin::Fresh { answered: 1 }.fresh_by_all(3));
        assert!(!Rejoin::Fresh { answered: 0 }.fresh_by_all(3));
        assert!(!Rejoin::Fresh { answered: 3 }.fresh_by_all(5));
        assert!(Rejoin::Fresh { answered: 0 }.fresh_by_all(1));
        // A group that has had a leader is never new.
        assert!(!Rejoin::Awaiting(7).fresh_by_all(3));
        assert!(!Rejoin::Allowed(7).fresh_by_all(3));
    }
}
