//! The path of one command (docs/architecture.md): the table reads it once (`cmd::prepare`:
//! row, subcommand, arity, key slots), then MULTI queueing, a blocking command, a transaction
//! command, a command the node answers itself, or a data command (`data`), routed by its
//! slots. The preparation travels with the command down whichever path it takes.

use bytes::Bytes;

use crate::cmd::{self, Family, Flag, Kind, Prepared};
use crate::exec::data::execute_plain;
use crate::exec::session::ConnState;
use crate::exec::{blocking, meta, node_commands, pubsub, transaction};
use crate::ids::GroupId;
use crate::node::Node;
use crate::resp::frame::Frame;

/// Reads a command against the table for this connection (internal entries, EXEC's and
/// WATCH's, are known only to a command another node forwarded), then checks that the
/// connection's user may run it (`authorize`). Refusals are errors for the client, and doom a
/// transaction being queued, as in Redis.
pub fn prepare(node: &Node, conn: &mut ConnState, args: &[Bytes]) -> Result<Prepared, Frame> {
    let p = if conn.may_forward {
        cmd::prepare(args)
    } else {
        cmd::prepare_internal(args)
    }?;
    authorize(node, conn, &p, args)?;
    Ok(p)
}

/// Redis's reply to a command sent before AUTH when a password is needed.
pub const NOAUTH: &str = "NOAUTH Authentication required.";

/// Checks a prepared command against the connection's user: `-NOAUTH` before authentication
/// when the default user needs a password, `-NOPERM` for a command, key or channel its rules
/// do not allow (and an ACL LOG entry). Costs one atomic load for a user who may run anything.
fn authorize(node: &Node, conn: &mut ConnState, p: &Prepared, args: &[Bytes]) -> Result<(), Frame> {
    let version = node.acl.version();
    if conn.acl_version != version {
        refresh_user(node, conn);
        conn.acl_version = version;
    }
    // An internal entry another node forwarded was authorized there (`exec::meta`).
    if !conn.may_forward && p.spec.is_internal() {
        return Ok(());
    }
    let Some(perms) = &conn.user else {
        if p.spec.has(Flag::NoAuth) {
            return Ok(());
        }
        return Err(Frame::error(NOAUTH));
    };
    if perms.unrestricted || p.spec.has(Flag::NoAuth) {
        return Ok(());
    }
    perms.check(p, args).map_err(|denied| {
        let object = match &denied {
            cmd::acl::Denied::Command(c) => Bytes::from(c.clone()),
            cmd::acl::Denied::Key(k) | cmd::acl::Denied::Channel(k) => k.clone(),
        };
        let context = if conn.multi.is_some() { "multi" } else { "toplevel" };
        node.acl.log_denial(
            denied.reason(),
            context,
            object,
            perms.user.name.clone(),
            client_info(conn),
        );
        denied.reply(&perms.user.name)
    })
}

/// The connection's user as the ACL now stands: the user it authenticated as (a deleted user's
/// connection is closed, as Redis kills them), or the default user while that one needs no
/// password.
pub fn refresh_user(node: &Node, conn: &mut ConnState) {
    conn.user = match &conn.auth_user {
        Some(name) => {
            let user = node.acl.user(name).0;
            if user.is_none() {
                conn.quit = true;
            }
            user
        }
        None => node.acl.open_default(),
    };
}

/// ACL LOG's `client-info`: the connection's CLIENT LIST line (a forwarded command has none).
pub fn client_info(conn: &ConnState) -> String {
    conn.publish();
    conn.client.as_ref().map_or_else(
        || {
            format!(
                "id={} addr={} user={}",
                conn.id,
                conn.addr,
                String::from_utf8_lossy(&conn.user_name())
            )
        },
        |c| c.line(),
    )
}

/// Executes one command for a client connection.
pub async fn execute(node: &Node, conn: &mut ConnState, args: Vec<Bytes>) -> Frame {
    let prepared = prepare(node, conn, &args);
    execute_prepared(node, conn, prepared, args).await
}

/// Which way a prepared command goes, decided from the table's row and the session alone.
#[derive(Debug, PartialEq)]
pub enum Way {
    /// Answered at once with this (a command a subscribed RESP2 connection may not send).
    Reply(Frame),
    /// Inside MULTI: queued for EXEC (or refused, dooming the transaction).
    Queue,
    /// A blocking command, outside MULTI.
    Blocking,
    /// MULTI, EXEC, DISCARD, WATCH, UNWATCH.
    Transaction,
    /// Answered by the node itself.
    Node,
    /// A read or write of keys, routed by its slots.
    Data,
}

