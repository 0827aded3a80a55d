//! Commands the node answers itself, without a group's store: connection, server and CLUSTER
//! commands, with Redis's reply formats.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use openraft::async_runtime::watch::WatchReceiver;

use crate::cluster::replies;
use crate::cluster::slots::{SLOT_COUNT, key_slot};
use crate::cmd::{self, CommandSpec};
use crate::node::{Node, now_ms};
use crate::resp::encode::Protocol;
use crate::resp::frame::Frame;
use crate::server::connection::ConnState;
use crate::server::{keyspace, pubsub};
use crate::store::scan::glob_match_nocase;

const REDIS_VERSION: &str = "7.2.0";

fn bulk(s: impl Into<Vec<u8>>) -> Frame {
    Frame::Bulk(Bytes::from(s.into()))
}

fn upper(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_uppercase()
}

fn unknown_subcommand(sub: &[u8], cmd: &str) -> Frame {
    Frame::Error(format!(
        "ERR unknown subcommand '{}'. Try {cmd} HELP.",
        String::from_utf8_lossy(sub)
    ))
}

fn parse_i64(b: &[u8]) -> Option<i64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

pub async fn execute(node: &Node, conn: &mut ConnState, spec: &CommandSpec, args: &[Bytes]) -> Frame {
    match spec.name {
        // A subscribed RESP2 connection gets PING's answer in the shape of a message.
        "ping" if conn.protocol == Protocol::Resp2 && !conn.subscriptions.is_empty() => Frame::Array(vec![
            bulk("pong"),
            Frame::Bulk(args.get(1).cloned().unwrap_or_default()),
        ]),
        "ping" => match args.len() {
            1 => Frame::Simple("PONG".into()),
            2 => Frame::Bulk(args[1].clone()),
            _ => Frame::error("ERR wrong number of arguments for 'ping' command"),
        },
        "echo" => Frame::Bulk(args[1].clone()),
        "quit" => {
            conn.quit = true;
            Frame::ok()
        }
        "select" => match parse_i64(&args[1]) {
            Some(0) => Frame::ok(),
            Some(_) => Frame::error("ERR SELECT is not allowed in cluster mode"),
            None => Frame::error("ERR value is not an integer or out of range"),
        },
        "command" => cmd::command_reply(args),
        "config" => config(node, args),
        "info" => info(node, args),
        "dbsize" => Frame::Integer(node.dbsize() as i64),
        "client" => client(node, conn, args),
        "readonly" => {
            conn.readonly = true;
            Frame::ok()
        }
        "readwrite" => {
            conn.readonly = false;
            Frame::ok()
        }
        "asking" => {
            conn.asking = true;
            Frame::ok()
        }
        "cluster" => cluster(node, args),
        "debug" => debug(node, args),
        "keys" | "scan" | "randomkey" | "flushdb" | "flushall" => keyspace::execute(node, spec.name, args).await,
        // Every acknowledged write is already on a majority's disks.
        "lastsave" => Frame::Integer((now_ms() / 1000) as i64),
        "reset" => {
            pubsub::unsubscribe_all(node, conn);
            let push = conn.push.take();
            *conn = ConnState::new(conn.id, conn.addr);
            conn.push = push;
            Frame::Simple("RESET".into())
        }
        "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ssubscribe" | "sunsubscribe" | "publish"
        | "spublish" | "pubsub" => pubsub::execute(node, conn, spec, args).await,
        "hello" => hello(node, conn, args),
        "time" => {
            let us = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros());
            Frame::Array(vec![
                bulk((us / 1_000_000).to_string()),
                bulk((us % 1_000_000).to_string()),
            ])
        }
        other => Frame::Error(format!("ERR command '{other}' is not served by this node")),
    }
}

/// The parameters CONFIG GET reports (redis-benchmark and clients ask for some of these).
fn config_params(node: &Node) -> Vec<(&'static str, String)> {
    let fsync = match node.config.fsync {
        crate::raft::log_engine::FsyncPolicy::Always => "always",
        crate::raft::log_engine::FsyncPolicy::EverySec => "everysec",
    };
    let l = &node.config.limits;
    vec![
        ("save", String::new()),
        ("appendonly", "yes".into()),
        ("appendfsync", fsync.into()),
        ("databases", "1".into()),
        ("cluster-enabled", "yes".into()),
        ("cluster-node-timeout", node.config.election_timeout_ms.to_string()),
        ("maxclients", l.maxclients.to_string()),
        ("proto-max-bulk-len", l.proto_max_bulk_len.to_string()),
        ("client-query-buffer-limit", l.client_query_buffer_limit.to_string()),
        ("maxmemory", "0".into()),
        ("maxmemory-policy", "noeviction".into()),
        (
            "port",
            node.config.nodes.get(&node.id).map_or(0, |n| n.resp.port()).to_string(),
        ),
        (
            "bind",
            node.config
                .nodes
                .get(&node.id)
                .map_or(String::new(), |n| n.resp.ip().to_string()),
        ),
        ("dir", node.data_dir.display().to_string()),
        ("timeout", "0".into()),
        ("tcp-keepalive", "300".into()),
    ]
}

