//! Commands the node answers itself, without a group's store: connection, server and CLUSTER
//! commands, with Redis's reply formats.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use openraft::async_runtime::watch::WatchReceiver;

use crate::cluster::replies;
use crate::cmd::{self, Prepared};
use crate::exec::session::ConnState;
use crate::exec::{keyspace, pubsub};
use crate::node::{Node, now_ms};
use crate::resp::encode::Protocol;
use crate::resp::frame::Frame;
use crate::slots::{SLOT_COUNT, key_slot};
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

pub async fn execute(node: &Node, conn: &mut ConnState, p: &Prepared, args: &[Bytes]) -> Frame {
    let spec = p.spec;
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
        "debug" if args.len() == 2 && args[1].eq_ignore_ascii_case(b"raft-stats") => raft_stats(node).await,
        "debug" => debug(node, args),
        "keys" | "scan" | "randomkey" | "flushdb" | "flushall" => keyspace::execute(node, spec.name, args).await,
        // Every acknowledged write is already on a majority's disks.
        "lastsave" => Frame::Integer((now_ms() / 1000) as i64),
        "reset" => {
            pubsub::unsubscribe_all(node, conn);
            conn.reset();
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
    let t = &node.tunables;
    let me = node.config.nodes.get(&node.id);
    vec![
        ("save", String::new()),
        ("appendonly", "yes".into()),
        ("appendfsync", fsync.into()),
        ("databases", "1".into()),
        ("cluster-enabled", "yes".into()),
        ("cluster-node-timeout", node.config.election_timeout_ms.to_string()),
        ("maxclients", l.maxclients.to_string()),
        (
            "proto-max-bulk-len",
            t.proto_max_bulk_len.load(Ordering::Relaxed).to_string(),
        ),
        (
            "client-query-buffer-limit",
            t.client_query_buffer_limit.load(Ordering::Relaxed).to_string(),
        ),
        (
            "client-output-buffer-limit",
            format!("normal 0 0 0 slave 0 0 0 pubsub {} 0 0", l.pubsub_output_buffer_limit),
        ),
        ("maxmemory", "0".into()),
        ("maxmemory-policy", "noeviction".into()),
        ("port", me.map_or(0, |n| n.resp.port()).to_string()),
        ("bind", me.map_or(String::new(), |n| n.resp.ip().to_string())),
        ("dir", node.data_dir.display().to_string()),
        ("timeout", t.timeout.load(Ordering::Relaxed).to_string()),
        ("tcp-keepalive", "300".into()),
        // The thresholds OBJECT ENCODING reports by (Redis's defaults).
        ("hash-max-listpack-entries", "128".into()),
        ("hash-max-listpack-value", "64".into()),
        ("hash-max-ziplist-entries", "128".into()),
        ("hash-max-ziplist-value", "64".into()),
        ("list-max-listpack-size", "-2".into()),
        ("list-max-ziplist-size", "-2".into()),
        ("set-max-intset-entries", "512".into()),
        ("set-max-listpack-entries", "128".into()),
        ("set-max-listpack-value", "64".into()),
        ("zset-max-listpack-entries", "128".into()),
        ("zset-max-listpack-value", "64".into()),
        ("zset-max-ziplist-entries", "128".into()),
        ("zset-max-ziplist-value", "64".into()),
    ]
}

/// A memory amount as Redis reads one: digits with an optional unit (k = 1000, kb = 1024…).
fn parse_memory(v: &[u8]) -> Option<usize> {
    let s = std::str::from_utf8(v).ok()?.to_ascii_lowercase();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: usize = digits.parse().ok()?;
    let mul = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1_000_000,
        "mb" => 1024 * 1024,
        "g" => 1_000_000_000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mul)
}

/// A CONFIG SET change, checked before any is applied (CONFIG SET of several is all or none).
enum Change {
    Timeout(u64),
    ProtoMaxBulkLen(usize),
    QueryBufferLimit(usize),
}

