//! The command table (Dragonfly `CI{...}` rows): one row per command, and one per subcommand
//! of a container (`config|get`), each saying everything the executor decides by and what
//! COMMAND tells clients, so what clients learn is what dispatch enforces. Arity, flags, key
//! positions, tips and key specifications are Redis 7.2's.

use std::sync::OnceLock;

use super::spec::Begin::Index;
#[allow(unused_imports)]
use super::spec::Find::Keynum;
use super::spec::Find::Range;
use super::spec::Flag::*;
use super::spec::KeyFlag::*;
use super::spec::TwinArgs::{ArgsThenTimeout, KeysThenTimeout, TimeoutFirst};
use super::spec::{
    Begin, CommandSpec, Family, Find, Flag, Flags, Kind, RequestPolicy, Resp3, ResponsePolicy, Tip, Twin, TwinReply, ks,
};
use super::txn::{self, BATCH_ENTRY, EXEC_ENTRY, WATCH_CLOCK};
use super::{EXPIRED_DELETE, FLUSH_ENTRY, keys, lists, sets, zsets};

const R: Flags = Flags::of(&[Readonly]);
const RF: Flags = Flags::of(&[Readonly, Fast]);
const W: Flags = Flags::of(&[Flag::Write]);
const WF: Flags = Flags::of(&[Flag::Write, Fast]);
const WD: Flags = Flags::of(&[Flag::Write, Denyoom]);
const WDF: Flags = Flags::of(&[Flag::Write, Denyoom, Fast]);
const NONE: Flags = Flags::of(&[]);
const FAST: Flags = Flags::of(&[Fast]);
const LSF: Flags = Flags::of(&[Loading, Stale, Fast]);
const LS: Flags = Flags::of(&[Loading, Stale]);
const STALE: Flags = Flags::of(&[Stale]);
const NS_LS: Flags = Flags::of(&[Noscript, Loading, Stale]);
const ADMIN_NS: Flags = Flags::of(&[Admin, Noscript, Loading, Stale]);
const ADMIN: Flags = Flags::of(&[Admin, Noscript, Loading, Stale, Protected]);
const PS: Flags = Flags::of(&[Pubsub, Noscript, Loading, Stale]);
const PS_LS: Flags = Flags::of(&[Pubsub, Loading, Stale]);
const PSF: Flags = Flags::of(&[Pubsub, Loading, Stale, Fast]);
const WB: Flags = Flags::of(&[Flag::Write, Blocking]);
const WFB: Flags = Flags::of(&[Flag::Write, Fast, Blocking]);
const WDB: Flags = Flags::of(&[Flag::Write, Denyoom, Blocking]);
const WBM: Flags = Flags::of(&[Flag::Write, Blocking, Movablekeys]);
const TX: Flags = Flags::of(&[Noscript, Loading, Stale, SkipSlowlog]);
const TXF: Flags = Flags::of(&[Noscript, Loading, Stale, Fast, AllowBusy]);
const RM: Flags = Flags::of(&[Readonly, Movablekeys]);
const WM: Flags = Flags::of(&[Flag::Write, Movablekeys]);
const WDM: Flags = Flags::of(&[Flag::Write, Denyoom, Movablekeys]);
const NO_AUTH: Flags = Flags::of(&[Noscript, Loading, Stale, Fast, NoAuth, AllowBusy]);

const NONDET: Tip = Tip::NondeterministicOutput;
const NONDET_ORDER: Tip = Tip::NondeterministicOutputOrder;
const ALL_SHARDS: Tip = Tip::Request(RequestPolicy::AllShards);
const ALL_NODES: Tip = Tip::Request(RequestPolicy::AllNodes);
const MULTI_SHARD: Tip = Tip::Request(RequestPolicy::MultiShard);
const REQ_SPECIAL: Tip = Tip::Request(RequestPolicy::Special);
const AGG_SUM: Tip = Tip::Response(ResponsePolicy::AggSum);
const ALL_SUCCEEDED: Tip = Tip::Response(ResponsePolicy::AllSucceeded);
const RESP_SPECIAL: Tip = Tip::Response(ResponsePolicy::Special);

#[allow(clippy::too_many_arguments)]
const fn row(
    name: &'static str,
    arity: i32,
    flags: Flags,
    keys: (i32, i32, i32),
    kind: Kind,
    family: Family,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec::new(name, arity, flags, keys, kind, family, since, summary)
}

const ONE: (i32, i32, i32) = (1, 1, 1);
const ALL: (i32, i32, i32) = (1, -1, 1);
const NOKEY: (i32, i32, i32) = (0, 0, 0);
const TWO: (i32, i32, i32) = (1, 2, 1);

use Family::{
    Bitmap, Cluster, Connection, Generic, Hash, Internal, List, PubSub, Server, Set, SortedSet, String, Transactions,
};
use Kind::{Node, Read, Write};

/// OBJECT's subcommands: each names its key, so OBJECT routes like any read of a key.
#[rustfmt::skip]
static OBJECT: &[CommandSpec] = &[
    row("object|encoding", 3, R, (2, 2, 1), Read, Generic, "2.2.3", "Returns the internal encoding of a Redis object.").tips(&[NONDET]).key_specs(&[ks(&[Ro], Index(2), Range(0, 1, 0))]),
    row("object|freq", 3, R, (2, 2, 1), Read, Generic, "4.0.0", "Returns the logarithmic access frequency counter of a Redis object.").tips(&[NONDET]).key_specs(&[ks(&[Ro], Index(2), Range(0, 1, 0))]),
    row("object|help", 2, LS, NOKEY, Read, Generic, "6.2.0", "Returns helpful text about the different subcommands."),
    row("object|idletime", 3, R, (2, 2, 1), Read, Generic, "2.2.3", "Returns the time since the last access to a Redis object.").tips(&[NONDET]).key_specs(&[ks(&[Ro], Index(2), Range(0, 1, 0))]),
    row("object|refcount", 3, R, (2, 2, 1), Read, Generic, "2.2.3", "Returns the reference count of a value of a key.").tips(&[NONDET]).key_specs(&[ks(&[Ro], Index(2), Range(0, 1, 0))]),
];

#[rustfmt::skip]
static ACL: &[CommandSpec] = &[
    row("acl|cat", -2, NS_LS, NOKEY, Node, Server, "6.0.0", "Lists the ACL categories, or the commands inside a category."),
    row("acl|deluser", -3, ADMIN_NS, NOKEY, Node, Server, "6.0.0", "Deletes ACL users, and terminates their connections.").tips(&[ALL_NODES, ALL_SUCCEEDED]),
    row("acl|dryrun", -4, ADMIN_NS, NOKEY, Node, Server, "7.0.0", "Simulates the execution of a command by a user, without executing the command."),
    row("acl|genpass", -2, NS_LS, NOKEY, Node, Server, "6.0.0", "Generates a pseudorandom, secure password that can be used to identify ACL users."),
    row("acl|getuser", 3, ADMIN_NS, NOKEY, Node, Server, "6.0.0", "Lists the ACL rules of a user."),
    row("acl|help", 2, LS, NOKEY, Node, Server, "6.0.0", "Returns helpful text about the different subcommands."),
    row("acl|list", 2, ADMIN_NS, NOKEY, Node, Server, "6.0.0", "Dumps the effective rules in ACL file format."),
    row("acl|load", 2, ADMIN_NS, NOKEY, Node, Server, "6.0.0", "Reloads the rules from the configured ACL file."),
    row("acl|log", -2, ADMIN_NS, NOKEY, Node, Server, "6.0.0", "Lists recent security events generated due to ACL rules."),
    row("acl|save", 2, ADMIN_NS, NOKEY, Node, Server, "6.0.0", "Saves the effective ACL rules in the configured ACL file.").tips(&[ALL_NODES, ALL_SUCCEEDED]),
    row("acl|setuser", -3, ADMIN_NS, NOKEY, Node, Server, "6.0.0", "Creates and modifies an ACL user and its rules.").tips(&[ALL_NODES, ALL_SUCCEEDED]),
    row("acl|users", 2, ADMIN_NS, NOKEY, Node, Server, "6.0.0", "Lists all ACL users."),
    row("acl|whoami", 2, NS_LS, NOKEY, Node, Server, "6.0.0", "Returns the authenticated username of the current connection."),
];

