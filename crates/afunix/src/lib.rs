//! # afunix — the Linux AF_UNIX socket layer as a user-space model
//!
//! A [`World`] holds processes, their fd tables, open files and unix sockets,
//! all in memory. Its methods mirror the system calls and return
//! `Result<T, Errno>` with the errno Linux 6.18 returns, checked in the
//! kernel's order; every error carries the kernel rule that produced it
//! ([`Errno::reason`]).
//!
//! Module map (one per kernel concept): [`errno`]; [`abi`] (wire formats);
//! [`process`] and [`fdtable`] (`task_struct`, `fs/file.c`); [`file`]
//! (`struct file`); [`net::socket`] (`net/socket.c`); [`net::scm`]
//! (`net/core/scm.c`); [`net::unix`] (`net/unix/af_unix.c`, `garbage.c`);
//! [`security`] (LSM hook points); [`sim`] (the model as a scenario backend).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod abi;
pub mod backend;
pub mod errno;
pub mod fdtable;
pub mod file;
pub mod net;
pub mod process;
pub mod security;
pub mod sim;
pub mod world;

pub use errno::{Errno, SysResult};
pub use world::{RecvMsg, World};
