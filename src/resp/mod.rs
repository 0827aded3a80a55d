//! The RESP wire protocol (docs/architecture.md, layer 0): parsing requests and replies,
//! and encoding `Frame`s as RESP2 or RESP3. Pure byte work, no I/O, so the connection
//! loop and the tests share it.

pub mod encode;
pub mod frame;
pub mod parse;

pub use encode::{Protocol, encode};
pub use frame::Frame;
pub use parse::{Limits, ProtocolError, parse_command, parse_frame};
