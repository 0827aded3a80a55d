//! The node's Raft log engine: one durable store (fjall) shared by every group on the node,
//! with one writer thread doing group commit — it drains all groups' appends, votes,
//! truncations and purges, writes them as one batch, fsyncs once, then completes each
//! request. Each group keeps its unpurged entries in memory too, so entries are readable as
//! soon as `append` returns (openraft's contract) and replication reads never touch disk.
//!
//! A failed write or fsync is fatal: the engine is poisoned, never retries, and fails every
//! later request; the node then stops rather than acknowledge anything not durable.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use openraft::OptionalSend;
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use parking_lot::Mutex;
use serde::Deserialize;
use tokio::sync::{oneshot, watch};

use crate::raft::types::{Entry, GroupId, LogId, TypeConfig, Vote};

/// When the log is fsynced (cluster.toml `fsync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// Before any append is reported durable: an acknowledged write is on a majority's disks.
    Always,
    /// At most once a second (votes always at once); writes reach the OS immediately.
    EverySec,
}

/// Why the engine could not open.
#[derive(Debug, thiserror::Error)]
pub enum LogEngineError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("corrupt log record for group {group}: {reason}")]
    Corrupt { group: GroupId, reason: String },
}

/// One change to the durable store.
#[derive(Debug, Clone)]
pub enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

/// The durable store under the writer thread; fjall here, and a fault-injecting twin in tests.
pub trait LogBackend: Send + 'static {
    /// Every stored record, for recovery at open.
    fn load(&mut self) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Applies the ops atomically, written to the OS but not necessarily synced.
    fn write(&mut self, ops: &[Op]) -> io::Result<()>;
    /// Makes everything written so far durable.
    fn sync(&mut self) -> io::Result<()>;
}

/// fjall: one keyspace, keys `group ++ kind ++ [index]`.
pub struct FjallBackend {
    db: fjall::Database,
    ks: fjall::Keyspace,
}

impl FjallBackend {
    pub fn open(dir: &Path) -> io::Result<FjallBackend> {
        std::fs::create_dir_all(dir)?;
        // The log is read back only when the node starts (each group keeps its unpurged entries
        // in memory), so fjall needs little memory of its own: small memtables (its default, 64
        // MiB, is held twice while one is flushed) and a small block cache.
        let db = fjall::Database::builder(dir)
            .manual_journal_persist(true)
            .cache_size(4 * 1024 * 1024)
            .open()
            .map_err(io::Error::other)?;
        let ks = db
            .keyspace("raft", || {
                fjall::KeyspaceCreateOptions::default().max_memtable_size(8 * 1024 * 1024)
            })
            .map_err(io::Error::other)?;
        Ok(FjallBackend { db, ks })
    }
}

impl LogBackend for FjallBackend {
    fn load(&mut self) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        for item in self.ks.iter() {
            let (k, v) = item.into_inner().map_err(io::Error::other)?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn write(&mut self, ops: &[Op]) -> io::Result<()> {
        let mut batch = self.db.batch().durability(None);
        for op in ops {
            match op {
                Op::Put(k, v) => batch.insert(&self.ks, k.as_slice(), v.as_slice()),
                Op::Delete(k) => batch.remove(&self.ks, k.as_slice()),
            }
        }
        batch.commit().map_err(io::Error::other)?;
        self.db.persist(fjall::PersistMode::Buffer).map_err(io::Error::other)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.db.persist(fjall::PersistMode::SyncAll).map_err(io::Error::other)
    }
}

const KIND_ENTRY: u8 = b'e';
const KIND_VOTE: u8 = b'v';
const KIND_COMMITTED: u8 = b'c';
const KIND_PURGED: u8 = b'p';

fn key(group: GroupId, kind: u8, index: Option<u64>) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.extend_from_slice(&group.to_be_bytes());
    k.push(kind);
    if let Some(i) = index {
        k.extend_from_slice(&i.to_be_bytes());
    }
    k
}

