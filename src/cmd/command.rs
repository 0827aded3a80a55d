//! COMMAND and its subcommands (COUNT, INFO, DOCS, LIST, GETKEYS, HELP), generated from the
//! table, in Redis 7.2's reply shapes: what clients learn is what dispatch enforces.

use bytes::Bytes;

use super::parse::{Cursor, SYNTAX_ERROR};
use super::spec::{Begin, CommandSpec, Family, Find, Flag, KeySpec};
use super::table::public;
use super::{check_arity, key_positions};
use crate::resp::frame::Frame;
use crate::store::scan::glob_match_nocase;

/// ACL categories as Redis derives them: explicit family categories, then the implicit
/// ones from flags (`setImplicitACLCategories`), in Redis's category order. A container
/// that does nothing by itself (CONFIG, CLIENT …) has only the implicit ones.
pub(super) fn acl_categories(spec: &CommandSpec) -> Vec<&'static str> {
    let has = |f: Flag| spec.has(f);
    let explicit = !spec.needs_subcommand();
    let mut cats = Vec::new();
    if explicit && (spec.family == Family::Generic || spec.name == "dbsize") {
        cats.push("@keyspace");
    }
    if has(Flag::Readonly) {
        cats.push("@read");
    }
    if has(Flag::Write) {
        cats.push("@write");
    }
    if explicit {
        match spec.family {
            Family::List => cats.push("@list"),
            Family::Hash => cats.push("@hash"),
            Family::String => cats.push("@string"),
            Family::Bitmap => cats.push("@bitmap"),
            Family::Set => cats.push("@set"),
            Family::SortedSet => cats.push("@sortedset"),
            Family::Transactions => cats.push("@transaction"),
            Family::PubSub => cats.push("@pubsub"),
            _ => {}
        }
    }
    if has(Flag::Admin) {
        cats.push("@admin");
    }
    cats.push(if has(Flag::Fast) { "@fast" } else { "@slow" });
    if has(Flag::Blocking) {
        cats.push("@blocking");
    }
    if has(Flag::Admin) || spec.name == "info" {
        cats.push("@dangerous");
    }
    if explicit && (spec.family == Family::Connection || spec.name == "command" || spec.name.starts_with("command|")) {
        cats.push("@connection");
    }
    cats
}

fn simple_set(items: impl IntoIterator<Item = &'static str>) -> Frame {
    Frame::Set(items.into_iter().map(|s| Frame::Simple(s.into())).collect())
}

fn bulk(s: &'static str) -> Frame {
    Frame::Bulk(Bytes::from_static(s.as_bytes()))
}

fn map(pairs: Vec<(&'static str, Frame)>) -> Frame {
    Frame::Map(pairs.into_iter().map(|(k, v)| (bulk(k), v)).collect())
}

/// One key specification as COMMAND INFO shows it.
fn key_spec_entry(spec: &KeySpec) -> Frame {
    let begin = match spec.begin {
        Begin::Index(i) => map(vec![
            ("type", bulk("index")),
            ("spec", map(vec![("index", Frame::Integer(i.into()))])),
        ]),
        Begin::Keyword(word, from) => map(vec![
            ("type", bulk("keyword")),
            (
                "spec",
                map(vec![
                    ("keyword", bulk(word)),
                    ("startfrom", Frame::Integer(from.into())),
                ]),
            ),
        ]),
        Begin::Unknown => map(vec![("type", bulk("unknown")), ("spec", Frame::Map(Vec::new()))]),
    };
    let find = match spec.find {
        Find::Range(lastkey, step, limit) => map(vec![
            ("type", bulk("range")),
            (
                "spec",
                map(vec![
                    ("lastkey", Frame::Integer(lastkey.into())),
                    ("keystep", Frame::Integer(step.into())),
                    ("limit", Frame::Integer(limit.into())),
                ]),
            ),
        ]),
        Find::Keynum(idx, first, step) => map(vec![
            ("type", bulk("keynum")),
            (
                "spec",
                map(vec![
                    ("keynumidx", Frame::Integer(idx.into())),
                    ("firstkey", Frame::Integer(first.into())),
                    ("keystep", Frame::Integer(step.into())),
                ]),
            ),
        ]),
        Find::Unknown => map(vec![("type", bulk("unknown")), ("spec", Frame::Map(Vec::new()))]),
    };
    let mut fields = Vec::with_capacity(4);
    if let Some(notes) = spec.notes {
        fields.push(("notes", bulk(notes)));
    }
    fields.push(("flags", simple_set(spec.flags.iter().map(|f| f.text()))));
    fields.push(("begin_search", begin));
    fields.push(("find_keys", find));
    map(fields)
}

/// One COMMAND / COMMAND INFO entry in Redis 7's ten-element format: name, arity, flags,
/// first/last/step, ACL categories, tips, key specifications, subcommands.
pub fn command_entry(spec: &CommandSpec) -> Frame {
    Frame::Array(vec![
        Frame::Bulk(Bytes::from_static(spec.name.as_bytes())),
        Frame::Integer(spec.arity.into()),
        simple_set(spec.flags.redis_names()),
        Frame::Integer(spec.first_key.into()),
        Frame::Integer(spec.last_key.into()),
        Frame::Integer(spec.step.into()),
        simple_set(acl_categories(spec)),
        Frame::Set(spec.tips.iter().map(|t| bulk(t.text())).collect()),
        Frame::Set(spec.key_specs.iter().map(key_spec_entry).collect()),
        // Redis answers an empty set for a command without subcommands, an array otherwise.
        if spec.is_container() {
            Frame::Array(spec.subcommands.iter().map(command_entry).collect())
        } else {
            Frame::Set(Vec::new())
        },
    ])
}

fn doc_entry(spec: &CommandSpec) -> Frame {
    let mut fields = vec![
        ("summary", bulk(spec.summary)),
        ("since", bulk(spec.since)),
        ("group", bulk(spec.family.group())),
    ];
    if spec.is_container() {
        let subs = spec.subcommands.iter().map(|s| (bulk(s.name), doc_entry(s))).collect();
        fields.push(("subcommands", Frame::Map(subs)));
    }
    map(fields)
}

/// A client-visible row by name, a subcommand as `container|sub` (COMMAND INFO config|get).
fn find_public(name: &[u8]) -> Option<&'static CommandSpec> {
    match name.iter().position(|&b| b == b'|') {
        Some(bar) => super::lookup(&name[..bar])?.subcommand(&name[bar + 1..]),
        None => super::lookup(name),
    }
}

