//! Outgoing Raft traffic: openraft-multi's `GroupRouter` over the node's `wire::Peers` (one
//! reused channel per peer, shared by every group), and the per-group network openraft asks
//! for, whose replication is a stream of AppendEntries on its own connection (framing in
//! `wire::stream`, the follower's end in `rpc::append_stream`), with several in flight.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, Stream, StreamExt};
use openraft::base::{BoxFuture, BoxStream};
use openraft::error::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::v2::RaftNetworkV2;
use openraft::network::{RPCOption, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, StreamAppendResult, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{SnapshotOf, VoteOf};
use openraft::{BasicNode, OptionalSend};
use openraft_multi::GroupRouter;
use parking_lot::Mutex;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::raft::types::{GroupId, LogId, NodeId, SnapshotFile, TypeConfig};
use crate::wire::convert::{decode, encode};
use crate::wire::stream::{self as framing, FrameReader, Hello};
use crate::wire::{PeerError, Peers, RaftRpc};

/// The follower's frames on an append stream.
type Answer = framing::Answer<StreamAppendResult<TypeConfig>>;

fn rpc_error(e: PeerError) -> RPCError<TypeConfig> {
    if e.unreachable() {
        return RPCError::Unreachable(Unreachable::from_string(e.to_string()));
    }
    RPCError::Network(NetworkError::from_string(e.to_string()))
}

/// One of a group's unary Raft RPCs to `target`, within openraft's time budget.
async fn call<Req, Resp>(
    peers: &Peers,
    target: NodeId,
    group: GroupId,
    rpc: RaftRpc,
    req: &Req,
    option: &RPCOption,
) -> Result<Resp, RPCError<TypeConfig>>
where
    Req: serde::Serialize,
    Resp: serde::de::DeserializeOwned,
{
    let reply = peers
        .raft(target, group, rpc, encode(req), option.hard_ttl())
        .await
        .map_err(rpc_error)?;
    decode(&reply).map_err(|e| RPCError::Network(NetworkError::new(&e)))
}

impl GroupRouter<TypeConfig, GroupId> for Peers {
    type SnapshotData = SnapshotFile;

    async fn append_entries(
        &self,
        target: NodeId,
        group: GroupId,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        call(self, target, group, RaftRpc::Append, &rpc, &option).await
    }

    async fn vote(
        &self,
        target: NodeId,
        group: GroupId,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        call(self, target, group, RaftRpc::Vote, &rpc, &option).await
    }

    async fn pre_vote(
        &self,
        target: NodeId,
        group: GroupId,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        call(self, target, group, RaftRpc::PreVote, &rpc, &option).await
    }

    async fn transfer_leader(
        &self,
        target: NodeId,
        group: GroupId,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        call(self, target, group, RaftRpc::TransferLeader, &req, &option).await
    }

    async fn full_snapshot(
        &self,
        target: NodeId,
        group: GroupId,
        vote: VoteOf<TypeConfig>,
        snapshot: SnapshotOf<TypeConfig, SnapshotFile>,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let file = tokio::fs::File::open(&snapshot.snapshot.path)
            .await
            .map_err(|e| StreamingError::Network(NetworkError::new(&e)))?;
        let header = encode(&(vote, snapshot.meta.clone()));
        let work = async move {
            let reply = match self.install_snapshot(target, group, header, file).await {
                Ok(reply) => reply,
                Err(PeerError::Rpc(s)) => {
                    return Err(StreamingError::Unreachable(Unreachable::from_string(s.to_string())));
                }
                Err(e) => return Err(StreamingError::Network(NetworkError::new(&e))),
            };
            decode::<SnapshotResponse<TypeConfig>>(&reply).map_err(|e| StreamingError::Network(NetworkError::new(&e)))
        };
        tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            res = work => res,
        }
    }
}

/// openraft's per-group network factory: binds a group id to the shared `Peers`.
pub struct GroupNetwork {
    pub peers: Peers,
    pub group: GroupId,
}

