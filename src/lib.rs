//! slotraft: a Redis-compatible key-value cluster whose data is replicated with Raft.
//! docs/architecture.md gives the layers these modules form and the path of one command.
#![deny(unsafe_code)]

pub mod cluster;
pub mod cmd;
pub mod config;
pub mod errors;
pub mod exec;
pub mod ids;
#[cfg(test)]
mod layers;
pub mod node;
pub mod raft;
pub mod resp;
pub mod rpc;
pub mod server;
pub mod slots;
pub mod store;
pub mod tls;
pub mod wire;
