//! The command executor: what one command does once a front door (`server` for RESP clients,
//! `rpc` for commands forwarded by another node) has parsed it. It decides between the node
//! answering itself, a local replica serving a read or proposing a write, a redirect, and a
//! forward to the leader; MULTI, blocking commands, pub/sub and the keyspace-wide commands live
//! here too. It sits on `node` and never touches a socket.

pub mod blocking;
pub mod data;
pub mod dispatch;
pub mod keyspace;
pub mod meta;
pub mod node_commands;
pub mod pubsub;
pub mod session;
pub mod transaction;
