//! # afunix — the Linux AF_UNIX socket layer as a user-space model
//!
//! A [`World`] holds processes, their fd tables, open files and unix sockets,
//! all in memory. Its methods mirror the system calls and return
//! `Result<T, Error>` with the errno Linux 6.18 returns, checked in the
//! kernel's order; every error carries the kernel rule that produced it
//! ([`Errno::reason`]).
//!
//! Module map (one per kernel concept): [`errno`]; [`abi`] (wire formats);
//! [`process`] and [`fdtable`] (`task_struct`, `fs/file.c`); [`file`](mod@file)
//! (`struct file`); [`net::socket`] (`net/socket.c`); [`net::scm`]
//! (`net/core/scm.c`); [`net::unix`] (`net/unix/af_unix.c`, `garbage.c`);
//! [`security`] (LSM hook points); [`sim`] (the model as a scenario backend).
//!
//! Threads: a `World` is `Sync`. Every socket has its own lock and wait
//! queues (`unix_state_lock`, `sk_wq`, `peer_wait`); two sockets are locked
//! in a fixed order (`unix_state_double_lock`); each process's fd table has
//! its own lock and processes are found without one; the in-flight graph of
//! the garbage collector has its own lock, taken only when files travel. A
//! call that blocks in Linux sleeps on the queue of what it waits for and is
//! woken by the change it waits for, after the waker released its locks.
//!
//! Errors carry their rule, so a caller can tell *why*:
//!
//! ```
//! use afunix::{World, backend::TaskSpec, abi::consts::SOCK_DGRAM};
//! use afunix::net::socket::MsgHdr;
//!
//! let w = World::new();
//! let a = w.spawn(&TaskSpec::default());
//! let s = w.socket(a, SOCK_DGRAM).unwrap();
//! let e = w.sendmsg(a, s, &MsgHdr { iov: Some(b"x"), ..Default::default() }, 0).unwrap_err();
//! assert_eq!(e, afunix::Errno::ENOTCONN);
//! assert_eq!(e.reason(), "unix_dgram_sendmsg: no destination and not connected");
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod abi;
pub mod backend;
pub mod errno;
pub mod fdtable;
pub mod file;
mod ids;
mod namei;
pub mod net;
pub mod process;
pub mod security;
pub mod signal;
pub mod sim;
pub mod vfs;
pub mod world;

pub use errno::{Errno, Error, ResultExt, Rule, RuleKind, SysResult};
pub use ids::{Fd, Pid};
pub use net::unix::gc::GcWalk;
pub use signal::Interrupt;
pub use world::{FileInfo, RecvMsg, World};