fn config(node: &Node, args: &[Bytes]) -> Frame {
    match upper(&args[1]).as_str() {
        "GET" if args.len() >= 3 => {
            let params = config_params(node);
            let mut out = Vec::new();
            for (name, value) in &params {
                if args[2..].iter().any(|p| glob_match_nocase(p, name.as_bytes())) {
                    out.push((bulk(*name), bulk(value.clone())));
                }
            }
            Frame::Map(out)
        }
        "SET" if args.len() >= 4 && args.len().is_multiple_of(2) => {
            let name = String::from_utf8_lossy(&args[2]).to_ascii_lowercase();
            if config_params(node).iter().any(|(n, _)| *n == name) {
                Frame::Error(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - parameter is read-only in slotraft"
                ))
            } else {
                Frame::Error(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                ))
            }
        }
        "RESETSTAT" if args.len() == 2 => Frame::ok(),
        "GET" | "SET" | "RESETSTAT" => Frame::Error(format!(
            "ERR wrong number of arguments for 'config|{}' command",
            String::from_utf8_lossy(&args[1]).to_ascii_lowercase()
        )),
        _ => unknown_subcommand(&args[1], "CONFIG"),
    }
}

fn client(node: &Node, conn: &mut ConnState, args: &[Bytes]) -> Frame {
    let sub = upper(&args[1]);
    match (sub.as_str(), args.len()) {
        ("ID", 2) => Frame::Integer(conn.id as i64),
        ("GETNAME", 2) => conn.name.clone().map_or(Frame::Null, Frame::Bulk),
        ("SETNAME", 3) => {
            if args[2].iter().any(|&b| b <= b' ' || b > b'~') {
                return Frame::error("ERR Client names cannot contain spaces, newlines or special characters.");
            }
            conn.name = (!args[2].is_empty()).then(|| args[2].clone());
            Frame::ok()
        }
        ("SETINFO", 4) => {
            let value = args[3].clone();
            if value.iter().any(|b| !(b'!'..=b'~').contains(b)) {
                return Frame::error("ERR lib-name and lib-ver cannot contain spaces, newlines or special characters.");
            }
            match upper(&args[2]).as_str() {
                "LIB-NAME" => conn.lib_name = Some(value),
                "LIB-VER" => conn.lib_ver = Some(value),
                _ => {
                    return Frame::Error(format!(
                        "ERR Unrecognized option '{}'",
                        String::from_utf8_lossy(&args[2])
                    ));
                }
            }
            Frame::ok()
        }
        ("INFO", 2) => Frame::Verbatim("txt".into(), Bytes::from(client_line(conn) + "\n")),
        ("LIST", _) => {
            // Only this connection is listed; a full registry of clients comes with CLIENT KILL.
            let _ = node;
            Frame::Verbatim("txt".into(), Bytes::from(client_line(conn) + "\n"))
        }
        ("NO-EVICT" | "NO-TOUCH", 3) => Frame::ok(),
        ("ID" | "GETNAME" | "SETNAME" | "SETINFO" | "INFO" | "NO-EVICT" | "NO-TOUCH", _) => Frame::Error(format!(
            "ERR wrong number of arguments for 'client|{}' command",
            sub.to_ascii_lowercase()
        )),
        _ => unknown_subcommand(&args[1], "CLIENT"),
    }
}

fn client_line(conn: &ConnState) -> String {
    let s = |b: &Option<Bytes>| {
        b.as_ref()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    };
    format!(
        "id={} addr={} laddr= fd=0 name={} age={} idle=0 flags={} db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=client|info user=default redir=-1 resp={} lib-name={} lib-ver={}",
        conn.id,
        conn.addr,
        s(&conn.name),
        conn.created.elapsed().as_secs(),
        if conn.readonly { "r" } else { "N" },
        if conn.protocol == Protocol::Resp3 { 3 } else { 2 },
        s(&conn.lib_name),
        s(&conn.lib_ver),
    )
}

