//! The fd table of a process (`fs/file.c`): lowest free number,
//! close-on-exec per descriptor, `EMFILE` at RLIMIT_NOFILE.
//!
//! As in the kernel's `struct fdtable`, the lowest free number is found
//! with an open-fds bitmap (`open_fds`), a summary with one bit per full
//! word of it (`full_fds_bits`) and a hint below which every fd is open
//! (`files->next_fd`): `alloc_fd` → `find_next_fd` costs a few word
//! operations, not a scan of the slots.

use crate::errno::{Errno, SysResult};
use crate::fs::file::File;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One slot: the open file and the descriptor's own flag.
#[derive(Clone, Debug)]
pub struct FdEntry {
    /// The open file description this fd refers to (one `f_count` reference).
    pub file: Arc<File>,
    /// `FD_CLOEXEC`.
    pub cloexec: bool,
}

/// How many removal counters a table has ([`Removals`]).
pub(crate) const REMOVAL_BUCKETS: usize = 16;

/// Counters of the fds a table stopped naming, by `fd % 16`: each removal
/// (close, dup2 over an open fd, close-on-exec, exit) bumps its fd's
/// counter, under the table's lock, before the reference it held is put.
/// A lookup that remembered which file an fd named, and the counter then,
/// knows without the lock that the fd still names it while the counter
/// has not moved (see `fd::lookup_cache`). Sixteen words, not one per
/// fd, so an idle process stays small and closing one fd rarely tells
/// the lookups of another to look again. A table's copy (fork) counts
/// its own removals.
#[derive(Debug, Default)]
pub(crate) struct Removals(pub(crate) Arc<[AtomicU64; REMOVAL_BUCKETS]>);

impl Clone for Removals {
    fn clone(&self) -> Removals {
        Removals::default()
    }
}

/// The counter of `fd` among a table's removal counters.
pub(crate) fn removal_counter(counters: &[AtomicU64; REMOVAL_BUCKETS], fd: usize) -> &AtomicU64 {
    &counters[fd % REMOVAL_BUCKETS]
}

impl Removals {
    /// Called with the table held alone, so no other bump races this one
    /// (a store, not a read-modify-write). A lookup that took a reference
    /// after the removal's `fput` sees it: the store comes before that
    /// `fput`, whose decrement the lookup's increment then follows.
    fn bump(&self, fd: usize) {
        let c = removal_counter(&self.0, fd);
        c.store(c.load(Ordering::Relaxed).wrapping_add(1), Ordering::Release);
    }
}

/// A process's fd table.
#[derive(Clone, Debug, Default)]
pub struct FdTable {
    /// Bumped for every fd the table stops naming.
    pub(crate) removals: Removals,
    slots: Vec<Option<FdEntry>>,
    /// `open_fds`: bit `fd % 64` of word `fd / 64` is set while fd is open.
    open_fds: Vec<u64>,
    /// `full_fds_bits`: bit `w % 64` of word `w / 64` is set while word
    /// `w` of `open_fds` is full.
    full_fds_bits: Vec<u64>,
    /// `next_fd`: every fd below it is open.
    next_fd: usize,
}

/// The first clear bit of `words` at or after `from` (the length of the
/// bitmap in bits when none is clear: everything past it is clear).
fn find_next_zero(words: &[u64], from: usize) -> usize {
    let mut w = from / 64;
    let mut mask = (1u64 << (from % 64)).wrapping_sub(1);
    while let Some(&word) = words.get(w) {
        let x = word | mask;
        if x != u64::MAX {
            return w * 64 + (!x).trailing_zeros() as usize;
        }
        w += 1;
        mask = 0;
    }
    (w * 64).max(from)
}

impl FdTable {
    /// The entry of `fd`, or `EBADF`.
    #[inline]
    pub fn get(&self, fd: i32) -> SysResult<&FdEntry> {
        self.lookup(fd).ok_or_else(|| self.not_open(fd))
    }

