//! Writes the log's journal file out ahead of fjall, so that an fsync of an append has no
//! filesystem metadata to make durable.
//!
//! fjall preallocates each journal file sparse (`set_len`): every append lands in a hole, the
//! filesystem allocates blocks for it, and the fdatasync that follows must commit that
//! allocation too (on ext4 a journal commit: more device writes, and a wait on whatever else
//! the filesystem is committing). Over blocks already written an fdatasync is the data and a
//! cache flush (measured: docs/performance.md, "Figures behind the code").
//!
//! Safety: this writes only zeros, and only over bytes that read as zeros at that moment, so the
//! file reads exactly as before (a hole reads as zeros too, and fjall's recovery stops at the
//! first record that is not one). It runs on the log writer thread between two writes, and fjall
//! writes journal records only from that thread (`LogBackend::write`), so nothing can write
//! between the check and the zeros. fjall's worker thread may start a new journal file
//! meanwhile; it writes no records into it, and the next step moves to it.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Bytes of log records between two steps.
const STEP_EVERY: usize = 256 * 1024;
/// Most bytes zeroed in one step: one write and one fdatasync on the log writer thread, which
/// the appends queued meanwhile wait for.
const CHUNK: u64 = 1024 * 1024;
/// How far ahead of fjall's records the zeros go. A journal file holds about one memtable of
/// records (8 MiB) but is preallocated to 64 MiB: zeroing it whole would write 64 MiB for 8.
const LEAD: u64 = 4 * 1024 * 1024;
/// Filesystem block: zeros start on one.
const BLOCK: u64 = 4096;

pub struct JournalAhead {
    dir: PathBuf,
    since_step: usize,
    active: Option<Active>,
    /// After an I/O error the journal is left to fjall alone; appends do not depend on this.
    disabled: bool,
}

/// The journal file being zeroed ahead of.
struct Active {
    path: PathBuf,
    file: File,
    /// Where fjall's records end, at least: the allocated bytes when this file was first seen
    /// (before any zeros), plus the record bytes handed to fjall since (its records add headers).
    records: u64,
    /// Everything before this offset is written (records or zeros).
    zeroed: u64,
}

impl JournalAhead {
    /// For the fjall database in `dir` (its journal files are `<n>.jnl` there).
    pub fn new(dir: &Path) -> JournalAhead {
        JournalAhead {
            dir: dir.to_path_buf(),
            since_step: 0,
            active: None,
            disabled: false,
        }
    }

    /// Called after fjall has written `bytes` of log records, on the thread that writes them.
    pub fn wrote(&mut self, bytes: usize) {
        if let Some(a) = self.active.as_mut() {
            a.records += bytes as u64;
        }
        self.since_step += bytes;
        if self.disabled || self.since_step < STEP_EVERY {
            return;
        }
        self.since_step = 0;
        if let Err(e) = self.step() {
            tracing::warn!(
                "writing the log journal out ahead failed, leaving it sparse: {e} (appends still go to disk as before)"
            );
            self.disabled = true;
        }
    }

    /// Zeros up to `CHUNK` more bytes of the newest journal file, up to `LEAD` past its records.
    fn step(&mut self) -> io::Result<()> {
        let Some(newest) = newest_journal(&self.dir)? else {
            return Ok(());
        };
        if self.active.as_ref().is_none_or(|a| a.path != newest) {
            let file = std::fs::OpenOptions::new().write(true).read(true).open(&newest)?;
            let records = file.metadata()?.blocks() * 512;
            self.active = Some(Active {
                path: newest,
                file,
                records,
                zeroed: 0,
            });
        }
        let Some(a) = self.active.as_mut() else {
            return Ok(());
        };
        let meta = a.file.metadata()?;
        // Allocated bytes: fjall's records from the start, then our zeros (a filesystem that
        // counts blocks late only makes this smaller; the check below is what keeps records).
        let allocated = meta.blocks() * 512;
        if allocated > a.zeroed {
            // fjall's records are past the zeros (or there are none yet): they end there.
            a.records = a.records.max(allocated);
        }
        let from = round_up(allocated.max(a.zeroed));
        let to = (a.records + LEAD).min(from + CHUNK).min(meta.len());
        if from >= to {
            return Ok(());
        }
        let mut buf = vec![0u8; (to - from) as usize];
        if !is_hole(&a.file, from, to) {
            let read = read_at_most(&a.file, &mut buf, from)?;
            buf.truncate(read);
            if let Some(last) = buf.iter().rposition(|&b| b != 0) {
                // Records reach past what was counted: start after them next time.
                a.zeroed = round_up(from + last as u64 + 1);
                return Ok(());
            }
        }
        a.file.write_all_at(&buf, from)?;
        a.file.sync_data()?;
        a.zeroed = from + buf.len() as u64;
        Ok(())
    }
}

fn round_up(offset: u64) -> u64 {
    offset.div_ceil(BLOCK) * BLOCK
}

