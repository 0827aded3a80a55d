//! The path of one command (docs/architecture.md): table lookup and arity check, then MULTI
//! queueing, a blocking command, a transaction command, a command the node answers itself, or
//! a data command (`data`), routed by its slots.

use bytes::Bytes;

use crate::cmd::{self, Kind};
use crate::exec::data::execute_plain;
use crate::exec::session::ConnState;
use crate::exec::{blocking, node_commands, pubsub, transaction};
use crate::ids::GroupId;
use crate::node::Node;
use crate::resp::frame::Frame;

/// Executes one command for a client connection.
pub async fn execute(node: &Node, conn: &mut ConnState, args: Vec<Bytes>) -> Frame {
    // Internal entries (EXEC's, WATCH's) only arrive forwarded from another node.
    let found = if conn.may_forward {
        cmd::lookup(&args[0])
    } else {
        cmd::lookup_internal(&args[0])
    };
    let Some(spec) = found else {
        return transaction::refuse(conn, cmd::unknown_command(&args));
    };
    if let Err(e) = cmd::check_arity(spec, args.len()) {
        return transaction::refuse(conn, e);
    }
    conn.note_command(spec, &args);
    if let Some(e) = pubsub::subscribed_context_error(conn, spec) {
        return e;
    }
    if conn.multi.is_some() && !transaction::runs_inside_multi(spec) {
        return transaction::queue(node, conn, spec, args);
    }
    if spec.flags.contains(&"blocking") {
        // CLIENT LIST shows a blocked client's command while it waits.
        conn.publish();
        return match blocking::parse(&args) {
            Some(Ok(b)) => blocking::execute(node, conn.may_forward, b).await,
            Some(Err(e)) => e,
            None => cmd::unknown_command(&args),
        };
    }
    if spec.group == "transactions" {
        return transaction::execute(node, conn, spec, &args).await;
    }
    if spec.kind == Kind::Node {
        return node_commands::execute(node, conn, spec, &args).await;
    }
    // ASK redirects come with slot migration; the flag lasts one command, as in Redis.
    conn.asking = false;
    execute_plain(node, spec, &args, conn.readonly, conn.may_forward, conn.protocol).await
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
