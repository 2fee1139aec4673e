//! Open file descriptions (`struct file`): shared by every fd that refers
//! to them (after `dup`, `fork`, or `SCM_RIGHTS`), with one offset and one
//! set of status flags.
//!
//! Memory is managed by `Arc`; the *lifetime* of an open file is the
//! explicit count `f_count` ([`File::count`]), raised by `fget` and
//! dropped by `fput` exactly where the kernel does, so that the last
//! `fput` releases what the file holds at a known point and the garbage
//! collector can compare it with the number of in-flight copies.

use crate::net::unix::Sock;
use crate::process::RawPid;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// What an open file is.
#[derive(Debug)]
pub enum FileKind {
    /// `/dev/null`.
    Null,
    /// An in-memory file (`memfd_create`): its bytes and the shared offset.
    Memfd(Box<Mutex<Memfd>>),
    /// The read end of a pipe.
    PipeRead(Arc<Pipe>),
    /// The write end of a pipe.
    PipeWrite(Arc<Pipe>),
    /// A socket (`sock->file`).
    Socket(Arc<Sock>),
    /// A pidfd: refers to a process, which may have exited.
    Pidfd(RawPid),
    /// A regular file opened with `open`.
    Regular(Box<RegFile>),
    /// A directory opened for reading (it reads as `EISDIR`).
    Dir,
    /// An `O_PATH` fd: it names a file but reads, writes, polls nothing
    /// (`FMODE_PATH`: `fdget` refuses it, `fget_raw` takes it).
    Path,
    /// A file the model does not implement, owned by an embedder (e.g. a
    /// real file a program passes over a model socket under `afunix
    /// exec`): it travels, is counted and collected like any file, and its
    /// id is reported by [`crate::World::take_released_external`] when its
    /// last reference goes. With its id, the type the embedder says it is
    /// (what a policy sees: `FileRef::host_type`).
    External(u64, crate::security::FileType),
}

/// An open regular file: the file's bytes (shared with every open file of
/// the same inode) and this open file's own offset and access mode.
#[derive(Debug)]
pub struct RegFile {
    /// The inode's bytes.
    pub data: Arc<Mutex<crate::fs::shmem::Pages>>,
    /// `f_pos`.
    pub pos: Mutex<usize>,
    /// `FMODE_READ`.
    pub read: bool,
    /// `FMODE_WRITE`.
    pub write: bool,
    /// `O_APPEND`.
    pub append: bool,
}

/// The content and offset of a memfd.
#[derive(Debug)]
pub struct Memfd {
    /// The file's bytes.
    pub data: crate::fs::shmem::Pages,
    /// `f_pos`, shared by every fd of this description.
    pub pos: usize,
}

/// An open file description.
#[derive(Debug)]
pub struct File {
    /// `f_count`: fds, in-flight messages and kernel references holding it.
    pub count: AtomicUsize,
    /// `O_NONBLOCK` in `f_flags`.
    pub nonblock: AtomicBool,
    /// `f_owner`: the pid that gets SIGURG (`F_SETOWN`; 0: none).
    pub owner: std::sync::atomic::AtomicI32,
    /// What it is.
    pub kind: FileKind,
}

impl File {
    /// A new open file with `f_count` 1.
    pub fn new(kind: FileKind, nonblock: bool) -> Arc<File> {
        Arc::new(File {
            count: AtomicUsize::new(1),
            nonblock: AtomicBool::new(nonblock),
            owner: std::sync::atomic::AtomicI32::new(0),
            kind,
        })
    }

    /// `f_count`.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// `O_NONBLOCK`.
    pub fn is_nonblock(&self) -> bool {
        self.nonblock.load(Ordering::Relaxed)
    }

    /// The socket, if this is one.
    pub fn sock(&self) -> Option<&Arc<Sock>> {
        match &self.kind {
            FileKind::Socket(s) => Some(s),
            _ => None,
        }
    }

    /// The errno `sockfd_lookup` gives for this file when it is not a
    /// socket: `EBADF` for an O_PATH fd (`fdget` refuses it), else
    /// `ENOTSOCK`.
    pub fn not_a_socket(&self) -> crate::errno::Error {
        use crate::errno::Errno;
        crate::path::note(|| format!("the file is a {}", self.kind_name()));
        if matches!(self.kind, FileKind::Path) {
            Errno::EBADF.why(rule!(sockfd_lookup, "fdget refuses an O_PATH fd"))
        } else {
            Errno::ENOTSOCK.why(rule!(sockfd_lookup, "fd is not a socket"))
        }
    }

    /// `e`, refusing this file for what it is: notes the file's kind
    /// while a path is recorded.
    #[cold]
    pub(crate) fn refused(&self, e: crate::errno::Error) -> crate::errno::Error {
        crate::path::note(|| format!("the file is a {}", self.kind_name()));
        e
    }

    /// A short name of the kind, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            FileKind::Null => "null",
            FileKind::Memfd(_) => "memfd",
            FileKind::PipeRead(_) => "pipe-r",
            FileKind::PipeWrite(_) => "pipe-w",
            FileKind::Socket(_) => "socket",
            FileKind::External(..) => "external",
            FileKind::Pidfd(_) => "pidfd",
            FileKind::Regular(_) => "file",
            FileKind::Dir => "dir",
            FileKind::Path => "o_path",
        }
    }
}

/// A pipe's buffer (`struct pipe_inode_info`) with its wait queue.
#[derive(Debug, Default)]
pub struct Pipe {
    /// The state.
    pub inner: Mutex<PipeInner>,
    /// Readers and writers wait here.
    pub wait: Condvar,
}

/// A pipe's state.
#[derive(Debug, Default)]
pub struct PipeInner {
    /// Page buffers holding bytes written and not yet read (`pipe->bufs`).
    pub bufs: VecDeque<Vec<u8>>,
    /// Open read ends.
    pub readers: usize,
    /// Open write ends.
    pub writers: usize,
    /// Bumped at every change, for sleepers (no lost wake-ups).
    pub seq: u64,
    /// Who sleeps on the pipe, readers and writers alike (`pipe->rd_wait`
    /// and `wr_wait` in one): every change wakes them all to look.
    pub(crate) waiters: crate::wait::WaitList,
}

/// The size of one pipe buffer (a page).
pub const PIPE_PAGE: usize = 4096;
/// `pipe->max_usage`: 16 buffers by default.
pub const PIPE_BUFFERS: usize = 16;

impl Pipe {
    /// A change of the pipe (`wake_up_interruptible_all` on its queues):
    /// its sleepers look again. The OS is asked only when someone sleeps.
    pub(crate) fn wake_locked(&self, g: &mut PipeInner) {
        g.seq += 1;
        if g.waiters.has_sleeper() {
            g.waiters.wake_all();
            self.wait.notify_all();
        }
    }
}

impl PipeInner {
    /// Bytes waiting to be read (`FIONREAD`).
    pub fn len(&self) -> usize {
        self.bufs.iter().map(Vec::len).sum()
    }
    /// `pipe_empty`.
    pub fn is_empty(&self) -> bool {
        self.bufs.is_empty()
    }
    /// `pipe_full`: every buffer slot is taken.
    pub fn is_full(&self) -> bool {
        self.bufs.len() >= PIPE_BUFFERS
    }
}
