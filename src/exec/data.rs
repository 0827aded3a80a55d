//! A data command — one that reads or writes keys of one slot — from its route to its reply:
//! served by a local replica (a linearizable read, or a write proposed to the group's Raft
//! log), redirected, or forwarded to the leader; pipelined reads and writes batched per group.
//! Every redirect a client sees is decided by `cluster::route` (`route`, `to_leader`) and
//! carried out by `follow`.

use std::time::Duration;

use bytes::Bytes;
use openraft::error::{ForwardToLeader, LinearizableReadError, RaftError};

use crate::cluster::route::{Route, RouteCtx, route, to_leader};
use crate::cmd::{self, Family, Flag, Kind, Prepared};
use crate::config::RedirectMode;
use crate::errors::{self, CLUSTERDOWN, CROSSSLOT, TRYAGAIN, UNKNOWN_OUTCOME};
use crate::exec::session::ConnState;
use crate::node::Node;
use crate::node::proposer::Proposed;
use crate::raft::types::{GroupId, NodeId, TypeConfig};
use crate::resp::encode::Protocol;
use crate::resp::frame::Frame;
use crate::slots::Slot;
use crate::wire::PeerError;

/// Whether a client's pipelined command may run alongside its neighbours (see
/// `execute_read_batch`, `execute_write_batch`): a plain read or write of keys, outside MULTI
/// and pub/sub, not blocking. `Some(true)` for a write. Writes qualify only when redirecting
/// (`-MOVED`): a batch's writes to one group then enter the Raft log in the order they were
/// sent, which forwarded ones, racing over the network, would not.
pub fn pipelinable(node: &Node, conn: &ConnState, p: &Prepared) -> Option<bool> {
    if !conn.may_forward || conn.multi.is_some() || !conn.subscriptions.is_empty() {
        return None;
    }
    if p.spec.family == Family::Transactions || p.spec.has(Flag::Blocking) {
        return None;
    }
    match p.kind() {
        Kind::Read => Some(false),
        Kind::Write if node.config.redirect == RedirectMode::Moved => Some(true),
        _ => None,
    }
}

/// Runs a read or write of keys: routes it by its slots and shapes the reply for `protocol`.
pub async fn execute_plain(
    node: &Node,
    p: &Prepared,
    args: &[Bytes],
    readonly: bool,
    may_forward: bool,
    protocol: Protocol,
) -> Frame {
    let ctx = RouteCtx::new(p.is_write(), readonly);
    let reply = execute_data(node, p, args, ctx, may_forward).await;
    shape(p, args, reply, protocol)
}

/// The reply as the connection's protocol wants it.
fn shape(p: &Prepared, args: &[Bytes], reply: Frame, protocol: Protocol) -> Frame {
    if protocol == Protocol::Resp3 {
        return p.reshape_for_resp3(args, reply);
    }
    reply
}

/// A command with its preparation, as a pipelined batch holds it.
pub type PreparedCommand = (Prepared, Vec<Bytes>);

/// A connection's pipelined plain reads. Those of a group this node serves share one
/// linearizable barrier per group — taken after all of them arrived, so it orders every one of
/// them after the writes that completed before it was sent — and run under one read of the
/// group's state. The others (redirects, a leadership that moved) take the path of a single
/// command. Replies are in the order of `batch`.
pub async fn execute_read_batch(
    node: &Node,
    batch: &[PreparedCommand],
    readonly: bool,
    protocol: Protocol,
) -> Vec<Frame> {
    let ctx = RouteCtx::read(readonly);
    let mut by_group: std::collections::BTreeMap<GroupId, Vec<usize>> = Default::default();
    {
        let view = node.view.read();
        for (i, (p, _)) in batch.iter().enumerate() {
            if let Route::Here(group) = route(&view, &p.slots, ctx) {
                by_group.entry(group).or_default().push(i);
            }
        }
    }
    let served = by_group.into_iter().map(|(group, indexes)| async move {
        let g = node.group(group)?;
        // A READONLY connection reads a follower's copy as it is (possibly stale).
        if !readonly || g.is_leader() {
            g.read_barrier().await.ok()?;
        }
        Some(g.read(|store, now| {
            indexes
                .into_iter()
                .map(|i| {
                    let (p, args) = &batch[i];
                    (i, shape(p, args, cmd::read(store, p.spec, args, now), protocol))
                })
                .collect::<Vec<_>>()
        }))
    });
    let mut replies: Vec<Option<Frame>> = vec![None; batch.len()];
    for (i, reply) in futures::future::join_all(served).await.into_iter().flatten().flatten() {
        replies[i] = Some(reply);
    }
    single_for_the_rest(node, batch, replies, readonly, protocol).await
}