fn hello(node: &Node, conn: &mut ConnState, args: &[Bytes]) -> Frame {
    let mut i = 1;
    let mut proto = conn.protocol;
    if args.len() > 1 {
        match parse_i64(&args[1]) {
            Some(2) => proto = Protocol::Resp2,
            Some(3) => proto = Protocol::Resp3,
            Some(_) => return Frame::error("NOPROTO unsupported protocol version"),
            None => return Frame::error("ERR Protocol version is not an integer or out of range"),
        }
        i = 2;
    }
    let mut name = None;
    while i < args.len() {
        match upper(&args[i]).as_str() {
            "AUTH" if i + 2 < args.len() => i += 3,
            "SETNAME" if i + 1 < args.len() => {
                name = Some(args[i + 1].clone());
                i += 2;
            }
            _ => {
                return Frame::Error(format!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(&args[i])
                ));
            }
        }
    }
    conn.protocol = proto;
    if let Some(n) = name {
        conn.name = Some(n);
    }
    let role = if node.view.read().led_by(node.id).next().is_some() {
        "master"
    } else {
        "replica"
    };
    Frame::Map(vec![
        (bulk("server"), bulk("redis")),
        (bulk("version"), bulk(REDIS_VERSION)),
        (
            bulk("proto"),
            Frame::Integer(if proto == Protocol::Resp3 { 3 } else { 2 }),
        ),
        (bulk("id"), Frame::Integer(conn.id as i64)),
        (bulk("mode"), bulk("cluster")),
        (bulk("role"), bulk(role)),
        (bulk("modules"), Frame::Array(vec![])),
    ])
}

fn cluster(node: &Node, args: &[Bytes]) -> Frame {
    let sub = upper(&args[1]);
    let view = || node.view.read().clone();
    match (sub.as_str(), args.len()) {
        ("SLOTS", 2) => replies::cluster_slots(&view()),
        ("SHARDS", 2) => replies::cluster_shards(&view()),
        ("NODES", 2) => replies::cluster_nodes(&view()),
        ("INFO", 2) => replies::cluster_info(&view()),
        ("MYID", 2) => bulk(crate::cluster::view::node_name(node.id)),
        ("MYSHARDID", 2) => {
            let v = node.view.read();
            let g = v
                .led_by(node.id)
                .next()
                .map(|g| g.id)
                .or_else(|| node.groups.keys().next().copied());
            bulk(format!("{:040x}", g.unwrap_or(0)))
        }
        ("KEYSLOT", 3) => Frame::Integer(i64::from(key_slot(&args[2]))),
        ("COUNTKEYSINSLOT", 3) => match parse_i64(&args[2]) {
            Some(s) if (0..i64::from(SLOT_COUNT)).contains(&s) => {
                Frame::Integer(slot_store(node, s as u16, |st| st.count_keys_in_slot(s as u16) as i64).unwrap_or(0))
            }
            _ => Frame::error("ERR Invalid slot"),
        },
        ("GETKEYSINSLOT", 4) => match (parse_i64(&args[2]), parse_i64(&args[3])) {
            (Some(s), Some(n)) if (0..i64::from(SLOT_COUNT)).contains(&s) && n >= 0 => {
                let keys = slot_store(node, s as u16, |st| st.keys_in_slot(s as u16, n as usize)).unwrap_or_default();
                Frame::Array(keys.into_iter().map(Frame::Bulk).collect())
            }
            (Some(_), Some(n)) if n < 0 => Frame::error("ERR Invalid number of keys"),
            (Some(_), Some(_)) => Frame::error("ERR Invalid slot"),
            _ => Frame::error("ERR value is not an integer or out of range"),
        },
        (
            "SLOTS" | "SHARDS" | "NODES" | "INFO" | "MYID" | "MYSHARDID" | "KEYSLOT" | "COUNTKEYSINSLOT"
            | "GETKEYSINSLOT",
            _,
        ) => Frame::Error(format!(
            "ERR wrong number of arguments for 'cluster|{}' command",
            sub.to_ascii_lowercase()
        )),
        _ => unknown_subcommand(&args[1], "CLUSTER"),
    }
}

/// Runs `f` on the local replica of the group owning `slot`, if this node has one.
fn slot_store<T>(node: &Node, slot: u16, f: impl FnOnce(&crate::store::Store) -> T) -> Option<T> {
    let group = node.view.read().slot_group.get(slot as usize).copied()?;
    let g = node.groups.get(&group)?;
    let state = g.sm.state.read();
    Some(f(&state.store))
}

