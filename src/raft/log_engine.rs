//! The node's Raft log engine: one durable store (fjall) shared by every group on the node,
//! with one writer thread doing group commit — it drains all groups' appends, votes,
//! truncations and purges, writes them as one batch, fsyncs once, then completes each
//! request.
//!
//! Each group keeps only its recent entries in memory (a bounded cache): entries are readable
//! as soon as `append` returns (openraft's contract), and replication of fresh entries never
//! touches the disk; an older entry is read back from the store. An entry leaves the cache
//! only once the writer has written it, so every entry is always in one of the two. Opening
//! the engine reads each group's vote, commit and purge records and its last entry, not the
//! whole log.
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

use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{EntryPayload, OptionalSend};
use parking_lot::Mutex;
use tokio::sync::{oneshot, watch};

use crate::raft::journal_ahead::JournalAhead;
use crate::raft::types::{Entry, GroupId, LogId, TypeConfig, Vote};

pub use crate::config::FsyncPolicy;

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

/// The durable store under the writer thread; fjall here, and fault-injecting twins in tests.
pub trait LogBackend: Send + 'static {
    /// Applies the ops atomically, written to the OS but not necessarily synced. What a write
    /// returned from is visible to `reader()` at once.
    fn write(&mut self, ops: &[Op]) -> io::Result<()>;
    /// Makes everything written so far durable.
    fn sync(&mut self) -> io::Result<()>;
    /// Reads for other threads while the writer thread owns the backend.
    fn reader(&self) -> Arc<dyn LogRead>;
}

/// Reading the durable store: recovery at open, and entries that left the memory cache.
pub trait LogRead: Send + Sync {
    /// Records with keys in `[from, to)`, in key order, at most `limit` of them: the first
    /// ones, or the last ones (still in key order) when `from_end`.
    fn scan(&self, from: &[u8], to: &[u8], from_end: bool, limit: usize) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>>;
}

/// Tables flushed from memory that fjall keeps side by side before it merges them (its default
/// is 4): most of a log is purged within a few snapshot intervals, so a later merge rewrites less.
const L0_TABLES_BEFORE_COMPACTION: u8 = 16;

/// fjall: one keyspace, keys `group ++ kind ++ [index]`.
pub struct FjallBackend {
    db: fjall::Database,
    ks: fjall::Keyspace,
    /// The journal written out ahead of fjall's appends (`journal_ahead`).
    ahead: JournalAhead,
}

impl FjallBackend {
    pub fn open(dir: &Path) -> io::Result<FjallBackend> {
        std::fs::create_dir_all(dir)?;
        // Entries are read back only when they have left the cache (a lagging follower, replay
        // at start), so fjall needs little memory: small memtables (its default, 64 MiB, is held
        // twice while one is flushed) and a small block cache. One background worker: with more,
        // fjall 3.1's first worker spins re-queueing compaction requests for the others.
        let db = fjall::Database::builder(dir)
            .manual_journal_persist(true)
            .cache_size(4 * 1024 * 1024)
            .worker_threads(1)
            .open()
            .map_err(io::Error::other)?;
        let ks = db
            .keyspace("raft", || {
                fjall::KeyspaceCreateOptions::default()
                    .max_memtable_size(8 * 1024 * 1024)
                    // Entries (a batch of writes each, most over 1 KiB) go to blob files when
                    // their memtable is flushed, and the tables keep their keys and where they
                    // lie: a merge of tables rewrites those pointers, not the entries again,
                    // and a blob file whose entries have all been purged is deleted whole.
                    // Uncompressed: values are the users' bytes. Blob
                    // files of 16 MiB at most (fjall's default is 64), so a file holding both
                    // purged and live entries is small. A keyspace keeps the options it was
                    // created with: a data directory made before this keeps its layout.
                    .with_kv_separation(Some(
                        fjall::KvSeparationOptions::default()
                            .compression(fjall::CompressionType::None)
                            .separation_threshold(64)
                            .file_target_size(16 * 1024 * 1024),
                    ))
                    .compaction_strategy(Arc::new(
                        fjall::compaction::Leveled::default().with_l0_threshold(L0_TABLES_BEFORE_COMPACTION),
                    ))
            })
            .map_err(io::Error::other)?;
        let ahead = JournalAhead::new(dir);
        Ok(FjallBackend { db, ks, ahead })
    }
}