/// A connection's pipelined plain writes. Those of a group this node leads go to Raft as one
/// proposal per group (one message to the group's Raft core, entries in the order sent); the
/// others, and those refused because leadership moved before they entered the log, take the
/// path of a single command, in order. Replies are in the order of `batch`.
pub async fn execute_write_batch(node: &Node, batch: &[PreparedCommand], protocol: Protocol) -> Vec<Frame> {
    let ctx = RouteCtx::write();
    let mut replies: Vec<Option<Frame>> = vec![None; batch.len()];
    let mut by_group: std::collections::BTreeMap<GroupId, Vec<usize>> = Default::default();
    {
        let view = node.view.read();
        for (i, (p, args)) in batch.iter().enumerate() {
            if let Route::Here(group) = route(&view, &p.slots, ctx) {
                match admit(node, p, args) {
                    Ok(()) => by_group.entry(group).or_default().push(i),
                    Err(e) => replies[i] = Some(e),
                }
            }
        }
    }
    let proposed = by_group
        .into_iter()
        .map(|(group, indexes)| propose_together(node, group, indexes, batch));
    for (i, reply) in futures::future::join_all(proposed).await.into_iter().flatten() {
        replies[i] = reply.map(|r| shape(&batch[i].0, &batch[i].1, r, protocol));
    }
    single_for_the_rest(node, batch, replies, false, protocol).await
}

/// The replies of a batch in its order: those already answered, and for the others the path of
/// a single command, run one at a time in the order sent.
async fn single_for_the_rest(
    node: &Node,
    batch: &[PreparedCommand],
    replies: Vec<Option<Frame>>,
    readonly: bool,
    protocol: Protocol,
) -> Vec<Frame> {
    let mut out = Vec::with_capacity(batch.len());
    for (reply, (p, args)) in replies.into_iter().zip(batch) {
        out.push(match reply {
            Some(r) => r,
            None => execute_plain(node, p, args, readonly, true, protocol).await,
        });
    }
    out
}

/// One proposal of several writes to a group (`batch[i]` for each of `indexes`): their
/// replies, `None` for those refused before entering the log.
async fn propose_together(
    node: &Node,
    group: GroupId,
    indexes: Vec<usize>,
    batch: &[PreparedCommand],
) -> Vec<(usize, Option<Frame>)> {
    let Some(g) = node.group(group) else {
        return Vec::new();
    };
    let commands = indexes.iter().map(|&i| batch[i].1.clone()).collect();
    match g.propose(commands).await {
        Proposed::Applied(replies) => indexes.into_iter().zip(replies.into_iter().map(Some)).collect(),
        // Refused before they entered the log: the single-command path redirects them.
        Proposed::NotLeader(_) => Vec::new(),
        Proposed::Unknown => indexes
            .into_iter()
            .map(|i| (i, Some(Frame::error(UNKNOWN_OUTCOME))))
            .collect(),
    }
}

/// Whether the leader proposes a write: parsed first (a syntax error is answered now, never
/// proposed), and refused with `-MISCONF` while the data directory's disk is below
/// `min_free_disk` if it may add data (Redis's `denyoom` commands, and a transaction holding
/// one); deletes still run, since they are how space is won back.
fn admit(node: &Node, p: &Prepared, args: &[Bytes]) -> Result<(), Frame> {
    cmd::validate(p, args)?;
    let Some(refusal) = node.disk().refusal() else {
        return Ok(());
    };
    let adds = |spec: Option<&cmd::CommandSpec>| spec.is_none_or(|s| s.has(Flag::Denyoom));
    let grows = if p.spec.name == cmd::txn::EXEC_ENTRY {
        let tx = cmd::txn::Transaction::decode(args)?;
        tx.commands.iter().any(|c| adds(c.first().and_then(|n| cmd::lookup(n))))
    } else {
        adds(Some(p.row()))
    };
    if grows { Err(Frame::Error(refusal)) } else { Ok(()) }
}

