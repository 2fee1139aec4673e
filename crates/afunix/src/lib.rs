//! # afunix — the Linux AF_UNIX socket layer as a user-space model
//!
//! A [`World`] holds processes, their fd tables, open files and unix sockets,
//! all in memory. Its methods are the system calls, typed ([`Pid`], [`Fd`])
//! and answering as Linux 6.18 does, checked in the kernel's order. Every
//! error is an [`Error`]: the [`Errno`] (a plain number, usable in
//! patterns) and the [`Rule`] that produced it, named after the kernel
//! function that applies it.
//!
//! ```
//! use afunix::abi::{consts::SOCK_DGRAM, MsgFlags};
//! use afunix::{Errno, Error, TaskSpec, World};
//!
//! let w = World::new();
//! let p = w.spawn(&TaskSpec::default());             // a Pid
//! let [a, b] = w.socketpair(p, SOCK_DGRAM)?;          // two Fds
//! let f = w.memfd(p, b"hello")?;
//! w.send_with_fds(p, a, b"fd", &[f])?;
//! let m = w.recvmsg(p, b, 16, 64, MsgFlags::DONTWAIT)?;
//! assert_eq!(w.read(p, m.rights()[0], 5)?, b"hello"); // the same open file
//! match w.recvmsg(p, b, 16, 0, MsgFlags::DONTWAIT) {
//!     Err(Error { errno: Errno::EAGAIN, rule }) => {
//!         assert_eq!(rule.function(), Some("__skb_try_recv_datagram"));
//!     }
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), afunix::Error>(())
//! ```
//!
//! Modules: [`errno`] (errors and their rules); [`abi`] (Linux wire formats
//! as typed views: control messages, `sockaddr_un`, `ucred`, `timeval`,
//! classic BPF); [`net::socket`] (the `msghdr` a call is given);
//! [`net::UnixStream`], [`net::UnixDatagram`], [`net::UnixListener`],
//! [`net::OwnedFd`] (socket objects in the shape of `std::os::unix::net`,
//! one process's fds closed on drop, for tests);
//! [`security`] (the LSM hook points, with the task, the socket, its peer
//! and the file); [`signal`] (interrupting one blocked call as a signal
//! does); [`fault`], [`path`] and [`dot`] (faults on demand, the path of a
//! call, pictures). The scenario language is not here: its calls as data
//! and the model as a scenario backend are the `afunix-backend` crate.
//! Inside, one module per kernel concept:
//! `process` (`task_struct`), `fs` (`struct file`, the fd table, `fs/file.c`,
//! `fs/file_table.c`, `fs/read_write.c`, pipes, memfds, pidfds, and the
//! directory tree: `fs/namei.c`), `net::scm` (`net/core/scm.c`),
//! `net::sockopt` (`sk_setsockopt`), `net::unix` (`af_unix.c`,
//! `garbage.c`), `wait` (the wait queues), `lockdep` (the lock order),
//! `world` (the shared state and `World`, the public face).
//!
//! Threads: a `World` is `Sync`. Every socket has its own lock and wait
//! queues (`unix_state_lock`, `sk_wq`, `peer_wait`); two sockets are locked
//! in a fixed order (`unix_state_double_lock`); each process's fd table has
//! its own lock and processes are found without one; the in-flight graph of
//! the garbage collector has its own lock, taken only when files travel.
//! The order is fd table, socket (two in id order), collector, name
//! tables, and a thread sleeps holding none; debug builds check it on
//! every lock taken (`lockdep`) and panic on the first inversion. A
//! call that blocks in Linux sleeps on the queue of what it waits for and is
//! woken by the change it waits for, after the waker released its locks;
//! exclusive waiters are woken one at a time, oldest first.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// First, so that `rule!` and `gap!` are in scope in every module after it.
#[macro_use]
pub mod errno;
pub mod abi;
pub mod dot;
pub mod fault;
pub(crate) mod fs;
mod ids;
mod lockdep;
pub mod net;
pub mod path;
pub(crate) mod process;
pub mod rng;
pub mod security;
pub mod signal;
pub mod time;
mod wait;
mod world;

pub use errno::{Errno, Error, ResultExt, Rule, RuleKind, SysResult};
pub use fs::shmem::SHMEM_MAX;
pub use ids::{Fd, Pid};
pub use net::unix::gc::GcWalk;
pub use net::unix::SockType;
pub use process::{Capability, Cred, TaskSpec, NR_OPEN, PID_MAX};
pub use signal::Interrupt;
pub use time::Clock;
pub use world::{FileInfo, RecvMsg, World};