impl LogBackend for FjallBackend {
    fn write(&mut self, ops: &[Op]) -> io::Result<()> {
        let mut batch = self.db.batch().durability(None);
        let mut bytes = 0;
        for op in ops {
            match op {
                Op::Put(k, v) => {
                    bytes += k.len() + v.len();
                    batch.insert(&self.ks, k.as_slice(), v.as_slice());
                }
                Op::Delete(k) => {
                    bytes += k.len();
                    batch.remove(&self.ks, k.as_slice());
                }
            }
        }
        batch.commit().map_err(io::Error::other)?;
        self.db.persist(fjall::PersistMode::Buffer).map_err(io::Error::other)?;
        self.ahead.wrote(bytes);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        // fdatasync: the data and what finding it needs (size, block map), without the inode's
        // timestamps — one device write fewer for most syncs of the preallocated journal.
        self.db.persist(fjall::PersistMode::SyncData).map_err(io::Error::other)
    }

    fn reader(&self) -> Arc<dyn LogRead> {
        Arc::new(FjallRead(self.ks.clone()))
    }
}

struct FjallRead(fjall::Keyspace);

impl LogRead for FjallRead {
    fn scan(&self, from: &[u8], to: &[u8], from_end: bool, limit: usize) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let pair = |item: fjall::Guard| {
            item.into_inner()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(io::Error::other)
        };
        let range = self.0.range(from..to);
        if from_end {
            let mut out = range.rev().take(limit).map(pair).collect::<io::Result<Vec<_>>>()?;
            out.reverse();
            Ok(out)
        } else {
            range.take(limit).map(pair).collect()
        }
    }
}

const KIND_ENTRY: u8 = b'e';
const KIND_VOTE: u8 = b'v';
const KIND_COMMITTED: u8 = b'c';
const KIND_PURGED: u8 = b'p';

/// Most entries, and most encoded bytes, a group keeps in memory beyond those not yet written.
const CACHE_ENTRIES: usize = 8192;
const CACHE_BYTES: usize = 1 << 20;

fn key(group: GroupId, kind: u8, index: Option<u64>) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.extend_from_slice(&group.to_be_bytes());
    k.push(kind);
    if let Some(i) = index {
        k.extend_from_slice(&i.to_be_bytes());
    }
    k
}

/// The key just past every entry key of `group`.
fn entries_end(group: GroupId) -> Vec<u8> {
    key(group, KIND_ENTRY + 1, None)
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

/// How soon a request's ops must be on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Fsynced before the request completes, whatever the policy (votes).
    Now,
    /// As the `fsync` policy says (entries, truncations, purges).
    Policy,
    /// Written at once, made durable by whatever fsync comes next; never the cause of one.
    /// For records whose loss costs only work (the commit index: a restarted node applies
    /// up to an older one and learns the rest from its leader). Under `fsync = "always"` a
    /// batch of commit records alone used to be fsynced too: with one client, every write
    /// cost each node two fsyncs instead of one.
    Lazy,
}

struct WriteRequest {
    ops: Vec<Op>,
    durability: Durability,
    /// Once written: how far the group's log is in the store (`Written`), so the cache may
    /// let go of those entries.
    written: Option<(Arc<Written>, u64)>,
    done: Done,
    /// When it was made: its wait for the writer counts in `EngineStats::queue_us`.
    made: Instant,
}

/// One past the highest entry index of a group the writer has written (0: none). Requests of
/// one group are written in the order they were made, so a plain store keeps it right, also
/// across a truncation (which lowers it).
#[derive(Default)]
struct Written(AtomicU64);

/// Counters for INFO and for checking that group commit batches.
#[derive(Default, Debug)]
pub struct EngineStats {
    pub requests: AtomicU64,
    pub batches: AtomicU64,
    pub syncs: AtomicU64,
    pub entries: AtomicU64,
    /// Entries read back from the store because they had left the cache.
    pub disk_reads: AtomicU64,
    /// Microseconds the requests waited, all together, from being made until the writer began
    /// the batch that took them (behind the write and fsync of the batch before).
    pub queue_us: AtomicU64,
    /// Microseconds the writer spent writing batches, and in fsync.
    pub write_us: AtomicU64,
    pub sync_us: AtomicU64,
}

