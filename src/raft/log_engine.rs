//! TEMPORARY STUB (replaced by the real log engine).
use crate::raft::types::{Entry, GroupId, LogId, TypeConfig, Vote};
use openraft::OptionalSend;
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use serde::Deserialize;
use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::Arc;
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    Always,
    EverySec,
}
pub struct LogEngine {}
#[derive(Debug, thiserror::Error)]
#[error("x")]
pub struct LogEngineError;
impl LogEngine {
    pub fn open(_dir: &Path, _fsync: FsyncPolicy) -> Result<Arc<LogEngine>, LogEngineError> {
        todo!()
    }
    pub fn group(self: &Arc<Self>, _group: GroupId) -> Result<GroupLog, LogEngineError> {
        todo!()
    }
    pub async fn poisoned(&self) {}
}
#[derive(Clone)]
pub struct GroupLog {}
impl RaftLogReader<TypeConfig> for GroupLog {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        _range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        todo!()
    }
    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        todo!()
    }
}
impl RaftLogStorage<TypeConfig> for GroupLog {
    type LogReader = GroupLog;
    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        todo!()
    }
    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }
    async fn save_vote(&mut self, _vote: &Vote) -> Result<(), io::Error> {
        todo!()
    }
    async fn append<I>(&mut self, _entries: I, _callback: IOFlushed<TypeConfig>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        todo!()
    }
    async fn truncate_after(&mut self, _last: Option<LogId>) -> Result<(), io::Error> {
        todo!()
    }
    async fn purge(&mut self, _log_id: LogId) -> Result<(), io::Error> {
        todo!()
    }
}
