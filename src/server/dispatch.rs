//! The path of one command (DESIGN.md): table lookup and arity check, then either the node
//! itself answers, or `route` decides between serving from a local replica, redirecting the
//! client, or forwarding to the leader.

use std::time::Duration;

use bytes::Bytes;
use openraft::ReadPolicy;
use openraft::error::{ClientWriteError, ForwardToLeader, LinearizableReadError, RaftError};

use crate::cluster::route::{Route, RouteCtx, route};
use crate::cluster::slots::{Slot, key_slot};
use crate::cmd::{self, Kind};
use crate::config::RedirectMode;
use crate::node::{Node, now_ms};
use crate::raft::types::{GroupId, NodeId, Request, TypeConfig};
use crate::resp::frame::Frame;
use crate::rpc::convert::decode;
use crate::rpc::pb;
use crate::server::connection::ConnState;
use crate::server::node_commands;

pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
pub const CLUSTERDOWN: &str = "CLUSTERDOWN The cluster is down";
pub const TRYAGAIN: &str = "TRYAGAIN The slot's leader is changing, please try again";
/// A write that may or may not have been applied: never reported as "not done".
pub const UNKNOWN_OUTCOME: &str = "UNKNOWN The write may or may not have been applied: leadership changed or the leader was lost while it was in flight";

/// Executes one command for a client connection.
pub async fn execute(node: &Node, conn: &mut ConnState, args: Vec<Bytes>) -> Frame {
    let Some(spec) = cmd::lookup(&args[0]) else {
        return cmd::unknown_command(&args);
    };
    if let Err(e) = cmd::check_arity(spec, args.len()) {
        return e;
    }
    match spec.kind {
        Kind::Node => node_commands::execute(node, conn, spec, &args).await,
        Kind::Read | Kind::Write => {
            let is_write = matches!(spec.kind, Kind::Write);
            let slots: Vec<Slot> = cmd::key_positions(spec, args.len())
                .into_iter()
                .map(|i| key_slot(&args[i]))
                .collect();
            let asking = std::mem::take(&mut conn.asking);
            let _ = asking; // ASK redirects come with slot migration.
            let ctx = RouteCtx {
                is_write,
                readonly: conn.readonly,
            };
            let decision = route(&node.view.read(), &slots, ctx);
            execute_routed(
                node,
                conn.may_forward,
                decision,
                slots.first().copied().unwrap_or(0),
                args,
                is_write,
            )
            .await
        }
    }
}

async fn execute_routed(
    node: &Node,
    may_forward: bool,
    decision: Route,
    slot: Slot,
    args: Vec<Bytes>,
    is_write: bool,
) -> Frame {
    match decision {
        Route::Here(group) => run_local(node, group, slot, args, is_write, may_forward).await,
        Route::Moved { slot, addr } if may_forward => Frame::Error(format!("MOVED {slot} {addr}")),
        Route::Ask { slot, addr } if may_forward => Frame::Error(format!("ASK {slot} {addr}")),
        Route::Forward { group, leader } if may_forward => forward(node, group, leader, slot, args, is_write).await,
        Route::Moved { .. } | Route::Ask { .. } | Route::Forward { .. } => Frame::error(TRYAGAIN),
        Route::CrossSlot => Frame::error(CROSSSLOT),
        Route::ClusterDown => Frame::error(CLUSTERDOWN),
    }
}

/// Where to send a client whose command reached a replica that is not (or no longer) the leader.
fn redirect(node: &Node, slot: Slot, not_leader: &ForwardToLeader<TypeConfig>, may_forward: bool) -> Frame {
    let leader = not_leader.leader_id.filter(|&l| l != node.id);
    let view = node.view.read();
    match leader.and_then(|l| view.nodes.get(&l)) {
        Some(n) if may_forward && view.redirect == RedirectMode::Moved => {
            Frame::Error(format!("MOVED {slot} {}", n.resp))
        }
        Some(_) => Frame::error(TRYAGAIN),
        None => Frame::error(CLUSTERDOWN),
    }
}