/// One try at a data command.
enum Attempt {
    Reply(Frame),
    /// Certainly not applied, and no leader is known right now (election, leader transfer,
    /// a crashed leader): wait for one and route again.
    Retry,
}

/// How long a command waits for a group to have a leader before `-CLUSTERDOWN`: long
/// enough to ride out an election, so clients rarely see one.
fn leader_wait(node: &Node) -> Duration {
    Duration::from_millis(node.config.election_timeout_ms * 2 + 1000)
}

/// Routes a data command by its slots and runs it: here, on the leader (proxy), or answers
/// with a redirect. Waits out a leaderless group for a while before `-CLUSTERDOWN`.
pub async fn execute_data(node: &Node, p: &Prepared, args: &[Bytes], ctx: RouteCtx, may_forward: bool) -> Frame {
    let slots = &p.slots;
    let slot = slots.first().copied().unwrap_or(0);
    let deadline = tokio::time::Instant::now() + leader_wait(node);
    loop {
        let decision = route(&node.view.read(), slots, ctx);
        let attempt = match decision {
            Route::Here(group) => run_local(node, group, slot, p, args, ctx, may_forward).await,
            elsewhere => follow(node, elsewhere, args, ctx, may_forward).await,
        };
        match attempt {
            Attempt::Reply(frame) => return frame,
            Attempt::Retry if may_forward && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Attempt::Retry if may_forward => return Frame::error(CLUSTERDOWN),
            Attempt::Retry => return Frame::error(TRYAGAIN),
        }
    }
}

/// Carries out a decision to serve a command elsewhere: the redirect, the forward, or the
/// refusal it stands for.
async fn follow(node: &Node, decision: Route, args: &[Bytes], ctx: RouteCtx, may_forward: bool) -> Attempt {
    match elsewhere(decision, may_forward) {
        Elsewhere::Reply(frame) => Attempt::Reply(frame),
        Elsewhere::Forward { group, leader } => forward(node, group, leader, args, ctx.is_write).await,
        Elsewhere::Retry => Attempt::Retry,
    }
}

/// What serving a command elsewhere comes to, decided without I/O.
#[derive(Debug, PartialEq)]
enum Elsewhere {
    /// A redirect or a refusal for the client.
    Reply(Frame),
    /// Proxy mode: run it on the leader.
    Forward { group: GroupId, leader: NodeId },
    /// No leader known now: wait for one and route again.
    Retry,
}

fn elsewhere(decision: Route, may_forward: bool) -> Elsewhere {
    match decision {
        Route::Moved { slot, addr } if may_forward => Elsewhere::Reply(Frame::Error(errors::moved(slot, addr))),
        Route::Ask { slot, addr } if may_forward => Elsewhere::Reply(Frame::Error(errors::ask(slot, addr))),
        Route::Forward { group, leader } if may_forward => Elsewhere::Forward { group, leader },
        // A forwarded command reached a node that is not the leader: the proxy re-routes.
        Route::Moved { .. } | Route::Ask { .. } | Route::Forward { .. } => Elsewhere::Reply(Frame::error(TRYAGAIN)),
        Route::CrossSlot => Elsewhere::Reply(Frame::error(CROSSSLOT)),
        Route::ClusterDown | Route::Here(_) => Elsewhere::Retry,
    }
}

/// A replica that is not (or no longer) the leader refused the command before doing anything:
/// send the client to the leader it names, or wait for one.
async fn not_leader(
    node: &Node,
    group: GroupId,
    slot: Slot,
    args: &[Bytes],
    f: &ForwardToLeader<TypeConfig>,
    ctx: RouteCtx,
    may_forward: bool,
) -> Attempt {
    let Some(leader) = f.leader_id.filter(|&l| l != node.id) else {
        return Attempt::Retry;
    };
    let decision = to_leader(&node.view.read(), slot, group, leader);
    Box::pin(follow(node, decision, args, ctx, may_forward)).await
}