#[rustfmt::skip]
static CONFIG: &[CommandSpec] = &[
    row("config|get", -3, ADMIN_NS, NOKEY, Node, Server, "2.0.0", "Returns the effective values of configuration parameters."),
    row("config|set", -4, ADMIN_NS, NOKEY, Node, Server, "2.0.0", "Sets configuration parameters in-flight.").tips(&[ALL_NODES, ALL_SUCCEEDED]),
    row("config|resetstat", 2, ADMIN_NS, NOKEY, Node, Server, "2.0.0", "Resets the server's statistics."),
];

#[rustfmt::skip]
static CLIENT: &[CommandSpec] = &[
    row("client|id", 2, NS_LS, NOKEY, Node, Connection, "5.0.0", "Returns the unique client ID of the connection."),
    row("client|getname", 2, NS_LS, NOKEY, Node, Connection, "2.6.9", "Returns the name of the connection."),
    row("client|setname", 3, NS_LS, NOKEY, Node, Connection, "2.6.9", "Sets the connection name."),
    row("client|setinfo", 4, NS_LS, NOKEY, Node, Connection, "7.2.0", "Sets information specific to the client or connection."),
    row("client|info", 2, NS_LS, NOKEY, Node, Connection, "6.2.0", "Returns information about the connection.").tips(&[NONDET]),
    row("client|list", -2, ADMIN_NS, NOKEY, Node, Connection, "2.4.0", "Lists open connections.").tips(&[NONDET]),
    row("client|kill", -3, ADMIN_NS, NOKEY, Node, Connection, "2.4.0", "Terminates open connections."),
    row("client|reply", 3, NS_LS, NOKEY, Node, Connection, "3.2.0", "Instructs the server whether to reply to commands."),
    row("client|no-evict", 3, ADMIN_NS, NOKEY, Node, Connection, "7.0.0", "Sets the client eviction mode of the connection."),
    row("client|no-touch", 3, NS_LS, NOKEY, Node, Connection, "7.2.0", "Controls whether commands sent by the client affect the LRU/LFU of accessed keys."),
    row("client|getredir", 2, NS_LS, NOKEY, Node, Connection, "6.0.0", "Returns the client ID to which the connection's tracking notifications are redirected."),
];

#[rustfmt::skip]
static CLUSTER: &[CommandSpec] = &[
    row("cluster|slots", 2, STALE, NOKEY, Node, Cluster, "3.0.0", "Returns the mapping of cluster slots to nodes.").tips(&[NONDET]),
    row("cluster|shards", 2, STALE, NOKEY, Node, Cluster, "7.0.0", "Returns the mapping of cluster slots to shards.").tips(&[NONDET]),
    row("cluster|nodes", 2, STALE, NOKEY, Node, Cluster, "3.0.0", "Returns the cluster configuration for a node.").tips(&[NONDET]),
    row("cluster|info", 2, STALE, NOKEY, Node, Cluster, "3.0.0", "Returns information about the state of a node.").tips(&[NONDET]),
    row("cluster|myid", 2, STALE, NOKEY, Node, Cluster, "3.0.0", "Returns the ID of a node."),
    row("cluster|myshardid", 2, STALE, NOKEY, Node, Cluster, "7.2.0", "Returns the shard ID of a node.").tips(&[NONDET]),
    row("cluster|keyslot", 3, STALE, NOKEY, Node, Cluster, "3.0.0", "Returns the hash slot for a key."),
    row("cluster|countkeysinslot", 3, STALE, NOKEY, Node, Cluster, "3.0.0", "Returns the number of keys in a hash slot."),
    row("cluster|getkeysinslot", 4, STALE, NOKEY, Node, Cluster, "3.0.0", "Returns the key names in a hash slot.").tips(&[NONDET]),
];

#[rustfmt::skip]
static PUBSUB: &[CommandSpec] = &[
    row("pubsub|channels", -2, PS_LS, NOKEY, Node, PubSub, "2.8.0", "Returns the active channels."),
    row("pubsub|numpat", 2, PS_LS, NOKEY, Node, PubSub, "2.8.0", "Returns a count of unique pattern subscriptions."),
    row("pubsub|numsub", -2, PS_LS, NOKEY, Node, PubSub, "2.8.0", "Returns a count of subscribers to channels."),
    row("pubsub|shardchannels", -2, PS_LS, NOKEY, Node, PubSub, "7.0.0", "Returns the active shard channels."),
    row("pubsub|shardnumsub", -2, PS_LS, NOKEY, Node, PubSub, "7.0.0", "Returns the count of subscribers of shard channels."),
];

/// COMMAND's subcommands. GETKEYS takes -3 here where Redis 7 says -4: `COMMAND GETKEYS GET`
/// answers "Invalid number of arguments specified for command", as it always has here.
#[rustfmt::skip]
static COMMAND: &[CommandSpec] = &[
    row("command|count", 2, LS, NOKEY, Node, Server, "2.8.13", "Returns a count of commands."),
    row("command|docs", -2, LS, NOKEY, Node, Server, "7.0.0", "Returns documentary information about one, multiple or all commands.").tips(&[NONDET_ORDER]),
    row("command|getkeys", -3, LS, NOKEY, Node, Server, "2.8.13", "Extracts the key names from an arbitrary command."),
    row("command|help", 2, LS, NOKEY, Node, Server, "5.0.0", "Returns helpful text about the different subcommands."),
    row("command|info", -2, LS, NOKEY, Node, Server, "2.8.13", "Returns information about one, multiple or all commands.").tips(&[NONDET_ORDER]),
    row("command|list", -2, LS, NOKEY, Node, Server, "7.0.0", "Returns a list of command names.").tips(&[NONDET_ORDER]),
];