impl RaftNetworkFactory<TypeConfig> for GroupNetwork {
    type Network = GroupPeer;

    async fn new_client(&mut self, target: NodeId, _node: &BasicNode) -> Self::Network {
        GroupPeer {
            peers: self.peers.clone(),
            target,
            group: self.group,
        }
    }
}

/// Least time a follower may take to answer the oldest AppendEntries of a stream before the
/// stream counts as broken. openraft's per-RPC budget (the heartbeat interval) is shorter than
/// a loaded follower's fsync may take, and a broken stream costs a backoff.
const STREAM_PROGRESS_FLOOR: Duration = Duration::from_secs(1);

/// One group's link to one peer: unary RPCs through `Peers` (openraft-multi's router), and
/// replication as one stream per session, so AppendEntries are pipelined instead of waiting a
/// round trip each.
pub struct GroupPeer {
    peers: Peers,
    target: NodeId,
    group: GroupId,
}

fn unreachable(why: impl std::fmt::Display) -> RPCError<TypeConfig> {
    RPCError::Unreachable(Unreachable::from_string(why.to_string()))
}

/// Ends the stream's writer task when openraft drops the stream of answers.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How long the leader's end of a stream holds back an AppendEntries without entries for the
/// next request. openraft sends one to tell a follower of a new commit when no entry is ready to
/// carry it: under unpipelined SETs a third of all requests (DEBUG RAFT-STATS
/// `replicate_batch`), each a message, a turn of the follower's Raft core and an answer. The
/// next request that starts where the held one does carries a commit as new and makes it
/// redundant, and its answer answers both. Only a follower's apply (and openraft's probe of a
/// new follower) waits the hold; the commit on the leader, which answers the client, does not.
const HOLD_ENTRYLESS: Duration = Duration::from_millis(2);

/// A request sent on a stream and not answered yet.
struct Sent {
    at: Instant,
    /// Entry-less requests that were not sent because this one starts where they did: each is
    /// answered from this one's answer, before it.
    merged: usize,
    prev: Option<LogId>,
}

/// An entry-less request held back (`HOLD_ENTRYLESS`), with the ones it replaced.
struct Held {
    request: AppendEntriesRequest<TypeConfig>,
    merged: usize,
}

fn send(sent: &Mutex<VecDeque<Sent>>, out: &mut Vec<u8>, request: &AppendEntriesRequest<TypeConfig>, merged: usize) {
    sent.lock().push_back(Sent {
        at: Instant::now(),
        merged,
        prev: request.prev_log_id,
    });
    framing::push_frame(out, request);
}

/// The answers owed for a sent request that the follower answered `r`: first one for each
/// request merged into it, which started where it did and so would have been accepted up to
/// there or refused alike, then its own. A refusal is the stream's last answer: one is enough.
fn answers(sent: &Sent, r: StreamAppendResult<TypeConfig>) -> Vec<StreamAppendResult<TypeConfig>> {
    match r {
        Ok(_) => (0..sent.merged).map(|_| Ok(sent.prev)).chain([r]).collect(),
        Err(refused) => vec![Err(refused)],
    }
}

/// Sends `request`, or holds it back if it has no entries; a held request is merged into
/// `request` if they start at the same place under the same vote, and sent before it if not.
fn queue(
    sent: &Mutex<VecDeque<Sent>>,
    out: &mut Vec<u8>,
    held: &mut Option<Held>,
    request: AppendEntriesRequest<TypeConfig>,
) {
    let mut merged = 0;
    if let Some(h) = held.take() {
        if h.request.vote == request.vote && h.request.prev_log_id == request.prev_log_id {
            merged = h.merged + 1;
        } else {
            send(sent, out, &h.request, h.merged);
        }
    }
    if request.entries.is_empty() {
        *held = Some(Held { request, merged });
    } else {
        send(sent, out, &request, merged);
    }
}

type Requests = AppendEntriesRequest<TypeConfig>;
type Answers = BoxStream<'static, Result<StreamAppendResult<TypeConfig>, RPCError<TypeConfig>>>;