/// Every client-visible row, each container followed by its subcommands (COMMAND LIST).
fn public_with_subcommands() -> impl Iterator<Item = &'static CommandSpec> {
    public().flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
}

/// COMMAND and its subcommands, generated from the table; each subcommand's arity is its row's.
pub fn command_reply(args: &[Bytes]) -> Frame {
    let Some(sub) = args.get(1) else {
        return Frame::Array(public().map(command_entry).collect());
    };
    let Some(row) = super::lookup(b"command").and_then(|c| c.subcommand(sub)) else {
        return Frame::Error(format!(
            "ERR unknown subcommand '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(sub)
        ));
    };
    if let Err(e) = check_arity(row, args.len()) {
        return e;
    }
    match row.name {
        "command|count" => Frame::Integer(public().count() as i64),
        "command|info" if args.len() == 2 => Frame::Array(public().map(command_entry).collect()),
        "command|info" => Frame::Array(
            args[2..]
                .iter()
                .map(|n| find_public(n).map_or(Frame::Null, command_entry))
                .collect(),
        ),
        "command|docs" => {
            let docs: Vec<&CommandSpec> = if args.len() == 2 {
                public().collect()
            } else {
                args[2..].iter().filter_map(|n| find_public(n)).collect()
            };
            Frame::Map(
                docs.into_iter()
                    .map(|c| (Frame::Bulk(Bytes::from_static(c.name.as_bytes())), doc_entry(c)))
                    .collect(),
            )
        }
        "command|list" => list(args),
        "command|getkeys" => getkeys(args),
        _ => Frame::Array(
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
            Some("pattern") => Box::new(move |c| glob_match_nocase(value.as_bytes(), c.name.as_bytes())),
            _ => return Frame::error(SYNTAX_ERROR),
        }
    } else {
        Box::new(|_| true)
    };
    if cur.finish().is_err() {
        return Frame::error(SYNTAX_ERROR);
    }
    Frame::Array(
        public_with_subcommands()
            .filter(|c| filter(c))
            .map(|c| Frame::Bulk(Bytes::from_static(c.name.as_bytes())))
            .collect(),
    )
}