fn encode<T: serde::Serialize>(v: &T) -> io::Result<Vec<u8>> {
    postcard::to_allocvec(v).map_err(io::Error::other)
}

/// What completes when a write request is done.
enum Done {
    Nothing,
    Flushed(IOFlushed<TypeConfig>),
    Reply(oneshot::Sender<io::Result<()>>),
}

impl Done {
    fn complete(self, r: io::Result<()>) {
        match self {
            Done::Nothing => {}
            Done::Flushed(cb) => cb.io_completed(r),
            Done::Reply(tx) => {
                let _ = tx.send(r);
            }
        }
    }
}

struct WriteRequest {
    ops: Vec<Op>,
    /// Must be fsynced before completing, whatever the policy (votes).
    sync: bool,
    done: Done,
}

/// Counters for INFO and for checking that group commit batches.
#[derive(Default, Debug)]
pub struct EngineStats {
    pub requests: AtomicU64,
    pub batches: AtomicU64,
    pub syncs: AtomicU64,
    pub entries: AtomicU64,
}

#[derive(Default)]
struct GroupState {
    vote: Option<Vote>,
    committed: Option<LogId>,
    purged: Option<LogId>,
    entries: BTreeMap<u64, Entry>,
}

/// One node's log engine, shared by all its groups.
pub struct LogEngine {
    tx: Mutex<mpsc::Sender<WriteRequest>>,
    groups: Mutex<BTreeMap<GroupId, Arc<Mutex<GroupState>>>>,
    poisoned: watch::Receiver<bool>,
    pub stats: Arc<EngineStats>,
}

impl LogEngine {
    /// Opens (or creates) the fjall store in `dir` and starts the writer thread.
    pub fn open(dir: &Path, fsync: FsyncPolicy) -> Result<Arc<LogEngine>, LogEngineError> {
        LogEngine::with_backend(Box::new(FjallBackend::open(dir)?), fsync)
    }

    /// Starts an engine on any backend (tests plug in faulty ones).
    pub fn with_backend(
        mut backend: Box<dyn LogBackend>,
        fsync: FsyncPolicy,
    ) -> Result<Arc<LogEngine>, LogEngineError> {
        let mut groups: BTreeMap<GroupId, GroupState> = BTreeMap::new();
        for (k, v) in backend.load()? {
            if k.len() < 9 {
                continue;
            }
            let group = u64::from_be_bytes(k[..8].try_into().unwrap_or_default());
            let corrupt = |e: postcard::Error| LogEngineError::Corrupt {
                group,
                reason: e.to_string(),
            };
            let g = groups.entry(group).or_default();
            match k[8] {
                KIND_ENTRY => {
                    let e: Entry = postcard::from_bytes(&v).map_err(corrupt)?;
                    g.entries.insert(e.log_id.index, e);
                }
                KIND_VOTE => g.vote = Some(postcard::from_bytes(&v).map_err(corrupt)?),
                KIND_COMMITTED => g.committed = postcard::from_bytes(&v).map_err(corrupt)?,
                KIND_PURGED => g.purged = postcard::from_bytes(&v).map_err(corrupt)?,
                _ => {}
            }
        }
        // Entries at or below the purge point may survive a crash between the two halves of a
        // purge batch's effect in the tree; they are dropped here so the log has no hole.
        for g in groups.values_mut() {
            if let Some(p) = g.purged {
                g.entries = g.entries.split_off(&(p.index + 1));
            }
        }
        let (tx, rx) = mpsc::channel();
        let (poison_tx, poisoned) = watch::channel(false);
        let stats = Arc::new(EngineStats::default());
        let writer_stats = stats.clone();
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || writer(backend, rx, fsync, poison_tx, writer_stats))?;
        let groups = groups
            .into_iter()
            .map(|(id, g)| (id, Arc::new(Mutex::new(g))))
            .collect();
        Ok(Arc::new(LogEngine {
            tx: Mutex::new(tx),
            groups: Mutex::new(groups),
            poisoned,
            stats,
        }))
    }

    /// The handle through which one group's Raft reads and writes its log.
    pub fn group(self: &Arc<Self>, group: GroupId) -> Result<GroupLog, LogEngineError> {
        let state = self.groups.lock().entry(group).or_default().clone();
        Ok(GroupLog {
            group,
            state,
            engine: self.clone(),
        })
    }

    /// Resolves when a write or fsync has failed: the node must stop.
    pub async fn poisoned(&self) {
        let mut rx = self.poisoned.clone();
        let _ = rx.wait_for(|p| *p).await;
    }

    pub fn is_poisoned(&self) -> bool {
        *self.poisoned.borrow()
    }

    fn submit(&self, ops: Vec<Op>, sync: bool, done: Done) {
        if self.is_poisoned() {
            done.complete(Err(poisoned_error()));
            return;
        }
        let req = WriteRequest { ops, sync, done };
        if let Err(mpsc::SendError(req)) = self.tx.lock().send(req) {
            req.done.complete(Err(poisoned_error()));
        }
    }

    /// Writes `ops` and waits until they are durable as the policy (or `sync`) requires.
    pub async fn submit_and_wait(&self, ops: Vec<Op>, sync: bool) -> io::Result<()> {
        let (tx, rx) = oneshot::channel();
        self.submit(ops, sync, Done::Reply(tx));
        rx.await.unwrap_or_else(|_| Err(poisoned_error()))
    }
}

