//! Commands the node answers itself, without a group's store, with Redis's reply formats:
//! one file per family (the connection's own commands, CONFIG, CLIENT, CLUSTER, INFO, DEBUG),
//! each reading its arguments with `cmd::parse::Cursor`. The table checked every command's
//! and subcommand's arity before any of them runs (`cmd::prepare`).

mod acl;
mod client;
mod cluster;
mod config;
mod connection;
mod debug;
mod info;

use bytes::Bytes;

use crate::cmd::parse::parse_i64;
use crate::cmd::{self, Prepared};
use crate::exec::session::ConnState;
use crate::exec::{keyspace, pubsub};
use crate::node::{Node, now_ms};
use crate::resp::frame::Frame;

/// Protected mode (cluster.toml `protected_mode`, Redis's `protected-mode`): the refusal a
/// client from `addr` gets at once, when the default user needs no password and the client is
/// not on the loopback interface.
pub fn protected_mode_refusal(node: &Node, addr: std::net::SocketAddr) -> Option<Frame> {
    let ip = addr.ip();
    let local = ip.is_loopback() || ip.to_canonical().is_loopback();
    (node.config.protected_mode && !local && node.acl.open_default().is_some()).then(|| Frame::error(acl::DENIED))
}

/// The Redis version HELLO and INFO report.
const REDIS_VERSION: &str = "7.2.0";

fn bulk(s: impl Into<Vec<u8>>) -> Frame {
    Frame::Bulk(Bytes::from(s.into()))
}

fn upper(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_uppercase()
}

pub async fn execute(node: &Node, conn: &mut ConnState, p: &Prepared, args: &[Bytes]) -> Frame {
    match p.spec.name {
        "ping" => connection::ping(conn, args),
        "echo" => connection::echo(args),
        "quit" => connection::quit(conn),
        "select" => connection::select(args),
        "hello" => connection::hello(node, conn, args).await,
        "auth" => acl::auth(node, conn, args).await,
        "acl" => acl::execute(node, conn, p, args).await,
        "reset" => connection::reset(node, conn),
        "readonly" | "readwrite" | "asking" => cluster::routing_mode(conn, p.spec.name),
        "cluster" => cluster::execute(node, p, args),
        // The default user's password is cluster-wide: the metadata group keeps it.
        "config"
            if p.sub.is_some_and(|s| s.name == "config|set")
                && args.len() == 4
                && args[2].eq_ignore_ascii_case(b"requirepass") =>
        {
            acl::set_requirepass(node, conn, &args[3]).await
        }
        "config" => config::execute(node, p, args),
        "client" => client::execute(node, conn, p, args),
        "info" => info::execute(node, args),
        "debug" => debug::execute(node, args).await,
        "command" => cmd::command_reply(args),
        "dbsize" => Frame::Integer(node.dbsize() as i64),
        // Every acknowledged write is already on a majority's disks.
        "lastsave" => Frame::Integer((now_ms() / 1000) as i64),
        "time" => {
            let us = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros());
            Frame::Array(vec![
                bulk((us / 1_000_000).to_string()),
                bulk((us % 1_000_000).to_string()),
            ])
        }
        "keys" | "scan" | "randomkey" | "flushdb" | "flushall" => keyspace::execute(node, p.spec.name, args).await,
        "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ssubscribe" | "sunsubscribe" | "publish"
        | "spublish" | "pubsub" => pubsub::execute(node, conn, p, args).await,
        // A read or write that names no key (ZUNION 0 k, OBJECT HELP): `Prepared::kind`.
        other => cmd::keyless(p.spec, args)
            .unwrap_or_else(|| Frame::Error(format!("ERR command '{other}' is not served by this node"))),
    }
}
