//! `fs/file.c` and `fs/fcntl.c`: the fd-table calls — `fdget`, installing
//! files at the lowest free fd, `close`, `dup`, `dup2`, close-on-exec,
//! `O_NONBLOCK` and `FD_CLOEXEC`.

use crate::errno::{Errno, SysResult};
use crate::fs::fdtable::FdEntry;
use crate::fs::file::{File, FileKind};
use crate::process::Process;
use crate::process::RawPid;
use crate::world::Kernel;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// `get_unused_fd_flags` + `fd_install` with `p`'s table locked: the
/// lowest free fd, or the file back with `ESRCH` (an exiting process has
/// drained its table after clearing `alive`: nothing may be installed
/// behind its back) or `EMFILE`.
fn install_lowest(
    p: &Process,
    t: &mut crate::fs::fdtable::FdTable,
    file: Arc<File>,
    cloexec: bool,
) -> Result<i32, (Arc<File>, crate::errno::Error)> {
    if !p.alive.load(Ordering::SeqCst) {
        crate::path::note(|| format!("pid {} exited before the fd was installed", p.pid));
        return Err((
            file,
            Errno::ESRCH.why(rule!(fd_install, "the process exited")),
        ));
    }
    match t.lowest_free(p.nofile) {
        Ok(fd) => {
            t.install(fd, FdEntry { file, cloexec });
            Ok(fd)
        }
        Err(e) => Err((file, e)),
    }
}

/// What this thread last looked up (`fdget`), so that looking up again an
/// fd that still names the same file takes no lock: the model's form of
/// the kernel's lockless `__fget_files_rcu`, which reads the slot under
/// RCU, takes a reference only if the file is not being freed
/// (`get_file_rcu`, an increment if not zero), then checks that the slot
/// still holds that file, else puts the reference and looks again. Here
/// "still holds it" is "the removal counter of the fd's bucket has not
/// moved" ([`crate::fs::fdtable::Removals`]). Without it every lookup
/// takes the process's slot and its table shared: four atomic writes to
/// lines that every thread of the process shares, which is what kept two
/// threads of one process from running in parallel.
mod lookup_cache {
    use crate::fs::fdtable::{removal_counter, REMOVAL_BUCKETS};
    use crate::fs::file::File;
    use crate::process::RawPid;
    use std::cell::RefCell;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Weak};

    /// Lookups remembered per thread, one per slot: a program with a few
    /// dozen busy fds (or a chain of processes passing one along) keeps
    /// them all, and finding one is one slot to compare.
    const SLOTS: usize = 64;

    /// The slot of a key: consecutive fds of one process fall in
    /// consecutive slots, and other processes and worlds are offset by
    /// odd multipliers, so that a small working set rarely collides.
    #[inline]
    fn slot(world: u64, pid: RawPid, fd: i32) -> usize {
        let k = (fd as u64)
            .wrapping_add((pid as u64).wrapping_mul(37))
            .wrapping_add(world.wrapping_mul(101));
        (k as usize) % SLOTS
    }

    struct Entry {
        world: u64,
        pid: RawPid,
        fd: i32,
        removals: Arc<[AtomicU64; REMOVAL_BUCKETS]>,
        /// The fd's removal counter when the lookup was made.
        seen: u64,
        /// Not a reference: a remembered lookup keeps no file open.
        file: Weak<File>,
    }

    impl Entry {
        fn counter(&self) -> &AtomicU64 {
            removal_counter(&self.removals, self.fd as usize)
        }
        fn is(&self, world: u64, pid: RawPid, fd: i32) -> bool {
            self.fd == fd && self.pid == pid && self.world == world
        }
    }

    thread_local! {
        /// The entries, each in the slot of its key.
        static CACHE: RefCell<[Option<Entry>; SLOTS]> =
            const { RefCell::new([const { None }; SLOTS]) };
    }

    /// How a remembered lookup went.
    pub(super) enum Hit {
        /// The fd still names this file: a reference to it.
        File(Arc<File>),
        /// Nothing remembered, or the fd may name another file now.
        Miss,
        /// A reference was taken, but the fd was removed meanwhile: put
        /// it and look the fd up in its table.
        Raced(Arc<File>),
    }

    pub(super) fn get(world: u64, pid: RawPid, fd: i32) -> Hit {
        CACHE.with(|c| {
            let c = c.borrow();
            let Some(e) = c[slot(world, pid, fd)]
                .as_ref()
                .filter(|e| e.is(world, pid, fd))
            else {
                return Hit::Miss;
            };
            if e.counter().load(Ordering::SeqCst) != e.seen {
                return Hit::Miss;
            }
            let Some(f) = e.file.upgrade() else {
                return Hit::Miss;
            };
            // get_file_rcu: never a reference to a file already released.
            let taken = f
                .count
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    (n != 0).then_some(n + 1)
                })
                .is_ok();
            if !taken {
                return Hit::Miss;
            }
            if e.counter().load(Ordering::SeqCst) != e.seen {
                return Hit::Raced(f);
            }
            Hit::File(f)
        })
    }

    /// Remember that `fd` of `pid` names `file`; called with the table
    /// held shared, so no removal runs meanwhile.
    pub(super) fn put(
        world: u64,
        pid: RawPid,
        fd: i32,
        removals: &Arc<[AtomicU64; REMOVAL_BUCKETS]>,
        file: &Arc<File>,
    ) {
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            let seen = removal_counter(removals, fd as usize).load(Ordering::SeqCst);
            let entry = &mut c[slot(world, pid, fd)];
            // The same file under the same key: only the counter moved.
            if let Some(e) = entry.as_mut().filter(|e| e.is(world, pid, fd)) {
                if Arc::ptr_eq(&e.removals, removals)
                    && std::ptr::eq(e.file.as_ptr(), Arc::as_ptr(file))
                {
                    e.seen = seen;
                    return;
                }
            }
            *entry = Some(Entry {
                world,
                pid,
                fd,
                removals: Arc::clone(removals),
                seen,
                file: Arc::downgrade(file),
            });
        });
    }
}