async fn run_local(
    node: &Node,
    group: GroupId,
    slot: Slot,
    args: Vec<Bytes>,
    is_write: bool,
    may_forward: bool,
) -> Frame {
    let Some(g) = node.groups.get(&group) else {
        return Frame::error(CLUSTERDOWN);
    };
    if is_write {
        if let Err(e) = cmd::validate(&args) {
            return e;
        }
        let proxy = may_forward && node.config.redirect == RedirectMode::Proxy;
        let retry_args = proxy.then(|| args.clone());
        let req = Request {
            time_ms: now_ms(),
            args,
        };
        return match g.raft.client_write(req).await {
            Ok(resp) => resp.data.0,
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                // Refused before it entered the log: safe to send elsewhere.
                match (retry_args, f.leader_id.filter(|&l| l != node.id)) {
                    (Some(args), Some(leader)) => Box::pin(forward(node, group, leader, slot, args, true)).await,
                    _ => redirect(node, slot, &f, may_forward),
                }
            }
            Err(e) => {
                tracing::debug!(group, "write outcome unknown: {e}");
                Frame::error(UNKNOWN_OUTCOME)
            }
        };
    }
    if !g.raft.is_leader() {
        // READONLY connection on a follower: possibly stale, as on Redis Cluster replicas.
        let state = g.sm.state.read();
        return cmd::execute_read(&state.store, &args, now_ms().max(state.clock_ms));
    }
    match g.raft.ensure_linearizable(ReadPolicy::LeaseRead).await {
        Ok(_) => {
            let state = g.sm.state.read();
            cmd::execute_read(&state.store, &args, now_ms().max(state.clock_ms))
        }
        Err(RaftError::APIError(LinearizableReadError::ForwardToLeader(f))) => redirect(node, slot, &f, may_forward),
        Err(e) => {
            tracing::debug!(group, "linearizable read failed: {e}");
            Frame::error(TRYAGAIN)
        }
    }
}

/// Proxy mode: runs the command on the leader. Refusals that prove nothing was applied
/// (TRYAGAIN, CLUSTERDOWN, MOVED from the leader side) are retried for a short while.
async fn forward(node: &Node, group: GroupId, leader: NodeId, slot: Slot, args: Vec<Bytes>, is_write: bool) -> Frame {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let mut leader = leader;
    loop {
        let Some(mut client) = node.peers.node_client(leader) else {
            return Frame::error(CLUSTERDOWN);
        };
        let msg = pb::ForwardRequest {
            group,
            args: args.iter().map(|a| a.to_vec()).collect(),
        };
        let mut req = tonic::Request::new(msg);
        req.set_timeout(Duration::from_secs(10));
        let refused = match client.forward(req).await {
            Ok(reply) => match decode::<Frame>(&reply.into_inner().frame) {
                Ok(Frame::Error(e)) if e.starts_with("TRYAGAIN") || e.starts_with("CLUSTERDOWN") => Frame::Error(e),
                Ok(frame) => return frame,
                Err(_) => return Frame::error("ERR bad reply from the leader"),
            },
            Err(status) if is_write && status.code() != tonic::Code::Unavailable => {
                tracing::debug!(group, leader, "forwarded write failed: {status}");
                return Frame::error(UNKNOWN_OUTCOME);
            }
            Err(_) => Frame::error(CLUSTERDOWN),
        };
        if tokio::time::Instant::now() >= deadline {
            return refused;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let decision = route(
            &node.view.read(),
            &[slot],
            RouteCtx {
                is_write,
                readonly: false,
            },
        );
        match decision {
            Route::Forward { leader: l, .. } => leader = l,
            Route::Here(g) => return Box::pin(run_local(node, g, slot, args, is_write, true)).await,
            _ => {}
        }
    }
}

/// Runs a command forwarded by another node (proxy mode) as if a client had sent it here,
/// without forwarding it again.
pub async fn execute_forwarded(node: &Node, _group: GroupId, args: Vec<Bytes>) -> Frame {
    if args.is_empty() {
        return Frame::error("ERR empty command");
    }
    let mut conn = ConnState::new(0, std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    conn.may_forward = false;
    execute(node, &mut conn, args).await
}
