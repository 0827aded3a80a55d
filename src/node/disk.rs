//! The free-disk watermark (cluster.toml `min_free_disk`): below it, writes that may grow the
//! data are refused with `-MISCONF` before the disk fills, and accepted again once space is
//! back. A node that runs out of disk cannot go on (a failed log write or snapshot stops it,
//! `Node::failed`); refusing its clients' writes first keeps it serving reads and deletes.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::errors;

/// The watermark of one data directory's filesystem, as its last check found it.
pub struct DiskWatch {
    path: PathBuf,
    min_free: u64,
    /// Free bytes at the last check (`u64::MAX` before the first, or when it failed).
    free: AtomicU64,
    /// True while the last check found less than `min_free` free.
    low: AtomicBool,
}

impl DiskWatch {
    /// Watches the filesystem holding `path`; `min_free` 0 never refuses.
    pub fn new(path: &Path, min_free: u64) -> DiskWatch {
        DiskWatch {
            path: path.to_path_buf(),
            min_free,
            free: AtomicU64::new(u64::MAX),
            low: AtomicBool::new(false),
        }
    }

    /// Measures the free space (what an unprivileged process may use: `f_bavail`) and sets
    /// or clears the refusal, saying so in the log when it changes. A failed measurement
    /// changes nothing.
    pub fn check(&self) {
        let free = match rustix::fs::statvfs(&self.path) {
            Ok(s) => s.f_bavail.saturating_mul(s.f_frsize),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), "cannot measure the free disk space: {e}");
                return;
            }
        };
        self.free.store(free, Ordering::Relaxed);
        let low = free < self.min_free;
        if self.low.swap(low, Ordering::Relaxed) != low {
            if low {
                tracing::warn!(
                    path = %self.path.display(),
                    free_mib = free >> 20,
                    min_free_mib = self.min_free >> 20,
                    "free disk space is below min_free_disk: refusing writes that may grow the data (-MISCONF) until space is freed"
                );
            } else {
                tracing::info!(
                    path = %self.path.display(),
                    free_mib = free >> 20,
                    "free disk space is back above min_free_disk: accepting writes again"
                );
            }
        }
    }

    /// The error a write that may grow the data gets now, if any.
    pub fn refusal(&self) -> Option<String> {
        self.is_low()
            .then(|| errors::misconf_low_disk(&self.path, self.free.load(Ordering::Relaxed), self.min_free))
    }

    pub fn is_low(&self) -> bool {
        self.low.load(Ordering::Relaxed)
    }

    /// Free bytes at the last check, if one succeeded.
    pub fn free(&self) -> Option<u64> {
        Some(self.free.load(Ordering::Relaxed)).filter(|&f| f != u64::MAX)
    }

    pub fn min_free(&self) -> u64 {
        self.min_free
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_below_the_watermark_and_accepts_again_above_it() {
        let dir = tempfile::tempdir().unwrap();
        let never = DiskWatch::new(dir.path(), 0);
        never.check();
        assert!(never.refusal().is_none());
        assert!(never.free().is_some_and(|f| f > 0));
        let always = DiskWatch::new(dir.path(), u64::MAX);
        assert!(always.refusal().is_none(), "nothing refused before the first check");
        always.check();
        let e = always.refusal().expect("refused below the watermark");
        assert!(e.starts_with("MISCONF "), "{e}");
        assert!(e.contains(&dir.path().display().to_string()), "{e}");
    }
}
