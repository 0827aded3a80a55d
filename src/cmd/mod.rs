//! TEMPORARY STUB (replaced by the real command layer).
use crate::resp::frame::Frame;
use crate::store::Store;
use bytes::Bytes;
pub enum Kind {
    Read,
    Write,
    Node,
}
pub struct CommandSpec {
    pub name: &'static str,
    pub arity: i32,
    pub flags: &'static [&'static str],
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub kind: Kind,
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
}
pub fn lookup(_name: &[u8]) -> Option<&'static CommandSpec> {
    None
}
pub fn check_arity(_spec: &CommandSpec, _argc: usize) -> Result<(), Frame> {
    Ok(())
}
pub fn key_positions(_spec: &CommandSpec, _argc: usize) -> Vec<usize> {
    vec![]
}
pub fn unknown_command(_args: &[Bytes]) -> Frame {
    Frame::Null
}
pub fn validate(_args: &[Bytes]) -> Result<(), Frame> {
    Ok(())
}
pub fn execute_read(_store: &Store, _args: &[Bytes], _now_ms: u64) -> Frame {
    Frame::Null
}
pub fn apply_write(_store: &mut Store, _args: &[Bytes], _time_ms: u64) -> Frame {
    Frame::Null
}
pub fn command_reply(_args: &[Bytes]) -> Frame {
    Frame::Null
}
pub const EXPIRED_DELETE: &str = "slotraft.expired";
