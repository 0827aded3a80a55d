//! One group's state machine: the in-memory keyspace plus what Raft needs to know about it
//! (last applied log id, membership), and its snapshots as files.
//!
//! `apply` is deterministic: a command's effect depends only on the entry (its arguments and
//! the leader's timestamp, clamped so the group's clock never runs backwards).

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use futures::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::type_config::alias::SnapshotOf;
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use crate::cmd;
use crate::raft::types::{GroupId, LogId, Response, SnapshotFile, SnapshotMeta, StoredMembership, TypeConfig};
use crate::resp::frame::Frame;
use crate::store::Store;

const SNAPSHOT_MAGIC: &[u8; 8] = b"SRSNAP1\n";

/// What a group has applied. Shared with the server, which reads it after a linearizable
/// barrier (leader) or directly (READONLY follower reads).
#[derive(Default, Clone)]
pub struct GroupState {
    pub store: Store,
    /// The group's clock: the largest entry timestamp applied so far.
    pub clock_ms: u64,
    pub last_applied: Option<LogId>,
    pub last_membership: StoredMembership,
}

#[derive(Serialize, Deserialize)]
struct SnapshotHeader {
    meta: SnapshotMeta,
    clock_ms: u64,
}

/// The openraft state machine of one group; cheap to clone (all state is shared).
#[derive(Clone)]
pub struct GroupStateMachine {
    pub group: GroupId,
    pub state: Arc<RwLock<GroupState>>,
    dir: PathBuf,
    current: Arc<Mutex<Option<(SnapshotMeta, PathBuf)>>>,
    /// Index of the newest snapshot, for INFO.
    pub snapshot_index: Arc<AtomicU64>,
    /// Woken after every applied batch: blocked clients (BLPOP …) look again.
    pub applied: Arc<tokio::sync::Notify>,
    seq: Arc<AtomicU64>,
    /// Client writes applied since the state was last snapshotted (a `slotraft.batch` entry
    /// counts each of its commands). The node asks for snapshots by this count alone (openraft
    /// counts entries, and one entry may carry a thousand writes).
    writes_since_snapshot: Arc<AtomicU64>,
    /// Log bytes applied since the state was last snapshotted (each command entry's arguments
    /// as the log holds them): the node asks for a snapshot by these too, so that large values
    /// cannot grow the log far past the data before `snapshot_every` writes are reached.
    log_bytes_since_snapshot: Arc<AtomicU64>,
    /// Notified once `writes_since_snapshot` reaches `snapshot_threshold`, or
    /// `log_bytes_since_snapshot` reaches `log_bytes_threshold`.
    pub snapshot_due: Arc<tokio::sync::Notify>,
    /// Keys in the newest snapshot (taken, installed or loaded at start).
    snapshot_keys: Arc<AtomicU64>,
    /// Bytes of the newest snapshot's file.
    snapshot_file_bytes: Arc<AtomicU64>,
    /// Set when a snapshot is asked for because of the log's bytes (`take_due_by_bytes`).
    due_by_bytes: Arc<AtomicBool>,
    every: SnapshotEvery,
}

/// When a group asks for a snapshot (cluster.toml `snapshot_every`, `snapshot_log_bytes`).
#[derive(Clone, Copy, Debug)]
pub struct SnapshotEvery {
    pub writes: u64,
    pub log_bytes: u64,
}

impl GroupStateMachine {
    /// Opens the group's snapshot directory and loads its newest snapshot, if any.
    pub fn open(group: GroupId, dir: &Path, every: SnapshotEvery) -> io::Result<GroupStateMachine> {
        std::fs::create_dir_all(dir)?;
        let sm = GroupStateMachine {
            group,
            state: Arc::new(RwLock::new(GroupState::default())),
            dir: dir.to_path_buf(),
            current: Arc::new(Mutex::new(None)),
            snapshot_index: Arc::new(AtomicU64::new(0)),
            applied: Arc::new(tokio::sync::Notify::new()),
            seq: Arc::new(AtomicU64::new(0)),
            writes_since_snapshot: Arc::new(AtomicU64::new(0)),
            log_bytes_since_snapshot: Arc::new(AtomicU64::new(0)),
            snapshot_due: Arc::new(tokio::sync::Notify::new()),
            snapshot_keys: Arc::new(AtomicU64::new(0)),
            snapshot_file_bytes: Arc::new(AtomicU64::new(0)),
            due_by_bytes: Arc::new(AtomicBool::new(false)),
            every,
        };
        let mut newest: Option<(u64, PathBuf)> = None;
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.ends_with(".tmp") {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            if let Some(idx) = name
                .strip_prefix("snap-")
                .and_then(|r| r.split('-').next())
                .and_then(|i| i.parse().ok())
                && newest.as_ref().is_none_or(|(n, _)| idx > *n)
            {
                newest = Some((idx, path));
            }
        }
        if let Some((_, path)) = newest {
            let (header, state) = read_snapshot_file(&path)?;
            sm.install_loaded(header, state, path);
        }
        Ok(sm)
    }

