//! Pub/Sub commands. PUBLISH reaches subscribers on every node (delivered here, fanned out to
//! each peer over the node-to-node channel, never through the Raft log); SPUBLISH and
//! SSUBSCRIBE are routed by the channel's slot like keys, and reach the members of the slot's
//! group. As in Redis Cluster, PUBLISH answers how many clients of *this* node received it.

use bytes::Bytes;

use crate::cluster::route::{Route, RouteCtx, route};
use crate::cmd::parse::Cursor;
use crate::cmd::{CommandSpec, Flag, Prepared};
use crate::errors::{CLUSTERDOWN, CROSSSLOT};
use crate::exec::session::ConnState;
use crate::node::Node;
use crate::node::pubsub::Space;
use crate::raft::types::NodeId;
use crate::resp::encode::Protocol;
use crate::resp::frame::Frame;
use crate::slots::key_slot;

/// A RESP2 connection with subscriptions only takes (un)subscribe, PING, QUIT and RESET.
pub fn subscribed_context_error(conn: &ConnState, spec: &CommandSpec) -> Option<Frame> {
    (conn.protocol == Protocol::Resp2 && !conn.subscriptions.is_empty() && !spec.has(Flag::WhileSubscribed)).then(|| {
        Frame::Error(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.name
        ))
    })
}

fn bulk(b: &'static [u8]) -> Frame {
    Frame::Bulk(Bytes::from_static(b))
}

fn count(conn: &ConnState, space: Space) -> i64 {
    let n = conn
        .subscriptions
        .iter()
        .filter(|(s, _)| match space {
            Space::Shard => *s == Space::Shard,
            _ => *s != Space::Shard,
        })
        .count();
    n as i64
}

/// The replies of a (un)subscribe command, one per name: the first is returned, the rest go
/// to `conn.pending` and are written right after it.
fn confirmations(conn: &mut ConnState, frames: Vec<Frame>) -> Frame {
    let mut frames = frames.into_iter();
    let first = frames.next().unwrap_or(Frame::Null);
    conn.pending.extend(frames);
    first
}

pub async fn execute(node: &Node, conn: &mut ConnState, p: &Prepared, args: &[Bytes]) -> Frame {
    let spec = p.spec;
    let (space, kind): (Space, &'static [u8]) = match spec.name {
        "subscribe" => (Space::Channel, b"subscribe"),
        "psubscribe" => (Space::Pattern, b"psubscribe"),
        "ssubscribe" => (Space::Shard, b"ssubscribe"),
        "unsubscribe" => (Space::Channel, b"unsubscribe"),
        "punsubscribe" => (Space::Pattern, b"punsubscribe"),
        "sunsubscribe" => (Space::Shard, b"sunsubscribe"),
        "publish" => return publish(node, args).await,
        "spublish" => return spublish(node, args).await,
        "pubsub" => return introspect(node, p, args),
        other => return Frame::Error(format!("ERR command '{other}' is not a Pub/Sub command")),
    };
    if spec.name.contains("unsubscribe") {
        // Shard channels are keys: SUNSUBSCRIBE's must share a slot, as Redis Cluster checks.
        if space == Space::Shard && p.slots.iter().any(|&s| s != p.slots[0]) {
            return Frame::error(CROSSSLOT);
        }
        return unsubscribe(node, conn, space, kind, &args[1..]);
    }
    if space == Space::Shard
        && let Err(e) = shard_route(node, &args[1..])
    {
        return e;
    }
    let Some(push) = conn.push.clone() else {
        return Frame::error("ERR this connection cannot subscribe");
    };
    let mut frames = Vec::with_capacity(args.len() - 1);
    for name in &args[1..] {
        if conn.subscriptions.insert((space, name.clone())) {
            node.pubsub.subscribe(space, name.clone(), &push);
        }
        frames.push(Frame::Push(vec![
            bulk(kind),
            Frame::Bulk(name.clone()),
            Frame::Integer(count(conn, space)),
        ]));
    }
    confirmations(conn, frames)
}

fn unsubscribe(node: &Node, conn: &mut ConnState, space: Space, kind: &'static [u8], names: &[Bytes]) -> Frame {
    let names: Vec<Bytes> = if names.is_empty() {
        conn.subscriptions
            .iter()
            .filter(|(s, _)| *s == space)
            .map(|(_, n)| n.clone())
            .collect()
    } else {
        names.to_vec()
    };
    if names.is_empty() {
        return Frame::Push(vec![bulk(kind), Frame::Null, Frame::Integer(count(conn, space))]);
    }
    let mut frames = Vec::with_capacity(names.len());
    for name in names {
        if conn.subscriptions.remove(&(space, name.clone())) {
            node.pubsub.unsubscribe(space, &name, conn.id);
        }
        frames.push(Frame::Push(vec![
            bulk(kind),
            Frame::Bulk(name),
            Frame::Integer(count(conn, space)),
        ]));
    }
    confirmations(conn, frames)
}

