//! Blocking pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP.
//!
//! Each is its non-blocking twin (LMPOP, LMOVE, ZMPOP …) proposed through the log like any
//! write, so what it pops is decided by the log on every replica. When the twin finds nothing,
//! the client waits on the slot's leader and looks again after each applied batch. Waiters on
//! a key queue in arrival order and only the first of a key that has data tries, so clients
//! are served in Redis's order. Each look routes again: a client whose slot's leader moved
//! away gets MOVED, as on Redis Cluster. Inside MULTI the twin runs once, without blocking.

use std::time::Duration;

use bytes::Bytes;

use crate::cluster::route::{Route, RouteCtx, route};
use crate::cmd;
use crate::cmd::blocking::Blocking;
use crate::errors::CROSSSLOT;
use crate::exec::data;
use crate::node::Node;
use crate::raft::types::GroupId;
use crate::resp::frame::Frame;

/// Runs a blocking command for a client (not inside MULTI).
pub async fn execute(node: &Node, may_forward: bool, blocking: Blocking) -> Frame {
    // The twin, read against the table once: each look proposes it again.
    let twin = match cmd::prepare(&blocking.twin) {
        Ok(t) => t,
        Err(e) => return e,
    };
    // A numkeys the key finder cannot use: the twin answers its argument error at once.
    if let Some(reply) = cmd::keyless(twin.spec, &blocking.twin) {
        return reply;
    }
    let keys: Vec<Bytes> = twin.keys.iter().map(|&i| blocking.twin[i].clone()).collect();
    // Only the source keys can wake a pop (LMOVE's destination does not).
    let sources: Vec<Bytes> = if blocking.first_key_wakes {
        keys[..keys.len().min(1)].to_vec()
    } else {
        keys.clone()
    };
    let slots = &twin.slots;
    let ctx = RouteCtx::write();
    let deadline = blocking.timeout.map(|t| tokio::time::Instant::now() + t);
    let waiter = node.next_client_id();
    // In the key's queue until dropped: also when the client is killed or hangs up while it
    // waits (its connection drops this future), so it never holds the line for others.
    let mut joined: Option<InLine> = None;
    let reply = loop {
        // Armed before the view is read, so that a change of leader after it is not missed.
        let leadership = node.leaders_changed.notified();
        tokio::pin!(leadership);
        leadership.as_mut().enable();
        let decision = route(&node.view.read(), slots, ctx);
        let group = match decision {
            Route::Here(group) => group,
            Route::CrossSlot => break Frame::error(CROSSSLOT),
            // Not the leader (or proxy mode): the twin answers now, MOVED included.
            _ => {
                break blocking
                    .reply
                    .convert(data::execute_data(node, &twin, &blocking.twin, ctx, may_forward).await);
            }
        };
        let Some(g) = node.group(group) else {
            break data::execute_data(node, &twin, &blocking.twin, ctx, may_forward).await;
        };
        let notified = g.next_apply();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let ready = {
            g.read(|store, now| {
                sources
                    .iter()
                    .any(|k| store.get_live(k, now).is_some() && node.waiters.first(group, k, waiter))
            })
        };
        if ready || joined.is_none() {
            let reply = data::execute_data(node, &twin, &blocking.twin, ctx, may_forward).await;
            if !matches!(reply, Frame::Null | Frame::NullArray) {
                break blocking.reply.convert(reply);
            }
        }
        if joined.is_none() {
            node.waiters.join(group, &sources, waiter);
            joined = Some(InLine {
                node,
                group,
                keys: &sources,
                waiter,
            });
        }
        // Look again after the next apply, a change of leader here, or every so often.
        let tick = tokio::time::Instant::now() + Duration::from_millis(250);
        let until = deadline.map_or(tick, |d| d.min(tick));
        tokio::select! {
            _ = notified => {}
            _ = leadership => {}
            _ = tokio::time::sleep_until(until) => {}
        }
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            break Frame::NullArray;
        }
    };
    drop(joined);
    reply
}

/// A blocked client's place in the queues of its keys, given up when dropped.
struct InLine<'a> {
    node: &'a Node,
    group: GroupId,
    keys: &'a [Bytes],
    waiter: u64,
}

impl Drop for InLine<'_> {
    fn drop(&mut self) {
        self.node.waiters.leave(self.group, self.keys, self.waiter);
    }
}
