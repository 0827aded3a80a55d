//! CONFIG GET / SET / RESETSTAT: the parameters a Redis client or tool asks about, and the
//! few that change what the node does at run time.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{bulk, parse_i64};
use crate::cmd::parse::{Cursor, Reply};
use crate::cmd::{CommandSpec, Prepared};
use crate::errors::wrong_arity;
use crate::node::Node;
use crate::resp::frame::Frame;
use crate::store::scan::glob_match_nocase;

pub(super) fn execute(node: &Node, p: &Prepared, args: &[Bytes]) -> Frame {
    let Some(sub) = p.sub else {
        return Frame::error("ERR CONFIG needs a subcommand");
    };
    // After the subcommand's name.
    let mut c = Cursor::new(&args[1..]);
    let reply = match sub.name {
        "config|get" => Ok(get(node, c.rest())),
        "config|set" => set(node, sub, c.rest()),
        _ => c.finish().map(|()| resetstat(node)),
    };
    reply.unwrap_or_else(|e| e)
}

/// CONFIG GET pattern [pattern ...]: each parameter once, in the table's order.
fn get(node: &Node, patterns: &[Bytes]) -> Frame {
    let params = config_params(node);
    let mut out = Vec::new();
    for (name, value) in &params {
        if patterns.iter().any(|p| glob_match_nocase(p, name.as_bytes())) {
            out.push((bulk(*name), bulk(value.clone())));
        }
    }
    Frame::Map(out)
}

fn resetstat(node: &Node) -> Frame {
    for counter in [
        &node.stats.total_connections,
        &node.stats.total_commands,
        &node.stats.rejected_connections,
    ] {
        counter.store(0, Ordering::Relaxed);
    }
    Frame::ok()
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
        ("client-output-buffer-limit", {
            let (hard, soft, seconds) = t.normal_output_limits();
            format!(
                "normal {hard} {soft} {seconds} slave 0 0 0 pubsub {} 0 0",
                l.pubsub_output_buffer_limit
            )
        }),
        ("maxmemory", "0".into()),
        ("maxmemory-policy", "noeviction".into()),
        ("port", me.map_or(0, |n| n.resp.port()).to_string()),
        ("bind", me.map_or(String::new(), |n| n.resp.ip().to_string())),
        ("dir", node.data_dir().display().to_string()),
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

/// A memory amount as Redis 7.0 reads one (`memtoull`): digits with an optional unit (k =
/// 1000, kb = 1024…), no sign; the digits read by `strtoull` (none is 0, too many saturate)
/// and the product wrapping, then taken as a signed number, so an overflow is out of range
/// rather than not a memory value.
fn parse_memory(v: &[u8]) -> Option<i64> {
    let split = v.iter().position(|c| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    let mul: u64 = match unit.to_ascii_lowercase().as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1_000_000,
        b"mb" => 1024 * 1024,
        b"g" => 1_000_000_000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits.len() >= 128 {
        return None;
    }
    let n = digits.iter().fold(0u64, |n, d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .unwrap_or(u64::MAX)
    });
    Some(n.wrapping_mul(mul) as i64)
}

/// A CONFIG SET change, checked before any is applied (CONFIG SET of several is all or none).
enum Change {
    Timeout(u64),
    /// `client-output-buffer-limit normal`: hard bytes, soft bytes, soft seconds.
    NormalOutput(Option<[u64; 3]>),
    ProtoMaxBulkLen(usize),
    QueryBufferLimit(usize),
}

/// CONFIG SET name value [name value ...]: all or none.
fn set(node: &Node, sub: &CommandSpec, pairs: &[Bytes]) -> Reply<Frame> {
    if !pairs.len().is_multiple_of(2) {
        return Err(Frame::Error(wrong_arity(sub.name)));
    }
    let known = config_params(node);
    let mut changes = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for pair in pairs.chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        if !known.iter().any(|(n, _)| *n == name) {
            return Err(Frame::Error(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            )));
        }
        let fail = |why: &str| {
            Frame::Error(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
            ))
        };
        if names.contains(&name) {
            return Err(fail("duplicate parameter"));
        }
        let checked = match name.as_str() {
            "client-output-buffer-limit" => output_limits(&pair[1], node.config.limits.pubsub_output_buffer_limit),
            _ => change(&name, &pair[1]),
        };
        changes.push(checked.map_err(fail)?);
        names.push(name);
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
            Change::NormalOutput(v) => {
                for (at, n) in t.normal_output_limits.iter().zip(v.into_iter().flatten()) {
                    at.store(n, Ordering::Relaxed);
                }
            }
        }
    }
    Ok(Frame::ok())
}

