//! The command table (Dragonfly `CI{...}` rows) and the COMMAND replies generated from it,
//! so what clients learn about arity and key positions is always what dispatch enforces.
//! Arity, flags and key positions are Redis 7.2's.

use std::sync::OnceLock;

use bytes::Bytes;

use super::parse::{Cursor, SYNTAX_ERROR};
use super::txn::{BATCH_ENTRY, EXEC_ENTRY, WATCH_CLOCK};
use super::{CommandSpec, EXPIRED_DELETE, FLUSH_ENTRY, Kind, check_arity, key_positions};
use crate::resp::frame::Frame;
use crate::store::scan::glob_match_nocase;

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
const ADMIN: &[&str] = &["admin", "noscript", "loading", "stale", "protected"];
const PS: &[&str] = &["pubsub", "noscript", "loading", "stale"];
const PSF: &[&str] = &["pubsub", "loading", "stale", "fast"];
const WB: &[&str] = &["write", "blocking"];
const WFB: &[&str] = &["write", "fast", "blocking"];
const WDB: &[&str] = &["write", "denyoom", "blocking"];
const WBM: &[&str] = &["write", "blocking", "movablekeys"];
const TX: &[&str] = &["noscript", "loading", "stale", "skip_slowlog"];
const TXF: &[&str] = &["noscript", "loading", "stale", "fast", "allow_busy"];
const RM: &[&str] = &["readonly", "movablekeys"];
const WM: &[&str] = &["write", "movablekeys"];
const WDM: &[&str] = &["write", "denyoom", "movablekeys"];
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
const TWO: (i32, i32, i32) = (1, 2, 1);

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
    row("getset", 3, WDF, ONE, Write, "string", "1.0.0", "Returns the previous string value of a key after setting it to a new value."),
    row("getdel", 2, WF, ONE, Write, "string", "6.2.0", "Returns the string value of a key after deleting the key."),
    row("getex", -2, WF, ONE, Write, "string", "6.2.0", "Returns the string value of a key after setting its expiration time."),
    row("setnx", 3, WDF, ONE, Write, "string", "1.0.0", "Set the string value of a key only when the key doesn't exist."),
    row("setex", 4, WD, ONE, Write, "string", "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist."),
    row("psetex", 4, WD, ONE, Write, "string", "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist."),
    row("msetnx", -3, WD, (1, -1, 2), Write, "string", "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist."),
    row("incrbyfloat", 3, WDF, ONE, Write, "string", "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    row("getrange", 4, R, ONE, Read, "string", "2.4.0", "Returns a substring of the string stored at a key."),
    row("substr", 4, R, ONE, Read, "string", "1.0.0", "Returns a substring from a string value."),
    row("setrange", 4, WD, ONE, Write, "string", "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist."),
    row("lcs", -3, R, TWO, Read, "string", "7.0.0", "Finds the longest common substring."),
    row("setbit", 4, WD, ONE, Write, "bitmap", "2.2.0", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist."),
    row("getbit", 3, RF, ONE, Read, "bitmap", "2.2.0", "Returns a bit value by offset."),
    row("bitcount", -2, R, ONE, Read, "bitmap", "2.6.0", "Counts the number of set bits (population counting) in a string."),
    row("bitpos", -3, R, ONE, Read, "bitmap", "2.8.7", "Finds the first set (1) or clear (0) bit in a string."),
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
    row("unlink", -2, WF, ALL, Write, "generic", "4.0.0", "Asynchronously deletes one or more keys."),
    row("touch", -2, RF, ALL, Read, "generic", "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed."),
    row("rename", 3, W, TWO, Write, "generic", "1.0.0", "Renames a key and overwrites the destination."),
    row("renamenx", 3, WF, TWO, Write, "generic", "1.0.0", "Renames a key only when the target key name doesn't exist."),
    row("copy", -3, WD, TWO, Write, "generic", "6.2.0", "Copies the value of a key to a new key."),
    row("expiretime", 2, RF, ONE, Read, "generic", "7.0.0", "Returns the expiration time of a key as a Unix timestamp."),
    row("pexpiretime", 2, RF, ONE, Read, "generic", "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp."),
    row("object", -2, RM, NOKEY, Read, "generic", "2.2.3", "A container for object introspection commands."),
    row("sort", -2, WDM, ONE, Write, "generic", "1.0.0", "Sorts the elements in a list, a set, or a sorted set, optionally storing the result."),
    row("sort_ro", -2, RM, ONE, Read, "generic", "7.0.0", "Returns the sorted elements of a list, a set, or a sorted set."),
    row(EXPIRED_DELETE, -2, WF, ALL, Write, "generic", "0.1.0", "Internal: deletes keys that are still expired at the entry's time."),
    row(FLUSH_ENTRY, 1, W, NOKEY, Write, "server", "0.1.0", "Internal: empties the keyspace of one group."),
    // keyspace-wide: answered over the groups this node leads
    row("keys", 2, R, NOKEY, Node, "generic", "1.0.0", "Returns all key names that match a pattern."),
    row("scan", -2, R, NOKEY, Node, "generic", "2.8.0", "Iterates over the key names in the database."),
    row("randomkey", 1, R, NOKEY, Node, "generic", "1.0.0", "Returns a random key name from the database."),
    row("flushdb", -1, W, NOKEY, Node, "server", "1.0.0", "Remove all keys from the current database."),
    row("flushall", -1, W, NOKEY, Node, "server", "1.0.0", "Removes all keys from all databases."),
    row("lastsave", 1, LSF, NOKEY, Node, "server", "1.0.0", "Returns the Unix timestamp of the last successful save to disk."),
    row("reset", 1, NO_AUTH, NOKEY, Node, "connection", "6.2.0", "Resets the connection."),
    // pub/sub: messages travel node to node, not through the log
    row("subscribe", -2, PS, NOKEY, Node, "pubsub", "2.0.0", "Listens for messages published to channels."),
    row("unsubscribe", -1, PS, NOKEY, Node, "pubsub", "2.0.0", "Stops listening to messages posted to channels."),
    row("psubscribe", -2, PS, NOKEY, Node, "pubsub", "2.0.0", "Listens for messages published to channels that match one or more patterns."),
    row("punsubscribe", -1, PS, NOKEY, Node, "pubsub", "2.0.0", "Stops listening to messages published to channels that match one or more patterns."),
    row("ssubscribe", -2, PS, ALL, Node, "pubsub", "7.0.0", "Listens for messages published to shard channels."),
    row("sunsubscribe", -1, PS, ALL, Node, "pubsub", "7.0.0", "Stops listening to messages posted to shard channels."),
    row("publish", 3, PSF, NOKEY, Node, "pubsub", "2.0.0", "Posts a message to a channel."),
    row("spublish", 3, PSF, ONE, Node, "pubsub", "7.0.0", "Post a message to a shard channel"),
    row("pubsub", -2, NONE, NOKEY, Node, "pubsub", "2.8.0", "A container for Pub/Sub commands."),
    // hashes
    row("hset", -4, WDF, ONE, Write, "hash", "2.0.0", "Creates or modifies the value of a field in a hash."),
    row("hmset", -4, WDF, ONE, Write, "hash", "2.0.0", "Sets the values of multiple fields."),
    row("hget", 3, RF, ONE, Read, "hash", "2.0.0", "Returns the value of a field in a hash."),
    row("hmget", -3, RF, ONE, Read, "hash", "2.0.0", "Returns the values of all fields in a hash."),
    row("hgetall", 2, R, ONE, Read, "hash", "2.0.0", "Returns all fields and values in a hash."),
    row("hdel", -3, WF, ONE, Write, "hash", "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain."),
    row("hlen", 2, RF, ONE, Read, "hash", "2.0.0", "Returns the number of fields in a hash."),
    row("hexists", 3, RF, ONE, Read, "hash", "2.0.0", "Determines whether a field exists in a hash."),
    row("hsetnx", 4, WDF, ONE, Write, "hash", "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist."),
    row("hkeys", 2, R, ONE, Read, "hash", "2.0.0", "Returns all fields in a hash."),
    row("hvals", 2, R, ONE, Read, "hash", "2.0.0", "Returns all values in a hash."),
    row("hincrby", 4, WDF, ONE, Write, "hash", "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist."),
    row("hincrbyfloat", 4, WDF, ONE, Write, "hash", "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist."),
    row("hstrlen", 3, RF, ONE, Read, "hash", "3.2.0", "Returns the length of the value of a field."),
    row("hrandfield", -2, R, ONE, Read, "hash", "6.2.0", "Returns one or more random fields from a hash."),
    row("hscan", -3, R, ONE, Read, "hash", "2.8.0", "Iterates over fields and values of a hash."),
    // lists
    row("lpush", -3, WDF, ONE, Write, "list", "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist."),
    row("rpush", -3, WDF, ONE, Write, "list", "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist."),
    row("lpop", -2, WF, ONE, Write, "list", "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped."),
    row("rpop", -2, WF, ONE, Write, "list", "1.0.0", "Returns and removes the last elements of a list. Deletes the list if the last element was popped."),
    row("lrange", 4, R, ONE, Read, "list", "1.0.0", "Returns a range of elements from a list."),
    row("llen", 2, RF, ONE, Read, "list", "1.0.0", "Returns the length of a list."),
    row("lpushx", -3, WDF, ONE, Write, "list", "2.2.0", "Prepends one or more elements to a list only when the list exists."),
    row("rpushx", -3, WDF, ONE, Write, "list", "2.2.0", "Appends an element to a list only when the list exists."),
    row("lindex", 3, R, ONE, Read, "list", "1.0.0", "Returns an element from a list by its index."),
    row("lset", 4, WD, ONE, Write, "list", "1.0.0", "Sets the value of an element in a list by its index."),
    row("linsert", 5, WD, ONE, Write, "list", "2.2.0", "Inserts an element before or after another element in a list."),
    row("lrem", 4, W, ONE, Write, "list", "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed."),
    row("ltrim", 4, W, ONE, Write, "list", "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed."),
    row("lpos", -3, R, ONE, Read, "list", "6.0.6", "Returns the index of matching elements in a list."),
    row("lmove", 5, WD, TWO, Write, "list", "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved."),
    row("rpoplpush", 3, WD, TWO, Write, "list", "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped."),
    row("blpop", -3, WB, (1, -2, 1), Node, "list", "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    row("brpop", -3, WB, (1, -2, 1), Node, "list", "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    row("blmove", 6, WDB, TWO, Node, "list", "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved."),
    row("brpoplpush", 4, WDB, TWO, Node, "list", "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped."),
    row("blmpop", -5, WBM, NOKEY, Node, "list", "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    row("bzpopmin", -3, WFB, (1, -2, 1), Node, "sorted-set", "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
    row("bzpopmax", -3, WFB, (1, -2, 1), Node, "sorted-set", "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped."),
    row("bzmpop", -5, WBM, NOKEY, Node, "sorted-set", "7.0.0", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
    row("lmpop", -4, WM, NOKEY, Write, "list", "7.0.0", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped."),
    // sets
    row("sadd", -3, WDF, ONE, Write, "set", "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist."),
    row("srem", -3, WF, ONE, Write, "set", "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed."),
    row("smembers", 2, R, ONE, Read, "set", "1.0.0", "Returns all members of a set."),
    row("sismember", 3, RF, ONE, Read, "set", "1.0.0", "Determines whether a member belongs to a set."),
    row("smismember", -3, RF, ONE, Read, "set", "6.2.0", "Determines whether multiple members belong to a set."),
    row("scard", 2, RF, ONE, Read, "set", "1.0.0", "Returns the number of members in a set."),
    row("spop", -2, WF, ONE, Write, "set", "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped."),
    row("srandmember", -2, R, ONE, Read, "set", "1.0.0", "Get one or multiple random members from a set"),
    row("smove", 4, WF, TWO, Write, "set", "1.0.0", "Moves a member from one set to another."),
    row("sinter", -2, R, ALL, Read, "set", "1.0.0", "Returns the intersect of multiple sets."),
    row("sunion", -2, R, ALL, Read, "set", "1.0.0", "Returns the union of multiple sets."),
    row("sdiff", -2, R, ALL, Read, "set", "1.0.0", "Returns the difference of multiple sets."),
    row("sinterstore", -3, WD, ALL, Write, "set", "1.0.0", "Stores the intersect of multiple sets in a key."),
    row("sunionstore", -3, WD, ALL, Write, "set", "1.0.0", "Stores the union of multiple sets in a key."),
    row("sdiffstore", -3, WD, ALL, Write, "set", "1.0.0", "Stores the difference of multiple sets in a key."),
    row("sintercard", -3, RM, NOKEY, Read, "set", "7.0.0", "Returns the number of members of the intersect of multiple sets."),
    row("sscan", -3, R, ONE, Read, "set", "2.8.0", "Iterates over members of a set."),
    // sorted sets
    row("zadd", -4, WDF, ONE, Write, "sorted-set", "1.2.0", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist."),
    row("zrem", -3, WF, ONE, Write, "sorted-set", "1.2.0", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed."),
    row("zscore", 3, RF, ONE, Read, "sorted-set", "1.2.0", "Returns the score of a member in a sorted set."),
    row("zmscore", -3, RF, ONE, Read, "sorted-set", "6.2.0", "Returns the score of one or more members in a sorted set."),
    row("zincrby", 4, WDF, ONE, Write, "sorted-set", "1.2.0", "Increments the score of a member in a sorted set."),
    row("zcard", 2, RF, ONE, Read, "sorted-set", "1.2.0", "Returns the number of members in a sorted set."),
    row("zcount", 4, RF, ONE, Read, "sorted-set", "2.0.0", "Returns the count of members in a sorted set that have scores within a range."),
    row("zlexcount", 4, RF, ONE, Read, "sorted-set", "2.8.9", "Returns the number of members in a sorted set within a lexicographical range."),
    row("zrange", -4, R, ONE, Read, "sorted-set", "1.2.0", "Returns members in a sorted set within a range of indexes."),
    row("zrangestore", -5, WD, TWO, Write, "sorted-set", "6.2.0", "Stores a range of members from sorted set in a key."),
    row("zrangebyscore", -4, R, ONE, Read, "sorted-set", "1.0.5", "Returns members in a sorted set within a range of scores."),
    row("zrevrangebyscore", -4, R, ONE, Read, "sorted-set", "2.2.0", "Returns members in a sorted set within a range of scores in reverse order."),
    row("zrangebylex", -4, R, ONE, Read, "sorted-set", "2.8.9", "Returns members in a sorted set within a lexicographical range."),
    row("zrevrangebylex", -4, R, ONE, Read, "sorted-set", "2.8.9", "Returns members in a sorted set within a lexicographical range in reverse order."),
    row("zrevrange", -4, R, ONE, Read, "sorted-set", "1.2.0", "Returns members in a sorted set within a range of indexes in reverse order."),
    row("zrank", -3, RF, ONE, Read, "sorted-set", "2.0.0", "Returns the index of a member in a sorted set ordered by ascending scores."),
    row("zrevrank", -3, RF, ONE, Read, "sorted-set", "2.0.0", "Returns the index of a member in a sorted set ordered by descending scores."),
    row("zremrangebyrank", 4, W, ONE, Write, "sorted-set", "2.0.0", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed."),
    row("zremrangebyscore", 4, W, ONE, Write, "sorted-set", "1.2.0", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed."),
    row("zremrangebylex", 4, W, ONE, Write, "sorted-set", "2.8.9", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed."),
    row("zpopmin", -2, WF, ONE, Write, "sorted-set", "5.0.0", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    row("zpopmax", -2, WF, ONE, Write, "sorted-set", "5.0.0", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    row("zmpop", -4, WM, NOKEY, Write, "sorted-set", "7.0.0", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped."),
    row("zrandmember", -2, R, ONE, Read, "sorted-set", "6.2.0", "Returns one or more random members from a sorted set."),
    row("zunion", -3, RM, NOKEY, Read, "sorted-set", "6.2.0", "Returns the union of multiple sorted sets."),
    row("zinter", -3, RM, NOKEY, Read, "sorted-set", "6.2.0", "Returns the intersect of multiple sorted sets."),
    row("zdiff", -3, RM, NOKEY, Read, "sorted-set", "6.2.0", "Returns the difference between multiple sorted sets."),
    row("zintercard", -3, RM, NOKEY, Read, "sorted-set", "7.0.0", "Returns the number of members of the intersect of multiple sorted sets."),
    row("zunionstore", -4, WDM, ONE, Write, "sorted-set", "2.0.0", "Stores the union of multiple sorted sets in a key."),
    row("zinterstore", -4, WDM, ONE, Write, "sorted-set", "2.0.0", "Stores the intersect of multiple sorted sets in a key."),
    row("zdiffstore", -4, WDM, ONE, Write, "sorted-set", "6.2.0", "Stores the difference of multiple input sorted sets in a key."),
    row("zscan", -3, R, ONE, Read, "sorted-set", "2.8.0", "Iterates over members and scores of a sorted set."),
    // transactions: EXEC proposes one internal entry holding the queued commands
    row(EXEC_ENTRY, -3, WM, NOKEY, Write, "transaction", "0.1.0", "Internal: a transaction, applied atomically at one log index."),
    row(BATCH_ENTRY, -3, WM, NOKEY, Write, "transaction", "0.1.0", "Internal: writes of several clients to one group, proposed together."),
    row(WATCH_CLOCK, -2, RF, ALL, Read, "transaction", "0.1.0", "Internal: the modification clock WATCH records, read on the leader."),
    row("multi", 1, TXF, NOKEY, Node, "transactions", "1.2.0", "Starts a transaction."),
    row("exec", 1, TX, NOKEY, Node, "transactions", "1.2.0", "Executes all commands in a transaction."),
    row("discard", 1, TXF, NOKEY, Node, "transactions", "2.0.0", "Discards a transaction."),
    row("watch", -2, TXF, ALL, Node, "transactions", "2.2.0", "Monitors changes to keys to determine the execution of a transaction."),
    row("unwatch", 1, TXF, NOKEY, Node, "transactions", "2.2.0", "Forgets about watched keys of a transaction."),
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
    row("debug", -2, ADMIN, NOKEY, Node, "server", "1.0.0", "A container for debugging commands."),
];

/// Name → row, case-insensitive: open addressing over a table at most half full, keyed by an
/// FNV-1a hash of the lowercased name. Every command is looked up on its connection and again
/// when applied. Nothing is lowercased into a buffer: a vector compare of bytes just stored
/// one at a time (what `HashMap<&str, _>` did after lowercasing on the stack) cannot be
/// forwarded from the store buffer and waits for it to drain, including stores that miss the
/// cache; on a replica applying pipelined SETs that wait, behind the previous SET's copy into
/// its value, was 5.8% of the nodes' CPU, as `memcmp` in the lookup. Hash and compare here read
/// only the request's bytes and the table. The table is fixed, so a request cannot make the
/// probing longer than the table's own collisions.
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
fn public() -> impl Iterator<Item = &'static CommandSpec> {
    COMMANDS.iter().filter(|c| !c.is_internal())
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
        "bitmap" => cats.push("@bitmap"),
        "set" => cats.push("@set"),
        "sorted-set" => cats.push("@sortedset"),
        "transactions" => cats.push("@transaction"),
        "pubsub" => cats.push("@pubsub"),
        _ => {}
    }
    if has("admin") {
        cats.push("@admin");
    }
    cats.push(if has("fast") { "@fast" } else { "@slow" });
    if has("blocking") {
        cats.push("@blocking");
    }
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
    let keys = key_positions(spec, cmd_args);
    if keys.is_empty() {
        return Frame::error("ERR The command has no key arguments");
    }
    Frame::Array(keys.into_iter().map(|i| Frame::Bulk(cmd_args[i].clone())).collect())
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

    fn simple(v: &[&'static str]) -> Frame {
        Frame::Set(v.iter().map(|s| Frame::Simple((*s).into())).collect())
    }

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
    fn internal_commands_are_hidden() {
        let internal = [EXPIRED_DELETE, FLUSH_ENTRY, EXEC_ENTRY, BATCH_ENTRY, WATCH_CLOCK];
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
}
