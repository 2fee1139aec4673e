//! Files and fd tables: `struct file` and its kinds (`file`), the fd table
//! (`fdtable`), references to open files (`file_table`), the fd calls
//! (`fd`), `read`/`write` (`read_write`), pipes, memfds and pidfds, and
//! the directory tree with its path walk (`namei`) and the path calls
//! (`vfs`): the model's `fs/`. The socket layer sits on top of it
//! (`crate::net`), the world's state under it (`crate::world`).

mod fd;
pub(crate) mod fdtable;
pub(crate) mod file;
mod file_table;
mod memfd;
pub(crate) mod namei;
mod pidfd;
mod pipe;
mod read_write;
pub(crate) mod shmem;
mod vfs;