fn config_set(node: &Node, args: &[Bytes]) -> Frame {
    let known = config_params(node);
    let mut changes = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for pair in args[2..].chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        let fail = |why: &str| {
            Frame::Error(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
            ))
        };
        if !known.iter().any(|(n, _)| *n == name) {
            return Frame::Error(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            ));
        }
        if names.contains(&name) {
            return fail("duplicate parameter");
        }
        let value = &pair[1];
        let change = match name.as_str() {
            "timeout" => match parse_i64(value) {
                Some(n) if (0..=i64::from(i32::MAX)).contains(&n) => Change::Timeout(n as u64),
                Some(_) => return fail("argument must be between 0 and 2147483647 inclusive"),
                None => return fail("argument couldn't be parsed into an integer"),
            },
            "proto-max-bulk-len" | "client-query-buffer-limit" => match parse_memory(value) {
                Some(n) if n >= 1024 * 1024 => {
                    if name == "proto-max-bulk-len" {
                        Change::ProtoMaxBulkLen(n)
                    } else {
                        Change::QueryBufferLimit(n)
                    }
                }
                Some(_) => return fail("argument must be a memory value of at least 1mb"),
                None => return fail("argument must be a memory value"),
            },
            _ => return fail("can't set immutable config"),
        };
        names.push(name);
        changes.push(change);
    }
    let t = &node.tunables;
    for change in changes {
        match change {
            Change::Timeout(n) => {
                t.timeout.store(n, Ordering::Relaxed);
                t.timeout_changed.notify_waiters();
            }
            Change::ProtoMaxBulkLen(n) => t.proto_max_bulk_len.store(n, Ordering::Relaxed),
            Change::QueryBufferLimit(n) => t.client_query_buffer_limit.store(n, Ordering::Relaxed),
        }
    }
    Frame::ok()
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
        "SET" if args.len() >= 4 && args.len().is_multiple_of(2) => config_set(node, args),
        "RESETSTAT" if args.len() == 2 => {
            for counter in [
                &node.stats.total_connections,
                &node.stats.total_commands,
                &node.stats.rejected_connections,
            ] {
                counter.store(0, Ordering::Relaxed);
            }
            Frame::ok()
        }
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
        ("INFO", 2) => {
            let line = conn.client.as_ref().map_or(String::new(), |c| c.line());
            Frame::Verbatim("txt".into(), Bytes::from(line + "\n"))
        }
        ("LIST", _) => client_list(node, args),
        ("KILL", n) if n >= 3 => client_kill(node, conn, args),
        ("REPLY", 3) => match upper(&args[2]).as_str() {
            "ON" => {
                conn.replies_off = false;
                Frame::ok()
            }
            "OFF" => {
                conn.replies_off = true;
                Frame::ok()
            }
            "SKIP" => {
                // This reply and the next command's.
                conn.replies_to_skip = 2;
                Frame::ok()
            }
            _ => Frame::error("ERR syntax error"),
        },
        ("NO-EVICT" | "NO-TOUCH", 3) => match upper(&args[2]).as_str() {
            "ON" | "OFF" => Frame::ok(),
            _ => Frame::error("ERR syntax error"),
        },
        ("GETREDIR", 2) => Frame::Integer(-1),
        (
            "ID" | "GETNAME" | "SETNAME" | "SETINFO" | "INFO" | "NO-EVICT" | "NO-TOUCH" | "KILL" | "REPLY" | "GETREDIR",
            _,
        ) => Frame::Error(format!(
            "ERR wrong number of arguments for 'client|{}' command",
            sub.to_ascii_lowercase()
        )),
        _ => unknown_subcommand(&args[1], "CLIENT"),
    }
}

/// Redis's client types: every client here is `normal` or, while subscribed, `pubsub`.
fn client_type_filter(name: &[u8]) -> Result<Option<bool>, Frame> {
    match upper(name).as_str() {
        "NORMAL" => Ok(Some(false)),
        "PUBSUB" => Ok(Some(true)),
        "MASTER" | "REPLICA" | "SLAVE" => Ok(None),
        _ => Err(Frame::Error(format!(
            "ERR Unknown client type '{}'",
            String::from_utf8_lossy(name)
        ))),
    }
}