fn info(node: &Node, args: &[Bytes]) -> Frame {
    let wanted: Vec<String> = args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let all = wanted.is_empty() || wanted.iter().any(|w| w == "all" || w == "everything" || w == "default");
    let want = |s: &str| all || wanted.iter().any(|w| w == s);
    let mut out = String::new();
    let me = node.config.nodes.get(&node.id);
    if want("server") {
        let _ = write!(
            out,
            "# Server\r\nredis_version:{REDIS_VERSION}\r\nslotraft_version:{}\r\nredis_mode:cluster\r\nos:{} {}\r\narch_bits:64\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nnode_id:{}\r\n\r\n",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            crate::cluster::view::node_name(node.id),
            me.map_or(0, |n| n.resp.port()),
            node.started.elapsed().as_secs(),
            node.started.elapsed().as_secs() / 86400,
            node.id,
        );
    }
    if want("clients") {
        let _ = write!(
            out,
            "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{}\r\n\r\n",
            node.stats.connected_clients.load(Ordering::Relaxed),
            node.config.limits.maxclients,
            node.waiters.count()
        );
    }
    if want("stats") {
        let _ = write!(
            out,
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\nrejected_connections:{}\r\n\r\n",
            node.stats.total_connections.load(Ordering::Relaxed),
            node.stats.total_commands.load(Ordering::Relaxed),
            node.stats.rejected_connections.load(Ordering::Relaxed),
        );
    }
    if want("replication") {
        let view = node.view.read();
        let leads = view.led_by(node.id).count();
        let role = if leads > 0 { "master" } else { "slave" };
        let _ = write!(
            out,
            "# Replication\r\nrole:{role}\r\nconnected_slaves:0\r\nraft_groups_led:{leads}\r\nraft_groups_hosted:{}\r\n\r\n",
            node.groups.len()
        );
    }
    if want("cluster") {
        out.push_str("# Cluster\r\ncluster_enabled:1\r\n\r\n");
    }
    if want("raft") {
        out.push_str("# Raft\r\n");
        for g in node.groups.values() {
            let m = g.raft.metrics();
            let m = m.borrow_watched();
            let _ = write!(
                out,
                "group{}:state={:?},term={},leader={},last_log={},commit={},applied={},snapshot={},purged={},keys={}\r\n",
                g.id,
                m.state,
                m.current_term,
                m.current_leader.map_or("none".to_string(), |l| l.to_string()),
                m.last_log_index.unwrap_or(0),
                m.local_committed.map_or(0, |l| l.index),
                m.last_applied.map_or(0, |l| l.index),
                m.snapshot.map_or(0, |l| l.index),
                m.purged.map_or(0, |l| l.index),
                g.sm.state.read().store.len(),
            );
        }
        out.push_str("\r\n");
    }
    if want("keyspace") {
        let (mut keys, mut expires) = (0usize, 0usize);
        let view = node.view.read();
        for g in node.groups.values() {
            if view.groups.get(&g.id).is_some_and(|gi| gi.leader == Some(node.id)) {
                let s = g.sm.state.read();
                keys += s.store.len();
                expires += s.store.keys_with_deadline();
            }
        }
        out.push_str("# Keyspace\r\n");
        if keys > 0 {
            let _ = write!(out, "db0:keys={keys},expires={expires},avg_ttl=0\r\n");
        }
        out.push_str("\r\n");
    }
    let _ = now_ms;
    while out.ends_with("\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    Frame::Verbatim("txt".into(), Bytes::from(out))
}

/// DEBUG DIGEST: for each group hosted here, `<group> <applied index> <digest>`, read under
/// one lock so the digest is exactly that of the state at that index. Replicas of a group at
/// the same index must report the same digest.
fn debug(node: &Node, args: &[Bytes]) -> Frame {
    match upper(&args[1]).as_str() {
        "DIGEST" if args.len() == 2 => Frame::Array(
            node.groups
                .values()
                .map(|g| {
                    let state = g.sm.state.read();
                    let applied = state.last_applied.map_or(0, |l| l.index);
                    bulk(format!("{} {applied} {}", g.id, state.store.digest()))
                })
                .collect(),
        ),
        "HELP" => Frame::Array(
            [
                "DEBUG <subcommand> [<arg> ...]. Subcommands are:",
                "DIGEST",
                "    Per group hosted here: its id, applied log index and a digest of its data.",
            ]
            .iter()
            .map(|l| Frame::Simple((*l).into()))
            .collect(),
        ),
        _ => unknown_subcommand(&args[1], "DEBUG"),
    }
}
