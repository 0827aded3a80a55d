//! Keyspace-wide commands, answered over the groups this node leads, as a Redis Cluster
//! master answers them for its own slots (cluster clients send them to every master and merge):
//! KEYS, SCAN, RANDOMKEY, FLUSHDB and FLUSHALL. Reads see the leader's applied state;
//! FLUSH goes through each led group's log like any write.

use bytes::Bytes;
use openraft::error::{ClientWriteError, RaftError};

use crate::cmd::parse::{Cursor, SYNTAX_ERROR};
use crate::cmd::{self, FLUSH_ENTRY, ScanOpts};
use crate::errors::{TRYAGAIN, UNKNOWN_OUTCOME};
use crate::node::{Group, Node, now_ms};
use crate::raft::types::{GroupId, Request};
use crate::resp::frame::Frame;
use crate::slots::SLOT_COUNT;

pub async fn execute(node: &Node, name: &str, args: &[Bytes]) -> Frame {
    let reply = match name {
        "keys" => Ok(keys(node, &args[1])),
        "scan" => scan(node, args),
        "randomkey" => Ok(random_key(node)),
        "flushdb" | "flushall" => flush(node, args).await,
        other => Err(Frame::Error(format!("ERR command '{other}' is not a keyspace command"))),
    };
    reply.unwrap_or_else(|e| e)
}

/// The ids of the groups this node leads and hosts.
fn led(node: &Node) -> Vec<GroupId> {
    node.view
        .read()
        .led_by(node.id)
        .map(|g| g.id)
        .filter(|id| node.hosts(*id))
        .collect()
}

fn bulks(keys: Vec<Bytes>) -> Frame {
    Frame::Array(keys.into_iter().map(Frame::Bulk).collect())
}

fn keys(node: &Node, pattern: &[u8]) -> Frame {
    let mut out = Vec::new();
    for id in led(node) {
        if let Some(g) = node.group(id) {
            g.read(|store, now| out.extend(store.keys_matching(pattern, now)));
        }
    }
    bulks(out)
}

/// SCAN walks slots in order; the cursor is the next slot to visit (0 when done), so a key
/// that exists for the whole scan is returned once its slot is visited, whatever else changes.
/// COUNT is a hint: whole slots are returned until at least that many keys are gathered.
fn scan(node: &Node, args: &[Bytes]) -> Result<Frame, Frame> {
    let cursor = cmd::parse_cursor(&args[1])?;
    // The cursor stands where the parse cursor expects a command name.
    let mut c = Cursor::new(&args[1..]);
    let opts = ScanOpts::parse_options(&mut c, true)?;
    // Two separate reads of the view: a nested read lock can deadlock behind a waiting writer.
    let led = led(node);
    let slot_group = node.view.read().slot_group.clone();
    let mut out = Vec::new();
    let mut slot = usize::try_from(cursor).unwrap_or(usize::MAX);
    while slot < usize::from(SLOT_COUNT) && out.len() < opts.count {
        let group = slot_group[slot];
        if led.contains(&group)
            && let Some(g) = node.group(group)
        {
            // Slot numbers fit u16: the loop stays below SLOT_COUNT.
            let s = slot as u16;
            g.read(|store, now| out.extend(store.scan_slot(s, opts.pattern, opts.type_filter.as_deref(), now)));
        }
        slot += 1;
    }
    let next = if slot >= usize::from(SLOT_COUNT) { 0 } else { slot };
    Ok(Frame::Array(vec![
        Frame::Bulk(Bytes::from(next.to_string())),
        bulks(out),
    ]))
}

/// A key of a led group, groups weighted by size so every key is about equally likely.
fn random_key(node: &Node) -> Frame {
    let groups: Vec<&Group> = led(node).iter().filter_map(|id| node.group(*id)).collect();
    let sizes: Vec<usize> = groups.iter().map(|g| g.keys()).collect();
    let total: usize = sizes.iter().sum();
    if total == 0 {
        return Frame::Null;
    }
    let seed: u64 = rand::random();
    let mut r = (seed % total as u64) as usize;
    for (g, size) in groups.iter().zip(sizes) {
        if r < size {
            return g
                .read(|store, now| store.random_key(seed, now))
                .map_or(Frame::Null, Frame::Bulk);
        }
        r -= size;
    }
    Frame::Null
}

/// FLUSHDB / FLUSHALL [ASYNC | SYNC]: one flush entry through each led group's log.
async fn flush(node: &Node, args: &[Bytes]) -> Result<Frame, Frame> {
    match args.get(1).map(|a| a.to_ascii_lowercase()) {
        None => {}
        Some(mode) if args.len() == 2 && (mode == b"async" || mode == b"sync") => {}
        Some(_) => return Err(Frame::error(SYNTAX_ERROR)),
    }
    for id in led(node) {
        let Some(g) = node.group(id) else { continue };
        let req = Request::new(now_ms(), &[Bytes::from_static(FLUSH_ENTRY.as_bytes())]);
        match g.raft().client_write(req).await {
            Ok(_) => {}
            // Not applied: leadership moved before the entry was accepted.
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => return Err(Frame::error(TRYAGAIN)),
            Err(_) => return Err(Frame::error(UNKNOWN_OUTCOME)),
        }
    }
    Ok(Frame::ok())
}
