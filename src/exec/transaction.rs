//! MULTI / EXEC / DISCARD / WATCH / UNWATCH on a connection. Commands queue on the
//! connection; EXEC sends the data commands as one `slotraft.exec` log entry to the slot's
//! group (so they apply atomically, at one index, on every replica) and answers the commands
//! the node serves itself (PING, ECHO …) in their places. WATCH reads the group's
//! modification clock on the leader; the entry's apply compares it (see `cmd::txn`).

use bytes::Bytes;

use crate::cluster::route::{Route, RouteCtx, route};
use crate::cmd::txn::{Transaction, WATCH_CLOCK, Watch};
use crate::cmd::{self, CommandSpec, Kind};
use crate::errors::{CROSSSLOT, EXECABORT};
use crate::exec::data;
use crate::exec::session::ConnState;
use crate::exec::{blocking, node_commands};
use crate::node::Node;
use crate::resp::encode::Protocol;
use crate::resp::frame::Frame;
use crate::slots::{Slot, key_slot};

/// Whether `spec` runs now even inside MULTI (everything else is queued).
pub fn runs_inside_multi(spec: &CommandSpec) -> bool {
    matches!(spec.name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset")
}

/// A command refused while queueing makes EXEC fail with EXECABORT, as in Redis.
pub fn refuse(conn: &mut ConnState, reply: Frame) -> Frame {
    if conn.multi.is_some() {
        conn.multi_dirty = true;
    }
    reply
}

fn slots_of(spec: &'static CommandSpec, args: &[Bytes]) -> Vec<Slot> {
    cmd::key_positions(spec, args)
        .into_iter()
        .map(|i| key_slot(&args[i]))
        .collect()
}

/// Queues a command inside MULTI. Like Redis Cluster, a data command whose keys are in
/// several slots, or whose slot is led elsewhere, is refused now and dooms the transaction.
pub fn queue(node: &Node, conn: &mut ConnState, spec: &'static CommandSpec, args: Vec<Bytes>) -> Frame {
    if spec.kind != Kind::Node {
        let ctx = RouteCtx::write();
        match route(&node.view.read(), &slots_of(spec, &args), ctx) {
            Route::CrossSlot => return refuse(conn, Frame::error(CROSSSLOT)),
            Route::Moved { slot, addr } if conn.may_forward => {
                return refuse(conn, Frame::Error(crate::errors::moved(slot, addr)));
            }
            _ => {}
        }
    }
    if let Some(queued) = conn.multi.as_mut() {
        queued.push(args);
    }
    Frame::Simple("QUEUED".into())
}

/// MULTI, EXEC, DISCARD, WATCH and UNWATCH.
pub async fn execute(node: &Node, conn: &mut ConnState, spec: &'static CommandSpec, args: &[Bytes]) -> Frame {
    match spec.name {
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
        "watch" => watch(node, conn, args).await,
        "exec" => exec(node, conn).await,
        other => Frame::Error(format!("ERR command '{other}' is not a transaction command")),
    }
}

/// Reads the modification clock on the keys' leader and remembers it for each key.
async fn watch(node: &Node, conn: &mut ConnState, args: &[Bytes]) -> Frame {
    let mut internal = Vec::with_capacity(args.len());
    internal.push(Bytes::from_static(WATCH_CLOCK.as_bytes()));
    internal.extend_from_slice(&args[1..]);
    let Some(spec) = cmd::lookup_internal(WATCH_CLOCK.as_bytes()) else {
        return Frame::error("ERR WATCH is not available");
    };
    let ctx = RouteCtx::read(false);
    match data::execute_data(node, &slots_of(spec, &internal), &internal, ctx, conn.may_forward).await {
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
    // Blocking pops run once as their non-blocking twins, as in Redis.
    let mut shapes = vec![None; queued.len()];
    let queued: Vec<Vec<Bytes>> = queued
        .into_iter()
        .enumerate()
        .map(|(i, args)| match blocking::twin_for_multi(&args) {
            Some((twin, shape)) => {
                shapes[i] = Some(shape);
                twin
            }
            None => args,
        })
        .collect();
    let is_data = |args: &Vec<Bytes>| cmd::lookup(&args[0]).is_some_and(|s| s.kind != Kind::Node);
    let (data, local): (Vec<_>, Vec<_>) = queued.into_iter().enumerate().partition(|(_, a)| is_data(a));
    let mut replies: Vec<Option<Frame>> = vec![None; data.len() + local.len()];
    if !data.is_empty() || !watches.is_empty() {
        let tx = Transaction {
            watches,
            commands: data.iter().map(|(_, a)| a.clone()).collect(),
        };
        let entry = tx.encode();
        let Some(spec) = cmd::lookup_internal(&entry[0]) else {
            return Frame::error("ERR transactions are not available");
        };
        let ctx = RouteCtx::write();
        match data::execute_data(node, &slots_of(spec, &entry), &entry, ctx, conn.may_forward).await {
            Frame::Array(items) if items.len() == data.len() => {
                for ((i, args), item) in data.iter().zip(items) {
                    // The reply shapes RESP3 changes, as outside a transaction.
                    let item = if conn.protocol == Protocol::Resp3 && shapes[*i].is_none() {
                        cmd::reshape_for_resp3(args, item)
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
    for (i, args) in local {
        let reply = match cmd::lookup(&args[0]) {
            Some(spec) if spec.name == "unwatch" => Frame::ok(),
            Some(spec) => node_commands::execute(node, conn, spec, &args).await,
            None => cmd::unknown_command(&args),
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