#[derive(Default)]
struct GroupState {
    vote: Option<Vote>,
    committed: Option<LogId>,
    purged: Option<LogId>,
    /// The last entry's id, in the cache or only in the store.
    last: Option<LogId>,
    /// Recent entries with their encoded sizes.
    cache: BTreeMap<u64, (Entry, usize)>,
    cache_bytes: usize,
}

impl GroupState {
    /// Drops the oldest cached entries beyond the cache's bounds, if they are in the store.
    fn evict(&mut self, written: &Written) {
        let written = written.0.load(Ordering::Acquire);
        while self.cache.len() > CACHE_ENTRIES || self.cache_bytes > CACHE_BYTES {
            let Some(mut first) = self.cache.first_entry() else {
                break;
            };
            if *first.key() >= written {
                break;
            }
            self.cache_bytes -= first.get_mut().1;
            first.remove();
        }
    }

    fn uncache_from(&mut self, from: u64) {
        let removed = self.cache.split_off(&from);
        self.cache_bytes -= removed.values().map(|(_, n)| n).sum::<usize>();
    }

    fn uncache_through(&mut self, through: u64) {
        let keep = self.cache.split_off(&(through + 1));
        let removed = std::mem::replace(&mut self.cache, keep);
        self.cache_bytes -= removed.values().map(|(_, n)| n).sum::<usize>();
    }
}

struct GroupShared {
    state: Mutex<GroupState>,
    written: Arc<Written>,
}

/// One node's log engine, shared by all its groups.
pub struct LogEngine {
    tx: Mutex<mpsc::Sender<WriteRequest>>,
    /// Lazy records waiting for the writer's next batch (`Durability::Lazy`), the latest per key.
    lazy: Arc<Mutex<BTreeMap<Vec<u8>, Vec<u8>>>>,
    store: Arc<dyn LogRead>,
    groups: Mutex<BTreeMap<GroupId, Arc<GroupShared>>>,
    poisoned: watch::Receiver<bool>,
    pub stats: Arc<EngineStats>,
}

/// Reads one group's records at open: vote, commit and purge points, and its last entry.
fn recover_group(store: &dyn LogRead, group: GroupId) -> Result<GroupState, LogEngineError> {
    let corrupt = |e: postcard::Error| LogEngineError::Corrupt {
        group,
        reason: e.to_string(),
    };
    let record = |kind: u8| -> io::Result<Option<Vec<u8>>> {
        let k = key(group, kind, None);
        let mut end = k.clone();
        end.push(0);
        Ok(store.scan(&k, &end, false, 1)?.pop().map(|(_, v)| v))
    };
    let mut g = GroupState::default();
    if let Some(v) = record(KIND_VOTE)? {
        g.vote = Some(postcard::from_bytes(&v).map_err(corrupt)?);
    }
    if let Some(v) = record(KIND_COMMITTED)? {
        g.committed = postcard::from_bytes(&v).map_err(corrupt)?;
    }
    if let Some(v) = record(KIND_PURGED)? {
        g.purged = postcard::from_bytes(&v).map_err(corrupt)?;
    }
    let last = store.scan(&key(group, KIND_ENTRY, Some(0)), &entries_end(group), true, 1)?;
    if let Some((_, v)) = last.first() {
        let e: Entry = postcard::from_bytes(v).map_err(corrupt)?;
        // A purge and its deletions are one atomic batch: entries at or below the purge
        // point are never left behind, but a log wholly purged has no last entry of its own.
        g.last = Some(e.log_id).filter(|l| g.purged.is_none_or(|p| l.index > p.index));
    }
    Ok(g)
}

impl LogEngine {
    /// Opens (or creates) the fjall store in `dir` and starts the writer thread.
    pub fn open(dir: &Path, fsync: FsyncPolicy) -> Result<Arc<LogEngine>, LogEngineError> {
        LogEngine::with_backend(Box::new(FjallBackend::open(dir)?), fsync)
    }

