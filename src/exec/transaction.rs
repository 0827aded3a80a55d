//! MULTI / EXEC / DISCARD / WATCH / UNWATCH on a connection. Commands queue on the
//! connection; EXEC sends the data commands as one `slotraft.exec` log entry to the slot's
//! group (so they apply atomically, at one index, on every replica) and answers the commands
//! the node serves itself (PING, ECHO …) in their places. WATCH reads the group's
//! modification clock on the leader; the entry's apply compares it (see `cmd::txn`).

use bytes::Bytes;

use crate::cluster::route::{Route, RouteCtx, route};
use crate::cmd::txn::{EXEC_ENTRY, Transaction, WATCH_CLOCK, Watch};
use crate::cmd::{self, Kind, Prepared, TwinReply};
use crate::errors::{CROSSSLOT, EXECABORT};
use crate::exec::data;
use crate::exec::node_commands;
use crate::exec::session::ConnState;
use crate::node::Node;
use crate::resp::encode::Protocol;
use crate::resp::frame::Frame;
use crate::slots::{Slot, key_slot};

/// A command refused while queueing makes EXEC fail with EXECABORT, as in Redis.
pub fn refuse(conn: &mut ConnState, reply: Frame) -> Frame {
    if conn.multi.is_some() {
        conn.multi_dirty = true;
    }
    reply
}

/// Queues a command inside MULTI. Like Redis Cluster, a data command whose keys are in
/// several slots, or whose slot is led elsewhere, is refused now and dooms the transaction.
pub fn queue(node: &Node, conn: &mut ConnState, p: Prepared, args: Vec<Bytes>) -> Frame {
    if p.kind() != Kind::Node {
        let ctx = RouteCtx::write();
        match route(&node.view.read(), &p.slots, ctx) {
            Route::CrossSlot => return refuse(conn, Frame::error(CROSSSLOT)),
            Route::Moved { slot, addr } if conn.may_forward => {
                return refuse(conn, Frame::Error(crate::errors::moved(slot, addr)));
            }
            _ => {}
        }
    }
    if let Some(queued) = conn.multi.as_mut() {
        queued.push((p, args));
    }
    Frame::Simple("QUEUED".into())
}

/// MULTI, EXEC, DISCARD, WATCH and UNWATCH.
pub async fn execute(node: &Node, conn: &mut ConnState, p: &Prepared, args: &[Bytes]) -> Frame {
    match p.spec.name {
        "multi" if conn.multi.is_some() => Frame::error("ERR MULTI calls can not be nested"),
        "multi" => {
            conn.multi = Some(Vec::new());
            conn.multi_dirty = false;
            Frame::ok()
        }
        "discard" => match conn.multi.take() {
            None => Frame::error("ERR DISCARD without MULTI"),
            Some(_) => {
                conn.multi_dirty = false;
                conn.watched.clear();
                Frame::ok()
            }
        },
        "unwatch" => {
            conn.watched.clear();
            Frame::ok()
        }
        "watch" if conn.multi.is_some() => Frame::error("ERR WATCH inside MULTI is not allowed"),
        "watch" => watch(node, conn, p, args).await,
        "exec" => exec(node, conn).await,
        other => Frame::Error(format!("ERR command '{other}' is not a transaction command")),
    }
}