    fn install_loaded(&self, header: SnapshotHeader, state: GroupState, path: PathBuf) {
        self.snapshot_index
            .store(header.meta.last_log_id.map_or(0, |l| l.index), Ordering::Relaxed);
        self.snapshot_keys.store(state.store.len() as u64, Ordering::Relaxed);
        let file_bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        self.snapshot_file_bytes.store(file_bytes, Ordering::Relaxed);
        *self.state.write() = state;
        let old = self.current.lock().replace((header.meta, path.clone()));
        if let Some((_, old_path)) = old
            && old_path != path
        {
            let _ = std::fs::remove_file(old_path);
        }
    }

    fn new_snapshot_path(&self, last: Option<LogId>) -> PathBuf {
        let idx = last.map_or(0, |l| l.index);
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        self.dir.join(format!("snap-{idx:020}-{nanos}-{seq}"))
    }

    /// Whether the last snapshot asked for was asked for because of the log's bytes (once: it
    /// reads false again until the next). The log is then purged up to that snapshot at once
    /// (`tasks::snapshot_by_writes`) rather than keep openraft's last entries behind it, which
    /// may be as large as the values were.
    pub fn take_due_by_bytes(&self) -> bool {
        self.due_by_bytes.swap(false, Ordering::Relaxed)
    }

    /// A fresh path for a snapshot being received from the leader.
    pub fn incoming_path(&self) -> PathBuf {
        let mut p = self.new_snapshot_path(None).into_os_string();
        p.push(".incoming.tmp");
        PathBuf::from(p)
    }
}

/// Writes between two snapshots of a group whose last snapshot held `keys` keys:
/// `snapshot_every`, or as many writes as that snapshot has keys once it is larger. A snapshot
/// writes the whole keyspace, so at a fixed count its cost per write grows with the keyspace
/// (a group of 3,000,000 keys would rewrite all of them every `snapshot_every` writes,
/// snapshotting without pause); this way snapshots cost about one key written per write applied
/// at most (loading keys into an empty group, snapshots at 1, 2, 4, ... × `snapshot_every` keys
/// write each key about twice in all), and the log between snapshots holds no more writes than the
/// last snapshot has keys (as Redis rewrites its AOF once it has doubled since the last rewrite).
fn snapshot_threshold(snapshot_every: u64, keys: u64) -> u64 {
    snapshot_every.max(keys).max(1)
}

/// Log bytes between two snapshots of a group whose last snapshot file holds `file_bytes`:
/// `snapshot_log_bytes`, or as many as that file once it is larger, for the reason
/// `snapshot_threshold` gives (a snapshot rewrites the whole keyspace: at a fixed byte count a
/// group of 10 GiB would rewrite all of it every 256 MiB of writes).
fn log_bytes_threshold(snapshot_log_bytes: u64, file_bytes: u64) -> u64 {
    snapshot_log_bytes.max(file_bytes).max(1)
}

/// Whether adding `added` to a count at `before` crosses a multiple of `every`: a snapshot is
/// asked for at the threshold, and again at each further multiple should that request have
/// been dropped (a snapshot already being built takes none).
fn crosses(before: u64, added: u64, every: u64) -> bool {
    before / every != before.saturating_add(added) / every
}

/// Bytes the log holds for a command entry of `args` (`types::Request`: its time, then each
/// argument after its length).
fn entry_bytes(args: &[bytes::Bytes]) -> u64 {
    8 + args.iter().map(|a| 4 + a.len() as u64).sum::<u64>()
}

