//! The command table (Dragonfly `CI{...}` rows) and the COMMAND replies generated from it,
//! so what clients learn about arity and key positions is always what dispatch enforces.
//! Arity, flags and key positions are Redis 7.2's.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

use super::parse::{Cursor, SYNTAX_ERROR};
use super::{CommandSpec, EXPIRED_DELETE, Kind, check_arity, key_positions};
use crate::resp::frame::Frame;

const R: &[&str] = &["readonly"];
const RF: &[&str] = &["readonly", "fast"];
const W: &[&str] = &["write"];
const WF: &[&str] = &["write", "fast"];
const WD: &[&str] = &["write", "denyoom"];
const WDF: &[&str] = &["write", "denyoom", "fast"];
const NONE: &[&str] = &[];
const FAST: &[&str] = &["fast"];
const LSF: &[&str] = &["loading", "stale", "fast"];
const LS: &[&str] = &["loading", "stale"];
const NO_AUTH: &[&str] = &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"];

#[allow(clippy::too_many_arguments)]
const fn row(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
    kind: Kind,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        kind,
        group,
        summary,
        since,
    }
}

const ONE: (i32, i32, i32) = (1, 1, 1);
const ALL: (i32, i32, i32) = (1, -1, 1);
const NOKEY: (i32, i32, i32) = (0, 0, 0);

use Kind::{Node, Read, Write};

/// Every command slotraft knows, one row each.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    // strings
    row("get", 2, RF, ONE, Read, "string", "1.0.0", "Returns the string value of a key."),
    row("set", -3, WD, ONE, Write, "string", "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."),
    row("mset", -3, WD, (1, -1, 2), Write, "string", "1.0.1", "Atomically creates or modifies the string values of one or more keys."),
    row("mget", -2, RF, ALL, Read, "string", "1.0.0", "Atomically returns the string values of one or more keys."),
    row("incr", 2, WDF, ONE, Write, "string", "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    row("decr", 2, WDF, ONE, Write, "string", "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    row("incrby", 3, WDF, ONE, Write, "string", "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    row("decrby", 3, WDF, ONE, Write, "string", "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."),
    row("append", 3, WDF, ONE, Write, "string", "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist."),
    row("strlen", 2, RF, ONE, Read, "string", "2.2.0", "Returns the length of a string value."),
    // generic
    row("del", -2, W, ALL, Write, "generic", "1.0.0", "Deletes one or more keys."),
    row("exists", -2, RF, ALL, Read, "generic", "1.0.0", "Determines whether one or more keys exist."),
    row("expire", -3, WF, ONE, Write, "generic", "1.0.0", "Sets the expiration time of a key in seconds."),
    row("pexpire", -3, WF, ONE, Write, "generic", "2.6.0", "Sets the expiration time of a key in milliseconds."),
    row("expireat", -3, WF, ONE, Write, "generic", "1.2.0", "Sets the expiration time of a key to a Unix timestamp."),
    row("pexpireat", -3, WF, ONE, Write, "generic", "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp."),
    row("ttl", 2, RF, ONE, Read, "generic", "1.0.0", "Returns the expiration time in seconds of a key."),
    row("pttl", 2, RF, ONE, Read, "generic", "2.6.0", "Returns the expiration time in milliseconds of a key."),
    row("persist", 2, WF, ONE, Write, "generic", "2.2.0", "Removes the expiration time of a key."),
    row("type", 2, RF, ONE, Read, "generic", "1.0.0", "Determines the type of value stored at a key."),
    row(EXPIRED_DELETE, -2, WF, ALL, Write, "generic", "0.1.0", "Internal: deletes keys that are still expired at the entry's time."),
    // hashes
    row("hset", -4, WDF, ONE, Write, "hash", "2.0.0", "Creates or modifies the value of a field in a hash."),
    row("hmset", -4, WDF, ONE, Write, "hash", "2.0.0", "Sets the values of multiple fields."),
    row("hget", 3, RF, ONE, Read, "hash", "2.0.0", "Returns the value of a field in a hash."),
    row("hmget", -3, RF, ONE, Read, "hash", "2.0.0", "Returns the values of all fields in a hash."),
    row("hgetall", 2, R, ONE, Read, "hash", "2.0.0", "Returns all fields and values in a hash."),
    row("hdel", -3, WF, ONE, Write, "hash", "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain."),
    row("hlen", 2, RF, ONE, Read, "hash", "2.0.0", "Returns the number of fields in a hash."),
    row("hexists", 3, RF, ONE, Read, "hash", "2.0.0", "Determines whether a field exists in a hash."),
    // lists
    row("lpush", -3, WDF, ONE, Write, "list", "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist."),
    row("rpush", -3, WDF, ONE, Write, "list", "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist."),
    row("lpop", -2, WF, ONE, Write, "list", "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped."),
    row("rpop", -2, WF, ONE, Write, "list", "1.0.0", "Returns and removes the last elements of a list. Deletes the list if the last element was popped."),
    row("lrange", 4, R, ONE, Read, "list", "1.0.0", "Returns a range of elements from a list."),
    row("llen", 2, RF, ONE, Read, "list", "1.0.0", "Returns the length of a list."),
    // served by the node itself
    row("ping", -1, FAST, NOKEY, Node, "connection", "1.0.0", "Returns the server's liveliness response."),
    row("echo", 2, FAST, NOKEY, Node, "connection", "1.0.0", "Returns the given string."),
    row("quit", -1, NO_AUTH, NOKEY, Node, "connection", "1.0.0", "Closes the connection."),
    row("select", 2, LSF, NOKEY, Node, "connection", "1.0.0", "Changes the selected database."),
    row("command", -1, LS, NOKEY, Node, "server", "2.8.13", "Returns detailed information about all commands."),
    row("config", -2, NONE, NOKEY, Node, "server", "2.0.0", "A container for server configuration commands."),
    row("info", -1, LS, NOKEY, Node, "server", "1.0.0", "Returns information and statistics about the server."),
    row("dbsize", 1, RF, NOKEY, Node, "server", "1.0.0", "Returns the number of keys in the database."),
    row("client", -2, NONE, NOKEY, Node, "connection", "2.4.0", "A container for client connection commands."),
    row("readonly", 1, LSF, NOKEY, Node, "cluster", "3.0.0", "Enables read-only queries for a connection to a Redis Cluster replica node."),
    row("readwrite", 1, LSF, NOKEY, Node, "cluster", "3.0.0", "Enables read-write queries for a connection to a Redis Cluster replica node."),
    row("asking", 1, FAST, NOKEY, Node, "cluster", "3.0.0", "Signals that a cluster client is following an -ASK redirect."),
    row("cluster", -2, NONE, NOKEY, Node, "cluster", "3.0.0", "A container for Redis Cluster commands."),
    row("hello", -1, NO_AUTH, NOKEY, Node, "connection", "6.0.0", "Handshakes with the Redis server."),
    row("time", 1, LSF, NOKEY, Node, "server", "2.6.0", "Returns the server time."),
];

/// Name → row, built once. Includes the internal command; `lookup` hides it from clients.
pub fn by_name() -> &'static HashMap<&'static str, &'static CommandSpec> {
    static MAP: OnceLock<HashMap<&'static str, &'static CommandSpec>> = OnceLock::new();
    MAP.get_or_init(|| COMMANDS.iter().map(|c| (c.name, c)).collect())
}