fn poisoned_error() -> io::Error {
    io::Error::other("log engine is poisoned after a failed write or fsync")
}

/// The writer thread: drain, write once, sync once, complete all.
fn writer(
    mut backend: Box<dyn LogBackend>,
    rx: mpsc::Receiver<WriteRequest>,
    fsync: FsyncPolicy,
    poison: watch::Sender<bool>,
    stats: Arc<EngineStats>,
) {
    let mut unsynced = false;
    let mut last_sync = Instant::now();
    let mut dead = false;
    loop {
        let first = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(r) => Some(r),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        let mut batch: Vec<WriteRequest> = first.into_iter().collect();
        while batch.len() < 4096 {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        if dead {
            batch.into_iter().for_each(|r| r.done.complete(Err(poisoned_error())));
            continue;
        }
        let mut result = Ok(());
        if !batch.is_empty() {
            stats.requests.fetch_add(batch.len() as u64, Ordering::Relaxed);
            stats.batches.fetch_add(1, Ordering::Relaxed);
            let ops: Vec<Op> = batch.iter_mut().flat_map(|r| std::mem::take(&mut r.ops)).collect();
            result = backend.write(&ops);
            unsynced = true;
        }
        let must_sync = batch.iter().any(|r| r.sync)
            || (fsync == FsyncPolicy::Always && !batch.is_empty())
            || (unsynced && last_sync.elapsed() >= Duration::from_secs(1));
        if result.is_ok() && must_sync && unsynced {
            result = backend.sync();
            stats.syncs.fetch_add(1, Ordering::Relaxed);
            unsynced = false;
            last_sync = Instant::now();
        }
        if let Err(e) = &result {
            tracing::error!("log engine write failed, poisoning the engine: {e}");
            dead = true;
            let _ = poison.send(true);
            batch.into_iter().for_each(|r| r.done.complete(Err(poisoned_error())));
            continue;
        }
        batch.into_iter().for_each(|r| r.done.complete(Ok(())));
    }
}

/// One group's log: memory for reads, the engine's writer for durability. Cheap to clone.
#[derive(Clone)]
pub struct GroupLog {
    group: GroupId,
    state: Arc<Mutex<GroupState>>,
    engine: Arc<LogEngine>,
}

impl GroupLog {
    pub fn last_log_index(&self) -> Option<u64> {
        self.state.lock().entries.keys().next_back().copied()
    }

    pub fn last_purged_index(&self) -> Option<u64> {
        self.state.lock().purged.map(|p| p.index)
    }
}

impl RaftLogReader<TypeConfig> for GroupLog {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        let start = match range.start_bound() {
            Bound::Included(&s) => Bound::Included(s),
            Bound::Excluded(&s) => Bound::Excluded(s),
            Bound::Unbounded => Bound::Unbounded,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => Bound::Included(e),
            Bound::Excluded(&e) => Bound::Excluded(e),
            Bound::Unbounded => Bound::Unbounded,
        };
        if let (Bound::Included(s) | Bound::Excluded(s), Bound::Excluded(e)) = (start, end)
            && s >= e
        {
            return Ok(Vec::new());
        }
        Ok(self
            .state
            .lock()
            .entries
            .range((start, end))
            .map(|(_, e)| e.clone())
            .collect())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        Ok(self.state.lock().vote)
    }
}