async fn run_local(
    node: &Node,
    group: GroupId,
    slot: Slot,
    p: &Prepared,
    args: &[Bytes],
    ctx: RouteCtx,
    may_forward: bool,
) -> Attempt {
    let Some(g) = node.group(group) else {
        return Attempt::Retry;
    };
    if ctx.is_write {
        if let Err(e) = admit(node, p, args) {
            return Attempt::Reply(e);
        }
        return match g.propose(vec![args.to_vec()]).await {
            Proposed::Applied(mut replies) => {
                Attempt::Reply(replies.pop().unwrap_or_else(|| Frame::error(UNKNOWN_OUTCOME)))
            }
            // Refused before it entered the log: safe to send elsewhere.
            Proposed::NotLeader(f) => not_leader(node, group, slot, args, &f, ctx, may_forward).await,
            Proposed::Unknown => Attempt::Reply(Frame::error(UNKNOWN_OUTCOME)),
        };
    }
    if ctx.readonly && !g.is_leader() {
        // READONLY connection on a follower: possibly stale, as on Redis Cluster replicas.
        return Attempt::Reply(g.read(|store, now| cmd::read(store, p.spec, args, now)));
    }
    match g.read_barrier().await {
        Ok(_) => Attempt::Reply(g.read(|store, now| cmd::read(store, p.spec, args, now))),
        Err(RaftError::APIError(LinearizableReadError::ForwardToLeader(f))) => {
            not_leader(node, group, slot, args, &f, ctx, may_forward).await
        }
        Err(e) => {
            tracing::debug!(group, "linearizable read failed: {e}");
            Attempt::Retry
        }
    }
}

/// Proxy mode: runs the command on the leader and relays its reply. Refusals that prove nothing
/// was applied (TRYAGAIN or CLUSTERDOWN from the far side, no connection) are retried.
async fn forward(node: &Node, group: GroupId, leader: NodeId, args: &[Bytes], is_write: bool) -> Attempt {
    match node.peers.forward(leader, group, args, Duration::from_secs(10)).await {
        Ok(Frame::Error(e)) if e.starts_with("TRYAGAIN") || e.starts_with("CLUSTERDOWN") => Attempt::Retry,
        Ok(frame) => Attempt::Reply(frame),
        Err(PeerError::Decode(_)) => Attempt::Reply(Frame::error("ERR bad reply from the leader")),
        Err(e) if is_write && !e.never_sent() => {
            tracing::debug!(group, leader, "forwarded write failed: {e}");
            Attempt::Reply(Frame::error(UNKNOWN_OUTCOME))
        }
        Err(_) => Attempt::Retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_served_elsewhere_is_redirected_forwarded_or_retried() {
        let addr: std::net::SocketAddr = "127.0.0.1:7003".parse().unwrap();
        let moved = Route::Moved { slot: 12182, addr };
        assert_eq!(
            elsewhere(moved.clone(), true),
            Elsewhere::Reply(Frame::error("MOVED 12182 127.0.0.1:7003"))
        );
        assert_eq!(
            elsewhere(Route::Ask { slot: 7, addr }, true),
            Elsewhere::Reply(Frame::error("ASK 7 127.0.0.1:7003"))
        );
        let forward = Route::Forward { group: 3, leader: 3 };
        assert_eq!(
            elsewhere(forward.clone(), true),
            Elsewhere::Forward { group: 3, leader: 3 }
        );
        // A forwarded command is never sent on again: the node that forwarded it re-routes.
        assert_eq!(elsewhere(moved, false), Elsewhere::Reply(Frame::error(TRYAGAIN)));
        assert_eq!(elsewhere(forward, false), Elsewhere::Reply(Frame::error(TRYAGAIN)));
        assert_eq!(
            elsewhere(Route::CrossSlot, true),
            Elsewhere::Reply(Frame::error(CROSSSLOT))
        );
        assert_eq!(elsewhere(Route::ClusterDown, true), Elsewhere::Retry);
    }
}
