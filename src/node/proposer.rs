//! Group commit of client writes: the writes waiting for one group are proposed together, as
//! one log entry.
//!
//! Each Raft entry costs fixed work however little it carries: a message to the group's core,
//! a log append, an AppendEntries to each follower and its answer, an apply, on every replica.
//! So the proposer task takes everything queued for the group each time it proposes: a
//! connection's pipeline and the writes of other connections that queued meanwhile. Before it
//! takes a batch it yields to the runtime while that brings more writes (at most `MAX_YIELDS`
//! times), so connections woken by the same readiness of their sockets queue theirs too. It
//! waits for no timer, and keeps up to `MAX_IN_FLIGHT` proposals in flight (measurements:
//! docs/performance.md, "Figures behind the code"). Outcomes go to the callers from where
//! openraft learns them (`Callback`), not through this task. A batch
//! is one `slotraft.batch` entry (`cmd::txn`): its commands applied in order at the entry's
//! time, one reply each, so each write still takes effect between its request and its reply.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use openraft::error::{ClientWriteError, ForwardToLeader};
use openraft::raft::ClientWriteResult;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::cmd::txn;
use crate::node::now_ms;
use crate::raft::Raft;
use crate::raft::types::{Callback, GroupId, Request, TypeConfig};
use crate::resp::frame::Frame;

/// Proposals of one group in flight at once; openraft pipelines them.
const MAX_IN_FLIGHT: usize = 32;

/// Times the proposer lets other tasks run before it takes a batch, while that brings more.
const MAX_YIELDS: usize = 4;

/// A batch closes at this many commands or argument bytes; the rest waits for the next one.
const MAX_BATCH_COMMANDS: usize = 1024;
const MAX_BATCH_BYTES: usize = 1 << 20;

/// What became of proposed writes.
#[derive(Debug)]
pub enum Proposed {
    /// Applied: one reply per command, in order.
    Applied(Vec<Frame>),
    /// Refused before entering the log: this replica is not the leader (it may name one).
    NotLeader(ForwardToLeader<TypeConfig>),
    /// Maybe applied, maybe not (leadership lost while in flight, the core stopped).
    Unknown,
}

/// One caller's writes, proposed together with other callers' and answered together.
struct Pending {
    commands: Vec<Vec<Bytes>>,
    reply: oneshot::Sender<Proposed>,
}

/// The group-commit queue of one group's writes.
pub struct Proposer {
    queue: mpsc::UnboundedSender<Pending>,
    stats: Arc<Stats>,
}

/// What the proposer did (INFO raft `proposals`, `proposed_writes`): their ratio is the mean
/// batch size.
#[derive(Default)]
pub struct Stats {
    pub proposals: AtomicU64,
    pub writes: AtomicU64,
}