/// Connects an append stream for `group` to `target` (an authenticated connection,
/// `Peers::dial`) and waits for the follower to accept it.
async fn connect(
    peers: &Peers,
    target: NodeId,
    group: GroupId,
) -> std::io::Result<(FrameReader<OwnedReadHalf>, OwnedWriteHalf)> {
    let tcp = peers.dial(target).await?;
    framing::tune(&tcp);
    let (rd, mut wr) = tcp.into_split();
    let mut hello = framing::MAGIC.to_vec();
    framing::push_frame(
        &mut hello,
        &Hello {
            version: framing::VERSION,
            group,
        },
    );
    wr.write_all(&hello).await?;
    let mut frames = FrameReader::new(rd);
    match frames.next_decoded::<Answer>().await? {
        Answer::Accepted => Ok((frames, wr)),
        Answer::Refused(why) => Err(std::io::Error::other(why)),
        Answer::Result(_) => Err(std::io::Error::other("an answer before any request")),
    }
}

/// The leader's writer: every request ready goes out in one write, entry-less ones held back
/// (`HOLD_ENTRYLESS`); the end of `input` closes the connection's sending side, and the
/// follower closes once it has answered all.
async fn write_requests<S>(input: S, mut wr: OwnedWriteHalf, sent: Arc<Mutex<VecDeque<Sent>>>)
where
    S: Stream<Item = Requests> + Unpin,
{
    // Fused: a look for more ready requests may find the input's end.
    let mut input = input.fuse();
    let mut out = Vec::with_capacity(64 * 1024);
    let mut held: Option<Held> = None;
    loop {
        let next = match held {
            None => input.next().await,
            Some(_) => match tokio::time::timeout(HOLD_ENTRYLESS, input.next()).await {
                Ok(next) => next,
                Err(_) => {
                    // Nothing came to carry its commit: it goes alone.
                    if let Some(h) = held.take() {
                        send(&sent, &mut out, &h.request, h.merged);
                    }
                    if framing::write_out(&mut wr, &mut out).await.is_err() {
                        return;
                    }
                    continue;
                }
            },
        };
        let Some(first) = next else { break };
        // Let the tasks woken with this request make theirs ready too.
        tokio::task::yield_now().await;
        let mut rpc = Some(first);
        while let Some(r) = rpc.take() {
            queue(&sent, &mut out, &mut held, r);
            // A follower catching up is sent as fast as the log is read: in pieces.
            if out.len() >= framing::WRITE_AT_MOST {
                break;
            }
            rpc = input.next().now_or_never().flatten();
        }
        if !out.is_empty() && framing::write_out(&mut wr, &mut out).await.is_err() {
            return;
        }
    }
    if let Some(h) = held.take() {
        send(&sent, &mut out, &h.request, h.merged);
        if framing::write_out(&mut wr, &mut out).await.is_err() {
            return;
        }
    }
    let _ = wr.shutdown().await;
}

