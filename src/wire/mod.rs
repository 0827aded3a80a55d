//! What travels between nodes: the protobuf messages and services (`pb`), the one place where
//! Rust values become payload bytes and back (`convert`), the framing of replication's append
//! stream (`stream`), and the typed client of a node's peers (`peers`). Above this folder no
//! module names a protobuf type: `raft`, `node` and the executor call `Peers` with domain
//! values; only `rpc` (the services) implements `pb`'s server traits.

pub mod convert;
pub mod peers;
pub mod stream;

pub use peers::{PeerError, Peers, RaftRpc, RevertAnswer};

/// Generated protobuf types and service stubs.
pub mod pb {
    tonic::include_proto!("slotraft");
}

/// Largest message either side accepts, gRPC or append-stream frame (an append of many
/// entries can be large).
pub const MAX_MESSAGE_BYTES: usize = 512 * 1024 * 1024;