impl Kernel {
    /// The open file behind `fd` of `pid` (`fdget`), with a reference.
    pub(crate) fn fdget(&self, pid: RawPid, fd: i32) -> SysResult<Arc<File>> {
        match lookup_cache::get(self.id, pid, fd) {
            lookup_cache::Hit::File(f) => return Ok(f),
            lookup_cache::Hit::Raced(f) => self.fput(f),
            lookup_cache::Hit::Miss => {}
        }
        self.procs
            .with(pid, |p| {
                let t = p.fd_table();
                let e = t.get(fd)?;
                lookup_cache::put(self.id, pid, fd, &t.removals.0, &e.file);
                Ok(self.fget(&e.file))
            })
            .unwrap_or_else(|| Err(crate::world::no_such_process()))
    }

    /// Install `file` (whose reference the caller gives away) at the lowest
    /// free fd of `pid` (`get_unused_fd_flags` + `fd_install`). On failure
    /// the reference is dropped.
    pub(crate) fn fd_install(&self, pid: RawPid, file: Arc<File>, cloexec: bool) -> SysResult<i32> {
        // `file` is taken only if the process is there: else it is put here.
        let mut file = Some(file);
        let r = self.procs.with(pid, |p| {
            let f = file.take()?;
            Some(install_lowest(p, &mut p.fd_table_mut(), f, cloexec))
        });
        match r.flatten() {
            Some(Ok(fd)) => Ok(fd),
            Some(Err((f, e))) => {
                self.fput(f);
                Err(e)
            }
            None => {
                if let Some(f) = file {
                    self.fput(f);
                }
                Err(crate::world::no_such_process())
            }
        }
    }

    /// Install up to `installed.len()` files of `files` at the lowest free
    /// fds of `pid`, in order, under one hold of the table's lock, writing
    /// each fd to `installed`; stop at the first that cannot be installed
    /// (its reference is dropped; the `ReceiveFd` fault counts as one).
    /// Returns how many were installed.
    pub(crate) fn fd_install_many(
        &self,
        pid: RawPid,
        files: &mut impl Iterator<Item = Arc<File>>,
        cloexec: bool,
        installed: &mut [i32],
    ) -> usize {
        let mut n = 0;
        // The refused file is put after the slot is left (an fput may
        // release a socket, which must not wait on the process table).
        let refused = self.procs.with(pid, |p| {
            let mut t = p.fd_table_mut();
            for (slot, file) in installed.iter_mut().zip(files) {
                if self.fault(crate::fault::FaultPoint::ReceiveFd, pid) {
                    return Some(file);
                }
                match install_lowest(p, &mut t, file, cloexec) {
                    Ok(fd) => {
                        *slot = fd;
                        n += 1;
                    }
                    Err((file, _)) => return Some(file),
                }
            }
            None
        });
        if let Some(f) = refused.flatten() {
            self.fput(f);
        }
        n
    }

