//! # afunix — the Linux AF_UNIX socket layer as a user-space model
//!
//! A [`World`] holds processes, their fd tables, open files and unix sockets,
//! all in memory. Its methods mirror the system calls and return
//! `Result<T, Errno>` with the errno Linux 6.18 returns, checked in the
//! kernel's order.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod abi;
pub mod backend;
pub mod errno;

pub use errno::{Errno, SysResult};