    /// Starts an engine on any backend (tests plug in faulty ones).
    pub fn with_backend(backend: Box<dyn LogBackend>, fsync: FsyncPolicy) -> Result<Arc<LogEngine>, LogEngineError> {
        let store = backend.reader();
        // Every group with a record: skip from one group's first key to the next group.
        let mut groups = BTreeMap::new();
        let mut from = Vec::new();
        while let Some((k, _)) = store.scan(&from, &[0xff; 9], false, 1)?.pop() {
            let Some(id) = k.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes) else {
                from = k;
                from.push(0);
                continue;
            };
            let state = recover_group(&*store, id)?;
            // Everything written so far is in the store.
            let written = Arc::new(Written(AtomicU64::new(state.last.map_or(0, |l| l.index + 1))));
            groups.insert(
                id,
                Arc::new(GroupShared {
                    state: Mutex::new(state),
                    written,
                }),
            );
            match id.checked_add(1) {
                Some(next) => from = next.to_be_bytes().to_vec(),
                None => break,
            }
        }
        let (tx, rx) = mpsc::channel();
        let (poison_tx, poisoned) = watch::channel(false);
        let stats = Arc::new(EngineStats::default());
        let writer_stats = stats.clone();
        let lazy = Arc::new(Mutex::new(BTreeMap::new()));
        let writer_lazy = lazy.clone();
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || writer(backend, rx, &writer_lazy, fsync, poison_tx, writer_stats))?;
        Ok(Arc::new(LogEngine {
            tx: Mutex::new(tx),
            lazy,
            store,
            groups: Mutex::new(groups),
            poisoned,
            stats,
        }))
    }

    /// True when the store held nothing at open and no group has been opened since: a new
    /// data directory (or a wiped one).
    pub fn is_empty(&self) -> bool {
        self.groups.lock().is_empty()
    }

    /// The handle through which one group's Raft reads and writes its log.
    pub fn group(self: &Arc<Self>, group: GroupId) -> Result<GroupLog, LogEngineError> {
        let shared = self
            .groups
            .lock()
            .entry(group)
            .or_insert_with(|| {
                Arc::new(GroupShared {
                    state: Mutex::new(GroupState::default()),
                    written: Arc::default(),
                })
            })
            .clone();
        Ok(GroupLog {
            group,
            shared,
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

    fn submit(&self, req: WriteRequest) {
        if self.is_poisoned() {
            req.done.complete(Err(poisoned_error()));
            return;
        }
        if let Err(mpsc::SendError(req)) = self.tx.lock().send(req) {
            req.done.complete(Err(poisoned_error()));
        }
    }

    fn submit_ops(&self, ops: Vec<Op>, durability: Durability, done: Done) {
        // A lazy record nobody waits for does not wake the writer: it goes with the writer's
        // next batch, or within its idle timeout. Under unpipelined SETs a quarter of the
        // writer's batches held commit records alone: a wake-up and a write each, for nothing
        // that had to reach the disk then.
        if durability == Durability::Lazy
            && matches!(done, Done::Nothing)
            && ops.iter().all(|op| matches!(op, Op::Put(..)))
            && !self.is_poisoned()
        {
            let mut lazy = self.lazy.lock();
            for op in ops {
                if let Op::Put(k, v) = op {
                    lazy.insert(k, v);
                }
            }
            return;
        }
        self.submit(WriteRequest {
            made: Instant::now(),
            ops,
            durability,
            written: None,
            done,
        });
    }

    /// Writes `ops` and waits until they are as durable as `durability` requires.
    pub async fn submit_and_wait(&self, ops: Vec<Op>, durability: Durability) -> io::Result<()> {
        let (tx, rx) = oneshot::channel();
        self.submit_ops(ops, durability, Done::Reply(tx));
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
    lazy: &Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
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
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Shutting down: the lazy records still waiting are worth writing, not syncing.
                let ops: Vec<Op> = std::mem::take(&mut *lazy.lock())
                    .into_iter()
                    .map(|(k, v)| Op::Put(k, v))
                    .collect();
                if !dead && !ops.is_empty() {
                    let _ = backend.write(&ops);
                }
                return;
            }
        };
        // Taken before the queue is drained: every request made before these records were
        // put (a log's entries before its commit record) is in the queue by now, so it is in
        // this batch, ahead of them.
        let mut lazy_ops = std::mem::take(&mut *lazy.lock());
        let mut batch: Vec<WriteRequest> = first.into_iter().collect();
        while batch.len() < 4096 {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        if batch.len() == 4096 && !lazy_ops.is_empty() {
            // The queue may hold more made before them: back to wait for the next batch,
            // behind any newer record of the same key.
            let mut waiting = lazy.lock();
            for (k, v) in std::mem::take(&mut lazy_ops) {
                waiting.entry(k).or_insert(v);
            }
        }
        if dead {
            batch.into_iter().for_each(|r| r.done.complete(Err(poisoned_error())));
            continue;
        }
        let mut result = Ok(());
        let began = Instant::now();
        let waited: Duration = batch.iter().map(|r| began.saturating_duration_since(r.made)).sum();
        stats.queue_us.fetch_add(waited.as_micros() as u64, Ordering::Relaxed);
        if !batch.is_empty() || !lazy_ops.is_empty() {
            stats.requests.fetch_add(batch.len() as u64, Ordering::Relaxed);
            stats.batches.fetch_add(1, Ordering::Relaxed);
            let ops: Vec<Op> = batch
                .iter_mut()
                .flat_map(|r| std::mem::take(&mut r.ops))
                .chain(lazy_ops.into_iter().map(|(k, v)| Op::Put(k, v)))
                .collect();
            result = backend.write(&ops);
            stats
                .write_us
                .fetch_add(began.elapsed().as_micros() as u64, Ordering::Relaxed);
            unsynced = true;
            if result.is_ok() {
                for (w, upto) in batch.iter().filter_map(|r| r.written.as_ref()) {
                    w.0.store(*upto, Ordering::Release);
                }
            }
        }
        let must_sync = batch.iter().any(|r| {
            r.durability == Durability::Now || (r.durability == Durability::Policy && fsync == FsyncPolicy::Always)
        })
            // everysec's once a second; under `always` only lazy records wait, for the next append.
            || (fsync == FsyncPolicy::EverySec && unsynced && last_sync.elapsed() >= Duration::from_secs(1));
        if result.is_ok() && must_sync && unsynced {
            let syncing = Instant::now();
            result = backend.sync();
            last_sync = Instant::now();
            stats.syncs.fetch_add(1, Ordering::Relaxed);
            stats
                .sync_us
                .fetch_add((last_sync - syncing).as_micros() as u64, Ordering::Relaxed);
            unsynced = false;
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

/// One group's log: recent entries in memory, the engine's writer for durability, the store
/// for older entries. Cheap to clone.
#[derive(Clone)]
pub struct GroupLog {
    group: GroupId,
    shared: Arc<GroupShared>,
    engine: Arc<LogEngine>,
}

impl GroupLog {
    pub fn last_log_index(&self) -> Option<u64> {
        self.shared.state.lock().last.map(|l| l.index)
    }

    pub fn last_purged_index(&self) -> Option<u64> {
        self.shared.state.lock().purged.map(|p| p.index)
    }

    /// Entries `[from, to)` from the store, which holds every entry not in the cache.
    fn read_stored(&self, from: u64, to: u64) -> io::Result<Vec<Entry>> {
        let rows = self.engine.store.scan(
            &key(self.group, KIND_ENTRY, Some(from)),
            &key(self.group, KIND_ENTRY, Some(to)),
            false,
            usize::MAX,
        )?;
        self.engine
            .stats
            .disk_reads
            .fetch_add(rows.len() as u64, Ordering::Relaxed);
        rows.iter()
            .map(|(_, v)| postcard::from_bytes(v).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)))
            .collect()
    }
}

impl RaftLogReader<TypeConfig> for GroupLog {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e.saturating_add(1),
            Bound::Excluded(&e) => e,
            Bound::Unbounded => u64::MAX,
        };
        if start >= end {
            return Ok(Vec::new());
        }
        // The cached part is copied under the lock; what is older is in the store (an entry
        // leaves the cache only once written), read without holding the lock.
        let (stored_end, cached) = {
            let s = self.shared.state.lock();
            let end = end.min(s.last.map_or(0, |l| l.index + 1));
            let first_cached = s.cache.first_key_value().map_or(end, |(&i, _)| i).max(start);
            let cached: Vec<Entry> = s
                .cache
                .range(first_cached..end.max(first_cached))
                .map(|(_, (e, _))| e.clone())
                .collect();
            (first_cached.min(end), cached)
        };
        let mut out = if start < stored_end {
            self.read_stored(start, stored_end)?
        } else {
            Vec::new()
        };
        out.extend(cached);
        Ok(out)
    }

    /// Entries from `start` until they hold `wire::APPEND_BYTES_PER_FRAME` bytes (the first
    /// always comes whole): what one AppendEntries carries. Read a few at a time, so a range
    /// of large entries is not read whole to send its first ones.
    async fn limited_get_log_entries(&mut self, start: u64, end: u64) -> Result<Vec<Entry>, io::Error> {
        const STEP: u64 = 16;
        let mut out: Vec<Entry> = Vec::new();
        let mut bytes = 0;
        let mut at = start;
        while at < end {
            let got = self.try_get_log_entries(at..end.min(at + STEP)).await?;
            if got.is_empty() {
                break;
            }
            at += got.len() as u64;
            for e in got {
                if !out.is_empty() && bytes >= crate::wire::APPEND_BYTES_PER_FRAME {
                    return Ok(out);
                }
                bytes += entry_bytes(&e);
                out.push(e);
            }
        }
        Ok(out)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        Ok(self.shared.state.lock().vote)
    }
}

