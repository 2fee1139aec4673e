//! `mm/shmem.c`: the bytes of the world's in-memory files (memfds and
//! regular files), charged to one tmpfs-like budget per world.
//!
//! Linux bounds a tmpfs by its `size=` (half the machine's memory for the
//! internal mount behind `memfd_create`) and answers `ENOSPC` when a write
//! would pass it (`shmem_inode_acct_blocks`). The model's budget is a
//! world setting ([`crate::World::set_shmem_max`], default
//! [`SHMEM_MAX`], 1 GiB): every file's bytes are charged before they are
//! allocated, and given back when the file shrinks or its last holder goes,
//! so no scenario or program can make the model allocate past it.

use crate::errno::{Errno, SysResult};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The default budget for a world's file bytes (1 GiB).
pub const SHMEM_MAX: usize = 1 << 30;

/// A world's budget: bytes in use and the most allowed.
#[derive(Debug)]
pub(crate) struct ShmemAcct {
    used: AtomicUsize,
    max: AtomicUsize,
}

impl Default for ShmemAcct {
    fn default() -> Self {
        ShmemAcct {
            used: AtomicUsize::new(0),
            max: AtomicUsize::new(SHMEM_MAX),
        }
    }
}

impl ShmemAcct {
    /// Charge `n` bytes, or `ENOSPC` without charging anything.
    fn charge(&self, n: usize) -> SysResult<()> {
        let max = self.max.load(Ordering::Relaxed);
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| {
                u.checked_add(n).filter(|&t| t <= max)
            })
            .map(|_| ())
            .map_err(|u| {
                crate::path::note(|| {
                    format!("{u} bytes used + {n} more > the world's {max} for files")
                });
                Errno::ENOSPC.why(rule!(
                    shmem_inode_acct_blocks,
                    "the world's memory for files is full"
                ))
            })
    }

    fn uncharge(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::SeqCst);
    }

    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }

    pub(crate) fn set_max(&self, n: usize) {
        self.max.store(n, Ordering::SeqCst);
    }
}

/// A file's bytes, charged to its world's budget while they exist.
#[derive(Debug)]
pub(crate) struct Pages {
    data: Vec<u8>,
    acct: Arc<ShmemAcct>,
}

impl Pages {
    /// An empty file of the world with budget `acct`.
    pub(crate) fn new(acct: &Arc<ShmemAcct>) -> Pages {
        Pages {
            data: Vec::new(),
            acct: Arc::clone(acct),
        }
    }

    /// The bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.data
    }

    /// How many bytes.
    pub(crate) fn len(&self) -> usize {
        self.data.len()
    }

    /// Write `bytes` at `start`, growing the file (zero-filled) as needed:
    /// `ENOSPC` past the world's budget, `ENOMEM` if the allocation fails;
    /// either way the file is unchanged.
    pub(crate) fn write_at(&mut self, start: usize, bytes: &[u8]) -> SysResult<()> {
        let end = start
            .checked_add(bytes.len())
            .ok_or_else(|| past_largest_offset(start, bytes.len()))?;
        if end > self.data.len() {
            let more = end - self.data.len();
            self.acct.charge(more)?;
            if self.data.try_reserve(more).is_err() {
                self.acct.uncharge(more);
                crate::path::note(|| format!("{more} more bytes could not be allocated"));
                return Err(
                    Errno::ENOMEM.why(rule!(shmem_alloc_folio, "no memory for the file's pages"))
                );
            }
            self.data.resize(end, 0);
        }
        if let Some(dst) = self.data.get_mut(start..end) {
            dst.copy_from_slice(bytes);
        }
        Ok(())
    }

    /// Truncate to nothing (`O_TRUNC`), giving the bytes back.
    pub(crate) fn clear(&mut self) {
        self.acct.uncharge(self.data.len());
        self.data = Vec::new();
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        self.acct.uncharge(self.data.len());
    }
}

/// `EFBIG` from `generic_write_check_limits`: a write of `len` bytes at
/// `start` would pass the largest offset.
#[cold]
pub(crate) fn past_largest_offset(start: usize, len: usize) -> crate::errno::Error {
    crate::path::note(|| format!("offset {start} + {len} bytes passes the largest offset"));
    Errno::EFBIG.why(rule!(
        generic_write_check_limits,
        "the write passes the largest file offset"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_charged_and_given_back() {
        let acct = Arc::new(ShmemAcct::default());
        acct.set_max(10);
        let mut a = Pages::new(&acct);
        a.write_at(0, b"hello").unwrap();
        assert_eq!(acct.used(), 5);
        // Growing to 12 would pass 10: ENOSPC, nothing changes.
        assert_eq!(a.write_at(7, b"xyzzy").unwrap_err(), Errno::ENOSPC);
        assert_eq!((a.as_slice(), acct.used()), (&b"hello"[..], 5));
        // Overwriting inside costs nothing; a hole is zero-filled.
        a.write_at(0, b"HE").unwrap();
        a.write_at(8, b"!").unwrap();
        assert_eq!(a.as_slice(), b"HEllo\0\0\0!");
        assert_eq!(acct.used(), 9);
        let mut b = Pages::new(&acct);
        assert_eq!(b.write_at(0, b"ab").unwrap_err(), Errno::ENOSPC);
        b.write_at(0, b"a").unwrap();
        a.clear();
        assert_eq!(acct.used(), 1);
        drop(b);
        assert_eq!(acct.used(), 0);
        // An allocation that cannot be made is ENOMEM, not an abort.
        acct.set_max(usize::MAX);
        let mut c = Pages::new(&acct);
        assert_eq!(c.write_at(usize::MAX / 2, b"x").unwrap_err(), Errno::ENOMEM);
        assert_eq!((c.len(), acct.used()), (0, 0));
    }
}
