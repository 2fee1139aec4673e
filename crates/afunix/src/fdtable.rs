//! The fd table of a process (`fs/file.c`): lowest free number,
//! close-on-exec per descriptor, `EMFILE` at RLIMIT_NOFILE.

use crate::errno::{Errno, SysResult};
use crate::file::File;
use std::sync::Arc;

/// One slot: the open file and the descriptor's own flag.
#[derive(Clone, Debug)]
pub struct FdEntry {
    /// The open file description this fd refers to (one `f_count` reference).
    pub file: Arc<File>,
    /// `FD_CLOEXEC`.
    pub cloexec: bool,
}

/// A process's fd table.
#[derive(Clone, Debug, Default)]
pub struct FdTable {
    slots: Vec<Option<FdEntry>>,
}

impl FdTable {
    /// The entry of `fd`, or `EBADF`.
    pub fn get(&self, fd: i32) -> SysResult<&FdEntry> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get(i))
            .and_then(Option::as_ref)
            .ok_or(Errno::EBADF.why("fd is not open in this process"))
    }

    /// The lowest free fd below `limit` (`alloc_fd`), or `EMFILE`.
    pub fn lowest_free(&self, limit: u64) -> SysResult<i32> {
        self.lowest_free_from(0, limit)
    }

    /// The lowest free fd at or above `from`, below `limit`.
    pub fn lowest_free_from(&self, from: usize, limit: u64) -> SysResult<i32> {
        let free = (from..)
            .find(|&i| self.slots.get(i).is_none_or(Option::is_none))
            .unwrap_or(usize::MAX);
        if (free as u64) >= limit || free > i32::MAX as usize {
            return Err(Errno::EMFILE.why("no free fd below RLIMIT_NOFILE"));
        }
        Ok(free as i32)
    }

    /// Install `entry` at `fd` (which must be free, from `lowest_free`).
    pub fn install(&mut self, fd: i32, entry: FdEntry) {
        let Ok(i) = usize::try_from(fd) else { return };
        if self.slots.len() <= i {
            self.slots.resize(i + 1, None);
        }
        if let Some(slot) = self.slots.get_mut(i) {
            *slot = Some(entry);
        }
    }

    /// Remove `fd`, returning what it held.
    pub fn remove(&mut self, fd: i32) -> SysResult<FdEntry> {
        let slot = usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .ok_or(Errno::EBADF.why("fd is not open in this process"))?;
        let entry = slot
            .take()
            .ok_or(Errno::EBADF.why("fd is not open in this process"))?;
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        Ok(entry)
    }

    /// Set the close-on-exec flag of an open fd.
    pub fn set_cloexec(&mut self, fd: i32, on: bool) -> SysResult<()> {
        match usize::try_from(fd).ok().and_then(|i| self.slots.get_mut(i)) {
            Some(Some(e)) => {
                e.cloexec = on;
                Ok(())
            }
            _ => Err(Errno::EBADF.why("fd is not open in this process")),
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
        self.slots.drain(..).flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::FileKind;

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
}