/// The follower's answers as openraft wants them, one per request sent (merged ones
/// included), in order; the stream ends at the first refusal or error, or when the follower
/// goes silent while an answer is more than `ttl` overdue.
fn read_answers(
    frames: FrameReader<OwnedReadHalf>,
    unanswered: Arc<Mutex<VecDeque<Sent>>>,
    writer: AbortOnDrop,
    ttl: Duration,
) -> Answers {
    let state = (frames, unanswered, writer, VecDeque::new());
    let out = futures::stream::unfold(Some(state), move |state| async move {
        let (mut frames, unanswered, writer, mut ready) = state?;
        loop {
            if let Some(result) = ready.pop_front() {
                let go_on = matches!(result, Ok(Ok(_)));
                return Some((result, go_on.then_some((frames, unanswered, writer, ready))));
            }
            let result = match tokio::time::timeout(ttl, frames.next()).await {
                Ok(Ok(Some(frame))) => match decode::<Answer>(&frame) {
                    Ok(Answer::Result(r)) => {
                        let Some(s) = unanswered.lock().pop_front() else {
                            return Some((Err(unreachable("append stream: an answer to no request")), None));
                        };
                        ready.extend(answers(&s, r).into_iter().map(Ok));
                        continue;
                    }
                    Ok(Answer::Refused(why)) => Err(unreachable(why)),
                    Ok(Answer::Accepted) => Err(unreachable("append stream: accepted twice")),
                    Err(e) => Err(RPCError::Network(NetworkError::new(&e))),
                },
                Ok(Ok(None)) => return None,
                Ok(Err(e)) => Err(unreachable(format!("append stream: {e}"))),
                Err(_) => {
                    // Silence is fine while nothing is owed; an answer overdue is not.
                    let overdue = unanswered.lock().front().is_some_and(|s| s.at.elapsed() >= ttl);
                    if !overdue {
                        continue;
                    }
                    Err(unreachable("append stream: follower stopped answering"))
                }
            };
            return Some((result, None));
        }
    });
    Box::pin(out.fuse())
}

impl GroupPeer {
    async fn open_stream<S>(&mut self, input: S, option: RPCOption) -> Result<Answers, RPCError<TypeConfig>>
    where
        S: Stream<Item = Requests> + OptionalSend + Unpin + 'static,
    {
        let Some(addr) = self.peers.addr(self.target) else {
            return Err(unreachable(format!("unknown node {}", self.target)));
        };
        let ttl = option.soft_ttl().max(STREAM_PROGRESS_FLOOR);
        let (frames, wr) = tokio::time::timeout(ttl, connect(&self.peers, self.target, self.group))
            .await
            .map_err(|_| unreachable(format!("append stream to {addr}: no answer")))?
            .map_err(|e| unreachable(format!("append stream to {addr}: {e}")))?;
        // The requests sent and not answered yet, oldest first.
        let unanswered: Arc<Mutex<VecDeque<Sent>>> = Arc::default();
        let writer = tokio::spawn(write_requests(input, wr, unanswered.clone()));
        Ok(read_answers(frames, unanswered, AbortOnDrop(writer), ttl))
    }
}

impl RaftNetworkV2<TypeConfig> for GroupPeer {
    type SnapshotData = SnapshotFile;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.peers.append_entries(self.target, self.group, rpc, option).await
    }

    fn stream_append<'s, S>(
        &'s mut self,
        input: S,
        option: RPCOption,
    ) -> BoxFuture<
        's,
        Result<BoxStream<'s, Result<StreamAppendResult<TypeConfig>, RPCError<TypeConfig>>>, RPCError<TypeConfig>>,
    >
    where
        S: Stream<Item = AppendEntriesRequest<TypeConfig>> + OptionalSend + Unpin + 'static,
    {
        // A single request (openraft's heartbeats) goes as one unary call: cheaper than a stream.
        if input.size_hint() == (1, Some(1)) {
            return openraft::network::stream_append_sequential(self, input, option);
        }
        Box::pin(async move {
            // openraft paces a failing peer by sleeping in the request stream (its backoff),
            // not before calling here: take the first request before connecting, or a peer
            // that refuses connections (a crashed node) is retried in a busy loop.
            let mut input = input;
            let Some(first) = input.next().await else {
                return Ok(Box::pin(futures::stream::empty()) as BoxStream<'s, _>);
            };
            let input = futures::stream::iter([first]).chain(input);
            let stream: BoxStream<'s, _> = self.open_stream(input, option).await?;
            Ok(stream)
        })
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.peers.vote(self.target, self.group, rpc, option).await
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.peers.pre_vote(self.target, self.group, rpc, option).await
    }

    async fn full_snapshot(
        &mut self,
        vote: VoteOf<TypeConfig>,
        snapshot: SnapshotOf<TypeConfig, SnapshotFile>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        self.peers
            .full_snapshot(self.target, self.group, vote, snapshot, cancel, option)
            .await
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.peers.transfer_leader(self.target, self.group, req, option).await
    }
}