    /// Install two files at the two lowest free fds, both or neither (the
    /// fds of `pipe2` and `socketpair`), under one hold of the table's lock.
    pub(crate) fn fd_install_pair(
        &self,
        pid: RawPid,
        a: Arc<File>,
        b: Arc<File>,
        cloexec: bool,
    ) -> SysResult<[i32; 2]> {
        let r = (|| {
            let p = self.proc(pid)?;
            let mut t = p.fd_table_mut();
            if !p.alive.load(Ordering::SeqCst) {
                crate::path::note(|| format!("pid {pid} exited before the fds were installed"));
                return Err(Errno::ESRCH.why(rule!(fd_install, "the process exited")));
            }
            let x = t.lowest_free(p.nofile)?;
            let y = t.lowest_free_from(x as usize + 1, p.nofile)?;
            t.install(
                x,
                FdEntry {
                    file: Arc::clone(&a),
                    cloexec,
                },
            );
            t.install(
                y,
                FdEntry {
                    file: Arc::clone(&b),
                    cloexec,
                },
            );
            Ok([x, y])
        })();
        if r.is_err() {
            self.fput(a);
            self.fput(b);
        }
        r
    }

    /// Whether `pid` has `n` free fds (checked before creating files).
    pub(crate) fn fd_reserve(&self, pid: RawPid, n: usize) -> SysResult<()> {
        let p = self.proc(pid)?;
        let t = p.fd_table();
        let mut from = 0usize;
        for _ in 0..n {
            from = t.lowest_free_from(from, p.nofile)? as usize + 1;
        }
        Ok(())
    }

    pub(crate) fn close(&self, pid: RawPid, fd: i32) -> SysResult<()> {
        // The file is put after the slot is left (see fd_install_many).
        let e = self
            .procs
            .with(pid, |p| p.fd_table_mut().remove(fd))
            .unwrap_or_else(|| Err(crate::world::no_such_process()))?;
        self.fput(e.file);
        Ok(())
    }

    pub(crate) fn dup(&self, pid: RawPid, fd: i32) -> SysResult<i32> {
        let f = self.fdget(pid, fd)?;
        self.fd_install(pid, f, false)
    }

    pub(crate) fn set_nonblock(&self, pid: RawPid, fd: i32, on: bool) -> SysResult<()> {
        let f = self.fdget(pid, fd)?;
        // do_fcntl on an O_PATH fd allows only the fd-table commands.
        if matches!(f.kind, FileKind::Path) {
            let e = f.refused(Errno::EBADF.why(rule!(fcntl, "F_SETFL on an O_PATH fd")));
            self.fput(f);
            return Err(e);
        }
        f.nonblock.store(on, Ordering::Relaxed);
        self.fput(f);
        Ok(())
    }

    pub(crate) fn get_fd_flags(&self, pid: RawPid, fd: i32) -> SysResult<i32> {
        let p = self.proc(pid)?;
        let t = p.fd_table();
        Ok(if t.get(fd)?.cloexec {
            crate::abi::consts::FD_CLOEXEC
        } else {
            0
        })
    }

    // ksys_dup3 / do_dup2 (dup2 itself: oldfd == newfd returns at once
    // once oldfd is known to be open).
    pub(crate) fn dup2(&self, pid: RawPid, fd: i32, newfd: i32) -> SysResult<i32> {
        let p = self.proc(pid)?;
        let mut t = p.fd_table_mut();
        if fd == newfd {
            t.get(fd)?;
            return Ok(newfd);
        }
        if newfd < 0 || newfd as u64 >= p.nofile {
            crate::path::note(|| format!("newfd {newfd}, RLIMIT_NOFILE {}", p.nofile));
            return Err(Errno::EBADF.why(rule!(ksys_dup3, "newfd >= RLIMIT_NOFILE")));
        }
        let file = self.fget(&t.get(fd)?.file);
        let old = t.take(newfd);
        t.install(
            newfd,
            FdEntry {
                file,
                cloexec: false,
            },
        );
        drop(t);
        if let Some(e) = old {
            self.fput(e.file);
        }
        Ok(newfd)
    }

    // do_close_on_exec
    pub(crate) fn exec(&self, pid: RawPid) -> SysResult<()> {
        let p = self.proc(pid)?;
        let closed = {
            let mut t = p.fd_table_mut();
            let fds: Vec<i32> = t
                .iter()
                .filter(|(_, e)| e.cloexec)
                .map(|(fd, _)| fd)
                .collect();
            fds.into_iter()
                .filter_map(|fd| t.take(fd))
                .collect::<Vec<_>>()
        };
        for e in closed {
            self.fput(e.file);
        }
        Ok(())
    }
}