/// The way `p` goes on `conn`.
pub fn way(conn: &ConnState, p: &Prepared) -> Way {
    if let Some(e) = pubsub::subscribed_context_error(conn, p.spec) {
        return Way::Reply(e);
    }
    if conn.multi.is_some() && !p.spec.has(Flag::RunsInMulti) {
        return Way::Queue;
    }
    if p.spec.has(Flag::Blocking) {
        return Way::Blocking;
    }
    if p.spec.family == Family::Transactions {
        return Way::Transaction;
    }
    if p.kind() == Kind::Node {
        return Way::Node;
    }
    Way::Data
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
        // EXEC's own arity error aborts the transaction, as in Redis.
        Err(e) if args.first().is_some_and(|n| n.eq_ignore_ascii_case(b"exec")) => {
            return transaction::abort_exec(conn, e);
        }
        Err(e) => return transaction::refuse(conn, e),
    };
    conn.note_command(p.spec, &args);
    if !conn.may_forward && p.spec.name == cmd::ACL_ENTRY {
        // A change of users another node sent the metadata group's leader.
        return meta::change(node, args, false).await;
    }
    match way(conn, &p) {
        Way::Reply(e) if p.spec.name == "exec" => transaction::abort_exec(conn, e),
        Way::Reply(e) => e,
        Way::Queue => transaction::queue(node, conn, p, args),
        Way::Blocking => {
            // CLIENT LIST shows a blocked client's command while it waits.
            conn.publish();
            match cmd::blocking::read(p.spec, &args) {
                Some(Ok(b)) => blocking::execute(node, conn.may_forward, b).await,
                Some(Err(e)) => e,
                None => cmd::unknown_command(&args),
            }
        }
        Way::Transaction => transaction::execute(node, conn, &p, &args).await,
        Way::Node => node_commands::execute(node, conn, &p, &args).await,
        Way::Data => {
            // ASK redirects come with slot migration; the flag lasts one command, as in Redis.
            conn.asking = false;
            execute_plain(node, &p, &args, conn.readonly, conn.may_forward, conn.protocol).await
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
    conn.auth_user = Some(Bytes::from_static(cmd::acl::DEFAULT_USER.as_bytes()));
    execute(node, &mut conn, args).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::pubsub::Space;
    use crate::resp::encode::Protocol;

    fn args(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect()
    }

    fn way_of(conn: &ConnState, req: &[&str]) -> Way {
        let a = args(req);
        let p = if conn.may_forward {
            cmd::prepare(&a)
        } else {
            cmd::prepare_internal(&a)
        };
        way(conn, &p.expect("a known command"))
    }

    fn client() -> ConnState {
        ConnState::new(1, std::net::SocketAddr::from(([127, 0, 0, 1], 1)))
    }

    #[test]
    fn each_command_takes_its_way() {
        let conn = client();
        assert_eq!(way_of(&conn, &["GET", "k"]), Way::Data);
        assert_eq!(way_of(&conn, &["SET", "k", "v"]), Way::Data);
        assert_eq!(way_of(&conn, &["PING"]), Way::Node);
        assert_eq!(way_of(&conn, &["CONFIG", "GET", "timeout"]), Way::Node);
        assert_eq!(way_of(&conn, &["KEYS", "*"]), Way::Node);
        assert_eq!(way_of(&conn, &["BLPOP", "k", "0"]), Way::Blocking);
        assert_eq!(way_of(&conn, &["BZMPOP", "0", "1", "z", "MIN"]), Way::Blocking);
        assert_eq!(way_of(&conn, &["MULTI"]), Way::Transaction);
        assert_eq!(way_of(&conn, &["WATCH", "k"]), Way::Transaction);
        // A read or write that names no key is the node's: no group to route to.
        assert_eq!(way_of(&conn, &["OBJECT", "HELP"]), Way::Node);
        assert_eq!(way_of(&conn, &["ZUNION", "0", "k"]), Way::Node);
        assert_eq!(way_of(&conn, &["LMPOP", "abc", "k", "LEFT"]), Way::Node);
    }

    #[test]
    fn inside_multi_commands_queue_but_the_transaction_commands() {
        let mut conn = client();
        conn.multi = Some(Vec::new());
        assert_eq!(way_of(&conn, &["SET", "k", "v"]), Way::Queue);
        assert_eq!(way_of(&conn, &["PING"]), Way::Queue);
        // A blocking command inside MULTI runs once, without blocking, at EXEC.
        assert_eq!(way_of(&conn, &["BLPOP", "k", "0"]), Way::Queue);
        assert_eq!(way_of(&conn, &["EXEC"]), Way::Transaction);
        assert_eq!(way_of(&conn, &["DISCARD"]), Way::Transaction);
        assert_eq!(way_of(&conn, &["MULTI"]), Way::Transaction);
        assert_eq!(way_of(&conn, &["WATCH", "k"]), Way::Transaction);
    }

    #[test]
    fn a_subscribed_resp2_connection_runs_only_the_pubsub_commands() {
        let mut conn = client();
        conn.subscriptions.insert((Space::Channel, Bytes::from_static(b"ch")));
        let Way::Reply(Frame::Error(e)) = way_of(&conn, &["GET", "k"]) else {
            panic!("GET while subscribed must be refused")
        };
        assert!(e.starts_with("ERR Can't execute 'get'"), "{e}");
        assert_eq!(way_of(&conn, &["PING"]), Way::Node);
        assert_eq!(way_of(&conn, &["SUBSCRIBE", "x"]), Way::Node);
        // RESP3 connections may run anything while subscribed.
        conn.protocol = Protocol::Resp3;
        assert_eq!(way_of(&conn, &["GET", "k"]), Way::Data);
    }

    #[test]
    fn internal_entries_are_known_only_to_forwarded_commands() {
        assert!(cmd::prepare(&args(&["slotraft.flush"])).is_err());
        assert!(cmd::prepare_internal(&args(&["slotraft.flush"])).is_ok());
    }
}