/// COMMAND GETKEYS cmd arg...: the keys dispatch would route on.
fn getkeys(args: &[Bytes]) -> Frame {
    let cmd_args = &args[2..];
    let found = super::lookup(&cmd_args[0]).and_then(|c| match cmd_args.get(1) {
        Some(sub) if c.is_container() => c.subcommand(sub),
        _ => Some(c),
    });
    let Some(spec) = found else {
        return Frame::error("ERR Invalid command specified");
    };
    // Redis's order: a command that never has keys, the arity, then the keys these
    // arguments give (none, as from a numkeys that does not read: invalid arguments).
    if spec.find_keys.is_none() && spec.first_key <= 0 && spec.key_specs.is_empty() {
        return Frame::error("ERR The command has no key arguments");
    }
    if check_arity(spec, cmd_args.len()).is_err() {
        return Frame::error("ERR Invalid number of arguments specified for command");
    }
    let keys = key_positions(spec, cmd_args);
    if keys.is_empty() {
        return Frame::error("ERR Invalid arguments specified for command");
    }
    Frame::Array(keys.into_iter().map(|i| Frame::Bulk(cmd_args[i].clone())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::table::COMMANDS;
    use crate::cmd::txn::{BATCH_ENTRY, EXEC_ENTRY, WATCH_CLOCK};
    use crate::cmd::{EXPIRED_DELETE, FLUSH_ENTRY};

    fn args(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
    }

    fn bulk(s: &str) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn encoded(frame: &Frame, protocol: crate::resp::encode::Protocol) -> String {
        let mut out = bytes::BytesMut::new();
        crate::resp::encode::encode(frame, protocol, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Redis 7's own bytes for `COMMAND INFO get mset ping nosuch`: tips (a set of bulk
    /// strings), key specifications (a set of maps), and an empty set for no subcommands.
    #[test]
    fn command_info_matches_redis() {
        use crate::resp::encode::Protocol;
        let got = command_reply(&args(&["command", "info", "get", "mset", "ping", "nosuch"]));
        assert_eq!(
            encoded(&got, Protocol::Resp2),
            "*4\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n*10\r\n$4\r\nmset\r\n:-3\r\n*2\r\n+write\r\n+denyoom\r\n:1\r\n:-1\r\n:2\r\n*3\r\n+@write\r\n+@string\r\n+@slow\r\n*2\r\n$26\r\nrequest_policy:multi_shard\r\n$29\r\nresponse_policy:all_succeeded\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+OW\r\n+update\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:-1\r\n$7\r\nkeystep\r\n:2\r\n$5\r\nlimit\r\n:0\r\n*0\r\n*10\r\n$4\r\nping\r\n:-1\r\n*1\r\n+fast\r\n:0\r\n:0\r\n:0\r\n*2\r\n+@fast\r\n+@connection\r\n*2\r\n$25\r\nrequest_policy:all_shards\r\n$29\r\nresponse_policy:all_succeeded\r\n*0\r\n*0\r\n$-1\r\n"
        );
        assert_eq!(
            encoded(&got, Protocol::Resp3),
            "*4\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@read\r\n+@string\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n~0\r\n*10\r\n$4\r\nmset\r\n:-3\r\n~2\r\n+write\r\n+denyoom\r\n:1\r\n:-1\r\n:2\r\n~3\r\n+@write\r\n+@string\r\n+@slow\r\n~2\r\n$26\r\nrequest_policy:multi_shard\r\n$29\r\nresponse_policy:all_succeeded\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+OW\r\n+update\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:-1\r\n$7\r\nkeystep\r\n:2\r\n$5\r\nlimit\r\n:0\r\n~0\r\n*10\r\n$4\r\nping\r\n:-1\r\n~1\r\n+fast\r\n:0\r\n:0\r\n:0\r\n~2\r\n+@fast\r\n+@connection\r\n~2\r\n$25\r\nrequest_policy:all_shards\r\n$29\r\nresponse_policy:all_succeeded\r\n~0\r\n~0\r\n_\r\n"
        );
        // Key specifications of a numkeys form and of one Redis cannot describe (with notes),
        // as Redis sends them: tips, key specs and subcommands, the entry's last three.
        for (name, want) in [
            (
                "blmpop",
                "~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~3\r\n+RW\r\n+access\r\n+delete\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:2\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$6\r\nkeynum\r\n$4\r\nspec\r\n%3\r\n$9\r\nkeynumidx\r\n:0\r\n$8\r\nfirstkey\r\n:1\r\n$7\r\nkeystep\r\n:1\r\n~0\r\n",
            ),
            (
                "sort",
                "~0\r\n~3\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n%4\r\n$5\r\nnotes\r\n$120\r\nFor the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$7\r\nunknown\r\n$4\r\nspec\r\n%0\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$7\r\nunknown\r\n$4\r\nspec\r\n%0\r\n%4\r\n$5\r\nnotes\r\n$116\r\nFor the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array\r\n$5\r\nflags\r\n~2\r\n+OW\r\n+update\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$7\r\nunknown\r\n$4\r\nspec\r\n%0\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$7\r\nunknown\r\n$4\r\nspec\r\n%0\r\n~0\r\n",
            ),
        ] {
            let got = encoded(&command_reply(&args(&["command", "info", name])), Protocol::Resp3);
            assert!(got.ends_with(want), "{name}: {got}");
        }
    }

    #[test]
    fn internal_commands_are_hidden() {
        let internal = [
            EXPIRED_DELETE,
            FLUSH_ENTRY,
            EXEC_ENTRY,
            BATCH_ENTRY,
            WATCH_CLOCK,
            crate::cmd::acl::ACL_ENTRY,
        ];
        let public = COMMANDS.len() - internal.len();
        let Frame::Array(all) = command_reply(&args(&["command"])) else {
            panic!()
        };
        assert_eq!(all.len(), public);
        assert_eq!(
            command_reply(&args(&["COMMAND", "COUNT"])),
            Frame::Integer(public as i64)
        );
        let Frame::Array(names) = command_reply(&args(&["command", "list"])) else {
            panic!()
        };
        for name in internal {
            assert_eq!(
                command_reply(&args(&["command", "info", name])),
                Frame::Array(vec![Frame::Null])
            );
            assert!(!names.contains(&bulk(name)));
            assert!(super::super::lookup(name.as_bytes()).is_none());
        }
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
            // A numkeys that gives no keys: the arguments are invalid, the command has keys.
            (
                vec!["command", "getkeys", "zunion", "abc", "a"],
                Frame::error("ERR Invalid arguments specified for command"),
            ),
            (
                vec!["command", "getkeys", "lmpop", "5", "a", "LEFT"],
                Frame::error("ERR Invalid arguments specified for command"),
            ),
            (
                vec!["command", "getkeys", "zunionstore", "d", "0", "a"],
                Frame::error("ERR Invalid arguments specified for command"),
            ),
            (
                vec!["command", "list", "filterby", "pattern", "h*all"],
                Frame::Array(vec![bulk("hgetall")]),
            ),
            (
                vec!["command", "list", "filterby", "aclcat", "list"],
                Frame::Array(
                    [
                        "lpush",
                        "rpush",
                        "lpop",
                        "rpop",
                        "lrange",
                        "llen",
                        "lpushx",
                        "rpushx",
                        "lindex",
                        "lset",
                        "linsert",
                        "lrem",
                        "ltrim",
                        "lpos",
                        "lmove",
                        "rpoplpush",
                        "blpop",
                        "brpop",
                        "blmove",
                        "brpoplpush",
                        "blmpop",
                        "lmpop",
                    ]
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

    #[test]
    fn getkeys_reads_movable_keys_as_redis_does() {
        let keys = |req: &[&str]| command_reply(&args(&[&["command", "getkeys"], req].concat()));
        let bulks = |v: &[&str]| Frame::Array(v.iter().map(|s| bulk(s)).collect());
        assert_eq!(keys(&["BLMPOP", "0", "2", "a", "b", "LEFT"]), bulks(&["a", "b"]));
        assert_eq!(keys(&["bzmpop", "1", "2", "a", "b", "min"]), bulks(&["a", "b"]));
        assert_eq!(keys(&["sintercard", "2", "a", "b"]), bulks(&["a", "b"]));
        assert_eq!(keys(&["object", "encoding", "k"]), bulks(&["k"]));
        assert_eq!(
            keys(&["object", "help"]),
            Frame::error("ERR The command has no key arguments")
        );
        assert_eq!(
            keys(&["object", "nosuch", "k"]),
            Frame::error("ERR Invalid command specified")
        );
        assert_eq!(
            keys(&["object", "encoding"]),
            Frame::error("ERR Invalid number of arguments specified for command")
        );
    }

    #[test]
    fn tips_are_redis_7_2s() {
        let tips = |name: &str| -> Vec<&str> {
            find_public(name.as_bytes())
                .unwrap()
                .tips
                .iter()
                .map(|t| t.text())
                .collect()
        };
        assert_eq!(tips("dbsize"), ["request_policy:all_shards", "response_policy:agg_sum"]);
        assert_eq!(
            tips("keys"),
            ["request_policy:all_shards", "nondeterministic_output_order"]
        );
        assert_eq!(
            tips("flushall"),
            ["request_policy:all_shards", "response_policy:all_succeeded"]
        );
        assert_eq!(
            tips("flushdb"),
            ["request_policy:all_shards", "response_policy:all_succeeded"]
        );
        assert_eq!(
            tips("scan"),
            [
                "nondeterministic_output",
                "request_policy:special",
                "response_policy:special"
            ]
        );
        assert_eq!(
            tips("randomkey"),
            [
                "request_policy:all_shards",
                "response_policy:special",
                "nondeterministic_output"
            ]
        );
        for multi in ["del", "exists", "touch", "unlink"] {
            assert_eq!(
                tips(multi),
                ["request_policy:multi_shard", "response_policy:agg_sum"],
                "{multi}"
            );
        }
        assert_eq!(
            tips("mset"),
            ["request_policy:multi_shard", "response_policy:all_succeeded"]
        );
        assert_eq!(tips("mget"), ["request_policy:multi_shard"]);
        assert!(
            tips("msetnx").is_empty(),
            "atomic: Redis 7.2 dropped its multi_shard tip"
        );
        assert_eq!(
            tips("ping"),
            ["request_policy:all_shards", "response_policy:all_succeeded"]
        );
        assert_eq!(
            tips("info"),
            [
                "nondeterministic_output",
                "request_policy:all_shards",
                "response_policy:special"
            ]
        );
        assert_eq!(
            tips("config|set"),
            ["request_policy:all_nodes", "response_policy:all_succeeded"]
        );
        assert_eq!(tips("hgetall"), ["nondeterministic_output_order"]);
        assert!(tips("get").is_empty());
    }

    #[test]
    fn containers_show_their_subcommands() {
        let Frame::Array(info) = command_reply(&args(&["command", "info", "config", "CONFIG|GET", "config|nosuch"]))
        else {
            panic!()
        };
        let Frame::Array(config) = &info[0] else { panic!() };
        // A container does nothing by itself: no flags, no categories but @slow.
        assert_eq!(config[2], Frame::Set(vec![]));
        assert_eq!(config[6], Frame::Set(vec![Frame::Simple("@slow".into())]));
        let Frame::Array(subs) = &config[9] else { panic!() };
        let names: Vec<&Frame> = subs
            .iter()
            .map(|s| match s {
                Frame::Array(e) => &e[0],
                _ => panic!(),
            })
            .collect();
        assert_eq!(
            names,
            [&bulk("config|get"), &bulk("config|set"), &bulk("config|resetstat")]
        );
        let Frame::Array(get) = &info[1] else { panic!() };
        assert_eq!(get[0], bulk("config|get"));
        assert_eq!(get[1], Frame::Integer(-3));
        assert_eq!(
            get[6],
            Frame::Set(
                ["@admin", "@slow", "@dangerous"]
                    .iter()
                    .map(|c| Frame::Simple((*c).into()))
                    .collect()
            )
        );
        assert_eq!(info[2], Frame::Null);
        assert_eq!(
            command_reply(&args(&["command", "list", "filterby", "pattern", "config*"])),
            Frame::Array(
                ["config", "config|get", "config|set", "config|resetstat"]
                    .iter()
                    .map(|s| bulk(s))
                    .collect()
            )
        );
        let Frame::Map(docs) = command_reply(&args(&["command", "docs", "client"])) else {
            panic!()
        };
        let Frame::Map(fields) = &docs[0].1 else { panic!() };
        assert_eq!(fields[2], (bulk("group"), bulk("connection")));
        let (key, Frame::Map(subs)) = &fields[3] else { panic!() };
        assert_eq!(key, &bulk("subcommands"));
        assert!(subs.iter().any(|(name, _)| *name == bulk("client|setinfo")));
    }

    /// COMMAND GETKEYS names the keys the executor routes on (`prepare`), for every form.
    #[test]
    fn getkeys_agrees_with_the_executor() {
        let cases: &[&[&str]] = &[
            &["mset", "a", "1", "b", "2"],
            &["del", "a", "b", "c"],
            &["blpop", "a", "b", "0"],
            &["blmove", "a", "b", "left", "left", "1"],
            &["blmpop", "0", "2", "a", "b", "left", "count", "2"],
            &["bzmpop", "0", "1", "a", "min"],
            &["lmpop", "1", "a", "right"],
            &["zinterstore", "d", "2", "a", "b"],
            &["zintercard", "2", "a", "b", "limit", "3"],
            &["sintercard", "3", "a", "b", "c"],
            &["sort", "a", "by", "w_*", "store", "d"],
            &["sort_ro", "a", "alpha"],
            &["object", "freq", "k"],
            &["watch", "a", "b"],
            &["ssubscribe", "ch"],
        ];
        for req in cases {
            let a = args(req);
            let p = super::super::prepare(&a).unwrap();
            let want = Frame::Array(p.keys.iter().map(|&i| Frame::Bulk(a[i].clone())).collect());
            assert_eq!(
                command_reply(&args(&[&["command", "getkeys"], *req].concat())),
                want,
                "{req:?}"
            );
        }
    }
}
