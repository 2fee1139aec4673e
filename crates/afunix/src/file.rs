//! Open file descriptions (`struct file`): shared by every fd that refers
//! to them (after `dup`, `fork`, or `SCM_RIGHTS`), with one offset and one
//! set of status flags. Their lifetime is the explicit count `f_count`.

use crate::net::unix::SockId;
use crate::process::Pid;
use std::collections::VecDeque;

/// Index of an open file description in the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub usize);

/// Index of a pipe buffer in the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PipeId(pub usize);

/// What an open file is.
#[derive(Debug)]
pub enum FileKind {
    /// `/dev/null`.
    Null,
    /// An in-memory file (`memfd_create`): its bytes and the shared offset.
    Memfd {
        /// The file's content.
        data: Vec<u8>,
        /// The file position (`f_pos`), shared by every fd of this description.
        pos: usize,
    },
    /// The read end of a pipe.
    PipeRead(PipeId),
    /// The write end of a pipe.
    PipeWrite(PipeId),
    /// A socket (`sock->file`).
    Socket(SockId),
    /// A pidfd: refers to a process, which may have exited.
    Pidfd(Pid),
}

/// An open file description.
#[derive(Debug)]
pub struct File {
    /// `f_count`: fds, in-flight messages and kernel references holding it.
    pub count: usize,
    /// `O_NONBLOCK` in `f_flags`.
    pub nonblock: bool,
    /// What it is.
    pub kind: FileKind,
}

/// A pipe's buffer (`struct pipe_inode_info`).
#[derive(Debug, Default)]
pub struct Pipe {
    /// Bytes written and not yet read.
    pub buf: VecDeque<u8>,
    /// Open read ends.
    pub readers: usize,
    /// Open write ends.
    pub writers: usize,
}

/// `PIPE_BUF * 16`: the default pipe capacity (16 pages).
pub const PIPE_CAPACITY: usize = 65536;