/// Applies one command entry to the group state: the determinism rule lives here. `answer`:
/// whether a client waits for the reply (reads in a transaction run only then).
pub fn apply_command(state: &mut GroupState, time_ms: u64, args: &[bytes::Bytes], answer: cmd::Answer) -> Frame {
    state.clock_ms = state.clock_ms.max(time_ms);
    cmd::apply_entry(&mut state.store, args, state.clock_ms, answer)
}

/// Writes the snapshot and returns its size in bytes.
fn write_snapshot_file(path: &Path, header: &SnapshotHeader, store: &Store) -> io::Result<u64> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let file = std::fs::File::create(&tmp)?;
    // The store writes in chunks (it checksums them whole), which a buffer no larger passes
    // straight to the file instead of copying them once more.
    let mut w = BufWriter::with_capacity(crate::store::WRITE_CHUNK, file);
    w.write_all(SNAPSHOT_MAGIC)?;
    let head = postcard::to_allocvec(header).map_err(io::Error::other)?;
    w.write_all(&(head.len() as u64).to_le_bytes())?;
    w.write_all(&head)?;
    store.write_snapshot(&mut w)?;
    let file = w.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    let bytes = file.metadata()?.len();
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(bytes)
}

fn read_snapshot_file(path: &Path) -> io::Result<(SnapshotHeader, GroupState)> {
    let mut r = BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)?;
    if &magic != SNAPSHOT_MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: not a slotraft snapshot", path.display()),
        ));
    }
    let mut len = [0u8; 8];
    r.read_exact(&mut len)?;
    let len = u64::from_le_bytes(len);
    if len > 64 << 20 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "snapshot header too large"));
    }
    let mut head = vec![0u8; len as usize];
    r.read_exact(&mut head)?;
    let header: SnapshotHeader =
        postcard::from_bytes(&head).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let store = Store::read_snapshot(&mut r)?;
    let state = GroupState {
        store,
        clock_ms: header.clock_ms,
        last_applied: header.meta.last_log_id,
        last_membership: header.meta.last_membership.clone(),
    };
    Ok((header, state))
}

impl RaftSnapshotBuilder<TypeConfig> for GroupStateMachine {
    type SnapshotData = SnapshotFile;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<TypeConfig, SnapshotFile>, io::Error> {
        // Copy under the read lock (fast), serialise outside it so writes are not stalled by disk I/O.
        let copy = {
            let state = self.state.read();
            self.writes_since_snapshot.store(0, Ordering::Relaxed);
            self.log_bytes_since_snapshot.store(0, Ordering::Relaxed);
            self.snapshot_keys.store(state.store.len() as u64, Ordering::Relaxed);
            state.clone()
        };
        let meta = SnapshotMeta {
            last_log_id: copy.last_applied,
            last_membership: copy.last_membership.clone(),
        };
        let path = self.new_snapshot_path(copy.last_applied);
        let header = SnapshotHeader {
            meta: meta.clone(),
            clock_ms: copy.clock_ms,
        };
        let p = path.clone();
        let (header, file_bytes) =
            tokio::task::spawn_blocking(move || write_snapshot_file(&p, &header, &copy.store).map(|n| (header, n)))
                .await
                .map_err(io::Error::other)??;
        self.snapshot_file_bytes.store(file_bytes, Ordering::Relaxed);
        tracing::info!(group = self.group, index = ?meta.last_log_id.map(|l| l.index), "snapshot written");
        self.snapshot_index
            .store(meta.last_log_id.map_or(0, |l| l.index), Ordering::Relaxed);
        let old = self.current.lock().replace((header.meta, path.clone()));
        if let Some((_, old_path)) = old {
            let _ = std::fs::remove_file(old_path);
        }
        Ok(SnapshotOf::<TypeConfig, SnapshotFile> {
            meta,
            snapshot: SnapshotFile { path },
        })
    }
}