/// Rows a client may see (COMMAND output, lookup).
fn public() -> impl Iterator<Item = &'static CommandSpec> {
    COMMANDS.iter().filter(|c| c.name != EXPIRED_DELETE)
}

/// ACL categories as Redis derives them: explicit family categories, then the implicit
/// ones from flags (`setImplicitACLCategories`), in Redis's category order.
fn acl_categories(spec: &CommandSpec) -> Vec<&'static str> {
    let has = |f: &str| spec.flags.contains(&f);
    let mut cats = Vec::new();
    if spec.group == "generic" || spec.name == "dbsize" {
        cats.push("@keyspace");
    }
    if has("readonly") {
        cats.push("@read");
    }
    if has("write") {
        cats.push("@write");
    }
    match spec.group {
        "list" => cats.push("@list"),
        "hash" => cats.push("@hash"),
        "string" => cats.push("@string"),
        _ => {}
    }
    if has("admin") {
        cats.push("@admin");
    }
    cats.push(if has("fast") { "@fast" } else { "@slow" });
    if has("admin") || spec.name == "info" {
        cats.push("@dangerous");
    }
    if spec.group == "connection" || spec.name == "command" {
        cats.push("@connection");
    }
    cats
}

fn simple_set(items: impl IntoIterator<Item = &'static str>) -> Frame {
    Frame::Set(items.into_iter().map(|s| Frame::Simple(s.into())).collect())
}

/// One COMMAND / COMMAND INFO entry in Redis 7's ten-element format.
pub fn command_entry(spec: &CommandSpec) -> Frame {
    Frame::Array(vec![
        Frame::Bulk(Bytes::from_static(spec.name.as_bytes())),
        Frame::Integer(spec.arity.into()),
        simple_set(spec.flags.iter().copied()),
        Frame::Integer(spec.first_key.into()),
        Frame::Integer(spec.last_key.into()),
        Frame::Integer(spec.step.into()),
        simple_set(acl_categories(spec)),
        Frame::Set(Vec::new()),
        Frame::Array(Vec::new()),
        Frame::Array(Vec::new()),
    ])
}

