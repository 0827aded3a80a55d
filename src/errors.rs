//! The error replies a client sees, word for word as Redis sends them (clients match on the
//! first word, some on the whole text), defined once each. Texts that only one command sends
//! stay beside that command.

use std::net::SocketAddr;
use std::path::Path;

pub const SYNTAX_ERROR: &str = "ERR syntax error";
pub const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_A_FLOAT: &str = "ERR value is not a valid float";
pub const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
pub const CLUSTERDOWN: &str = "CLUSTERDOWN The cluster is down";
pub const TRYAGAIN: &str = "TRYAGAIN The slot's leader is changing, please try again";
/// A write that may or may not have been applied: never reported as "not done".
pub const UNKNOWN_OUTCOME: &str = "UNKNOWN The write may or may not have been applied: leadership changed or the leader was lost while it was in flight";

/// `-MOVED`: the slot is served at `addr` from now on.
pub fn moved(slot: u16, addr: SocketAddr) -> String {
    format!("MOVED {slot} {addr}")
}

/// `-ASK`: this one command goes to `addr` (during a slot move).
pub fn ask(slot: u16, addr: SocketAddr) -> String {
    format!("ASK {slot} {addr}")
}

/// Redis's arity error.
pub fn wrong_arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// `-MISCONF`, as Redis refuses writes it may not be able to persist: the free space on the
/// data directory's filesystem (`free` bytes) is below cluster.toml's `min_free_disk`
/// (`required`). Writes that only remove data (DEL, UNLINK, FLUSHALL, expiry) still run.
pub fn misconf_low_disk(path: &Path, free: u64, required: u64) -> String {
    format!(
        "MISCONF Errors writing to the disk are possible: free space on {} is below the minimum ({} MiB free, {} MiB required); writes that may add data are refused until space is freed",
        path.display(),
        free >> 20,
        required.div_ceil(1 << 20)
    )
}
