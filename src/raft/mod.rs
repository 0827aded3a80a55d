//! Everything Raft: openraft's type configuration, the node's log engine, each group's state
//! machine, and the outgoing network. An openraft upgrade should touch only this folder.
mod journal_ahead;
pub mod log_engine;
pub mod network;
pub mod state_machine;
pub mod types;

/// One group's Raft replica, over this crate's types and state machine.
pub type Raft = openraft::Raft<types::TypeConfig, state_machine::GroupStateMachine>;