/// Whether the filesystem reports `[from, to)` of `file` as a hole, which reads as zeros without
/// reading it; `false` when it cannot tell (the caller then reads). Reading a hole is not free:
/// the kernel zero-fills page cache for it, a cost on every megabyte zeroed ahead. A record written but not yet allocated (ext4's delayed
/// allocation) is reported as data, from the page cache.
fn is_hole(file: &File, from: u64, to: u64) -> bool {
    match rustix::fs::seek(file, rustix::fs::SeekFrom::Data(from)) {
        Ok(data) => data >= to,
        // No data at or after `from`.
        Err(e) => e == rustix::io::Errno::NXIO,
    }
}

/// Fills `buf` from `offset` until it is full or the file ends; how many bytes were read.
fn read_at_most(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut read = 0;
    while read < buf.len() {
        match file.read_at(&mut buf[read..], offset + read as u64)? {
            0 => break,
            n => read += n,
        }
    }
    Ok(read)
}

/// The journal file with the highest number in `dir`: the one fjall appends to.
fn newest_journal(dir: &Path) -> io::Result<Option<PathBuf>> {
    let mut newest: Option<(u64, PathBuf)> = None;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "jnl") {
            continue;
        }
        let Some(n) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        if newest.as_ref().is_none_or(|(m, _)| n > *m) {
            newest = Some((n, path));
        }
    }
    Ok(newest.map(|(_, p)| p))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: u64 = 64 * 1024 * 1024;

    fn journal(dir: &Path, n: u64) -> File {
        let f = File::create_new(dir.join(format!("{n}.jnl"))).unwrap();
        f.set_len(SIZE).unwrap();
        f
    }

    fn read(f: &File, offset: u64, len: usize) -> Vec<u8> {
        let mut b = vec![0; len];
        read_at_most(f, &mut b, offset).unwrap();
        b
    }

    #[test]
    fn zeros_ahead_of_the_records_of_the_newest_journal_and_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let old = journal(dir.path(), 3);
        let f = journal(dir.path(), 4);
        let records = vec![7u8; 300_000];
        f.write_all_at(&records, 0).unwrap();
        let mut ahead = JournalAhead::new(dir.path());
        for _ in 0..20 {
            ahead.wrote(STEP_EVERY);
        }
        assert!(!ahead.disabled);
        assert_eq!(read(&f, 0, records.len()), records);
        let allocated = f.metadata().unwrap().blocks() * 512;
        // Written out past the records, by the lead and no further.
        assert!(allocated >= 4 * 1024 * 1024, "{allocated}");
        assert!(allocated < 16 * 1024 * 1024, "{allocated}");
        assert_eq!(old.metadata().unwrap().blocks(), 0, "an older journal is left alone");
        assert_eq!(f.metadata().unwrap().len(), SIZE, "the file keeps its size");
    }

    #[test]
    fn never_writes_over_bytes_that_are_not_zero() {
        let dir = tempfile::tempdir().unwrap();
        let f = journal(dir.path(), 0);
        let mut ahead = JournalAhead::new(dir.path());
        ahead.wrote(STEP_EVERY);
        let zeroed = f.metadata().unwrap().blocks() * 512;
        assert!(zeroed > 0);
        // Records appear inside and past what was zeroed (as if fjall had written them).
        let marks = [(zeroed - 100, 9u8), (zeroed + 10_000, 5u8), (zeroed + 3 * CHUNK, 6u8)];
        for (at, b) in marks {
            f.write_all_at(&[b; 50], at).unwrap();
        }
        for _ in 0..40 {
            ahead.wrote(STEP_EVERY);
        }
        for (at, b) in marks {
            assert_eq!(read(&f, at, 50), vec![b; 50], "at {at}");
        }
        assert!(!ahead.disabled);
    }

    #[test]
    fn a_range_is_a_hole_only_without_data_in_it() {
        let dir = tempfile::tempdir().unwrap();
        let f = journal(dir.path(), 0);
        assert!(is_hole(&f, 0, SIZE));
        // Written, not yet synced: data all the same.
        f.write_all_at(&[1; 10], 2 * CHUNK + 5).unwrap();
        assert!(is_hole(&f, 0, CHUNK));
        assert!(!is_hole(&f, CHUNK, 3 * CHUNK));
        assert!(!is_hole(&f, 2 * CHUNK, 2 * CHUNK + BLOCK));
        assert!(is_hole(&f, 3 * CHUNK, SIZE));
    }

    #[test]
    fn moves_to_a_new_journal_and_tolerates_none() {
        let dir = tempfile::tempdir().unwrap();
        let mut ahead = JournalAhead::new(dir.path());
        ahead.wrote(STEP_EVERY);
        assert!(!ahead.disabled);
        journal(dir.path(), 0);
        ahead.wrote(STEP_EVERY);
        let next = journal(dir.path(), 1);
        ahead.wrote(STEP_EVERY);
        assert!(next.metadata().unwrap().blocks() > 0);
    }
}