fn doc_entry(spec: &CommandSpec) -> Frame {
    let s = |v: &'static str| Frame::Bulk(Bytes::from_static(v.as_bytes()));
    Frame::Map(vec![
        (s("summary"), s(spec.summary)),
        (s("since"), s(spec.since)),
        (s("group"), s(spec.group)),
    ])
}

fn find_public(name: &[u8]) -> Option<&'static CommandSpec> {
    super::lookup(name)
}

fn arity_error(sub: &str) -> Frame {
    Frame::Error(format!("ERR wrong number of arguments for 'command|{sub}' command"))
}

/// COMMAND and its subcommands, generated from the table.
pub fn command_reply(args: &[Bytes]) -> Frame {
    let Some(sub) = args.get(1) else {
        return Frame::Array(public().map(command_entry).collect());
    };
    let sub_lower = String::from_utf8_lossy(sub).to_ascii_lowercase();
    match sub_lower.as_str() {
        "count" if args.len() == 2 => Frame::Integer(public().count() as i64),
        "count" => arity_error("count"),
        "info" => {
            if args.len() == 2 {
                return Frame::Array(public().map(command_entry).collect());
            }
            Frame::Array(
                args[2..]
                    .iter()
                    .map(|n| find_public(n).map_or(Frame::Null, command_entry))
                    .collect(),
            )
        }
        "docs" => {
            let docs = if args.len() == 2 {
                public().map(|c| (c, doc_entry(c))).collect::<Vec<_>>()
            } else {
                args[2..]
                    .iter()
                    .filter_map(|n| find_public(n))
                    .map(|c| (c, doc_entry(c)))
                    .collect()
            };
            Frame::Map(
                docs.into_iter()
                    .map(|(c, d)| (Frame::Bulk(Bytes::from_static(c.name.as_bytes())), d))
                    .collect(),
            )
        }
        "list" => list(args),
        "getkeys" => getkeys(args),
        "help" if args.len() > 2 => arity_error("help"),
        "help" => Frame::Array(
            [
                "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "(no subcommand)",
                "    Return details about all Redis commands.",
                "COUNT",
                "    Return the total number of commands in this Redis server.",
                "LIST",
                "    Return a list of all commands in this Redis server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple Redis commands.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple Redis commands.",
                "GETKEYS <full-command>",
                "    Return the keys from a full Redis command.",
                "HELP",
                "    Print this help.",
            ]
            .iter()
            .map(|l| Frame::Simple((*l).into()))
            .collect(),
        ),
        _ => Frame::Error(format!(
            "ERR unknown subcommand '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(sub)
        )),
    }
}

/// COMMAND LIST [FILTERBY MODULE m | ACLCAT c | PATTERN p]
fn list(args: &[Bytes]) -> Frame {
    let mut cur = Cursor::new(&args[1..]);
    let filter: Box<dyn Fn(&CommandSpec) -> bool> = if cur.eat_flag("filterby") {
        let kind = cur.peek_lower();
        let Ok(_) = cur.next_bytes() else {
            return Frame::error(SYNTAX_ERROR);
        };
        let Ok(value) = cur.next_bytes() else {
            return Frame::error(SYNTAX_ERROR);
        };
        let value = String::from_utf8_lossy(value).to_ascii_lowercase();
        match kind.as_deref() {
            Some("module") => Box::new(|_| false),
            Some("aclcat") => {
                Box::new(move |c| acl_categories(c).iter().any(|cat| cat.trim_start_matches('@') == value))
            }
            Some("pattern") => Box::new(move |c| glob(value.as_bytes(), c.name.as_bytes())),
            _ => return Frame::error(SYNTAX_ERROR),
        }
    } else {
        Box::new(|_| true)
    };
    if cur.finish().is_err() {
        return Frame::error(SYNTAX_ERROR);
    }
    Frame::Array(
        public()
            .filter(|c| filter(c))
            .map(|c| Frame::Bulk(Bytes::from_static(c.name.as_bytes())))
            .collect(),
    )
}

/// COMMAND GETKEYS cmd arg...: the keys dispatch would route on.
fn getkeys(args: &[Bytes]) -> Frame {
    let Some(name) = args.get(2) else {
        return arity_error("getkeys");
    };
    let Some(spec) = find_public(name) else {
        return Frame::error("ERR Invalid command specified");
    };
    let cmd_args = &args[2..];
    if check_arity(spec, cmd_args.len()).is_err() {
        return Frame::error("ERR Invalid number of arguments specified for command");
    }
    let keys = key_positions(spec, cmd_args.len());
    if keys.is_empty() {
        return Frame::error("ERR The command has no key arguments");
    }
    Frame::Array(keys.into_iter().map(|i| Frame::Bulk(cmd_args[i].clone())).collect())
}