/// Every command slotraft knows, one row each.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    // strings
    row("get", 2, RF, ONE, Read, String, "1.0.0", "Returns the string value of a key.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("set", -3, WD, ONE, Write, String, "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.").key_specs(&[ks(&[Rw, Access, Update, VariableFlags], Index(1), Range(0, 1, 0)).notes("RW and ACCESS due to the optional `GET` argument")]),
    row("mset", -3, WD, (1, -1, 2), Write, String, "1.0.1", "Atomically creates or modifies the string values of one or more keys.").tips(&[MULTI_SHARD, ALL_SUCCEEDED]).key_specs(&[ks(&[Ow, Update], Index(1), Range(-1, 2, 0))]),
    row("mget", -2, RF, ALL, Read, String, "1.0.0", "Atomically returns the string values of one or more keys.").tips(&[MULTI_SHARD]).key_specs(&[ks(&[Ro, Access], Index(1), Range(-1, 1, 0))]),
    row("incr", 2, WDF, ONE, Write, String, "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.").key_specs(&[ks(&[Rw, Access, Update], Index(1), Range(0, 1, 0))]),
    row("decr", 2, WDF, ONE, Write, String, "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.").key_specs(&[ks(&[Rw, Access, Update], Index(1), Range(0, 1, 0))]),
    row("incrby", 3, WDF, ONE, Write, String, "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.").key_specs(&[ks(&[Rw, Access, Update], Index(1), Range(0, 1, 0))]),
    row("decrby", 3, WDF, ONE, Write, String, "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.").key_specs(&[ks(&[Rw, Access, Update], Index(1), Range(0, 1, 0))]),
    row("append", 3, WDF, ONE, Write, String, "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.").key_specs(&[ks(&[Rw, Insert], Index(1), Range(0, 1, 0))]),
    row("strlen", 2, RF, ONE, Read, String, "2.2.0", "Returns the length of a string value.").key_specs(&[ks(&[Ro], Index(1), Range(0, 1, 0))]),
    row("getset", 3, WDF, ONE, Write, String, "1.0.0", "Returns the previous string value of a key after setting it to a new value.").key_specs(&[ks(&[Rw, Access, Update], Index(1), Range(0, 1, 0))]),
    row("getdel", 2, WF, ONE, Write, String, "6.2.0", "Returns the string value of a key after deleting the key.").key_specs(&[ks(&[Rw, Access, Delete], Index(1), Range(0, 1, 0))]),
    row("getex", -2, WF, ONE, Write, String, "6.2.0", "Returns the string value of a key after setting its expiration time.").key_specs(&[ks(&[Rw, Access, Update], Index(1), Range(0, 1, 0)).notes("RW and UPDATE because it changes the TTL")]),
    row("setnx", 3, WDF, ONE, Write, String, "1.0.0", "Set the string value of a key only when the key doesn't exist.").key_specs(&[ks(&[Ow, Insert], Index(1), Range(0, 1, 0))]),
    row("setex", 4, WD, ONE, Write, String, "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.").key_specs(&[ks(&[Ow, Update], Index(1), Range(0, 1, 0))]),
    row("psetex", 4, WD, ONE, Write, String, "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.").key_specs(&[ks(&[Ow, Update], Index(1), Range(0, 1, 0))]),
    row("msetnx", -3, WD, (1, -1, 2), Write, String, "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.").key_specs(&[ks(&[Ow, Insert], Index(1), Range(-1, 2, 0))]),
    row("incrbyfloat", 3, WDF, ONE, Write, String, "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.").key_specs(&[ks(&[Rw, Access, Update], Index(1), Range(0, 1, 0))]),
    row("getrange", 4, R, ONE, Read, String, "2.4.0", "Returns a substring of the string stored at a key.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("substr", 4, R, ONE, Read, String, "1.0.0", "Returns a substring from a string value.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("setrange", 4, WD, ONE, Write, String, "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.").key_specs(&[ks(&[Rw, Update], Index(1), Range(0, 1, 0))]),
    row("lcs", -3, R, TWO, Read, String, "7.0.0", "Finds the longest common substring.").key_specs(&[ks(&[Ro, Access], Index(1), Range(1, 1, 0))]),
    row("setbit", 4, WD, ONE, Write, Bitmap, "2.2.0", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.").key_specs(&[ks(&[Rw, Access, Update], Index(1), Range(0, 1, 0))]),
    row("getbit", 3, RF, ONE, Read, Bitmap, "2.2.0", "Returns a bit value by offset.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("bitcount", -2, R, ONE, Read, Bitmap, "2.6.0", "Counts the number of set bits (population counting) in a string.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("bitpos", -3, R, ONE, Read, Bitmap, "2.8.7", "Finds the first set (1) or clear (0) bit in a string.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    // generic
    row("del", -2, W, ALL, Write, Generic, "1.0.0", "Deletes one or more keys.").tips(&[MULTI_SHARD, AGG_SUM]).key_specs(&[ks(&[Rm, Delete], Index(1), Range(-1, 1, 0))]),
    row("exists", -2, RF, ALL, Read, Generic, "1.0.0", "Determines whether one or more keys exist.").tips(&[MULTI_SHARD, AGG_SUM]).key_specs(&[ks(&[Ro], Index(1), Range(-1, 1, 0))]),
    row("expire", -3, WF, ONE, Write, Generic, "1.0.0", "Sets the expiration time of a key in seconds.").key_specs(&[ks(&[Rw, Update], Index(1), Range(0, 1, 0))]),
    row("pexpire", -3, WF, ONE, Write, Generic, "2.6.0", "Sets the expiration time of a key in milliseconds.").key_specs(&[ks(&[Rw, Update], Index(1), Range(0, 1, 0))]),
    row("expireat", -3, WF, ONE, Write, Generic, "1.2.0", "Sets the expiration time of a key to a Unix timestamp.").key_specs(&[ks(&[Rw, Update], Index(1), Range(0, 1, 0))]),
    row("pexpireat", -3, WF, ONE, Write, Generic, "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.").key_specs(&[ks(&[Rw, Update], Index(1), Range(0, 1, 0))]),
    row("ttl", 2, RF, ONE, Read, Generic, "1.0.0", "Returns the expiration time in seconds of a key.").tips(&[NONDET]).key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("pttl", 2, RF, ONE, Read, Generic, "2.6.0", "Returns the expiration time in milliseconds of a key.").tips(&[NONDET]).key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("persist", 2, WF, ONE, Write, Generic, "2.2.0", "Removes the expiration time of a key.").key_specs(&[ks(&[Rw, Update], Index(1), Range(0, 1, 0))]),
    row("type", 2, RF, ONE, Read, Generic, "1.0.0", "Determines the type of value stored at a key.").key_specs(&[ks(&[Ro], Index(1), Range(0, 1, 0))]),
    row("unlink", -2, WF, ALL, Write, Generic, "4.0.0", "Asynchronously deletes one or more keys.").tips(&[MULTI_SHARD, AGG_SUM]).key_specs(&[ks(&[Rm, Delete], Index(1), Range(-1, 1, 0))]),
    row("touch", -2, RF, ALL, Read, Generic, "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.").tips(&[MULTI_SHARD, AGG_SUM]).key_specs(&[ks(&[Ro], Index(1), Range(-1, 1, 0))]),
    row("rename", 3, W, TWO, Write, Generic, "1.0.0", "Renames a key and overwrites the destination.").key_specs(&[ks(&[Rw, Access, Delete], Index(1), Range(0, 1, 0)), ks(&[Ow, Update], Index(2), Range(0, 1, 0))]),
    row("renamenx", 3, WF, TWO, Write, Generic, "1.0.0", "Renames a key only when the target key name doesn't exist.").key_specs(&[ks(&[Rw, Access, Delete], Index(1), Range(0, 1, 0)), ks(&[Ow, Insert], Index(2), Range(0, 1, 0))]),
    row("copy", -3, WD, TWO, Write, Generic, "6.2.0", "Copies the value of a key to a new key.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0)), ks(&[Ow, Update], Index(2), Range(0, 1, 0))]),
    row("expiretime", 2, RF, ONE, Read, Generic, "7.0.0", "Returns the expiration time of a key as a Unix timestamp.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("pexpiretime", 2, RF, ONE, Read, Generic, "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("object", -2, NONE, NOKEY, Read, Generic, "2.2.3", "A container for object introspection commands.").subcommands(OBJECT),
    row("sort", -2, WDM, ONE, Write, Generic, "1.0.0", "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0)), ks(&[Ro, Access], Begin::Unknown, Find::Unknown).notes("For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort"), ks(&[Ow, Update], Begin::Unknown, Find::Unknown).notes("For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array")]).keys_by(keys::sort_keys),
    row("sort_ro", -2, RM, ONE, Read, Generic, "7.0.0", "Returns the sorted elements of a list, a set, or a sorted set.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0)), ks(&[Ro, Access], Begin::Unknown, Find::Unknown).notes("For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort")]).keys_by(keys::sort_ro_keys),
    row(EXPIRED_DELETE, -2, WF, ALL, Write, Generic, "0.1.0", "Internal: deletes keys that are still expired at the entry's time."),
    row(FLUSH_ENTRY, 1, W, NOKEY, Write, Internal, "0.1.0", "Internal: empties the keyspace of one group."),
    row(super::ACL_ENTRY, -2, W, NOKEY, Write, Internal, "0.1.0", "Internal: changes the users, in the metadata group."),
    // keyspace-wide: answered over the groups this node leads
    row("keys", 2, R, NOKEY, Node, Generic, "1.0.0", "Returns all key names that match a pattern.").tips(&[ALL_SHARDS, NONDET_ORDER]),
    row("scan", -2, R, NOKEY, Node, Generic, "2.8.0", "Iterates over the key names in the database.").tips(&[NONDET, REQ_SPECIAL, RESP_SPECIAL]),
    row("randomkey", 1, R, NOKEY, Node, Generic, "1.0.0", "Returns a random key name from the database.").tips(&[ALL_SHARDS, RESP_SPECIAL, NONDET]),
    row("flushdb", -1, W, NOKEY, Node, Server, "1.0.0", "Remove all keys from the current database.").tips(&[ALL_SHARDS, ALL_SUCCEEDED]),
    row("flushall", -1, W, NOKEY, Node, Server, "1.0.0", "Removes all keys from all databases.").tips(&[ALL_SHARDS, ALL_SUCCEEDED]),
    row("lastsave", 1, LSF, NOKEY, Node, Server, "1.0.0", "Returns the Unix timestamp of the last successful save to disk.").tips(&[NONDET]),
    row("reset", 1, NO_AUTH.with(RunsInMulti).with(WhileSubscribed), NOKEY, Node, Connection, "6.2.0", "Resets the connection."),
    // pub/sub: messages travel node to node, not through the log
    row("subscribe", -2, PS.with(WhileSubscribed), NOKEY, Node, PubSub, "2.0.0", "Listens for messages published to channels."),
    row("unsubscribe", -1, PS.with(WhileSubscribed), NOKEY, Node, PubSub, "2.0.0", "Stops listening to messages posted to channels."),
    row("psubscribe", -2, PS.with(WhileSubscribed), NOKEY, Node, PubSub, "2.0.0", "Listens for messages published to channels that match one or more patterns."),
    row("punsubscribe", -1, PS.with(WhileSubscribed), NOKEY, Node, PubSub, "2.0.0", "Stops listening to messages published to channels that match one or more patterns."),
    row("ssubscribe", -2, PS.with(WhileSubscribed), ALL, Node, PubSub, "7.0.0", "Listens for messages published to shard channels.").key_specs(&[ks(&[NotKey], Index(1), Range(-1, 1, 0))]),
    row("sunsubscribe", -1, PS.with(WhileSubscribed), ALL, Node, PubSub, "7.0.0", "Stops listening to messages posted to shard channels.").key_specs(&[ks(&[NotKey], Index(1), Range(-1, 1, 0))]),
    row("publish", 3, PSF, NOKEY, Node, PubSub, "2.0.0", "Posts a message to a channel."),
    row("spublish", 3, PSF, ONE, Node, PubSub, "7.0.0", "Post a message to a shard channel").key_specs(&[ks(&[NotKey], Index(1), Range(0, 1, 0))]),
    row("pubsub", -2, NONE, NOKEY, Node, PubSub, "2.8.0", "A container for Pub/Sub commands.").subcommands(PUBSUB),
    // hashes
    row("hset", -4, WDF, ONE, Write, Hash, "2.0.0", "Creates or modifies the value of a field in a hash.").key_specs(&[ks(&[Rw, Update], Index(1), Range(0, 1, 0))]),
    row("hmset", -4, WDF, ONE, Write, Hash, "2.0.0", "Sets the values of multiple fields.").key_specs(&[ks(&[Rw, Update], Index(1), Range(0, 1, 0))]),
    row("hget", 3, RF, ONE, Read, Hash, "2.0.0", "Returns the value of a field in a hash.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("hmget", -3, RF, ONE, Read, Hash, "2.0.0", "Returns the values of all fields in a hash.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("hgetall", 2, R, ONE, Read, Hash, "2.0.0", "Returns all fields and values in a hash.").tips(&[NONDET_ORDER]).key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("hdel", -3, WF, ONE, Write, Hash, "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.").key_specs(&[ks(&[Rw, Delete], Index(1), Range(0, 1, 0))]),
    row("hlen", 2, RF, ONE, Read, Hash, "2.0.0", "Returns the number of fields in a hash.").key_specs(&[ks(&[Ro], Index(1), Range(0, 1, 0))]),
    row("hexists", 3, RF, ONE, Read, Hash, "2.0.0", "Determines whether a field exists in a hash.").key_specs(&[ks(&[Ro], Index(1), Range(0, 1, 0))]),
    row("hsetnx", 4, WDF, ONE, Write, Hash, "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist.").key_specs(&[ks(&[Rw, Insert], Index(1), Range(0, 1, 0))]),
    row("hkeys", 2, R, ONE, Read, Hash, "2.0.0", "Returns all fields in a hash.").tips(&[NONDET_ORDER]).key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("hvals", 2, R, ONE, Read, Hash, "2.0.0", "Returns all values in a hash.").tips(&[NONDET_ORDER]).key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("hincrby", 4, WDF, ONE, Write, Hash, "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.").key_specs(&[ks(&[Rw, Access, Update], Index(1), Range(0, 1, 0))]),
    row("hincrbyfloat", 4, WDF, ONE, Write, Hash, "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.").key_specs(&[ks(&[Rw, Access, Update], Index(1), Range(0, 1, 0))]),
    row("hstrlen", 3, RF, ONE, Read, Hash, "3.2.0", "Returns the length of the value of a field.").key_specs(&[ks(&[Ro], Index(1), Range(0, 1, 0))]),
    row("hrandfield", -2, R, ONE, Read, Hash, "6.2.0", "Returns one or more random fields from a hash.").tips(&[NONDET]).key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]).resp3(Resp3::PairsWith("withvalues")),
    row("hscan", -3, R, ONE, Read, Hash, "2.8.0", "Iterates over fields and values of a hash.").tips(&[NONDET]).key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    // lists
    row("lpush", -3, WDF, ONE, Write, List, "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist.").key_specs(&[ks(&[Rw, Insert], Index(1), Range(0, 1, 0))]),
    row("rpush", -3, WDF, ONE, Write, List, "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist.").key_specs(&[ks(&[Rw, Insert], Index(1), Range(0, 1, 0))]),
    row("lpop", -2, WF, ONE, Write, List, "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.").key_specs(&[ks(&[Rw, Access, Delete], Index(1), Range(0, 1, 0))]),
    row("rpop", -2, WF, ONE, Write, List, "1.0.0", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.").key_specs(&[ks(&[Rw, Access, Delete], Index(1), Range(0, 1, 0))]),
    row("lrange", 4, R, ONE, Read, List, "1.0.0", "Returns a range of elements from a list.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("llen", 2, RF, ONE, Read, List, "1.0.0", "Returns the length of a list.").key_specs(&[ks(&[Ro], Index(1), Range(0, 1, 0))]),
    row("lpushx", -3, WDF, ONE, Write, List, "2.2.0", "Prepends one or more elements to a list only when the list exists.").key_specs(&[ks(&[Rw, Insert], Index(1), Range(0, 1, 0))]),
    row("rpushx", -3, WDF, ONE, Write, List, "2.2.0", "Appends an element to a list only when the list exists.").key_specs(&[ks(&[Rw, Insert], Index(1), Range(0, 1, 0))]),
    row("lindex", 3, R, ONE, Read, List, "1.0.0", "Returns an element from a list by its index.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("lset", 4, WD, ONE, Write, List, "1.0.0", "Sets the value of an element in a list by its index.").key_specs(&[ks(&[Rw, Update], Index(1), Range(0, 1, 0))]),
    row("linsert", 5, WD, ONE, Write, List, "2.2.0", "Inserts an element before or after another element in a list.").key_specs(&[ks(&[Rw, Insert], Index(1), Range(0, 1, 0))]),
    row("lrem", 4, W, ONE, Write, List, "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed.").key_specs(&[ks(&[Rw, Delete], Index(1), Range(0, 1, 0))]),
    row("ltrim", 4, W, ONE, Write, List, "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.").key_specs(&[ks(&[Rw, Delete], Index(1), Range(0, 1, 0))]),
    row("lpos", -3, R, ONE, Read, List, "6.0.6", "Returns the index of matching elements in a list.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("lmove", 5, WD, TWO, Write, List, "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.").key_specs(&[ks(&[Rw, Access, Delete], Index(1), Range(0, 1, 0)), ks(&[Rw, Insert], Index(2), Range(0, 1, 0))]),
    row("rpoplpush", 3, WD, TWO, Write, List, "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.").key_specs(&[ks(&[Rw, Access, Delete], Index(1), Range(0, 1, 0)), ks(&[Rw, Insert], Index(2), Range(0, 1, 0))]),
    row("blpop", -3, WB, (1, -2, 1), Node, List, "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.").key_specs(&[ks(&[Rw, Access, Delete], Index(1), Range(-2, 1, 0))]).twin(Twin { command: "lmpop", args: KeysThenTimeout("left"), reply: TwinReply::KeyValue, first_key_wakes: false }),
    row("brpop", -3, WB, (1, -2, 1), Node, List, "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.").key_specs(&[ks(&[Rw, Access, Delete], Index(1), Range(-2, 1, 0))]).twin(Twin { command: "lmpop", args: KeysThenTimeout("right"), reply: TwinReply::KeyValue, first_key_wakes: false }),
    row("blmove", 6, WDB, TWO, Node, List, "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.").key_specs(&[ks(&[Rw, Access, Delete], Index(1), Range(0, 1, 0)), ks(&[Rw, Insert], Index(2), Range(0, 1, 0))]).twin(Twin { command: "lmove", args: ArgsThenTimeout, reply: TwinReply::Same, first_key_wakes: true }),
    row("brpoplpush", 4, WDB, TWO, Node, List, "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.").key_specs(&[ks(&[Rw, Access, Delete], Index(1), Range(0, 1, 0)), ks(&[Rw, Insert], Index(2), Range(0, 1, 0))]).twin(Twin { command: "rpoplpush", args: ArgsThenTimeout, reply: TwinReply::Same, first_key_wakes: true }),
    row("blmpop", -5, WBM, NOKEY, Node, List, "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.").key_specs(&[ks(&[Rw, Access, Delete], Index(2), Keynum(0, 1, 1))]).keys_by(lists::blmpop_keys).twin(Twin { command: "lmpop", args: TimeoutFirst, reply: TwinReply::Same, first_key_wakes: false }),
    row("bzpopmin", -3, WFB, (1, -2, 1), Node, SortedSet, "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.").key_specs(&[ks(&[Rw, Access, Delete], Index(1), Range(-2, 1, 0))]).twin(Twin { command: "zmpop", args: KeysThenTimeout("min"), reply: TwinReply::KeyMemberScore, first_key_wakes: false }),
    row("bzpopmax", -3, WFB, (1, -2, 1), Node, SortedSet, "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.").key_specs(&[ks(&[Rw, Access, Delete], Index(1), Range(-2, 1, 0))]).twin(Twin { command: "zmpop", args: KeysThenTimeout("max"), reply: TwinReply::KeyMemberScore, first_key_wakes: false }),
    row("bzmpop", -5, WBM, NOKEY, Node, SortedSet, "7.0.0", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.").key_specs(&[ks(&[Rw, Access, Delete], Index(2), Keynum(0, 1, 1))]).keys_by(zsets::bzmpop_keys).twin(Twin { command: "zmpop", args: TimeoutFirst, reply: TwinReply::Same, first_key_wakes: false }),
    row("lmpop", -4, WM, NOKEY, Write, List, "7.0.0", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.").key_specs(&[ks(&[Rw, Access, Delete], Index(1), Keynum(0, 1, 1))]).keys_by(lists::lmpop_keys),
    // sets
    row("sadd", -3, WDF, ONE, Write, Set, "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist.").key_specs(&[ks(&[Rw, Insert], Index(1), Range(0, 1, 0))]),
    row("srem", -3, WF, ONE, Write, Set, "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed.").key_specs(&[ks(&[Rw, Delete], Index(1), Range(0, 1, 0))]),
    row("smembers", 2, R, ONE, Read, Set, "1.0.0", "Returns all members of a set.").tips(&[NONDET_ORDER]).key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("sismember", 3, RF, ONE, Read, Set, "1.0.0", "Determines whether a member belongs to a set.").key_specs(&[ks(&[Ro], Index(1), Range(0, 1, 0))]),
    row("smismember", -3, RF, ONE, Read, Set, "6.2.0", "Determines whether multiple members belong to a set.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("scard", 2, RF, ONE, Read, Set, "1.0.0", "Returns the number of members in a set.").key_specs(&[ks(&[Ro], Index(1), Range(0, 1, 0))]),
    row("spop", -2, WF, ONE, Write, Set, "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.").tips(&[NONDET]).key_specs(&[ks(&[Rw, Access, Delete], Index(1), Range(0, 1, 0))]),
    row("srandmember", -2, R, ONE, Read, Set, "1.0.0", "Get one or multiple random members from a set").tips(&[NONDET]).key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("smove", 4, WF, TWO, Write, Set, "1.0.0", "Moves a member from one set to another.").key_specs(&[ks(&[Rw, Access, Delete], Index(1), Range(0, 1, 0)), ks(&[Rw, Insert], Index(2), Range(0, 1, 0))]),
    row("sinter", -2, R, ALL, Read, Set, "1.0.0", "Returns the intersect of multiple sets.").tips(&[NONDET_ORDER]).key_specs(&[ks(&[Ro, Access], Index(1), Range(-1, 1, 0))]),
    row("sunion", -2, R, ALL, Read, Set, "1.0.0", "Returns the union of multiple sets.").tips(&[NONDET_ORDER]).key_specs(&[ks(&[Ro, Access], Index(1), Range(-1, 1, 0))]),
    row("sdiff", -2, R, ALL, Read, Set, "1.0.0", "Returns the difference of multiple sets.").tips(&[NONDET_ORDER]).key_specs(&[ks(&[Ro, Access], Index(1), Range(-1, 1, 0))]),
    row("sinterstore", -3, WD, ALL, Write, Set, "1.0.0", "Stores the intersect of multiple sets in a key.").key_specs(&[ks(&[Rw, Update], Index(1), Range(0, 1, 0)), ks(&[Ro, Access], Index(2), Range(-1, 1, 0))]),
    row("sunionstore", -3, WD, ALL, Write, Set, "1.0.0", "Stores the union of multiple sets in a key.").key_specs(&[ks(&[Ow, Update], Index(1), Range(0, 1, 0)), ks(&[Ro, Access], Index(2), Range(-1, 1, 0))]),
    row("sdiffstore", -3, WD, ALL, Write, Set, "1.0.0", "Stores the difference of multiple sets in a key.").key_specs(&[ks(&[Ow, Update], Index(1), Range(0, 1, 0)), ks(&[Ro, Access], Index(2), Range(-1, 1, 0))]),
    row("sintercard", -3, RM, NOKEY, Read, Set, "7.0.0", "Returns the number of members of the intersect of multiple sets.").key_specs(&[ks(&[Ro, Access], Index(1), Keynum(0, 1, 1))]).keys_by(sets::sintercard_keys),
    row("sscan", -3, R, ONE, Read, Set, "2.8.0", "Iterates over members of a set.").tips(&[NONDET]).key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    // sorted sets
    row("zadd", -4, WDF, ONE, Write, SortedSet, "1.2.0", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.").key_specs(&[ks(&[Rw, Update], Index(1), Range(0, 1, 0))]),
    row("zrem", -3, WF, ONE, Write, SortedSet, "1.2.0", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.").key_specs(&[ks(&[Rw, Delete], Index(1), Range(0, 1, 0))]),
    row("zscore", 3, RF, ONE, Read, SortedSet, "1.2.0", "Returns the score of a member in a sorted set.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("zmscore", -3, RF, ONE, Read, SortedSet, "6.2.0", "Returns the score of one or more members in a sorted set.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("zincrby", 4, WDF, ONE, Write, SortedSet, "1.2.0", "Increments the score of a member in a sorted set.").key_specs(&[ks(&[Rw, Access, Update], Index(1), Range(0, 1, 0))]),
    row("zcard", 2, RF, ONE, Read, SortedSet, "1.2.0", "Returns the number of members in a sorted set.").key_specs(&[ks(&[Ro], Index(1), Range(0, 1, 0))]),
    row("zcount", 4, RF, ONE, Read, SortedSet, "2.0.0", "Returns the count of members in a sorted set that have scores within a range.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("zlexcount", 4, RF, ONE, Read, SortedSet, "2.8.9", "Returns the number of members in a sorted set within a lexicographical range.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("zrange", -4, R, ONE, Read, SortedSet, "1.2.0", "Returns members in a sorted set within a range of indexes.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]).resp3(Resp3::PairsWith("withscores")),
    row("zrangestore", -5, WD, TWO, Write, SortedSet, "6.2.0", "Stores a range of members from sorted set in a key.").key_specs(&[ks(&[Ow, Update], Index(1), Range(0, 1, 0)), ks(&[Ro, Access], Index(2), Range(0, 1, 0))]),
    row("zrangebyscore", -4, R, ONE, Read, SortedSet, "1.0.5", "Returns members in a sorted set within a range of scores.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]).resp3(Resp3::PairsWith("withscores")),
    row("zrevrangebyscore", -4, R, ONE, Read, SortedSet, "2.2.0", "Returns members in a sorted set within a range of scores in reverse order.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]).resp3(Resp3::PairsWith("withscores")),
    row("zrangebylex", -4, R, ONE, Read, SortedSet, "2.8.9", "Returns members in a sorted set within a lexicographical range.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("zrevrangebylex", -4, R, ONE, Read, SortedSet, "2.8.9", "Returns members in a sorted set within a lexicographical range in reverse order.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("zrevrange", -4, R, ONE, Read, SortedSet, "1.2.0", "Returns members in a sorted set within a range of indexes in reverse order.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]).resp3(Resp3::PairsWith("withscores")),
    row("zrank", -3, RF, ONE, Read, SortedSet, "2.0.0", "Returns the index of a member in a sorted set ordered by ascending scores.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("zrevrank", -3, RF, ONE, Read, SortedSet, "2.0.0", "Returns the index of a member in a sorted set ordered by descending scores.").key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    row("zremrangebyrank", 4, W, ONE, Write, SortedSet, "2.0.0", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.").key_specs(&[ks(&[Rw, Delete], Index(1), Range(0, 1, 0))]),
    row("zremrangebyscore", 4, W, ONE, Write, SortedSet, "1.2.0", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.").key_specs(&[ks(&[Rw, Delete], Index(1), Range(0, 1, 0))]),
    row("zremrangebylex", 4, W, ONE, Write, SortedSet, "2.8.9", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.").key_specs(&[ks(&[Rw, Delete], Index(1), Range(0, 1, 0))]),
    row("zpopmin", -2, WF, ONE, Write, SortedSet, "5.0.0", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.").key_specs(&[ks(&[Rw, Access, Delete], Index(1), Range(0, 1, 0))]).resp3(Resp3::PairsWithCount),
    row("zpopmax", -2, WF, ONE, Write, SortedSet, "5.0.0", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.").key_specs(&[ks(&[Rw, Access, Delete], Index(1), Range(0, 1, 0))]).resp3(Resp3::PairsWithCount),
    row("zmpop", -4, WM, NOKEY, Write, SortedSet, "7.0.0", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.").key_specs(&[ks(&[Rw, Access, Delete], Index(1), Keynum(0, 1, 1))]).keys_by(zsets::numkeys_at_1),
    row("zrandmember", -2, R, ONE, Read, SortedSet, "6.2.0", "Returns one or more random members from a sorted set.").tips(&[NONDET]).key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]).resp3(Resp3::PairsWith("withscores")),
    row("zunion", -3, RM, NOKEY, Read, SortedSet, "6.2.0", "Returns the union of multiple sorted sets.").key_specs(&[ks(&[Ro, Access], Index(1), Keynum(0, 1, 1))]).keys_by(zsets::numkeys_at_1).resp3(Resp3::PairsWith("withscores")),
    row("zinter", -3, RM, NOKEY, Read, SortedSet, "6.2.0", "Returns the intersect of multiple sorted sets.").key_specs(&[ks(&[Ro, Access], Index(1), Keynum(0, 1, 1))]).keys_by(zsets::numkeys_at_1).resp3(Resp3::PairsWith("withscores")),
    row("zdiff", -3, RM, NOKEY, Read, SortedSet, "6.2.0", "Returns the difference between multiple sorted sets.").key_specs(&[ks(&[Ro, Access], Index(1), Keynum(0, 1, 1))]).keys_by(zsets::numkeys_at_1).resp3(Resp3::PairsWith("withscores")),
    row("zintercard", -3, RM, NOKEY, Read, SortedSet, "7.0.0", "Returns the number of members of the intersect of multiple sorted sets.").key_specs(&[ks(&[Ro, Access], Index(1), Keynum(0, 1, 1))]).keys_by(zsets::numkeys_at_1),
    row("zunionstore", -4, WDM, ONE, Write, SortedSet, "2.0.0", "Stores the union of multiple sorted sets in a key.").key_specs(&[ks(&[Ow, Update], Index(1), Range(0, 1, 0)), ks(&[Ro, Access], Index(2), Keynum(0, 1, 1))]).keys_by(zsets::destination_and_numkeys),
    row("zinterstore", -4, WDM, ONE, Write, SortedSet, "2.0.0", "Stores the intersect of multiple sorted sets in a key.").key_specs(&[ks(&[Ow, Update], Index(1), Range(0, 1, 0)), ks(&[Ro, Access], Index(2), Keynum(0, 1, 1))]).keys_by(zsets::destination_and_numkeys),
    row("zdiffstore", -4, WDM, ONE, Write, SortedSet, "6.2.0", "Stores the difference of multiple input sorted sets in a key.").key_specs(&[ks(&[Ow, Update], Index(1), Range(0, 1, 0)), ks(&[Ro, Access], Index(2), Keynum(0, 1, 1))]).keys_by(zsets::destination_and_numkeys),
    row("zscan", -3, R, ONE, Read, SortedSet, "2.8.0", "Iterates over members and scores of a sorted set.").tips(&[NONDET]).key_specs(&[ks(&[Ro, Access], Index(1), Range(0, 1, 0))]),
    // transactions: EXEC proposes one internal entry holding the queued commands
    row(EXEC_ENTRY, -3, WM, NOKEY, Write, Internal, "0.1.0", "Internal: a transaction, applied atomically at one log index.").keys_by(txn::key_positions),
    row(BATCH_ENTRY, -3, WM, NOKEY, Write, Internal, "0.1.0", "Internal: writes of several clients to one group, proposed together.").keys_by(txn::key_positions),
    row(WATCH_CLOCK, -2, RF, ALL, Read, Internal, "0.1.0", "Internal: the modification clock WATCH records, read on the leader."),
    row("multi", 1, TXF.with(RunsInMulti), NOKEY, Node, Transactions, "1.2.0", "Starts a transaction."),
    row("exec", 1, TX.with(RunsInMulti), NOKEY, Node, Transactions, "1.2.0", "Executes all commands in a transaction."),
    row("discard", 1, TXF.with(RunsInMulti), NOKEY, Node, Transactions, "2.0.0", "Discards a transaction."),
    row("watch", -2, TXF.with(RunsInMulti), ALL, Node, Transactions, "2.2.0", "Monitors changes to keys to determine the execution of a transaction.").key_specs(&[ks(&[Ro], Index(1), Range(-1, 1, 0))]),
    row("unwatch", 1, TXF, NOKEY, Node, Transactions, "2.2.0", "Forgets about watched keys of a transaction."),
    // served by the node itself
    row("ping", -1, FAST.with(WhileSubscribed), NOKEY, Node, Connection, "1.0.0", "Returns the server's liveliness response.").tips(&[ALL_SHARDS, ALL_SUCCEEDED]),
    row("echo", 2, FAST, NOKEY, Node, Connection, "1.0.0", "Returns the given string."),
    row("quit", -1, NO_AUTH.with(RunsInMulti).with(WhileSubscribed), NOKEY, Node, Connection, "1.0.0", "Closes the connection."),
    row("select", 2, LSF, NOKEY, Node, Connection, "1.0.0", "Changes the selected database."),
    row("command", -1, LS, NOKEY, Node, Server, "2.8.13", "Returns detailed information about all commands.").tips(&[NONDET_ORDER]).subcommands(COMMAND),
    row("config", -2, NONE, NOKEY, Node, Server, "2.0.0", "A container for server configuration commands.").subcommands(CONFIG),
    row("info", -1, LS, NOKEY, Node, Server, "1.0.0", "Returns information and statistics about the server.").tips(&[NONDET, ALL_SHARDS, RESP_SPECIAL]),
    row("dbsize", 1, RF, NOKEY, Node, Server, "1.0.0", "Returns the number of keys in the database.").tips(&[ALL_SHARDS, AGG_SUM]),
    row("client", -2, NONE, NOKEY, Node, Connection, "2.4.0", "A container for client connection commands.").subcommands(CLIENT),
    row("readonly", 1, LSF, NOKEY, Node, Cluster, "3.0.0", "Enables read-only queries for a connection to a Redis Cluster replica node."),
    row("readwrite", 1, LSF, NOKEY, Node, Cluster, "3.0.0", "Enables read-write queries for a connection to a Redis Cluster replica node."),
    row("asking", 1, FAST, NOKEY, Node, Cluster, "3.0.0", "Signals that a cluster client is following an -ASK redirect."),
    row("cluster", -2, NONE, NOKEY, Node, Cluster, "3.0.0", "A container for Redis Cluster commands.").subcommands(CLUSTER),
    row("hello", -1, NO_AUTH, NOKEY, Node, Connection, "6.0.0", "Handshakes with the Redis server."),
    row("auth", -2, NO_AUTH, NOKEY, Node, Connection, "1.0.0", "Authenticates the connection."),
    row("acl", -2, NONE, NOKEY, Node, Server, "6.0.0", "A container for Access List Control commands.").subcommands(ACL),
    row("time", 1, LSF, NOKEY, Node, Server, "2.6.0", "Returns the server time.").tips(&[NONDET]),
    row("debug", -2, ADMIN, NOKEY, Node, Server, "1.0.0", "A container for debugging commands."),
];

/// Name → row, case-insensitive: open addressing over a table at most half full, keyed by an
/// FNV-1a hash of the lowercased name. Nothing is lowercased into a buffer (a compare of bytes
/// just stored stalls on the store buffer; docs/performance.md, "Figures behind the code"):
/// hash and compare read only the request's bytes and the table. The table is fixed, so a
/// request cannot make the probing longer than the table's own collisions.
pub struct NameTable {
    slots: Box<[Option<&'static CommandSpec>]>,
    /// The longest name: anything longer is unknown without hashing it.
    longest: usize,
}

fn name_hash(name: &[u8]) -> usize {
    let h = name.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (h ^ (h >> 32)) as usize
}

impl NameTable {
    fn new(rows: &'static [CommandSpec]) -> NameTable {
        let size = (rows.len() * 2).next_power_of_two();
        let mut slots = vec![None; size].into_boxed_slice();
        for row in rows {
            let mut i = name_hash(row.name.as_bytes()) & (size - 1);
            while slots[i].is_some() {
                i = (i + 1) & (size - 1);
            }
            slots[i] = Some(row);
        }
        let longest = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
        NameTable { slots, longest }
    }

    /// The row named `name` in any case.
    pub fn get(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        if name.len() > self.longest {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = name_hash(name) & mask;
        loop {
            let row = self.slots[i]?;
            if row.name.as_bytes().eq_ignore_ascii_case(name) {
                return Some(row);
            }
            i = (i + 1) & mask;
        }
    }
}

/// The name table, built once. Includes the internal commands; `lookup` hides them.
pub fn by_name() -> &'static NameTable {
    static TABLE: OnceLock<NameTable> = OnceLock::new();
    TABLE.get_or_init(|| NameTable::new(COMMANDS))
}

/// Rows a client may see (COMMAND output, lookup).
pub(super) fn public() -> impl Iterator<Item = &'static CommandSpec> {
    COMMANDS.iter().filter(|c| !c.is_internal())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_unique_lowercase_and_arity_sane() {
        let names: std::collections::HashSet<_> = COMMANDS.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), COMMANDS.len());
        for unknown in [&b""[..], b"se", b"sett", b"set\0", b"s\xc3\x89t", &[b'x'; 300]] {
            assert!(by_name().get(unknown).is_none(), "{unknown:?}");
        }
        for c in COMMANDS {
            assert_eq!(
                by_name().get(c.name.to_ascii_uppercase().as_bytes()).map(|r| r.name),
                Some(c.name)
            );
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert_ne!(c.arity, 0, "{}", c.name);
            if c.first_key > 0 {
                // A variadic row may take no key at all (SUNSUBSCRIBE: arity -1, keys 1..-1).
                assert!(c.step > 0 && (c.arity < 0 || c.arity > c.first_key), "{}", c.name);
            }
        }
    }

    fn args(v: &[&str]) -> Vec<bytes::Bytes> {
        v.iter().map(|a| bytes::Bytes::copy_from_slice(a.as_bytes())).collect()
    }

    #[test]
    fn subcommands_are_rows_of_their_own() {
        for c in COMMANDS.iter().filter(|c| c.is_container()) {
            for sub in c.subcommands {
                let (container, name) = sub.name.split_once('|').expect("container|sub");
                assert_eq!(container, c.name);
                assert_eq!(name, name.to_ascii_lowercase(), "{}", sub.name);
                // Container and subcommand names both count.
                assert!(sub.arity.abs() >= 2, "{} has no arity", sub.name);
                assert_eq!(sub.kind, c.kind, "{}", sub.name);
                assert_eq!(sub.family, c.family, "{}", sub.name);
                assert!(!sub.summary.is_empty() && !sub.since.is_empty(), "{}", sub.name);
                assert!(sub.subcommands.is_empty(), "{}: one level, as in Redis", sub.name);
                assert_eq!(
                    c.subcommand(name.to_ascii_uppercase().as_bytes()).map(|s| s.name),
                    Some(sub.name)
                );
            }
        }
        assert!(
            by_name().get(b"config|get").is_none(),
            "subcommands are found through their container"
        );
    }

    #[test]
    fn every_blocking_row_has_a_non_blocking_twin() {
        let blocking: Vec<&CommandSpec> = COMMANDS.iter().filter(|c| c.has(Blocking)).collect();
        assert_eq!(blocking.len(), 8);
        for c in blocking {
            let twin = c.twin.unwrap_or_else(|| panic!("{} has no twin", c.name));
            let row = by_name().get(twin.command.as_bytes()).expect("the twin is a row");
            assert!(!row.has(Blocking), "{}'s twin {} blocks", c.name, row.name);
            assert_eq!(row.kind, Kind::Write, "{}'s twin goes through the log", c.name);
            assert_eq!(row.family, c.family, "{}", c.name);
        }
        assert!(COMMANDS.iter().all(|c| c.twin.is_none() || c.has(Blocking)));
    }

    #[test]
    fn every_movablekeys_row_has_a_key_finder() {
        for c in super::super::all_rows() {
            assert_eq!(
                c.has(Movablekeys),
                c.find_keys.is_some(),
                "{}: movablekeys and a key finder go together",
                c.name
            );
        }
    }

    #[test]
    fn behaviour_lists_derived_from_the_table() {
        let names = |f: Flag| -> Vec<&str> {
            let mut v: Vec<&str> = COMMANDS.iter().filter(|c| c.has(f)).map(|c| c.name).collect();
            v.sort_unstable();
            v
        };
        assert_eq!(
            names(RunsInMulti),
            ["discard", "exec", "multi", "quit", "reset", "watch"]
        );
        assert_eq!(
            names(WhileSubscribed),
            [
                "ping",
                "psubscribe",
                "punsubscribe",
                "quit",
                "reset",
                "ssubscribe",
                "subscribe",
                "sunsubscribe",
                "unsubscribe"
            ]
        );
        let paired: Vec<&str> = COMMANDS
            .iter()
            .filter(|c| c.resp3 != Resp3::Flat)
            .map(|c| c.name)
            .collect();
        assert_eq!(
            paired,
            [
                "hrandfield",
                "zrange",
                "zrangebyscore",
                "zrevrangebyscore",
                "zrevrange",
                "zpopmin",
                "zpopmax",
                "zrandmember",
                "zunion",
                "zinter",
                "zdiff"
            ]
        );
        // The internal entries are one family of their own, not Redis's "transactions".
        for c in COMMANDS.iter().filter(|c| c.is_internal() && c.name != EXPIRED_DELETE) {
            assert_eq!(c.family, Internal, "{}", c.name);
        }
    }

    /// What a client that routes by key specifications (redis-py 8) computes is where the
    /// executor looks for keys, for every command whose specs say it all.
    #[test]
    fn key_specs_agree_with_the_executors_key_positions() {
        let cases: &[&[&str]] = &[
            &["get", "k"],
            &["set", "k", "v", "ex", "1"],
            &["mset", "a", "1", "b", "2", "c", "3"],
            &["mget", "a", "b", "c"],
            &["del", "a", "b"],
            &["exists", "a", "b", "c"],
            &["touch", "a"],
            &["unlink", "a", "b"],
            &["rename", "a", "b"],
            &["copy", "a", "b", "replace"],
            &["lcs", "a", "b", "len"],
            &["lmove", "a", "b", "left", "right"],
            &["blpop", "a", "b", "0"],
            &["bzpopmax", "a", "1.5"],
            &["blmove", "a", "b", "left", "right", "0"],
            &["brpoplpush", "a", "b", "0"],
            &["lmpop", "2", "a", "b", "left", "count", "2"],
            &["blmpop", "0", "2", "a", "b", "left"],
            &["zmpop", "1", "a", "min"],
            &["bzmpop", "1", "3", "a", "b", "c", "max"],
            &["sintercard", "2", "a", "b", "limit", "1"],
            &["zintercard", "2", "a", "b"],
            &["zunion", "2", "a", "b", "withscores"],
            &["zunionstore", "d", "2", "a", "b", "weights", "1", "2"],
            &["zrangestore", "d", "s", "0", "-1"],
            &["sinterstore", "d", "a", "b"],
            &["smove", "a", "b", "m"],
            &["hset", "h", "f", "v"],
            &["watch", "a", "b"],
            &["object", "encoding", "k"],
            &["object", "help"],
        ];
        for req in cases {
            let a = args(req);
            let p = super::super::prepare(&a).unwrap_or_else(|e| panic!("{req:?}: {e:?}"));
            let row = p.row();
            let by_specs: Vec<usize> = row
                .key_specs
                .iter()
                .flat_map(|s| s.positions(&a).unwrap_or_else(|| panic!("{req:?}: an incomplete spec")))
                .collect();
            let mut sorted = by_specs.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, p.keys, "{req:?}");
        }
    }

    #[test]
    fn every_keyed_row_has_key_specs() {
        for c in super::super::all_rows().filter(|c| !c.is_internal()) {
            let keyed = c.first_key > 0 || c.has(Movablekeys);
            assert_eq!(keyed, !c.key_specs.is_empty(), "{}", c.name);
        }
    }
}