    /// The entry of `fd`, if open (for a caller with its own rule).
    #[inline]
    pub fn lookup(&self, fd: i32) -> Option<&FdEntry> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get(i))
            .and_then(Option::as_ref)
    }

    /// `EBADF` for `fd`, noting which fd while a path is recorded.
    #[cold]
    fn not_open(&self, fd: i32) -> crate::errno::Error {
        crate::path::note(|| match self.highest_open() {
            None => format!("fd {fd} is not open; no fd is"),
            Some(n) => format!("fd {fd} is not open; the highest open is {n}"),
        });
        Errno::EBADF.why(rule!(fdget, "fd is not open in this process"))
    }

    /// The highest open fd, from the bitmap.
    fn highest_open(&self) -> Option<usize> {
        let (w, word) = self.open_fds.iter().enumerate().rfind(|(_, w)| **w != 0)?;
        Some(w * 64 + 63 - word.leading_zeros() as usize)
    }

    /// The lowest free fd below `limit` (`alloc_fd`), or `EMFILE`.
    pub fn lowest_free(&self, limit: u64) -> SysResult<i32> {
        self.lowest_free_from(0, limit)
    }

    /// The lowest free fd at or above `from`, below `limit` (`find_next_fd`).
    pub fn lowest_free_from(&self, from: usize, limit: u64) -> SysResult<i32> {
        let start = from.max(self.next_fd);
        // Skip the full words through the summary, then look in the word.
        let word = find_next_zero(&self.full_fds_bits, start / 64);
        let free = if word == start / 64 {
            find_next_zero(&self.open_fds, start)
        } else {
            find_next_zero(&self.open_fds, word * 64)
        };
        if (free as u64) >= limit || free > i32::MAX as usize {
            crate::path::note(|| format!("the lowest free fd is {free}, RLIMIT_NOFILE {limit}"));
            return Err(Errno::EMFILE.why(rule!(alloc_fd, "no free fd below RLIMIT_NOFILE")));
        }
        Ok(free as i32)
    }

    /// Install `entry` at `fd` (which must be free, from `lowest_free`).
    pub fn install(&mut self, fd: i32, entry: FdEntry) {
        let Ok(i) = usize::try_from(fd) else { return };
        if self.slots.len() <= i {
            self.grow(i);
        }
        if let Some(slot) = self.slots.get_mut(i) {
            *slot = Some(entry);
        }
        self.set_open(i, true);
        if i == self.next_fd {
            self.next_fd = i + 1;
        }
    }

    /// `expand_files`: room for fd `i` in the slots and both bitmaps
    /// (they only grow, so a slot below `slots.len()` has its bits).
    #[cold]
    fn grow(&mut self, i: usize) {
        self.slots.resize(i + 1, None);
        let words = i / 64 + 1;
        if self.open_fds.len() < words {
            self.open_fds.resize(words, 0);
        }
        if self.full_fds_bits.len() < words.div_ceil(64) {
            self.full_fds_bits.resize(words.div_ceil(64), 0);
        }
    }

    /// `__set_open_fd` / `__clear_open_fd`, with the summary bit (`fd` is
    /// below `slots.len()`, so its words exist).
    #[inline]
    fn set_open(&mut self, fd: usize, open: bool) {
        let (w, b) = (fd / 64, fd % 64);
        let (Some(word), Some(full)) =
            (self.open_fds.get_mut(w), self.full_fds_bits.get_mut(w / 64))
        else {
            return;
        };
        if open {
            *word |= 1 << b;
        } else {
            *word &= !(1 << b);
        }
        if *word == u64::MAX {
            *full |= 1 << (w % 64);
        } else {
            *full &= !(1 << (w % 64));
        }
    }

    /// Remove `fd`, returning what it held.
    pub fn remove(&mut self, fd: i32) -> SysResult<FdEntry> {
        self.take(fd).ok_or_else(|| self.not_open(fd))
    }

    /// Remove `fd` if it is open (dup2's replaced fd, close_range): no
    /// error, so no note.
    pub fn take(&mut self, fd: i32) -> Option<FdEntry> {
        let entry = usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .and_then(Option::take)?;
        // The slots are not given back (nor is the kernel's expanded
        // fdtable): the next install at this number reuses them.
        let i = fd as usize;
        self.removals.bump(i);
        self.set_open(i, false);
        // __put_unused_fd: the freed number is the new lowest candidate.
        self.next_fd = self.next_fd.min(i);
        Some(entry)
    }

    /// Set the close-on-exec flag of an open fd.
    pub fn set_cloexec(&mut self, fd: i32, on: bool) -> SysResult<()> {
        match usize::try_from(fd).ok().and_then(|i| self.slots.get_mut(i)) {
            Some(Some(e)) => {
                e.cloexec = on;
                Ok(())
            }
            _ => Err(self.not_open(fd)),
        }
    }

    /// Every open fd with its entry, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = (i32, &FdEntry)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|e| (i as i32, e)))
    }

    /// Remove every entry, returning them.
    pub fn drain(&mut self) -> Vec<FdEntry> {
        for i in 0..REMOVAL_BUCKETS {
            self.removals.bump(i);
        }
        self.open_fds.clear();
        self.full_fds_bits.clear();
        self.next_fd = 0;
        self.slots.drain(..).flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::file::FileKind;

    #[test]
    fn lowest_free_and_emfile() {
        let mut t = FdTable::default();
        for fd in 0..3 {
            assert_eq!(t.lowest_free(4).unwrap(), fd);
            t.install(
                fd,
                FdEntry {
                    file: File::new(FileKind::Null, false),
                    cloexec: false,
                },
            );
        }
        assert_eq!(t.lowest_free(4).unwrap(), 3);
        assert_eq!(t.lowest_free(3).unwrap_err(), Errno::EMFILE);
        t.remove(1).unwrap();
        assert_eq!(t.lowest_free(3).unwrap(), 1);
        assert_eq!(t.get(1).unwrap_err(), Errno::EBADF);
        assert_eq!(t.get(-1).unwrap_err(), Errno::EBADF);
        assert_eq!(t.remove(7).unwrap_err(), Errno::EBADF);
    }

    #[test]
    fn bitmap_finds_the_lowest_free_past_full_words() {
        let mut t = FdTable::default();
        let null = || FdEntry {
            file: File::new(FileKind::Null, false),
            cloexec: false,
        };
        for fd in 0..200 {
            assert_eq!(t.lowest_free(1 << 20).unwrap(), fd);
            t.install(fd, null());
        }
        t.remove(130).unwrap();
        t.remove(5).unwrap();
        assert_eq!(t.lowest_free(1 << 20).unwrap(), 5);
        assert_eq!(t.lowest_free_from(6, 1 << 20).unwrap(), 130);
        t.install(5, null());
        assert_eq!(t.lowest_free(1 << 20).unwrap(), 130);
        t.install(130, null());
        assert_eq!(t.lowest_free(1 << 20).unwrap(), 200);
        // An fd installed far away (dup2) leaves the hole below it free.
        t.install(1000, null());
        assert_eq!(t.lowest_free_from(201, 1 << 20).unwrap(), 201);
        assert_eq!(t.lowest_free_from(1000, 1 << 20).unwrap(), 1001);
        assert_eq!(t.lowest_free(200).unwrap_err(), Errno::EMFILE);
        // The same answers as a plain scan, for every start.
        for from in 0..1100 {
            let scan = (from..).find(|&i| t.get(i as i32).is_err()).unwrap();
            assert_eq!(
                t.lowest_free_from(from, 1 << 20).unwrap() as usize,
                scan,
                "{from}"
            );
        }
    }
}