#[cfg(test)]
mod tests {
    use openraft::entry::RaftEntry;

    use super::*;
    use openraft::raft::StreamAppendError;

    use crate::raft::types::{Entry, Vote};

    fn log_id(index: u64) -> LogId {
        openraft::testing::log_id::<TypeConfig>(1, 1, index)
    }

    /// A request from `prev` carrying entries `prev + 1 ..= last`, under term 1's leader 1.
    fn request(prev: u64, last: u64) -> AppendEntriesRequest<TypeConfig> {
        AppendEntriesRequest {
            vote: Vote::new_committed(1, 1),
            prev_log_id: Some(log_id(prev)),
            leader_commit: Some(log_id(prev)),
            entries: (prev + 1..=last).map(|i| Entry::new_blank(log_id(i))).collect(),
        }
    }

    /// The requests written to `out`, read back as a follower reads them.
    async fn frames(out: &[u8]) -> Vec<AppendEntriesRequest<TypeConfig>> {
        let mut reader = FrameReader::new(out);
        let mut got = Vec::new();
        while let Some(frame) = reader.next().await.unwrap() {
            got.push(decode(&frame).unwrap());
        }
        got
    }

    #[tokio::test]
    async fn an_entryless_request_is_held_and_merged_into_the_next_one_from_the_same_place() {
        let sent = Mutex::new(VecDeque::new());
        let (mut out, mut held) = (Vec::new(), None);
        // Two commits with no entry to carry them, then entries from the same place.
        queue(&sent, &mut out, &mut held, request(5, 5));
        queue(&sent, &mut out, &mut held, request(5, 5));
        assert!(out.is_empty() && sent.lock().is_empty(), "entry-less requests are held");
        queue(&sent, &mut out, &mut held, request(5, 7));
        assert!(held.is_none());
        let got = frames(&out).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].entries.len(), 2);
        let s = sent.lock().pop_front().unwrap();
        assert_eq!(
            (s.merged, s.prev),
            (2, Some(log_id(5))),
            "both are answered from its answer"
        );
    }

    #[tokio::test]
    async fn an_entryless_request_from_elsewhere_goes_out_first_on_its_own() {
        let sent = Mutex::new(VecDeque::new());
        let (mut out, mut held) = (Vec::new(), None);
        queue(&sent, &mut out, &mut held, request(5, 5));
        // Not from the same place (the log moved on meanwhile): the held one is sent as it is.
        queue(&sent, &mut out, &mut held, request(6, 8));
        let got = frames(&out).await;
        assert_eq!(got.len(), 2);
        assert!(got[0].entries.is_empty() && got[0].prev_log_id == Some(log_id(5)));
        assert_eq!(got[1].entries.len(), 2);
        let merged: Vec<usize> = sent.lock().iter().map(|s| s.merged).collect();
        assert_eq!(merged, vec![0, 0]);
        // Requests with entries are never held.
        queue(&sent, &mut out, &mut held, request(8, 9));
        assert!(held.is_none());
        assert_eq!(frames(&out).await.len(), 3);
    }

    #[test]
    fn merged_requests_are_answered_in_order_from_the_answer_of_the_one_sent() {
        let sent = Sent {
            at: Instant::now(),
            merged: 2,
            prev: Some(log_id(5)),
        };
        let accepted = answers(&sent, Ok(Some(log_id(7))));
        assert_eq!(
            accepted,
            vec![Ok(Some(log_id(5))), Ok(Some(log_id(5))), Ok(Some(log_id(7)))]
        );
        // Refused at their common start: one refusal, the stream's last answer.
        let conflict = StreamAppendError::Conflict(log_id(5));
        assert_eq!(answers(&sent, Err(conflict.clone())), vec![Err(conflict)]);
        let alone = Sent { merged: 0, ..sent };
        assert_eq!(answers(&alone, Ok(Some(log_id(7)))), vec![Ok(Some(log_id(7)))]);
    }
}