/// About how many bytes an entry takes on the wire.
fn entry_bytes(e: &Entry) -> usize {
    match &e.payload {
        EntryPayload::Normal(r) => 32 + r.packed_len(),
        _ => 64,
    }
}

impl RaftLogStorage<TypeConfig> for GroupLog {
    type LogReader = GroupLog;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let s = self.shared.state.lock();
        Ok(LogState {
            last_purged_log_id: s.purged,
            last_log_id: s.last.max(s.purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        let op = Op::Put(key(self.group, KIND_VOTE, None), encode(vote)?);
        self.shared.state.lock().vote = Some(*vote);
        self.engine.submit_and_wait(vec![op], Durability::Now).await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        let op = Op::Put(key(self.group, KIND_COMMITTED, None), encode(&committed)?);
        self.shared.state.lock().committed = committed;
        self.engine.submit_ops(vec![op], Durability::Lazy, Done::Nothing);
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        Ok(self.shared.state.lock().committed)
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<TypeConfig>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut ops = Vec::new();
        let upto = {
            let mut s = self.shared.state.lock();
            for e in entries {
                let bytes = encode(&e)?;
                let index = e.log_id.index;
                s.cache_bytes += bytes.len();
                s.last = Some(e.log_id);
                if let Some((_, old)) = s.cache.insert(index, (e, bytes.len())) {
                    s.cache_bytes -= old;
                }
                ops.push(Op::Put(key(self.group, KIND_ENTRY, Some(index)), bytes));
            }
            s.evict(&self.shared.written);
            s.last.map_or(0, |l| l.index + 1)
        };
        self.engine.stats.entries.fetch_add(ops.len() as u64, Ordering::Relaxed);
        self.engine.submit(WriteRequest {
            made: Instant::now(),
            ops,
            durability: Durability::Policy,
            written: Some((self.shared.written.clone(), upto)),
            done: Done::Flushed(callback),
        });
        Ok(())
    }

    async fn truncate_after(&mut self, last: Option<LogId>) -> Result<(), io::Error> {
        let from = last.map_or(0, |l| l.index + 1);
        let (ops, upto) = {
            let mut s = self.shared.state.lock();
            let through = s.last.map_or(0, |l| l.index + 1);
            s.uncache_from(from);
            if s.last.map(|l| l.index) > last.map(|l| l.index) {
                s.last = last;
            }
            // Newest first, so a partial effect never leaves a hole.
            let ops = (from..through)
                .rev()
                .map(|i| Op::Delete(key(self.group, KIND_ENTRY, Some(i))))
                .collect();
            (ops, from.min(through))
        };
        let (tx, rx) = oneshot::channel();
        self.engine.submit(WriteRequest {
            made: Instant::now(),
            ops,
            durability: Durability::Policy,
            written: Some((self.shared.written.clone(), upto)),
            done: Done::Reply(tx),
        });
        rx.await.unwrap_or_else(|_| Err(poisoned_error()))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        let first_cached = {
            let mut s = self.shared.state.lock();
            if s.purged.is_some_and(|p| p.index >= log_id.index) {
                return Ok(());
            }
            s.purged = Some(log_id);
            let first_cached = s.cache.first_key_value().map(|(&i, _)| i);
            s.uncache_through(log_id.index);
            if s.last.is_some_and(|l| l.index <= log_id.index) {
                s.last = None;
            }
            first_cached
        };
        // The log has no holes: deleting from its first stored entry up to the purge point
        // removes every purged entry (a log installed from a snapshot may start anywhere).
        let from = key(self.group, KIND_ENTRY, Some(0));
        let to = key(self.group, KIND_ENTRY, Some(log_id.index + 1));
        let first_stored = self.engine.store.scan(&from, &to, false, 1)?;
        let first_stored = first_stored
            .first()
            .and_then(|(k, _)| k.get(9..17)?.try_into().ok())
            .map(u64::from_be_bytes);
        let mut ops = vec![Op::Put(key(self.group, KIND_PURGED, None), encode(&Some(log_id))?)];
        if let Some(first) = first_stored.into_iter().chain(first_cached).min() {
            ops.extend((first..=log_id.index).map(|i| Op::Delete(key(self.group, KIND_ENTRY, Some(i)))));
        }
        self.engine.submit_ops(ops, Durability::Policy, Done::Nothing);
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
            let every = crate::raft::state_machine::SnapshotEvery {
                writes: 100_000,
                log_bytes: 1 << 30,
            };
            let sm = GroupStateMachine::open(7, &dir.path().join("snap"), every).unwrap();
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

    /// What one AppendEntries carries: entries until `APPEND_BYTES_PER_FRAME` bytes, the first
    /// whole however large, never none.
    #[tokio::test]
    async fn replication_reads_stop_at_a_byte_budget() {
        use openraft::entry::RaftEntry;
        let dir = tempfile::tempdir().unwrap();
        let engine = LogEngine::open(dir.path(), FsyncPolicy::Always).unwrap();
        let mut log = engine.group(1).unwrap();
        let big = bytes::Bytes::from(vec![b'v'; 3 << 20]);
        let args = [bytes::Bytes::from_static(b"set"), bytes::Bytes::from_static(b"k"), big];
        let normal = |i| {
            Entry::new_normal(
                openraft::testing::log_id::<TypeConfig>(1, 1, i),
                crate::raft::types::Request::new(0, &args),
            )
        };
        append(&mut log, (1..=40).map(normal).collect()).await.unwrap();
        let indexes = |v: Vec<Entry>| v.iter().map(|e| e.log_id.index).collect::<Vec<_>>();
        // 3 MiB each: the third brings the total to 9 MiB, over the 8 MiB budget.
        assert_eq!(
            indexes(log.limited_get_log_entries(1, 41).await.unwrap()),
            vec![1, 2, 3]
        );
        assert_eq!(
            indexes(log.limited_get_log_entries(39, 41).await.unwrap()),
            vec![39, 40]
        );
        assert_eq!(indexes(log.limited_get_log_entries(40, 41).await.unwrap()), vec![40]);
        append(&mut log, vec![blank(1, 41), blank(1, 42)]).await.unwrap();
        assert_eq!(
            indexes(log.limited_get_log_entries(40, 43).await.unwrap()),
            vec![40, 41, 42]
        );
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_record_alone_is_written_by_the_idle_writer() {
        let dir = tempfile::tempdir().unwrap();
        let engine = LogEngine::open(dir.path(), FsyncPolicy::Always).unwrap();
        let mut log = engine.group(1).unwrap();
        append(&mut log, vec![blank(1, 1)]).await.unwrap();
        let committed = Some(openraft::testing::log_id::<TypeConfig>(1, 1, 1));
        log.save_committed(committed).await.unwrap();
        // No request follows it: the writer's idle timeout writes it.
        let stored = || {
            engine
                .store
                .scan(
                    &key(1, KIND_COMMITTED, None),
                    &key(1, KIND_COMMITTED + 1, None),
                    false,
                    1,
                )
                .unwrap()
        };
        let until = Instant::now() + Duration::from_secs(10);
        while stored().is_empty() {
            assert!(Instant::now() < until, "the commit record never reached the store");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(stored()[0].1, encode(&committed).unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commit_records_ride_on_the_next_fsync_instead_of_causing_one() {
        let dir = tempfile::tempdir().unwrap();
        let committed = Some(openraft::testing::log_id::<TypeConfig>(1, 1, 2));
        {
            let engine = LogEngine::open(dir.path(), FsyncPolicy::Always).unwrap();
            let mut log = engine.group(1).unwrap();
            let syncs = || engine.stats.syncs.load(Ordering::Relaxed);
            append(&mut log, vec![blank(1, 1), blank(1, 2)]).await.unwrap();
            let after_append = syncs();
            assert!(after_append >= 1, "an append under fsync=always is fsynced");
            for _ in 0..5 {
                log.save_committed(committed).await.unwrap();
            }
            engine.submit_and_wait(Vec::new(), Durability::Lazy).await.unwrap();
            assert_eq!(syncs(), after_append, "commit records alone cause no fsync");
            append(&mut log, vec![blank(1, 3)]).await.unwrap();
            assert_eq!(syncs(), after_append + 1);
        }
        // The append's fsync carried the commit record written before it.
        let engine = LogEngine::open(dir.path(), FsyncPolicy::Always).unwrap();
        assert_eq!(engine.group(1).unwrap().read_committed().await.unwrap(), committed);
    }

    /// A backend whose writes start failing on demand.
    struct FailingBackend(Arc<std::sync::atomic::AtomicBool>);

    /// Reads nothing: `FailingBackend` keeps no data.
    struct NothingStored;

    impl LogRead for NothingStored {
        fn scan(&self, _: &[u8], _: &[u8], _: bool, _: usize) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
            Ok(Vec::new())
        }
    }

    impl LogBackend for FailingBackend {
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
        fn reader(&self) -> Arc<dyn LogRead> {
            Arc::new(NothingStored)
        }
    }

    /// Wait until the writer has written everything submitted so far.
    async fn drain(engine: &LogEngine) {
        engine.submit_and_wait(Vec::new(), Durability::Policy).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn entries_past_the_cache_are_read_back_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let total = (CACHE_ENTRIES as u64) * 2 + 10;
        {
            let engine = LogEngine::open(dir.path(), FsyncPolicy::Always).unwrap();
            let mut log = engine.group(3).unwrap();
            for chunk in (1..=total).collect::<Vec<_>>().chunks(500) {
                append(&mut log, chunk.iter().map(|&i| blank(2, i)).collect())
                    .await
                    .unwrap();
            }
            drain(&engine).await;
            // One more append lets the cache drop what the writer has written.
            append(&mut log, vec![blank(2, total + 1)]).await.unwrap();
            let cached = log.shared.state.lock().cache.len();
            assert!(cached <= CACHE_ENTRIES + 1, "cache holds {cached} entries");
            let got: Vec<u64> = log
                .try_get_log_entries(5..15)
                .await
                .unwrap()
                .iter()
                .map(|e| e.log_id.index)
                .collect();
            assert_eq!(got, (5..15).collect::<Vec<_>>());
            assert!(engine.stats.disk_reads.load(Ordering::Relaxed) >= 10);
            // A range across the cache's edge comes back whole and in order.
            let edge = log
                .shared
                .state
                .lock()
                .cache
                .first_key_value()
                .map(|(&i, _)| i)
                .unwrap();
            let got: Vec<u64> = log
                .try_get_log_entries(edge - 3..edge + 3)
                .await
                .unwrap()
                .iter()
                .map(|e| e.log_id.index)
                .collect();
            assert_eq!(got, (edge - 3..edge + 3).collect::<Vec<_>>());
            log.purge(openraft::testing::log_id::<TypeConfig>(2, 1, 100))
                .await
                .unwrap();
            log.truncate_after(Some(openraft::testing::log_id::<TypeConfig>(2, 1, total - 5)))
                .await
                .unwrap();
            drain(&engine).await;
        }
        let engine = LogEngine::open(dir.path(), FsyncPolicy::Always).unwrap();
        let mut log = engine.group(3).unwrap();
        let state = log.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id.map(|l| l.index), Some(100));
        assert_eq!(state.last_log_id.map(|l| l.index), Some(total - 5));
        let got = log.try_get_log_entries(0..u64::MAX).await.unwrap();
        assert_eq!(got.len() as u64, total - 5 - 100);
        assert_eq!(got.first().map(|e| e.log_id.index), Some(101));
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