/// Glob with `*` and `?` (command names need no more), case-insensitive on ASCII.
fn glob(pattern: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while i < s.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p].eq_ignore_ascii_case(&s[i])) {
            p += 1;
            i += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            mark = i;
            p += 1;
        } else if let Some(sp) = star {
            p = sp + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
    }

    fn bulk(s: &str) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn simple(v: &[&str]) -> Frame {
        Frame::Set(v.iter().map(|s| Frame::Simple((*s).into())).collect())
    }

    #[test]
    fn names_unique_lowercase_and_arity_sane() {
        assert_eq!(by_name().len(), COMMANDS.len());
        for c in COMMANDS {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert_ne!(c.arity, 0, "{}", c.name);
            if c.first_key > 0 {
                assert!(c.step > 0 && c.arity.abs() > c.first_key, "{}", c.name);
            }
        }
    }

    #[test]
    fn command_info_matches_redis() {
        let got = command_reply(&args(&["command", "info", "get", "mset", "ping", "nosuch"]));
        let want = Frame::Array(vec![
            Frame::Array(vec![
                bulk("get"),
                Frame::Integer(2),
                simple(&["readonly", "fast"]),
                Frame::Integer(1),
                Frame::Integer(1),
                Frame::Integer(1),
                simple(&["@read", "@string", "@fast"]),
                Frame::Set(vec![]),
                Frame::Array(vec![]),
                Frame::Array(vec![]),
            ]),
            Frame::Array(vec![
                bulk("mset"),
                Frame::Integer(-3),
                simple(&["write", "denyoom"]),
                Frame::Integer(1),
                Frame::Integer(-1),
                Frame::Integer(2),
                simple(&["@write", "@string", "@slow"]),
                Frame::Set(vec![]),
                Frame::Array(vec![]),
                Frame::Array(vec![]),
            ]),
            Frame::Array(vec![
                bulk("ping"),
                Frame::Integer(-1),
                simple(&["fast"]),
                Frame::Integer(0),
                Frame::Integer(0),
                Frame::Integer(0),
                simple(&["@fast", "@connection"]),
                Frame::Set(vec![]),
                Frame::Array(vec![]),
                Frame::Array(vec![]),
            ]),
            Frame::Null,
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn internal_command_is_hidden() {
        let Frame::Array(all) = command_reply(&args(&["command"])) else {
            panic!()
        };
        assert_eq!(all.len(), COMMANDS.len() - 1);
        assert_eq!(
            command_reply(&args(&["COMMAND", "COUNT"])),
            Frame::Integer(COMMANDS.len() as i64 - 1)
        );
        assert_eq!(
            command_reply(&args(&["command", "info", EXPIRED_DELETE])),
            Frame::Array(vec![Frame::Null])
        );
        let Frame::Array(names) = command_reply(&args(&["command", "list"])) else {
            panic!()
        };
        assert!(!names.contains(&bulk(EXPIRED_DELETE)));
        assert!(names.contains(&bulk("hgetall")));
    }

    #[test]
    fn subcommands() {
        let cases: Vec<(Vec<&str>, Frame)> = vec![
            (
                vec!["command", "count", "x"],
                Frame::error("ERR wrong number of arguments for 'command|count' command"),
            ),
            (
                vec!["command", "foo"],
                Frame::error("ERR unknown subcommand 'foo'. Try COMMAND HELP."),
            ),
            (
                vec!["command", "getkeys", "mset", "a", "1", "b", "2"],
                Frame::Array(vec![bulk("a"), bulk("b")]),
            ),
            (
                vec!["command", "getkeys", "get"],
                Frame::error("ERR Invalid number of arguments specified for command"),
            ),
            (
                vec!["command", "getkeys", "nope", "a"],
                Frame::error("ERR Invalid command specified"),
            ),
            (
                vec!["command", "getkeys", "ping"],
                Frame::error("ERR The command has no key arguments"),
            ),
            (
                vec!["command", "list", "filterby", "pattern", "h*all"],
                Frame::Array(vec![bulk("hgetall")]),
            ),
            (
                vec!["command", "list", "filterby", "aclcat", "list"],
                Frame::Array(
                    ["lpush", "rpush", "lpop", "rpop", "lrange", "llen"]
                        .iter()
                        .map(|s| bulk(s))
                        .collect(),
                ),
            ),
            (vec!["command", "list", "filterby"], Frame::error(SYNTAX_ERROR)),
            (vec!["command", "list", "x"], Frame::error(SYNTAX_ERROR)),
            (
                vec!["command", "docs", "get", "nosuch"],
                Frame::Map(vec![(
                    bulk("get"),
                    Frame::Map(vec![
                        (bulk("summary"), bulk("Returns the string value of a key.")),
                        (bulk("since"), bulk("1.0.0")),
                        (bulk("group"), bulk("string")),
                    ]),
                )]),
            ),
        ];
        for (req, want) in cases {
            assert_eq!(command_reply(&args(&req)), want, "{req:?}");
        }
    }
}
