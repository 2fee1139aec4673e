//! Reading a traced program's call arguments out of its memory: the
//! `struct msghdr` and its iovec array (`__copy_msghdr`, `import_iovec`),
//! the bytes of a send (`copy_from_iter`), the control buffer
//! (`____sys_sendmsg`), a socket address (`move_addr_to_kernel`) and a
//! path (`strncpy_from_user`).
//!
//! Memory is behind [`Memory`]: `process_vm_readv` of the caller in the
//! supervisor ([`Remote`]), a byte image in the `exec_args` fuzz target
//! (`fuzz/src/exec_args.rs`), so every rule here is fuzzed without a
//! process to trace.

use afunix::net::socket::SendBuf;
use afunix::{Errno, Error};

/// `UIO_MAXIOV`: the most iovecs one call takes.
pub const UIO_MAXIOV: u64 = 1024;
/// The most bytes one send reads from the caller (16 MiB).
pub const SEND_MAX: usize = 16 << 20;
/// `sizeof(struct msghdr)` on x86_64.
pub const MSGHDR: usize = 56;
/// `sizeof(struct sockaddr_un)`: the longest address `move_addr_to_kernel`
/// takes (`sizeof(struct sockaddr_storage)` is 128; a unix one is 110).
pub const ADDR_MAX: usize = 128;
/// `PATH_MAX`.
pub const PATH_MAX: usize = 4096;

/// A traced process's memory.
pub trait Memory {
    /// `len` bytes at `addr`, or `None` unless every byte is readable.
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>>;
}

/// The memory of the process with this tgid (`process_vm_readv`).
pub struct Remote(pub i32);

impl Memory for Remote {
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        crate::sys::read_mem(self.0, addr, len).ok()
    }
}

/// The native-endian `u64` at `off`, or 0 past the end.
pub fn u64_at(b: &[u8], off: usize) -> u64 {
    b.get(off..off.saturating_add(8))
        .map_or(0, |s| u64::from_ne_bytes(s.try_into().unwrap_or([0; 8])))
}

/// The native-endian `u32` at `off`, or 0 past the end.
pub fn u32_at(b: &[u8], off: usize) -> u32 {
    b.get(off..off.saturating_add(4))
        .map_or(0, |s| u32::from_ne_bytes(s.try_into().unwrap_or([0; 4])))
}

/// `EFAULT`: `copy_from_user` met an unmapped address.
pub fn efault() -> Error {
    Errno::EFAULT.why(afunix::rule!(
        copy_from_user,
        "an address the caller passed is not mapped"
    ))
}

/// The caller's `struct msghdr` at `msg` (its 56 bytes) and its iovec
/// array, as (base, len) pairs.
#[allow(clippy::type_complexity)]
pub fn read_msghdr(mem: &impl Memory, msg: u64) -> Result<(Vec<u8>, Vec<(u64, u64)>), Error> {
    let hdr = mem.read(msg, MSGHDR).ok_or_else(efault)?;
    let iov = read_iovecs(mem, u64_at(&hdr, 16), u64_at(&hdr, 24), true)?;
    Ok((hdr, iov))
}

/// The caller's iovec array; more than `UIO_MAXIOV` is `EMSGSIZE` for a
/// msghdr (`__copy_msghdr`) and `EINVAL` for readv/writev (`import_iovec`).
pub fn read_iovecs(
    mem: &impl Memory,
    p: u64,
    n: u64,
    msghdr: bool,
) -> Result<Vec<(u64, u64)>, Error> {
    if n > UIO_MAXIOV {
        return Err(if msghdr {
            Errno::EMSGSIZE.why(afunix::rule!(__copy_msghdr, "msg_iovlen > UIO_MAXIOV"))
        } else {
            Errno::EINVAL.why(afunix::rule!(import_iovec, "more than UIO_MAXIOV iovecs"))
        });
    }
    if n == 0 {
        return Ok(Vec::new());
    }
    let b = mem.read(p, n as usize * 16).ok_or_else(efault)?;
    Ok((0..n as usize)
        .map(|i| (u64_at(&b, 16 * i), u64_at(&b, 16 * i + 8)))
        .collect())
}

/// The bytes a send takes from `iov`: at most [`SEND_MAX`] in all (the
/// rest of a longer request is left unread, as a partial stream send
/// leaves it); a NULL base is a [`SendBuf::Null`] of its length (the
/// model decides whether that faults). Returns the buffers and the number
/// of bytes read.
pub fn gather(mem: &impl Memory, iov: &[(u64, u64)]) -> Result<(Vec<SendBuf>, usize), Error> {
    let mut bufs = Vec::with_capacity(iov.len());
    let mut total = 0usize;
    for &(base, len) in iov {
        let len = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .min(SEND_MAX - total);
        if base == 0 {
            bufs.push(SendBuf::Null(len));
            continue;
        }
        let b = mem.read(base, len).ok_or_else(efault)?;
        total += b.len();
        bufs.push(SendBuf::Bytes(b));
    }
    Ok((bufs, total))
}

/// The control buffer of a `sendmsg` (`msg_control`, `msg_controllen` of
/// `hdr`): `ENOBUFS` above `INT_MAX` or `optmem_max` (`____sys_sendmsg`,
/// `sock_kmalloc`), empty when either is 0.
pub fn read_control(mem: &impl Memory, hdr: &[u8], optmem_max: u64) -> Result<Vec<u8>, Error> {
    let (p, len) = (u64_at(hdr, 32), u64_at(hdr, 40));
    if p == 0 || len == 0 {
        return Ok(Vec::new());
    }
    if len > i32::MAX as u64 || len > optmem_max {
        return Err(Errno::ENOBUFS.why(afunix::rule!(
            ____sys_sendmsg,
            "msg_controllen above INT_MAX or net.core.optmem_max"
        )));
    }
    mem.read(p, len as usize).ok_or_else(efault)
}

/// A socket address of `len` bytes at `p` (`move_addr_to_kernel`). A
/// length outside `[0, 128]` is the kernel's `EINVAL`, which the model
/// gives for any address longer than 128: it gets 129 zero bytes.
pub fn read_addr(mem: &impl Memory, p: u64, len: u64) -> Result<Vec<u8>, Error> {
    let len = len as i32;
    if !(0..=ADDR_MAX as i32).contains(&len) {
        return Ok(vec![0; ADDR_MAX + 1]);
    }
    if len == 0 {
        return Ok(Vec::new());
    }
    mem.read(p, len as usize).ok_or_else(efault)
}

/// A NUL-terminated string at `p`, at most [`PATH_MAX`] bytes with its
/// NUL (`None`: unmapped, or too long). Read a page at a time, so a string
/// that ends before an unmapped page is still read.
pub fn read_cstr(mem: &impl Memory, p: u64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = p;
    while out.len() < PATH_MAX {
        let chunk = (4096 - (at % 4096)) as usize;
        let b = mem.read(at, chunk)?;
        if let Some(i) = b.iter().position(|&c| c == 0) {
            out.extend_from_slice(&b[..i]);
            return Some(out);
        }
        out.extend_from_slice(&b);
        at = at.checked_add(chunk as u64)?;
    }
    None
}
