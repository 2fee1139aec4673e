//! Linux wire formats as typed views over bytes (the smoltcp `wire` style):
//! a view that validates lengths and whose accessors cannot panic, and a
//! repr for the valid subset with `parse`/`emit`/`buffer_len`.
//!
//! Everything here is Linux x86_64: little-endian, `size_t` of 8 bytes,
//! `long` alignment of 8 for control messages.

pub mod cmsg;
pub mod consts;
/// The wire format of classic BPF programs (`struct sock_filter`, the
/// opcodes, a checked [`Program`]); the checker and the interpreter live
/// beside the socket code, in `net/filter.rs`.
pub mod filter {
    pub use crate::net::filter::*;
}
pub mod flags;
pub mod optval;
pub mod sockaddr;
pub mod timeval;
pub mod ucred;

pub use cmsg::{CmsgBuilder, CmsgRef};
pub use filter::{Program, SockFilter};
pub use flags::{MsgFlags, OFlags, PollFlags, Shutdown, SockFlags, SocketType};
pub use optval::{Linger, OptValue};
pub use sockaddr::UnixAddr;
pub use timeval::Timeval;
pub use ucred::Ucred;

/// `N` bytes of `b` starting at `off`, or `None` when they are not all there.
pub(crate) fn bytes_at<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    let end = off.checked_add(N)?;
    b.get(off..end)?.try_into().ok()
}

/// A little-endian `u16` at `off`.
pub(crate) fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    bytes_at::<2>(b, off).map(u16::from_le_bytes)
}

/// A little-endian `u32` at `off`.
pub(crate) fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    bytes_at::<4>(b, off).map(u32::from_le_bytes)
}

/// A little-endian `i32` at `off`.
pub(crate) fn i32_at(b: &[u8], off: usize) -> Option<i32> {
    bytes_at::<4>(b, off).map(i32::from_le_bytes)
}

/// A little-endian `u64` at `off`.
pub(crate) fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    bytes_at::<8>(b, off).map(u64::from_le_bytes)
}

/// A little-endian `i64` at `off`.
pub(crate) fn i64_at(b: &[u8], off: usize) -> Option<i64> {
    bytes_at::<8>(b, off).map(i64::from_le_bytes)
}