/// Reads the modification clock on the keys' leader and remembers it for each key.
async fn watch(node: &Node, conn: &mut ConnState, p: &Prepared, args: &[Bytes]) -> Frame {
    let mut internal = Vec::with_capacity(args.len());
    internal.push(Bytes::from_static(WATCH_CLOCK.as_bytes()));
    internal.extend_from_slice(&args[1..]);
    // The entry names the watched keys, in the same places: it goes where WATCH's keys are.
    let entry = match Prepared::entry(WATCH_CLOCK, p.slots.clone()) {
        Ok(e) => e,
        Err(e) => return e,
    };
    let ctx = RouteCtx::read(false);
    match data::execute_data(node, &entry, &internal, ctx, conn.may_forward).await {
        Frame::Array(items) if items.len() == args.len() => {
            let Frame::Integer(seen) = items[0] else {
                return Frame::error("ERR unexpected WATCH reply");
            };
            let seen = u64::try_from(seen).unwrap_or(0);
            let watches = args[1..].iter().zip(&items[1..]).map(|(k, expired)| Watch {
                key: k.clone(),
                seen,
                was_expired: *expired == Frame::Integer(1),
            });
            conn.watched.extend(watches);
            Frame::ok()
        }
        other => other,
    }
}

/// Runs the queued transaction. The MULTI state and the watches end here, whatever happens.
async fn exec(node: &Node, conn: &mut ConnState) -> Frame {
    let Some(queued) = conn.multi.take() else {
        return Frame::error("ERR EXEC without MULTI");
    };
    let watches = std::mem::take(&mut conn.watched);
    if std::mem::take(&mut conn.multi_dirty) {
        return Frame::error(EXECABORT);
    }
    // Blocking pops run once as their non-blocking twins, as in Redis (same keys, same slots).
    let mut shapes: Vec<Option<TwinReply>> = vec![None; queued.len()];
    let mut is_data = vec![false; queued.len()];
    let queued: Vec<(Prepared, Vec<Bytes>)> = queued
        .into_iter()
        .enumerate()
        .map(|(i, (p, args))| match cmd::blocking::read(p.spec, &args) {
            Some(Ok(b)) => {
                shapes[i] = Some(b.reply);
                is_data[i] = true;
                (p, b.twin)
            }
            _ => {
                is_data[i] = p.kind() != Kind::Node;
                (p, args)
            }
        })
        .collect();
    let (data, local): (Vec<_>, Vec<_>) = queued.into_iter().enumerate().partition(|(i, _)| is_data[*i]);
    let mut replies: Vec<Option<Frame>> = vec![None; data.len() + local.len()];
    if !data.is_empty() || !watches.is_empty() {
        let slots: Vec<Slot> = watches
            .iter()
            .map(|w| key_slot(&w.key))
            .chain(data.iter().flat_map(|(_, (p, _))| p.slots.iter().copied()))
            .collect();
        let tx = Transaction {
            watches,
            commands: data.iter().map(|(_, (_, a))| a.clone()).collect(),
        };
        let entry = tx.encode();
        let prepared = match Prepared::entry(EXEC_ENTRY, slots) {
            Ok(p) => p,
            Err(_) => return Frame::error("ERR transactions are not available"),
        };
        let ctx = RouteCtx::write();
        match data::execute_data(node, &prepared, &entry, ctx, conn.may_forward).await {
            Frame::Array(items) if items.len() == data.len() => {
                for ((i, (p, args)), item) in data.iter().zip(items) {
                    // The reply shapes RESP3 changes, as outside a transaction.
                    let item = if conn.protocol == Protocol::Resp3 && shapes[*i].is_none() {
                        p.reshape_for_resp3(args, item)
                    } else {
                        item
                    };
                    replies[*i] = Some(item);
                }
            }
            // Aborted by WATCH (null), or refused before it was proposed (MOVED, CROSSSLOT,
            // CLUSTERDOWN) or of unknown outcome: the reply stands for the whole EXEC.
            other => return other,
        }
    }
    for (i, (p, args)) in local {
        let reply = if p.spec.name == "unwatch" {
            Frame::ok()
        } else {
            node_commands::execute(node, conn, &p, &args).await
        };
        replies[i] = Some(reply);
    }
    Frame::Array(
        replies
            .into_iter()
            .zip(shapes)
            .map(|(r, shape)| {
                let r = r.unwrap_or(Frame::Null);
                shape.map_or(r.clone(), |s| s.convert(r))
            })
            .collect(),
    )
}
