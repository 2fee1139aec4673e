//! `fs/file_table.c`: open files and their references (`alloc_file`,
//! `get_file`, `fput` and the deferred `__fput`).

use crate::fs::file::{File, FileKind};
use crate::world::lock;
use crate::world::Kernel;
use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::Arc;

thread_local! {
    /// Files whose last reference was dropped while a release was running
    /// on this thread (`__fput` is deferred, as the kernel defers it to
    /// task work, so releases never nest and never run under a lock):
    /// (a release is running, the files). The list keeps its capacity
    /// from one cascade to the next.
    static DEFERRED_FPUT: RefCell<(bool, Vec<Arc<File>>)> = const { RefCell::new((false, Vec::new())) };
}

impl Kernel {
    /// A new open file with `f_count` 1 (the caller installs it or drops it).
    pub(crate) fn alloc_file(&self, kind: FileKind, nonblock: bool) -> Arc<File> {
        self.files_live.fetch_add(1, Ordering::SeqCst);
        File::new(kind, nonblock)
    }

    /// Take a reference to an open file (`get_file`).
    pub(crate) fn fget(&self, f: &Arc<File>) -> Arc<File> {
        f.count.fetch_add(1, Ordering::SeqCst);
        Arc::clone(f)
    }

    /// Drop a reference to an open file (`fput`). The last one releases
    /// what the file holds (`__fput`); releases that this triggers run
    /// one after another, never nested. Call with no socket lock held.
    pub(crate) fn fput(&self, f: Arc<File>) {
        crate::lockdep::assert_none_held("fput");
        let left = f.count.fetch_sub(1, Ordering::SeqCst) - 1;
        if left != 0 {
            // Only in-flight copies hold it now: the collector may find it.
            if let FileKind::Socket(s) = &f.kind {
                if s.inflight.load(Ordering::SeqCst) == left {
                    self.gc_only_inflight_left(s);
                }
            }
            return;
        }
        let nested = DEFERRED_FPUT.with(|d| {
            let mut d = d.borrow_mut();
            if d.0 {
                d.1.push(Arc::clone(&f));
            }
            d.0
        });
        if nested {
            return;
        }
        // The collection the releases ask for runs after the cascade,
        // when files it drops are released as a cascade of their own.
        self.gc_batch(|| {
            DEFERRED_FPUT.with(|d| d.borrow_mut().0 = true);
            let mut next = Some(f);
            while let Some(f) = next {
                self.__fput(f);
                next = DEFERRED_FPUT.with(|d| d.borrow_mut().1.pop());
            }
            DEFERRED_FPUT.with(|d| d.borrow_mut().0 = false);
        });
    }

    // __fput: what the last reference releases.
    fn __fput(&self, f: Arc<File>) {
        self.files_live.fetch_sub(1, Ordering::SeqCst);
        match &f.kind {
            FileKind::Socket(s) => self.unix_release_sock(s, false),
            FileKind::PipeRead(p) | FileKind::PipeWrite(p) => {
                let mut g = lock(&p.inner);
                if matches!(f.kind, FileKind::PipeRead(_)) {
                    g.readers = g.readers.saturating_sub(1);
                } else {
                    g.writers = g.writers.saturating_sub(1);
                }
                p.wake_locked(&mut g);
            }
            FileKind::External(id, _) => lock(&self.released_external).push(*id),
            FileKind::Null
            | FileKind::Memfd(_)
            | FileKind::Pidfd(_)
            | FileKind::Regular(_)
            | FileKind::Dir
            | FileKind::Path => {}
        }
    }
}
