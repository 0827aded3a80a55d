//! The openraft type configuration: the one place that names what a log entry carries and
//! what applying it returns, so the rest of the crate talks about `Request` and `Response`.

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::resp::frame::Frame;

/// A node of the cluster, as numbered in cluster.toml.
pub type NodeId = u64;

/// A Raft group, as numbered in cluster.toml; each owns some slot ranges.
pub type GroupId = u64;

/// One log entry's payload: a command's arguments plus the proposing leader's wall-clock time,
/// so that applying it is a pure function of the entry (DESIGN.md, "Determinism").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub time_ms: u64,
    pub args: Vec<Bytes>,
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self
            .args
            .first()
            .map(|a| String::from_utf8_lossy(a))
            .unwrap_or_default();
        write!(f, "{}({} args)@{}", name, self.args.len(), self.time_ms)
    }
}

/// What applying a `Request` answered: the reply frame sent back to the client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response(pub Frame);

openraft::declare_raft_types!(
    /// slotraft's Raft types: u64 node ids, `BasicNode` carrying the RPC address.
    pub TypeConfig:
        D = Request,
        R = Response,
        NodeId = NodeId,
        Node = openraft::BasicNode,
);

pub type Raft = openraft::Raft<TypeConfig, crate::raft::state_machine::GroupStateMachine>;
pub type Entry = openraft::type_config::alias::EntryOf<TypeConfig>;
pub type LogId = openraft::type_config::alias::LogIdOf<TypeConfig>;
pub type Vote = openraft::type_config::alias::VoteOf<TypeConfig>;
pub type StoredMembership = openraft::type_config::alias::StoredMembershipOf<TypeConfig>;
pub type SnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<TypeConfig>;