/// One parameter's new value, checked; the error is the reason Redis gives.
fn change(name: &str, value: &[u8]) -> Result<Change, &'static str> {
    match name {
        "timeout" => match parse_i64(value) {
            Some(n) if (0..=i64::from(i32::MAX)).contains(&n) => Ok(Change::Timeout(n as u64)),
            Some(_) => Err("argument must be between 0 and 2147483647 inclusive"),
            None => Err("argument couldn't be parsed into an integer"),
        },
        "proto-max-bulk-len" | "client-query-buffer-limit" => match parse_memory(value) {
            Some(n) if n >= 1024 * 1024 => {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                Ok(if name == "proto-max-bulk-len" {
                    Change::ProtoMaxBulkLen(n)
                } else {
                    Change::QueryBufferLimit(n)
                })
            }
            Some(_) => Err("argument must be between 1048576 and 9223372036854775807 inclusive"),
            None => Err("argument must be a memory value"),
        },
        // Read as Redis reads it (an unsigned int from 1), so a bad value gets Redis's reason;
        // a good one is still refused: the limit is cluster.toml's, fixed while the node runs.
        "maxclients" => match parse_i64(value) {
            Some(n) if (1..=i64::from(u32::MAX)).contains(&n) => Err("can't set immutable config"),
            Some(_) => Err("argument must be between 1 and 4294967295 inclusive"),
            None => Err("argument couldn't be parsed into an integer"),
        },
        _ => Err("can't set immutable config"),
    }
}

/// `client-output-buffer-limit`'s value: `<class> <hard> <soft> <seconds>`, repeated. The normal
/// class's limits change here; `replica`/`slave` (there are none: followers are Raft's) and
/// `pubsub` (set in cluster.toml) are accepted only at the values CONFIG GET shows.
fn output_limits(value: &[u8], pubsub: usize) -> Result<Change, &'static str> {
    let text = std::str::from_utf8(value).map_err(|_| "Wrong number of arguments in buffer limit configuration.")?;
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.");
    }
    let mut normal = None;
    for class in words.chunks(4) {
        let hard = parse_memory(class[1].as_bytes()).and_then(|n| u64::try_from(n).ok());
        let soft = parse_memory(class[2].as_bytes()).and_then(|n| u64::try_from(n).ok());
        let seconds = class[3].parse::<u64>().ok();
        let (Some(hard), Some(soft), Some(seconds)) = (hard, soft, seconds) else {
            return Err("Error in hard, soft or soft_seconds setting in buffer limit configuration.");
        };
        match class[0].to_ascii_lowercase().as_str() {
            "normal" => normal = Some([hard, soft, seconds]),
            "replica" | "slave" if (hard, soft, seconds) == (0, 0, 0) => {}
            "pubsub" if (hard, soft, seconds) == (pubsub as u64, 0, 0) => {}
            "replica" | "slave" | "pubsub" => {
                return Err("only the normal class's limits can be changed at run time");
            }
            _ => return Err("Invalid client class specified in buffer limit configuration."),
        }
    }
    Ok(Change::NormalOutput(normal))
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
        assert_eq!(parse_memory(b"01mb"), Some(1 << 20));
        assert_eq!(parse_memory(b"-1"), None);
        assert_eq!(parse_memory(b"+2mb"), None);
        assert_eq!(parse_memory(b"1xb"), None);
        assert_eq!(parse_memory(&[b'1'; 128]), None);
        // What strtoull makes of no digits, or too many: out of range, not "not a memory value".
        assert_eq!(parse_memory(b"mb"), Some(0));
        assert_eq!(parse_memory(b""), Some(0));
        assert_eq!(parse_memory(b"99999999999999999999"), Some(-1));
    }

    #[test]
    fn memory_limits_answer_redis_reasons() {
        let reason = |v: &[u8]| change("proto-max-bulk-len", v).err();
        let range = Some("argument must be between 1048576 and 9223372036854775807 inclusive");
        assert_eq!(reason(b"0"), range);
        assert_eq!(reason(b"1048575"), range);
        assert_eq!(reason(b"99999999999999999999mb"), range);
        assert_eq!(reason(b"abc"), Some("argument must be a memory value"));
        assert_eq!(reason(b"1048576"), None);
        assert_eq!(change("client-query-buffer-limit", b"0").err(), range);
    }

    #[test]
    fn maxclients_is_read_before_it_is_refused() {
        let reason = |v: &[u8]| change("maxclients", v).err();
        let not_int = Some("argument couldn't be parsed into an integer");
        let range = Some("argument must be between 1 and 4294967295 inclusive");
        assert_eq!(reason(b"abc"), not_int);
        assert_eq!(reason(b"1mb"), not_int);
        assert_eq!(reason(b"99999999999999999999"), not_int);
        assert_eq!(reason(b"0"), range);
        assert_eq!(reason(b"-1"), range);
        assert_eq!(reason(b"4294967296"), range);
        assert_eq!(reason(b"10000"), Some("can't set immutable config"));
    }
}
