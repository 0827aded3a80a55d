//! What travels between nodes: the protobuf messages and services (`pb`), the one place where
//! Rust values become payload bytes and back (`convert`), the framing of replication's append
//! stream (`stream`), the typed client of a node's peers (`peers`), and the handshake every
//! connection between nodes starts with (`handshake`). Above this folder no
//! module names a protobuf type: `raft`, `node` and the executor call `Peers` with domain
//! values; only `rpc` (the services) implements `pb`'s server traits.

pub mod convert;
pub mod handshake;
pub mod peers;
pub mod stream;

pub use handshake::PeerAuth;
pub use peers::{PeerError, Peers, RaftRpc, RevertAnswer};

/// Generated protobuf types and service stubs.
pub mod pb {
    tonic::include_proto!("slotraft");
}

/// Largest message either side accepts, gRPC or append-stream frame (an append of many
/// entries can be large).
pub const MAX_MESSAGE_BYTES: usize = 544 << 20;

/// Most bytes of entries one AppendEntries carries, beyond its first entry (the log reader
/// stops there: `raft::log_engine`'s `limited_get_log_entries`), so a follower behind a run of
/// large entries catches up frame by frame instead of being sent more than a frame may hold.
pub const APPEND_BYTES_PER_FRAME: usize = 8 << 20;

// A frame holds a full budget of entries and one of the largest, with room for the rest.
const _: () = assert!(APPEND_BYTES_PER_FRAME + crate::cmd::MAX_ENTRY_BYTES + (8 << 20) <= MAX_MESSAGE_BYTES);