impl Proposer {
    /// Starts the task that proposes `raft`'s batches. It ends when the `Proposer` is dropped.
    pub fn start(group: GroupId, raft: Raft) -> Proposer {
        let (queue, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Stats::default());
        tokio::spawn(run(group, raft, rx, stats.clone()));
        Proposer { queue, stats }
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Proposes `commands` (each a full argument vector, already validated) in this order,
    /// and waits for their outcome. They end up in one entry, possibly with other callers'.
    pub async fn propose(&self, commands: Vec<Vec<Bytes>>) -> Proposed {
        if commands.is_empty() {
            return Proposed::Applied(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        if self.queue.send(Pending { commands, reply }).is_err() {
            return Proposed::Unknown;
        }
        answer.await.unwrap_or(Proposed::Unknown)
    }
}

async fn run(group: GroupId, raft: Raft, mut queue: mpsc::UnboundedReceiver<Pending>, stats: Arc<Stats>) {
    // One permit per proposal in flight; its outcome's callback gives it back.
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    loop {
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = queue.recv().await else { return };
        // Let the connections woken with this one queue their writes too.
        let mut queued = queue.len();
        for _ in 0..MAX_YIELDS {
            tokio::task::yield_now().await;
            let now = queue.len();
            if now == queued {
                break;
            }
            queued = now;
        }
        let (batch, total) = take_batch(first, &mut queue);
        stats.proposals.fetch_add(1, Ordering::Relaxed);
        stats.writes.fetch_add(total as u64, Ordering::Relaxed);
        propose_batch(group, &raft, batch, total, permit).await;
    }
}

/// `first` and whatever else is queued, up to the batch limits, and how many commands they hold.
fn take_batch(first: Pending, queue: &mut mpsc::UnboundedReceiver<Pending>) -> (Vec<Pending>, usize) {
    let size = |p: &Pending| p.commands.iter().flatten().map(Bytes::len).sum::<usize>();
    let (mut commands, mut bytes) = (first.commands.len(), size(&first));
    let mut batch = vec![first];
    while commands < MAX_BATCH_COMMANDS && bytes < MAX_BATCH_BYTES {
        let Ok(next) = queue.try_recv() else { break };
        commands += next.commands.len();
        bytes += size(&next);
        batch.push(next);
    }
    (batch, commands)
}

/// Proposes the `total` commands of `batch` as one entry. Its outcome goes from where openraft
/// learns it (the apply, or the core's refusal) straight to each caller, with `permit`.
async fn propose_batch(group: GroupId, raft: &Raft, batch: Vec<Pending>, total: usize, permit: OwnedSemaphorePermit) {
    let mut replies_to = Vec::with_capacity(batch.len());
    let mut commands = Vec::with_capacity(total);
    for p in batch {
        replies_to.push((p.commands.len(), p.reply));
        commands.extend(p.commands);
    }
    // A lone command is its own entry, as it always was; several become one batch entry,
    // whose reply is the array of theirs.
    let single = total == 1;
    let args = match commands.pop() {
        Some(only) if single => only,
        last => {
            commands.extend(last);
            txn::encode_batch(commands)
        }
    };
    let respond = Callback::new(move |outcome: ClientWriteResult<TypeConfig>| {
        drop(permit);
        answer(group, outcome, total, replies_to);
    });
    if let Err(e) = raft.client_write_ff(Request::new(now_ms(), &args), Some(respond)).await {
        // The callback went with the request: dropped, it closed the callers' channels, and
        // each of them reads that as an unknown outcome.
        tracing::debug!(group, "outcome of {total} writes unknown: {e}");
    }
}

/// Hands each caller its share of the replies to a proposed batch of `total` commands.
fn answer(
    group: GroupId,
    outcome: ClientWriteResult<TypeConfig>,
    total: usize,
    replies_to: Vec<(usize, oneshot::Sender<Proposed>)>,
) {
    let replies = match outcome {
        // A lone command was its own entry: its reply is the entry's.
        Ok(done) if total == 1 => vec![done.data.0],
        Ok(done) => match done.data.0 {
            Frame::Array(replies) if replies.len() == total => replies,
            // Not what applying the entry answers; nothing to hand out per command.
            other => {
                tracing::error!(group, "a batch of {total} writes was answered with {other:?}");
                return answer_all(replies_to, || Proposed::Unknown);
            }
        },
        Err(ClientWriteError::ForwardToLeader(f)) => {
            return answer_all(replies_to, || Proposed::NotLeader(f.clone()));
        }
        Err(e) => {
            tracing::debug!(group, "outcome of {total} writes unknown: {e}");
            return answer_all(replies_to, || Proposed::Unknown);
        }
    };
    let mut replies = replies.into_iter();
    for (n, reply) in replies_to {
        // The caller may have gone (its client disconnected): nothing to tell.
        let _ = reply.send(Proposed::Applied(replies.by_ref().take(n).collect()));
    }
}

fn answer_all(replies_to: Vec<(usize, oneshot::Sender<Proposed>)>, outcome: impl Fn() -> Proposed) {
    for (_, reply) in replies_to {
        let _ = reply.send(outcome());
    }
}
