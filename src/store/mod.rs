//! TEMPORARY STUB (replaced by the real store).
use crate::cluster::slots::Slot;
use bytes::Bytes;
#[derive(Clone, Default)]
pub struct Store {}
impl Store {
    pub fn new() -> Store {
        Store {}
    }
    pub fn len(&self) -> usize {
        0
    }
    pub fn is_empty(&self) -> bool {
        true
    }
    pub fn count_keys_in_slot(&self, _slot: Slot) -> usize {
        0
    }
    pub fn keys_in_slot(&self, _slot: Slot, _count: usize) -> Vec<Bytes> {
        vec![]
    }
    pub fn expired_sample(&self, _now_ms: u64, _max: usize) -> Vec<Bytes> {
        vec![]
    }
    pub fn keys_with_deadline(&self) -> usize {
        0
    }
    pub fn write_snapshot<W: std::io::Write>(&self, _w: &mut W) -> std::io::Result<()> {
        Ok(())
    }
    pub fn read_snapshot<R: std::io::Read>(_r: &mut R) -> std::io::Result<Store> {
        Ok(Store {})
    }
}