/// Drops every subscription of a connection (RESET).
pub fn unsubscribe_all(node: &Node, conn: &mut ConnState) {
    for (space, name) in std::mem::take(&mut conn.subscriptions) {
        node.pubsub.unsubscribe(space, &name, conn.id);
    }
}

/// Shard channels are keys: all of one command in one slot, served by a member of its group.
fn shard_route(node: &Node, channels: &[Bytes]) -> Result<Vec<NodeId>, Frame> {
    let slot = key_slot(&channels[0]);
    if channels.iter().any(|c| key_slot(c) != slot) {
        return Err(Frame::error(CROSSSLOT));
    }
    let view = node.view.read();
    let Some(group) = view.group_of_slot(slot) else {
        return Err(Frame::error(CLUSTERDOWN));
    };
    if group.members.contains(&node.id) {
        return Ok(group.members.clone());
    }
    let ctx = RouteCtx::write();
    match route(&view, &[slot], ctx) {
        Route::Moved { slot, addr } => Err(Frame::Error(crate::errors::moved(slot, addr))),
        // Proxy mode: publish to the group's members from here.
        Route::Forward { .. } => Ok(group.members.clone()),
        _ => Err(Frame::error(CLUSTERDOWN)),
    }
}

/// Sends a message to the subscribers of other nodes, in the background, within the node's
/// budget of bytes in flight (`node::pubsub::FAN_OUT_BYTES`; the publisher waits for room).
async fn fan_out(node: &Node, to: Vec<NodeId>, channel: &Bytes, message: &Bytes, sharded: bool) {
    for peer in to.into_iter().filter(|&p| p != node.id) {
        let Some(place) = node.pubsub.fan_out_place(channel.len() + message.len()).await else {
            return;
        };
        let (peers, channel, message) = (node.peers.clone(), channel.clone(), message.clone());
        tokio::spawn(async move {
            let timeout = std::time::Duration::from_secs(5);
            if let Err(e) = peers.publish(peer, &channel, &message, sharded, timeout).await {
                tracing::debug!(peer, "publish fan-out failed: {e}");
            }
            drop(place);
        });
    }
}

async fn publish(node: &Node, args: &[Bytes]) -> Frame {
    let (channel, message) = (&args[1], &args[2]);
    let n = node.pubsub.publish(channel, message);
    fan_out(node, node.peers.ids().collect(), channel, message, false).await;
    Frame::Integer(n as i64)
}

async fn spublish(node: &Node, args: &[Bytes]) -> Frame {
    let members = match shard_route(node, &args[1..2]) {
        Ok(m) => m,
        Err(e) => return e,
    };
    let (channel, message) = (&args[1], &args[2]);
    let n = if members.contains(&node.id) {
        node.pubsub.spublish(channel, message)
    } else {
        0
    };
    fan_out(node, members, channel, message, true).await;
    Frame::Integer(n as i64)
}

/// PUBSUB CHANNELS / SHARDCHANNELS / NUMSUB / SHARDNUMSUB / NUMPAT, over this node's
/// subscribers (the table checked each subcommand's arity).
fn introspect(node: &Node, p: &Prepared, args: &[Bytes]) -> Frame {
    let Some(sub) = p.sub else {
        return Frame::error("ERR PUBSUB needs a subcommand");
    };
    // After the subcommand's name.
    let mut c = Cursor::new(&args[1..]);
    let names = c.rest();
    let bulks = |v: Vec<Bytes>| Frame::Array(v.into_iter().map(Frame::Bulk).collect());
    let counts = |space: Space| {
        let mut out = Vec::new();
        for name in names {
            out.push(Frame::Bulk(name.clone()));
            out.push(Frame::Integer(node.pubsub.count(space, name) as i64));
        }
        Frame::Array(out)
    };
    let pattern = names.first().map(|p| &p[..]);
    match sub.name {
        // One pattern at most, which the table's arity (-2) cannot say; Redis's text for it
        // names the subcommand as sent.
        "pubsub|channels" | "pubsub|shardchannels" if names.len() > 1 => Frame::Error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(&args[1][..args[1].len().min(128)])
        )),
        "pubsub|channels" => bulks(node.pubsub.names(Space::Channel, pattern)),
        "pubsub|shardchannels" => bulks(node.pubsub.names(Space::Shard, pattern)),
        "pubsub|numsub" => counts(Space::Channel),
        "pubsub|shardnumsub" => counts(Space::Shard),
        _ => Frame::Integer(node.pubsub.pattern_count() as i64),
    }
}
