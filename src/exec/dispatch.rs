//! The path of one command (docs/architecture.md): the table reads it once (`cmd::prepare`:
//! row, subcommand, arity, key slots), then MULTI queueing, a blocking command, a transaction
//! command, a command the node answers itself, or a data command (`data`), routed by its
//! slots. The preparation travels with the command down whichever path it takes.

use bytes::Bytes;

use crate::cmd::{self, Family, Flag, Kind, Prepared};
use crate::exec::data::execute_plain;
use crate::exec::session::ConnState;
use crate::exec::{blocking, node_commands, pubsub, transaction};
use crate::ids::GroupId;
use crate::node::Node;
use crate::resp::frame::Frame;

/// Reads a command against the table for this connection: internal entries (EXEC's, WATCH's)
/// are known only to a command another node forwarded.
pub fn prepare(conn: &ConnState, args: &[Bytes]) -> Result<Prepared, Frame> {
    if conn.may_forward {
        cmd::prepare(args)
    } else {
        cmd::prepare_internal(args)
    }
}

/// Executes one command for a client connection.
pub async fn execute(node: &Node, conn: &mut ConnState, args: Vec<Bytes>) -> Frame {
    let prepared = prepare(conn, &args);
    execute_prepared(node, conn, prepared, args).await
}

/// Executes one command already read against the table (`prepare`).
pub async fn execute_prepared(
    node: &Node,
    conn: &mut ConnState,
    prepared: Result<Prepared, Frame>,
    args: Vec<Bytes>,
) -> Frame {
    let p = match prepared {
        Ok(p) => p,
        Err(e) => return transaction::refuse(conn, e),
    };
    conn.note_command(p.spec, &args);
    if let Some(e) = pubsub::subscribed_context_error(conn, p.spec) {
        return e;
    }
    if conn.multi.is_some() && !p.spec.has(Flag::RunsInMulti) {
        return transaction::queue(node, conn, p, args);
    }
    if p.spec.has(Flag::Blocking) {
        // CLIENT LIST shows a blocked client's command while it waits.
        conn.publish();
        return match cmd::blocking::read(p.spec, &args) {
            Some(Ok(b)) => blocking::execute(node, conn.may_forward, b).await,
            Some(Err(e)) => e,
            None => cmd::unknown_command(&args),
        };
    }
    if p.spec.family == Family::Transactions {
        return transaction::execute(node, conn, &p, &args).await;
    }
    if p.kind() == Kind::Node {
        return node_commands::execute(node, conn, &p, &args).await;
    }
    // ASK redirects come with slot migration; the flag lasts one command, as in Redis.
    conn.asking = false;
    execute_plain(node, &p, &args, conn.readonly, conn.may_forward, conn.protocol).await
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