/// CLIENT LIST [TYPE type] [ID id [id ...]]
fn client_list(node: &Node, args: &[Bytes]) -> Frame {
    let mut clients = node.clients.list();
    match args.len() {
        2 => {}
        4 if upper(&args[2]) == "TYPE" => match client_type_filter(&args[3]) {
            Ok(Some(pubsub)) => clients.retain(|c| c.is_pubsub() == pubsub),
            Ok(None) => clients.clear(),
            Err(e) => return e,
        },
        n if n >= 4 && upper(&args[2]) == "ID" => {
            let mut ids = Vec::new();
            for a in &args[3..] {
                match parse_i64(a) {
                    Some(id) if id > 0 => ids.push(id as u64),
                    _ => return Frame::error("ERR Invalid client ID"),
                }
            }
            clients.retain(|c| ids.contains(&c.id));
        }
        _ => return Frame::error("ERR syntax error"),
    }
    let mut text = String::new();
    for c in clients {
        text.push_str(&c.line());
        text.push('\n');
    }
    Frame::Verbatim("txt".into(), Bytes::from(text))
}

/// CLIENT KILL addr:port (old form: +OK or an error), or CLIENT KILL with filters (ID, TYPE,
/// USER, ADDR, LADDR, SKIPME, MAXAGE): the number of clients killed. A client that kills
/// itself gets its reply first.
fn client_kill(node: &Node, conn: &mut ConnState, args: &[Bytes]) -> Frame {
    let old_form = args.len() == 3;
    let mut id = None;
    let mut pubsub_type: Option<Option<bool>> = None;
    let mut addr = None;
    let mut laddr = None;
    let mut max_age = None;
    let mut skip_me = !old_form;
    if old_form {
        addr = Some(args[2].clone());
    } else {
        if !args.len().is_multiple_of(2) {
            return Frame::error("ERR syntax error");
        }
        for pair in args[2..].chunks(2) {
            let value = &pair[1];
            match upper(&pair[0]).as_str() {
                "ID" => match parse_i64(value) {
                    Some(n) if n > 0 => id = Some(n as u64),
                    _ => return Frame::error("ERR client-id should be greater than 0"),
                },
                "TYPE" => match client_type_filter(value) {
                    Ok(t) => pubsub_type = Some(t),
                    Err(e) => return e,
                },
                "USER" if value.as_ref() == b"default" => {}
                "USER" => {
                    return Frame::Error(format!("ERR No such user '{}'", String::from_utf8_lossy(value)));
                }
                "ADDR" => addr = Some(value.clone()),
                "LADDR" => laddr = Some(value.clone()),
                "MAXAGE" => match parse_i64(value) {
                    Some(n) => max_age = Some(n),
                    None => return Frame::error("ERR value is not an integer or out of range"),
                },
                "SKIPME" => match upper(value).as_str() {
                    "YES" => skip_me = true,
                    "NO" => skip_me = false,
                    _ => return Frame::error("ERR syntax error"),
                },
                _ => return Frame::error("ERR syntax error"),
            }
        }
    }
    let mut killed = 0;
    for c in node.clients.list() {
        let matches = id.is_none_or(|id| c.id == id)
            && pubsub_type.is_none_or(|t| t.is_some_and(|p| c.is_pubsub() == p))
            && addr
                .as_ref()
                .is_none_or(|a| a.as_ref() == c.addr.to_string().as_bytes())
            && laddr
                .as_ref()
                .is_none_or(|a| a.as_ref() == c.laddr.to_string().as_bytes())
            && max_age.is_none_or(|age| c.created.elapsed().as_secs() as i64 >= age);
        if !matches || (skip_me && c.id == conn.id) {
            continue;
        }
        if c.id == conn.id {
            conn.quit = true;
        } else {
            c.kill();
        }
        killed += 1;
    }
    match (old_form, killed) {
        (true, 0) => Frame::error("ERR No such client"),
        (true, _) => Frame::ok(),
        (false, n) => Frame::Integer(n),
    }
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
    let view = || {
        let mut v = node.view.read().clone();
        for g in node.groups.values() {
            if let Some(gi) = v.groups.get_mut(&g.id) {
                gi.applied = g.sm.state.read().last_applied.map_or(0, |l| l.index);
            }
        }
        v
    };
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
        // Settled: this node sees every group led by its preferred leader, so its slot map
        // (CLUSTER SLOTS) will not change again unless a node fails. Scripts and tests wait for
        // it on every node before handing the cluster to clients.
        let preferred = node.config.preferred_leaders();
        let settled = view
            .groups
            .values()
            .all(|gi| gi.leader.is_some() && gi.leader == preferred.get(&gi.id).copied());
        let _ = write!(
            out,
            "# Replication\r\nrole:{role}\r\nconnected_slaves:0\r\nraft_groups_led:{leads}\r\nraft_groups_hosted:{}\r\nraft_leadership_settled:{}\r\n\r\n",
            node.groups.len(),
            u8::from(settled),
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
                "group{}:state={:?},term={},leader={},last_log={},commit={},applied={},snapshot={},purged={},lease_reads={},core_reads={},proposals={},proposed_writes={},rebuilding={},keys={}\r\n",
                g.id,
                m.state,
                m.current_term,
                m.current_leader.map_or("none".to_string(), |l| l.to_string()),
                m.last_log_index.unwrap_or(0),
                m.local_committed.map_or(0, |l| l.index),
                m.last_applied.map_or(0, |l| l.index),
                m.snapshot.map_or(0, |l| l.index),
                m.purged.map_or(0, |l| l.index),
                g.lease_reads.load(Ordering::Relaxed),
                g.core_reads.load(Ordering::Relaxed),
                g.proposer.stats().proposals.load(Ordering::Relaxed),
                g.proposer.stats().writes.load(Ordering::Relaxed),
                u8::from(g.rebuilding()),
                g.sm.state.read().store.len(),
            );
        }
        let e = &node.engine.stats;
        let _ = write!(
            out,
            "log_engine:requests={},batches={},syncs={},entries={},disk_reads={},queue_us={},write_us={},sync_us={}\r\n",
            e.requests.load(Ordering::Relaxed),
            e.batches.load(Ordering::Relaxed),
            e.syncs.load(Ordering::Relaxed),
            e.entries.load(Ordering::Relaxed),
            e.disk_reads.load(Ordering::Relaxed),
            e.queue_us.load(Ordering::Relaxed),
            e.write_us.load(Ordering::Relaxed),
            e.sync_us.load(Ordering::Relaxed),
        );
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
                "RAFT-STATS",
                "    Per group hosted here: openraft's batch-size histograms and counters since start.",
            ]
            .iter()
            .map(|l| Frame::Simple((*l).into()))
            .collect(),
        ),
        _ => unknown_subcommand(&args[1], "DEBUG"),
    }
}

/// DEBUG RAFT-STATS: how openraft batched each group's work (client writes per batch, entries per
/// append, per replication message, per apply), to see where batching falls short under load.
async fn raft_stats(node: &Node) -> Frame {
    let mut out = String::new();
    for g in node.groups.values() {
        match g.raft.runtime_stats().await {
            Ok(stats) => out.push_str(&format!("group {}:\n{}\n", g.id, stats.display().multiline())),
            Err(e) => out.push_str(&format!("group {}: {e}\n", g.id)),
        }
    }
    Frame::Verbatim("txt".into(), out.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_values_read_as_redis_reads_them() {
        assert_eq!(parse_memory(b"1048576"), Some(1 << 20));
        assert_eq!(parse_memory(b"1mb"), Some(1 << 20));
        assert_eq!(parse_memory(b"1MB"), Some(1 << 20));
        assert_eq!(parse_memory(b"2k"), Some(2000));
        assert_eq!(parse_memory(b"3gb"), Some(3 << 30));
        assert_eq!(parse_memory(b"-1"), None);
        assert_eq!(parse_memory(b"1xb"), None);
        assert_eq!(parse_memory(b"mb"), None);
        assert_eq!(parse_memory(b"99999999999999999999"), None);
    }
}
