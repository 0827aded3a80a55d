//! CLUSTER and its subcommands (the slot map in Redis Cluster's formats, this node's ids, keys
//! of a slot), and READONLY / READWRITE / ASKING, which change how a connection is routed.

use bytes::Bytes;

use super::{bulk, parse_i64};
use crate::cluster::replies;
use crate::cmd::Prepared;
use crate::cmd::parse::{Cursor, Reply};
use crate::exec::session::ConnState;
use crate::node::Node;
use crate::resp::frame::Frame;
use crate::slots::{SLOT_COUNT, key_slot};

pub(super) fn execute(node: &Node, p: &Prepared, args: &[Bytes]) -> Frame {
    let Some(sub) = p.sub else {
        return Frame::error("ERR CLUSTER needs a subcommand");
    };
    // After the subcommand's name; the table checked each subcommand's arity.
    let mut c = Cursor::new(&args[1..]);
    let reply = match sub.name {
        "cluster|slots" => Ok(replies::cluster_slots(&view(node))),
        "cluster|shards" => Ok(replies::cluster_shards(&view(node))),
        "cluster|nodes" => Ok(replies::cluster_nodes(&view(node))),
        "cluster|info" => Ok(replies::cluster_info(&view(node))),
        "cluster|myid" => Ok(bulk(crate::cluster::view::node_name(node.id))),
        "cluster|myshardid" => Ok(my_shard_id(node)),
        "cluster|keyslot" => c.next_bytes().map(|key| Frame::Integer(i64::from(key_slot(key)))),
        "cluster|countkeysinslot" => count_keys_in_slot(node, &mut c),
        _ => get_keys_in_slot(node, &mut c),
    };
    reply.and_then(|frame| c.finish().map(|()| frame)).unwrap_or_else(|e| e)
}

/// READONLY, READWRITE, ASKING: how this connection's next commands are routed.
pub(super) fn routing_mode(conn: &mut ConnState, name: &str) -> Frame {
    match name {
        "readonly" => conn.readonly = true,
        "readwrite" => conn.readonly = false,
        _ => conn.asking = true,
    }
    Frame::ok()
}

/// The view with each local group's applied index (CLUSTER NODES' config epoch and the like).
fn view(node: &Node) -> crate::cluster::view::View {
    let mut v = node.view.read().clone();
    for g in node.groups() {
        if let Some(gi) = v.groups.get_mut(&g.id) {
            gi.applied = g.applied_index();
        }
    }
    v
}

fn my_shard_id(node: &Node) -> Frame {
    let v = node.view.read();
    let g = v
        .led_by(node.id)
        .next()
        .map(|g| g.id)
        .or_else(|| node.groups().next().map(|g| g.id));
    bulk(format!("{:040x}", g.unwrap_or(0)))
}

fn count_keys_in_slot(node: &Node, c: &mut Cursor) -> Reply<Frame> {
    match parse_i64(c.next_bytes()?) {
        Some(s) if (0..i64::from(SLOT_COUNT)).contains(&s) => Ok(Frame::Integer(
            slot_store(node, s as u16, |st| st.count_keys_in_slot(s as u16) as i64).unwrap_or(0),
        )),
        Some(_) => Err(Frame::error("ERR Invalid slot")),
        None => Err(Frame::error(crate::errors::NOT_AN_INTEGER)),
    }
}

fn get_keys_in_slot(node: &Node, c: &mut Cursor) -> Reply<Frame> {
    let (slot, count) = (c.next_bytes()?, c.next_bytes()?);
    match (parse_i64(slot), parse_i64(count)) {
        (Some(s), Some(n)) if (0..i64::from(SLOT_COUNT)).contains(&s) && n >= 0 => {
            let keys = slot_store(node, s as u16, |st| st.keys_in_slot(s as u16, n as usize)).unwrap_or_default();
            Ok(Frame::Array(keys.into_iter().map(Frame::Bulk).collect()))
        }
        // One text for either, as Redis 7 has it.
        (Some(_), Some(_)) => Err(Frame::error("ERR Invalid slot or number of keys")),
        _ => Err(Frame::error("ERR value is not an integer or out of range")),
    }
}

/// Runs `f` on the local replica of the group owning `slot`, if this node has one.
fn slot_store<T>(node: &Node, slot: u16, f: impl FnOnce(&crate::store::Store) -> T) -> Option<T> {
    let group = node.view.read().slot_group.get(slot as usize).copied()?;
    let g = node.group(group)?;
    Some(g.read_applied(|store, _| f(store)))
}
