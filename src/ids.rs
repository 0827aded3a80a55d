//! The numbers nodes and groups are known by, from cluster.toml. They sit below every layer
//! that names a node or a group (config, the cluster view, the wire, Raft).

/// A node of the cluster, as numbered in cluster.toml.
pub type NodeId = u64;

/// A Raft group, as numbered in cluster.toml; each owns some slot ranges.
pub type GroupId = u64;

/// The metadata group: every node hosts a replica of it, it owns no slot, and it keeps what
/// is cluster-wide (the ACL users). cluster.toml's groups may not use its id.
pub const META_GROUP: GroupId = 0;