impl RaftLogStorage<TypeConfig> for GroupLog {
    type LogReader = GroupLog;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let s = self.state.lock();
        let last = s.entries.values().next_back().map(|e| e.log_id).or(s.purged);
        Ok(LogState {
            last_purged_log_id: s.purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        let op = Op::Put(key(self.group, KIND_VOTE, None), encode(vote)?);
        self.state.lock().vote = Some(*vote);
        self.engine.submit_and_wait(vec![op], true).await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        let op = Op::Put(key(self.group, KIND_COMMITTED, None), encode(&committed)?);
        self.state.lock().committed = committed;
        self.engine.submit(vec![op], false, Done::Nothing);
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        Ok(self.state.lock().committed)
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<TypeConfig>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut ops = Vec::new();
        {
            let mut s = self.state.lock();
            for e in entries {
                ops.push(Op::Put(key(self.group, KIND_ENTRY, Some(e.log_id.index)), encode(&e)?));
                s.entries.insert(e.log_id.index, e);
            }
        }
        self.engine.stats.entries.fetch_add(ops.len() as u64, Ordering::Relaxed);
        self.engine.submit(ops, false, Done::Flushed(callback));
        Ok(())
    }

    async fn truncate_after(&mut self, last: Option<LogId>) -> Result<(), io::Error> {
        let from = last.map_or(0, |l| l.index + 1);
        let removed = self.state.lock().entries.split_off(&from);
        // Newest first, so a partial effect never leaves a hole.
        let ops = removed
            .keys()
            .rev()
            .map(|&i| Op::Delete(key(self.group, KIND_ENTRY, Some(i))))
            .collect();
        self.engine.submit_and_wait(ops, false).await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        let mut ops = vec![Op::Put(key(self.group, KIND_PURGED, None), encode(&Some(log_id))?)];
        {
            let mut s = self.state.lock();
            if s.purged.is_some_and(|p| p.index >= log_id.index) {
                return Ok(());
            }
            s.purged = Some(log_id);
            let keep = s.entries.split_off(&(log_id.index + 1));
            let removed = std::mem::replace(&mut s.entries, keep);
            ops.extend(
                removed
                    .keys()
                    .map(|&i| Op::Delete(key(self.group, KIND_ENTRY, Some(i)))),
            );
        }
        self.engine.submit(ops, false, Done::Nothing);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::state_machine::GroupStateMachine;
    use openraft::StorageError;
    use openraft::testing::log::{StoreBuilder, Suite};

    struct Builder;

    impl StoreBuilder<TypeConfig, GroupLog, GroupStateMachine, tempfile::TempDir> for Builder {
        async fn build(&self) -> Result<(tempfile::TempDir, GroupLog, GroupStateMachine), StorageError<TypeConfig>> {
            let dir = tempfile::tempdir().unwrap();
            let engine = LogEngine::open(&dir.path().join("log"), FsyncPolicy::Always).unwrap();
            let log = engine.group(7).unwrap();
            let sm = GroupStateMachine::open(7, &dir.path().join("snap")).unwrap();
            Ok((dir, log, sm))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn openraft_storage_suite() {
        Suite::test_all(Builder).await.unwrap();
    }

    fn blank(term: u64, index: u64) -> Entry {
        use openraft::entry::RaftEntry;
        Entry::new_blank(openraft::testing::log_id::<TypeConfig>(term, 1, index))
    }

    async fn append(log: &mut GroupLog, entries: Vec<Entry>) -> io::Result<()> {
        use openraft::type_config::TypeConfigExt;
        let (tx, rx) = TypeConfig::oneshot();
        log.append(entries, IOFlushed::signal(tx)).await?;
        rx.await.map_err(io::Error::other)?
    }

    #[tokio::test]
    async fn reopen_restores_vote_entries_and_purge_point() {
        let dir = tempfile::tempdir().unwrap();
        {
            let engine = LogEngine::open(dir.path(), FsyncPolicy::Always).unwrap();
            let mut log = engine.group(1).unwrap();
            let mut other = engine.group(2).unwrap();
            log.save_vote(&Vote::new(3, 1)).await.unwrap();
            append(&mut log, (1..=10).map(|i| blank(3, i)).collect()).await.unwrap();
            append(&mut other, vec![blank(1, 1)]).await.unwrap();
            log.purge(openraft::testing::log_id::<TypeConfig>(3, 1, 4))
                .await
                .unwrap();
            log.truncate_after(Some(openraft::testing::log_id::<TypeConfig>(3, 1, 8)))
                .await
                .unwrap();
        }
        let engine = LogEngine::open(dir.path(), FsyncPolicy::Always).unwrap();
        let mut log = engine.group(1).unwrap();
        assert_eq!(log.read_vote().await.unwrap(), Some(Vote::new(3, 1)));
        let state = log.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id.map(|l| l.index), Some(4));
        assert_eq!(state.last_log_id.map(|l| l.index), Some(8));
        let got: Vec<u64> = log
            .try_get_log_entries(0..100)
            .await
            .unwrap()
            .iter()
            .map(|e| e.log_id.index)
            .collect();
        assert_eq!(got, (5..=8).collect::<Vec<_>>());
        assert_eq!(engine.group(2).unwrap().last_log_index(), Some(1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_groups_share_fsyncs() {
        let dir = tempfile::tempdir().unwrap();
        let engine = LogEngine::open(dir.path(), FsyncPolicy::Always).unwrap();
        let mut tasks = Vec::new();
        for g in 0..16u64 {
            let mut log = engine.group(g).unwrap();
            tasks.push(tokio::spawn(async move {
                for i in 1..=20 {
                    append(&mut log, vec![blank(1, i)]).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let appends = 16 * 20;
        let syncs = engine.stats.syncs.load(Ordering::Relaxed);
        assert!(syncs < appends, "group commit: {syncs} fsyncs for {appends} appends");
    }

    /// A backend whose writes start failing on demand.
    struct FailingBackend(Arc<std::sync::atomic::AtomicBool>);

    impl LogBackend for FailingBackend {
        fn load(&mut self) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
            Ok(Vec::new())
        }
        fn write(&mut self, _ops: &[Op]) -> io::Result<()> {
            Ok(())
        }
        fn sync(&mut self) -> io::Result<()> {
            if self.0.load(Ordering::Relaxed) {
                Err(io::Error::other("injected fsync failure"))
            } else {
                Ok(())
            }
        }
    }

    #[tokio::test]
    async fn failed_fsync_poisons_the_engine_for_good() {
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let engine = LogEngine::with_backend(Box::new(FailingBackend(fail.clone())), FsyncPolicy::Always).unwrap();
        let mut log = engine.group(1).unwrap();
        append(&mut log, vec![blank(1, 1)]).await.unwrap();
        fail.store(true, Ordering::Relaxed);
        assert!(append(&mut log, vec![blank(1, 2)]).await.is_err());
        engine.poisoned().await;
        fail.store(false, Ordering::Relaxed);
        assert!(
            append(&mut log, vec![blank(1, 3)]).await.is_err(),
            "no retry after a failed fsync"
        );
        assert!(log.save_vote(&Vote::new(2, 1)).await.is_err());
    }
}