impl RaftStateMachine<TypeConfig> for GroupStateMachine {
    type SnapshotData = SnapshotFile;
    type SnapshotBuilder = GroupStateMachine;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), io::Error> {
        let s = self.state.read();
        Ok((s.last_applied, s.last_membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + OptionalSend,
    {
        let (mut writes, mut log_bytes) = (0, 0);
        while let Some((entry, responder)) = entries.try_next().await? {
            let reply = {
                let mut s = self.state.write();
                s.last_applied = Some(entry.log_id);
                match entry.payload {
                    EntryPayload::Blank => Frame::ok(),
                    EntryPayload::Normal(req) => {
                        let args = req.args();
                        let answer = match responder {
                            Some(_) => cmd::Answer::Wanted,
                            None => cmd::Answer::Unwanted,
                        };
                        log_bytes += entry_bytes(&args);
                        let reply = apply_command(&mut s, req.time_ms, &args, answer);
                        writes += match &reply {
                            Frame::Array(replies) if cmd::txn::is_batch(&args) => replies.len() as u64,
                            _ => 1,
                        };
                        reply
                    }
                    EntryPayload::Membership(m) => {
                        s.last_membership = StoredMembership::new(Some(entry.log_id), m);
                        Frame::ok()
                    }
                }
            };
            if let Some(r) = responder {
                r.send(Response(reply));
            }
        }
        self.applied.notify_waiters();
        let every_writes = snapshot_threshold(self.every.writes, self.snapshot_keys.load(Ordering::Relaxed));
        let every_bytes = log_bytes_threshold(self.every.log_bytes, self.snapshot_file_bytes.load(Ordering::Relaxed));
        let writes_before = self.writes_since_snapshot.fetch_add(writes, Ordering::Relaxed);
        let bytes_before = self.log_bytes_since_snapshot.fetch_add(log_bytes, Ordering::Relaxed);
        let by_bytes = crosses(bytes_before, log_bytes, every_bytes);
        if by_bytes {
            self.due_by_bytes.store(true, Ordering::Relaxed);
        }
        if by_bytes || crosses(writes_before, writes, every_writes) {
            self.snapshot_due.notify_one();
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(&mut self, meta: &SnapshotMeta, snapshot: SnapshotFile) -> Result<(), io::Error> {
        let final_path = self.new_snapshot_path(meta.last_log_id);
        let src = snapshot.path.clone();
        let dst = final_path.clone();
        let (header, state) = tokio::task::spawn_blocking(move || {
            let loaded = read_snapshot_file(&src)?;
            std::fs::rename(&src, &dst)?;
            Ok::<_, io::Error>(loaded)
        })
        .await
        .map_err(io::Error::other)??;
        if header.meta.last_log_id != meta.last_log_id {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "snapshot file does not match its meta",
            ));
        }
        tracing::info!(group = self.group, index = ?meta.last_log_id.map(|l| l.index), "snapshot installed");
        self.install_loaded(header, state, final_path);
        self.writes_since_snapshot.store(0, Ordering::Relaxed);
        self.log_bytes_since_snapshot.store(0, Ordering::Relaxed);
        self.applied.notify_waiters();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<SnapshotOf<TypeConfig, SnapshotFile>>, io::Error> {
        Ok(self
            .current
            .lock()
            .as_ref()
            .map(|(meta, path)| SnapshotOf::<TypeConfig, SnapshotFile> {
                meta: meta.clone(),
                snapshot: SnapshotFile { path: path.clone() },
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::types::{Entry, Request};
    use bytes::Bytes;
    use futures::FutureExt;

    /// Applies `SET k<from..to> v`, one entry each; the writes after which a snapshot was asked for.
    async fn set_keys(sm: &mut GroupStateMachine, index: &mut u64, keys: std::ops::Range<u64>) -> Vec<u64> {
        set_values(sm, index, keys, b"v").await
    }

    /// As `set_keys`, with `value` for each key.
    async fn set_values(
        sm: &mut GroupStateMachine,
        index: &mut u64,
        keys: std::ops::Range<u64>,
        value: &[u8],
    ) -> Vec<u64> {
        let mut due = Vec::new();
        for k in keys {
            *index += 1;
            let args = [
                Bytes::from_static(b"SET"),
                Bytes::from(format!("k{k}")),
                Bytes::copy_from_slice(value),
            ];
            let entry = Entry {
                log_id: openraft::testing::log_id::<TypeConfig>(1, 1, *index),
                payload: EntryPayload::Normal(Request::new(0, &args)),
            };
            sm.apply(futures::stream::iter([Ok((entry, None))])).await.unwrap();
            if sm.snapshot_due.notified().now_or_never().is_some() {
                due.push(k + 1);
            }
        }
        due
    }

    fn every(writes: u64, log_bytes: u64) -> SnapshotEvery {
        SnapshotEvery { writes, log_bytes }
    }

    #[tokio::test]
    async fn snapshots_are_asked_for_every_snapshot_every_writes_or_as_many_as_the_last_snapshot_has_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut sm = GroupStateMachine::open(1, dir.path(), every(100, u64::MAX)).unwrap();
        let mut index = 0;
        // No snapshot yet: every 100 writes (asked again while none is taken).
        assert_eq!(set_keys(&mut sm, &mut index, 0..250).await, [100, 200]);
        assert!(!sm.take_due_by_bytes());
        sm.build_snapshot().await.unwrap();
        // The snapshot holds 250 keys: the next one after 250 more writes, not 100.
        assert_eq!(set_keys(&mut sm, &mut index, 250..800).await, [500, 750]);
        sm.build_snapshot().await.unwrap();
        // Reopened, the count comes from the snapshot loaded (800 keys).
        drop(sm);
        let mut sm = GroupStateMachine::open(1, dir.path(), every(100, u64::MAX)).unwrap();
        let mut index = 800;
        assert_eq!(set_keys(&mut sm, &mut index, 800..1700).await, [1600]);
    }

    #[test]
    fn a_threshold_is_crossed_once_per_multiple() {
        assert!(!crosses(0, 99, 100));
        assert!(crosses(0, 100, 100));
        assert!(crosses(99, 1, 100));
        assert!(!crosses(100, 99, 100));
        // One entry of many writes (or bytes) crossing two multiples asks once.
        assert!(crosses(50, 250, 100));
        // Saturates rather than overflows.
        assert!(!crosses(u64::MAX - 5, 10, 100));
        assert_eq!(log_bytes_threshold(256 << 20, 0), 256 << 20);
        assert_eq!(log_bytes_threshold(256 << 20, 1 << 30), 1 << 30);
        assert_eq!(log_bytes_threshold(0, 0), 1);
        // `SET k0 <997 bytes>`: time, then three arguments after their lengths.
        let args = [
            Bytes::from_static(b"SET"),
            Bytes::from_static(b"k0"),
            Bytes::from(vec![0; 997]),
        ];
        assert_eq!(entry_bytes(&args), 8 + (4 + 3) + (4 + 2) + (4 + 997));
    }

    #[tokio::test]
    async fn snapshots_are_asked_for_every_snapshot_log_bytes_or_as_many_as_the_last_snapshot_file_holds() {
        let dir = tempfile::tempdir().unwrap();
        // Writes alone would never ask; 10 entries of 1,024 bytes do.
        let mut sm = GroupStateMachine::open(1, dir.path(), every(1_000_000, 10 * 1024)).unwrap();
        let mut index = 0;
        // `SET k<10..99> <value>` is 1,024 bytes in the log.
        let value = vec![b'x'; 1024 - (8 + (4 + 3) + (4 + 3) + 4)];
        assert_eq!(set_values(&mut sm, &mut index, 10..45, &value).await, [20, 30, 40]);
        assert!(sm.take_due_by_bytes());
        assert!(!sm.take_due_by_bytes());
        sm.build_snapshot().await.unwrap();
        // The snapshot file holds 35 values, more than 10 entries' bytes: the next snapshot
        // waits for as many bytes of log.
        let file = sm.snapshot_file_bytes.load(Ordering::Relaxed);
        assert!(file > 35 * value.len() as u64, "{file}");
        let entries = file.div_ceil(1024);
        let due = set_values(&mut sm, &mut index, 45..99, &value).await;
        assert_eq!(due.first(), Some(&(45 + entries)), "a {file}-byte snapshot");
        // Reopened, the threshold comes from the snapshot file loaded.
        drop(sm);
        let mut sm = GroupStateMachine::open(1, dir.path(), every(1_000_000, 10 * 1024)).unwrap();
        let mut index = 35;
        assert_eq!(
            set_values(&mut sm, &mut index, 45..99, &value).await.first(),
            Some(&(45 + entries))
        );
    }
}
