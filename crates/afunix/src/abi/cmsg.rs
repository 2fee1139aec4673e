//! Control messages: `struct cmsghdr { size_t cmsg_len; int cmsg_level;
//! int cmsg_type; }` (16 bytes on x86_64, data aligned to 8).
//!
//! Three views of a control buffer, one per party that touches it:
//! - [`kernel_cmsgs`]: how `__scm_send` walks what `sendmsg` was given;
//! - [`user_cmsgs`]: how a C program walks what `recvmsg` returned (glibc);
//! - [`CmsgBuilder`] / `ControlWriter` (crate-internal): how a C program builds a buffer for
//!   `sendmsg`, and how the kernel fills one for `recvmsg` (`put_cmsg`,
//!   `scm_detach_fds`).

use super::consts::{SCM_CREDENTIALS, SCM_RIGHTS, SOL_SOCKET};
use super::ucred::Ucred;
use super::{i32_at, u64_at};
use crate::Errno;

/// `sizeof(struct cmsghdr)` on x86_64.
pub const CMSG_HDR_LEN: usize = 16;

/// `CMSG_ALIGN(n)`: round up to `sizeof(long)` = 8 (saturating).
pub const fn cmsg_align(n: usize) -> usize {
    n.saturating_add(7) & !7
}

/// `CMSG_LEN(data_len)`: header plus data, no trailing padding (saturating).
pub const fn cmsg_len(data_len: usize) -> usize {
    CMSG_HDR_LEN.saturating_add(data_len)
}

/// `CMSG_SPACE(data_len)`: header plus data padded to 8 (saturating).
pub const fn cmsg_space(data_len: usize) -> usize {
    CMSG_HDR_LEN.saturating_add(cmsg_align(data_len))
}

/// One control message as found in a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmsgRef<'a> {
    /// `cmsg_level`.
    pub level: i32,
    /// `cmsg_type`.
    pub ty: i32,
    /// `cmsg_len` as written in the header (may be larger than what the buffer holds,
    /// for [`user_cmsgs`] only).
    pub cmsg_len: u64,
    /// The data: bytes `[16, cmsg_len)` of the message, clamped to the buffer.
    pub data: &'a [u8],
    /// Where the message's header starts in the buffer (its data starts
    /// 16 bytes later).
    pub offset: usize,
}

impl CmsgRef<'_> {
    /// The data read as an array of `int` (SCM_RIGHTS); a trailing partial int is ignored.
    pub fn ints(&self) -> Vec<i32> {
        self.data
            .chunks_exact(4)
            .filter_map(|c| i32_at(c, 0))
            .collect()
    }

    /// The first `int` of the data (`SCM_PIDFD`, `SCM_INQ`), if it holds
    /// one.
    pub fn int(&self) -> Option<i32> {
        i32_at(self.data, 0)
    }

    /// The byte offsets in the buffer of each whole `int` of the data
    /// (where `SCM_RIGHTS` keeps its fds: what a backend rewrites).
    pub fn int_offsets(&self) -> impl Iterator<Item = usize> + '_ {
        let at = self.offset + CMSG_HDR_LEN;
        (0..self.data.len() / 4).map(move |i| at + 4 * i)
    }

    /// The message as found: its header (`cmsg_len` as written) and its
    /// data, without padding, appended to `out`.
    pub fn write_raw(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.cmsg_len.to_ne_bytes());
        out.extend_from_slice(&self.level.to_ne_bytes());
        out.extend_from_slice(&self.ty.to_ne_bytes());
        out.extend_from_slice(self.data);
    }

    /// Whether this is `SOL_SOCKET`/`SCM_RIGHTS`.
    pub fn is_rights(&self) -> bool {
        self.level == SOL_SOCKET && self.ty == SCM_RIGHTS
    }

    /// Whether this is `SOL_SOCKET`/`SCM_CREDENTIALS`.
    pub fn is_creds(&self) -> bool {
        self.level == SOL_SOCKET && self.ty == SCM_CREDENTIALS
    }
}

/// A control message, decoded (smoltcp's `Repr`): what the kernel puts in
/// a `recvmsg` buffer for a unix socket, and what a program may send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cmsg {
    /// `SCM_RIGHTS`: fds (in the receiver, installed; in a send buffer,
    /// the sender's).
    Rights(Vec<crate::Fd>),
    /// `SCM_CREDENTIALS`: a `struct ucred`.
    Credentials(Ucred),
    /// `SCM_PIDFD`: a pidfd of the sender, installed in the receiver.
    Pidfd(crate::Fd),
    /// `SCM_INQ` (`SO_INQ` on a stream socket): bytes left to read.
    Inq(i32),
    /// Anything else, or a message whose data has the wrong length for its
    /// type: the raw parts.
    Other {
        /// `cmsg_level`.
        level: i32,
        /// `cmsg_type`.
        ty: i32,
        /// The data.
        data: Vec<u8>,
    },
}

impl Cmsg {
    /// Decode one message; a known type with a malformed length stays
    /// [`Cmsg::Other`] (never a guess).
    pub fn parse(c: &CmsgRef<'_>) -> Cmsg {
        use super::consts::{SCM_INQ, SCM_PIDFD};
        let int = || (c.data.len() == 4).then(|| i32_at(c.data, 0)).flatten();
        if c.level == SOL_SOCKET {
            match c.ty {
                SCM_RIGHTS if c.data.len().is_multiple_of(4) => {
                    return Cmsg::Rights(c.ints().into_iter().map(crate::Fd::from_raw).collect())
                }
                SCM_CREDENTIALS if c.data.len() == Ucred::SIZE => {
                    if let Some(u) = Ucred::parse(c.data) {
                        return Cmsg::Credentials(u);
                    }
                }
                SCM_PIDFD => {
                    if let Some(fd) = int() {
                        return Cmsg::Pidfd(crate::Fd::from_raw(fd));
                    }
                }
                SCM_INQ => {
                    if let Some(n) = int() {
                        return Cmsg::Inq(n);
                    }
                }
                _ => {}
            }
        }
        Cmsg::Other {
            level: c.level,
            ty: c.ty,
            data: c.data.to_vec(),
        }
    }

    /// Append this message to a send buffer (`CMSG_SPACE` each).
    pub fn emit(&self, b: &mut CmsgBuilder) {
        use super::consts::{SCM_INQ, SCM_PIDFD};
        match self {
            Cmsg::Rights(fds) => {
                b.rights(fds);
            }
            Cmsg::Credentials(u) => {
                b.creds(*u);
            }
            Cmsg::Pidfd(fd) => {
                b.push(SOL_SOCKET, SCM_PIDFD, &fd.as_raw().to_ne_bytes());
            }
            Cmsg::Inq(n) => {
                b.push(SOL_SOCKET, SCM_INQ, &n.to_ne_bytes());
            }
            Cmsg::Other { level, ty, data } => {
                b.push(*level, *ty, data);
            }
        }
    }
}

/// Every message of a `recvmsg` control buffer, decoded (walked as a C
/// program walks it, [`user_cmsgs`]).
pub fn parse_cmsgs(buf: &[u8]) -> impl Iterator<Item = Cmsg> + '_ {
    user_cmsgs(buf).map(|c| Cmsg::parse(&c))
}

/// The fds of every `SCM_RIGHTS` message of a `recvmsg` control buffer,
/// in order (what [`Cmsg::parse`] reads as rights), without collecting
/// them: `rights(&control[..lens.controllen]).next()` is the first fd passed.
pub fn rights(buf: &[u8]) -> impl Iterator<Item = crate::Fd> + '_ {
    user_cmsgs(buf)
        .filter(|c| c.level == SOL_SOCKET && c.ty == SCM_RIGHTS && c.data.len().is_multiple_of(4))
        .flat_map(|c| c.data.chunks_exact(4).filter_map(|b| i32_at(b, 0)))
        .map(crate::Fd::from_raw)
}

/// The header at `off`: `(cmsg_len, level, type)`, if 16 bytes are there.
fn header_at(buf: &[u8], off: usize) -> Option<(u64, i32, i32)> {
    Some((
        u64_at(buf, off)?,
        i32_at(buf, off + 8)?,
        i32_at(buf, off + 12)?,
    ))
}

/// The offset of the header after the one at `off` with length `len`
/// (`off + CMSG_ALIGN(len)`), or `None` if it overflows.
fn next_offset(off: usize, len: u64) -> Option<usize> {
    let len = usize::try_from(len).ok()?;
    off.checked_add(len)?.checked_add(7).map(|n| n & !7)
}

/// The kernel's walk of a `sendmsg` control buffer; see [`kernel_cmsgs`].
#[derive(Clone, Debug)]
pub struct KernelCmsgs<'a> {
    buf: &'a [u8],
    off: usize,
    done: bool,
}

// for_each_cmsghdr + CMSG_OK, as __scm_send uses them
/// The kernel's walk in `__scm_send`: `for_each_cmsghdr` (the first header
/// only if `buf.len() >= 16`; the next header at `cmsg_align(cmsg_len)`; a
/// header that does not fit whole ends the walk; trailing bytes < 16 are
/// ignored) plus `CMSG_OK` (`cmsg_len < 16` or `cmsg_len` > bytes left from
/// this header gives `Err(EINVAL)` and the walk stops after it).
/// `data` is bytes `[16, cmsg_len)` of the header.
pub fn kernel_cmsgs(buf: &[u8]) -> KernelCmsgs<'_> {
    KernelCmsgs {
        buf,
        off: 0,
        done: false,
    }
}

/// `__scm_send`'s `!CMSG_OK`, with its note.
#[cold]
fn not_cmsg_ok(off: usize, len: u64, left: usize) -> crate::errno::Error {
    crate::path::note(|| format!("cmsg at offset {off}: cmsg_len {len}, {left} bytes left"));
    Errno::EINVAL.why(rule!(
        __scm_send,
        "!CMSG_OK (cmsg_len < sizeof(cmsghdr) or > bytes left in msg_control)",
    ))
}

impl<'a> Iterator for KernelCmsgs<'a> {
    type Item = Result<CmsgRef<'a>, crate::errno::Error>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let Some((len, level, ty)) = header_at(self.buf, self.off) else {
            // __cmsg_nxthdr / __CMSG_FIRSTHDR: the header does not fit whole.
            self.done = true;
            return None;
        };
        let left = self.buf.len().saturating_sub(self.off);
        let data = usize::try_from(len)
            .ok()
            .filter(|&l| l >= CMSG_HDR_LEN && l <= left)
            .and_then(|l| self.buf.get(self.off + CMSG_HDR_LEN..self.off + l));
        let Some(data) = data else {
            self.done = true;
            return Some(Err(not_cmsg_ok(self.off, len, left)));
        };
        let offset = self.off;
        match next_offset(self.off, len) {
            Some(n) => self.off = n,
            None => self.done = true,
        }
        Some(Ok(CmsgRef {
            level,
            ty,
            cmsg_len: len,
            data,
            offset,
        }))
    }
}

/// The user-space walk of a `recvmsg` control buffer; see [`user_cmsgs`].
#[derive(Clone, Debug)]
pub struct UserCmsgs<'a> {
    buf: &'a [u8],
    off: usize,
    done: bool,
}

// glibc CMSG_FIRSTHDR / __cmsg_nxthdr
/// The user-space walk (glibc `CMSG_FIRSTHDR`/`CMSG_NXTHDR`) over a control
/// buffer returned by `recvmsg` (pass exactly `msg_controllen` bytes): stops
/// at a header that does not fit or whose `cmsg_len < 16`; `data` is clamped
/// to the buffer (a truncated cmsg from `put_cmsg` yields what is there).
pub fn user_cmsgs(buf: &[u8]) -> UserCmsgs<'_> {
    UserCmsgs {
        buf,
        off: 0,
        done: false,
    }
}

impl<'a> Iterator for UserCmsgs<'a> {
    type Item = CmsgRef<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let Some((len, level, ty)) = header_at(self.buf, self.off) else {
            self.done = true;
            return None;
        };
        if len < CMSG_HDR_LEN as u64 {
            self.done = true;
            return None;
        }
        let start = self.off + CMSG_HDR_LEN; // header_at checked off + 16 <= len
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| self.off.checked_add(l))
            .map_or(self.buf.len(), |e| e.min(self.buf.len()));
        let data = self.buf.get(start..end).unwrap_or(&[]);
        let offset = self.off;
        // __cmsg_nxthdr: the next header is used only if this one *and* a
        // whole next header fit in what is left.
        match next_offset(self.off, len) {
            Some(n)
                if n.checked_add(CMSG_HDR_LEN)
                    .is_some_and(|e| e <= self.buf.len()) =>
            {
                self.off = n
            }
            _ => self.done = true,
        }
        Some(CmsgRef {
            level,
            ty,
            cmsg_len: len,
            data,
            offset,
        })
    }
}

/// Write one `SOL_SOCKET`/`SCM_RIGHTS` message carrying `fds` at the start
/// of `buf`, as a C program fills a `msg_control` it owns (no allocation:
/// for a caller that sends in a loop). Returns its `cmsg_len`, or `None`
/// when `buf` has no room for it.
pub fn write_rights(buf: &mut [u8], fds: &[i32]) -> Option<usize> {
    let len = cmsg_len(4 * fds.len());
    let out = buf.get_mut(..len)?;
    out[..8].copy_from_slice(&(len as u64).to_ne_bytes());
    out[8..12].copy_from_slice(&SOL_SOCKET.to_ne_bytes());
    out[12..16].copy_from_slice(&SCM_RIGHTS.to_ne_bytes());
    for (o, fd) in out[CMSG_HDR_LEN..].chunks_exact_mut(4).zip(fds) {
        o.copy_from_slice(&fd.to_ne_bytes());
    }
    Some(len)
}

/// Builds a control buffer as a C program does for `sendmsg`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CmsgBuilder {
    buf: Vec<u8>,
}

impl CmsgBuilder {
    /// An empty control buffer.
    pub fn new() -> Self {
        CmsgBuilder { buf: Vec::new() }
    }

    /// Append a cmsg: a header with `cmsg_len = cmsg_len(data.len())`, the
    /// data, and zero padding up to `cmsg_space(data.len())`.
    pub fn push(&mut self, level: i32, ty: i32, data: &[u8]) -> &mut Self {
        self.header(level, ty, data.len());
        self.buf.extend_from_slice(data);
        self.pad(data.len());
        self
    }

    /// The 16-byte header of a cmsg of `len` data bytes, with room
    /// reserved for the whole of it (`cmsg_space(len)`).
    fn header(&mut self, level: i32, ty: i32, len: usize) {
        self.buf.reserve(cmsg_space(len));
        self.buf
            .extend_from_slice(&(cmsg_len(len) as u64).to_le_bytes());
        self.buf.extend_from_slice(&level.to_le_bytes());
        self.buf.extend_from_slice(&ty.to_le_bytes());
    }

    /// Zero padding after `len` data bytes, up to `cmsg_align(len)`.
    fn pad(&mut self, len: usize) {
        let pad = cmsg_align(len) - len;
        self.buf.extend(core::iter::repeat_n(0u8, pad));
    }

    /// Append `SOL_SOCKET`/`SCM_RIGHTS` carrying `fds` ([`crate::Fd`]s of a
    /// world, or raw numbers as a program writes them).
    pub fn rights<F: Copy + Into<i32>>(&mut self, fds: &[F]) -> &mut Self {
        let len = 4 * fds.len();
        self.header(SOL_SOCKET, SCM_RIGHTS, len);
        for fd in fds {
            self.buf.extend_from_slice(&(*fd).into().to_ne_bytes());
        }
        self.pad(len);
        self
    }

    /// Append `SOL_SOCKET`/`SCM_CREDENTIALS` carrying `c`.
    pub fn creds(&mut self, c: Ucred) -> &mut Self {
        self.push(SOL_SOCKET, SCM_CREDENTIALS, &c.to_bytes())
    }

    /// Append bytes verbatim (for malformed buffers).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// The buffer built so far (`msg_control`, with `msg_controllen` = its length).
    pub fn finish(&self) -> Vec<u8> {
        self.buf.clone()
    }

    /// The buffer built, without a copy.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Bytes built so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// The kernel side of `recvmsg`'s control buffer: `capacity` bytes
/// (`msg_controllen` on entry) filled with `put_cmsg`'s truncation rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ControlWriter {
    buf: Vec<u8>,
    capacity: usize,
    ctrunc: bool,
}

impl ControlWriter {
    /// A writer for a user buffer of `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        ControlWriter {
            buf: Vec::new(),
            capacity,
            ctrunc: false,
        }
    }

    /// Bytes left (`msg_controllen` as the kernel decrements it).
    pub fn remaining(&self) -> usize {
        self.capacity.saturating_sub(self.buf.len())
    }

    /// Set `MSG_CTRUNC`.
    pub fn set_ctrunc(&mut self) {
        self.ctrunc = true;
    }

    /// Whether `MSG_CTRUNC` is to be reported.
    pub fn ctrunc(&self) -> bool {
        self.ctrunc
    }

    /// Write the 16-byte header, then `data` cut to `cmlen - 16`, then advance by
    /// `advance` in total (zero padding: the kernel leaves those user bytes as they were).
    fn emit(&mut self, level: i32, ty: i32, cmlen: usize, data: &[u8], advance: usize) {
        let n = cmlen.saturating_sub(CMSG_HDR_LEN).min(data.len());
        self.emit_with(level, ty, cmlen, advance, |buf| {
            buf.extend_from_slice(data.get(..n).unwrap_or(&[]));
        });
    }

    /// [`Self::emit`] with the data written by `data` (at most
    /// `cmlen - 16` bytes, which `put_rights` writes straight from the fds).
    fn emit_with(
        &mut self,
        level: i32,
        ty: i32,
        cmlen: usize,
        advance: usize,
        data: impl FnOnce(&mut Vec<u8>),
    ) {
        let start = self.buf.len();
        // One allocation for the whole message, not one per part (the
        // first one exact: no growth path for a Vec with nothing in it).
        let end = start.saturating_add(advance).min(self.capacity);
        let need = end.max(start + CMSG_HDR_LEN) - start;
        if self.buf.capacity() == 0 {
            self.buf = Vec::with_capacity(need);
        } else {
            self.buf.reserve(need);
        }
        self.buf.extend_from_slice(&(cmlen as u64).to_le_bytes());
        self.buf.extend_from_slice(&level.to_le_bytes());
        self.buf.extend_from_slice(&ty.to_le_bytes());
        data(&mut self.buf);
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        self.buf.truncate(end.max(start));
    }

    // put_cmsg
    /// Write one cmsg as `put_cmsg` does: fewer than 16 bytes left sets
    /// `MSG_CTRUNC` and writes nothing; fewer than `cmsg_len(len)` left writes a
    /// truncated cmsg whose `cmsg_len` is the space left and sets `MSG_CTRUNC`;
    /// then advances by `min(cmsg_space(len), left)`.
    pub fn put(&mut self, level: i32, ty: i32, data: &[u8]) {
        let left = self.remaining();
        if left < CMSG_HDR_LEN {
            self.ctrunc = true;
            return;
        }
        let mut cmlen = cmsg_len(data.len());
        if left < cmlen {
            self.ctrunc = true;
            cmlen = left;
        }
        let advance = cmsg_space(data.len()).min(left);
        self.emit(level, ty, cmlen, data, advance);
    }

    // scm_max_fds
    /// Room for how many fds (`scm_detach_fds`: `fdmax = (remaining - 16) / 4`
    /// if `remaining > 16`, else 0).
    pub fn rights_room(&self) -> usize {
        let left = self.remaining();
        if left <= CMSG_HDR_LEN {
            0
        } else {
            (left - CMSG_HDR_LEN) / 4
        }
    }

    // scm_detach_fds (the header/count arithmetic)
    /// Write `SCM_RIGHTS` for the `i = fds.len()` fds the caller installed
    /// (at most [`rights_room`](Self::rights_room); extra ones are ignored):
    /// nothing if `i == 0`, else `cmsg_len = cmsg_len(4 * i)` and an advance of
    /// `min(cmsg_space(4 * i), remaining)`. Setting `MSG_CTRUNC` when fewer fds
    /// were installed than the message carried is the caller's (it knows the count).
    pub fn put_rights(&mut self, fds: &[i32]) {
        let i = fds.len().min(self.rights_room());
        if i == 0 {
            return;
        }
        let len = 4 * i;
        let advance = cmsg_space(len).min(self.remaining());
        self.emit_with(SOL_SOCKET, SCM_RIGHTS, cmsg_len(len), advance, |buf| {
            for fd in fds.iter().take(i) {
                buf.extend_from_slice(&fd.to_le_bytes());
            }
        });
    }

    /// Exactly the bytes written (the returned `msg_controllen` is their length).
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Bytes written so far.
    #[cfg(test)]
    fn written(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hdr(len: u64, level: i32, ty: i32) -> Vec<u8> {
        let mut v = len.to_le_bytes().to_vec();
        v.extend_from_slice(&level.to_le_bytes());
        v.extend_from_slice(&ty.to_le_bytes());
        v
    }

    #[test]
    fn len_and_space_table() {
        // The CMSG_LEN/CMSG_SPACE table of the reference doc.
        for (data, len, space) in [
            (4, 20, 24),
            (8, 24, 24),
            (12, 28, 32),
            (4 * 253, 1028, 1032),
        ] {
            assert_eq!(cmsg_len(data), len);
            assert_eq!(cmsg_space(data), space);
        }
        assert_eq!(cmsg_len(Ucred::SIZE), 28);
        assert_eq!(cmsg_align(0), 0);
        assert_eq!(cmsg_align(1), 8);
        assert_eq!(cmsg_align(usize::MAX), usize::MAX & !7);
        assert_eq!(cmsg_space(usize::MAX), usize::MAX);
    }

    #[test]
    fn kernel_walk_well_formed() {
        let buf = CmsgBuilder::new()
            .rights(&[3, 4, 5])
            .push(6, 7, b"x")
            .finish();
        let v: Vec<_> = kernel_cmsgs(&buf).collect();
        assert_eq!(v.len(), 2);
        let a = v[0].unwrap();
        assert!(a.is_rights());
        assert_eq!(a.cmsg_len, 28);
        assert_eq!(a.ints(), vec![3, 4, 5]);
        let b = v[1].unwrap();
        assert_eq!((b.level, b.ty, b.cmsg_len, b.data), (6, 7, 17, &b"x"[..]));
    }

    #[test]
    fn kernel_walk_short_buffer_is_empty() {
        assert_eq!(kernel_cmsgs(&[0u8; 15]).count(), 0);
        assert_eq!(kernel_cmsgs(&[]).count(), 0);
    }

    #[test]
    fn kernel_walk_bad_len_is_einval_and_stops() {
        let mut buf = hdr(15, 1, 1);
        buf.extend(hdr(16, 1, 1));
        let v: Vec<_> = kernel_cmsgs(&buf).collect();
        assert_eq!(v, vec![Err(Errno::EINVAL.into())]);
        // cmsg_len larger than the bytes left.
        let buf = hdr(17, 1, 1);
        assert_eq!(
            kernel_cmsgs(&buf).collect::<Vec<_>>(),
            vec![Err(Errno::EINVAL.into())]
        );
        let buf = hdr(u64::MAX, 1, 1);
        assert_eq!(
            kernel_cmsgs(&buf).collect::<Vec<_>>(),
            vec![Err(Errno::EINVAL.into())]
        );
    }

    #[test]
    fn kernel_walk_ignores_trailing_bytes() {
        // 9_cmsg_einval style: a good cmsg followed by < 16 stray bytes.
        let mut buf = CmsgBuilder::new().rights(&[1]).finish();
        buf.extend_from_slice(&[0xff; 15]);
        let v: Vec<_> = kernel_cmsgs(&buf).collect();
        assert_eq!(v.len(), 1);
        assert!(v[0].is_ok());
        // cmsg_len 20 in a 20-byte buffer: valid, next header at 24 does not fit.
        let mut buf = hdr(20, 1, 1);
        buf.extend_from_slice(&7i32.to_le_bytes());
        assert_eq!(kernel_cmsgs(&buf).count(), 1);
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .filter_map(|i| s.get(2 * i..2 * i + 2))
            .filter_map(|b| u8::from_str_radix(b, 16).ok())
            .collect()
    }

    #[test]
    fn scenario_09_vectors() {
        // The control buffers of /work/shared/scenarios/09_cmsg_einval.scn.
        // cmsg_len 12 < 16: EINVAL from the walk itself.
        let b = unhex("0c000000000000000100000001000000");
        assert_eq!(
            kernel_cmsgs(&b).collect::<Vec<_>>(),
            vec![Err(Errno::EINVAL.into())]
        );
        // Unknown SOL_SOCKET type 0x63: the walk is fine (the EINVAL is __scm_send's switch).
        let b = unhex("140000000000000001000000630000000300000000000000");
        let v: Vec<_> = kernel_cmsgs(&b).collect();
        assert_eq!(v.len(), 1);
        assert_eq!(
            v[0].map(|c| (c.level, c.ty, c.ints())),
            Ok((SOL_SOCKET, 0x63, vec![3]))
        );
        // cmsg_len 24 > 20 bytes of control: EINVAL.
        let b = unhex("1800000000000000010000000100000003000000");
        assert_eq!(
            kernel_cmsgs(&b).collect::<Vec<_>>(),
            vec![Err(Errno::EINVAL.into())]
        );
        // Level 0: well formed (the caller skips it).
        let b = unhex("140000000000000000000000010000000300000000000000");
        let v: Vec<_> = kernel_cmsgs(&b).collect();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].map(|c| c.level), Ok(0));
    }

    #[test]
    fn scenario_12_room() {
        // space=rights:1 is CMSG_SPACE(4) = 24 bytes: room for 2 of 3 fds.
        let w = ControlWriter::new(cmsg_space(4));
        assert_eq!(w.rights_room(), 2);
        assert_eq!(ControlWriter::new(0).rights_room(), 0);
    }

    #[test]
    fn user_walk_stops_and_clamps() {
        // A put_cmsg-truncated cmsg: cmsg_len = 20 in a 20-byte buffer.
        let mut w = ControlWriter::new(20);
        w.put(
            SOL_SOCKET,
            SCM_CREDENTIALS,
            &Ucred {
                pid: 1,
                uid: 2,
                gid: 3,
            }
            .to_bytes(),
        );
        assert!(w.ctrunc());
        let buf = w.into_bytes();
        assert_eq!(buf.len(), 20);
        let v: Vec<_> = user_cmsgs(&buf).collect();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].cmsg_len, 20);
        assert_eq!(v[0].data, &1i32.to_le_bytes());
        // cmsg_len claims more than there is: data clamped.
        let mut buf = hdr(100, 1, 1);
        buf.extend_from_slice(b"abc");
        let v: Vec<_> = user_cmsgs(&buf).collect();
        assert_eq!(v[0].data, b"abc");
        // cmsg_len < 16 stops the walk.
        assert_eq!(user_cmsgs(&hdr(8, 1, 1)).count(), 0);
    }

    #[test]
    fn put_cmsg_truncation_rules() {
        // < 16 bytes: nothing written, CTRUNC.
        let mut w = ControlWriter::new(15);
        w.put(1, 2, b"abcd");
        assert!(w.ctrunc());
        assert_eq!(w.into_bytes(), Vec::<u8>::new());
        // Fits exactly in CMSG_LEN but not CMSG_SPACE: no CTRUNC, advance = left.
        let mut w = ControlWriter::new(20);
        w.put(1, 2, b"abcd");
        assert!(!w.ctrunc());
        assert_eq!(w.remaining(), 0);
        let b = w.into_bytes();
        assert_eq!(b.len(), 20);
        assert_eq!(&b[..8], &20u64.to_le_bytes());
        // Two cmsgs: creds (space 32) then a 4-byte int (space 24).
        let mut w = ControlWriter::new(56);
        w.put(SOL_SOCKET, SCM_CREDENTIALS, &[0; 12]);
        assert_eq!(w.remaining(), 24);
        w.put(SOL_SOCKET, 84, &5i32.to_le_bytes());
        assert_eq!(w.remaining(), 0);
        assert!(!w.ctrunc());
        let b = w.into_bytes();
        let v: Vec<_> = user_cmsgs(&b).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].ints(), vec![5]);
    }

    #[test]
    fn detach_fds_arithmetic() {
        let w = ControlWriter::new(16);
        assert_eq!(w.rights_room(), 0);
        let w = ControlWriter::new(23);
        assert_eq!(w.rights_room(), 1);
        // 12_rights_ctrunc style: room for 1 of 2 fds: cmsg_len 20, advance 24 -> clamp.
        let mut w = ControlWriter::new(CMSG_HDR_LEN + 4);
        assert_eq!(w.rights_room(), 1);
        w.put_rights(&[7, 8]);
        let b = w.into_bytes();
        assert_eq!(b.len(), 20);
        let v: Vec<_> = user_cmsgs(&b).collect();
        assert_eq!(v[0].ints(), vec![7]);
        let mut w = ControlWriter::new(cmsg_space(8));
        w.put_rights(&[]);
        assert_eq!(w.written(), 0);
        w.put_rights(&[3, 4]);
        assert_eq!(w.into_bytes().len(), 24);
    }

    fn msgs() -> impl Strategy<Value = Vec<(i32, i32, Vec<u8>)>> {
        proptest::collection::vec(
            (
                any::<i32>(),
                any::<i32>(),
                proptest::collection::vec(any::<u8>(), 0..40),
            ),
            0..6,
        )
    }

    proptest! {
        #[test]
        fn walks_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut errors = 0;
            for r in kernel_cmsgs(&buf) {
                match r {
                    Ok(c) => prop_assert_eq!(c.data.len() as u64 + 16, c.cmsg_len),
                    Err(e) => {
                        prop_assert_eq!(e, Errno::EINVAL);
                        errors += 1;
                    }
                }
            }
            prop_assert!(errors <= 1, "the walk stops at the first bad header");
            for c in user_cmsgs(&buf) {
                prop_assert!(c.cmsg_len >= 16);
            }
        }

        #[test]
        fn builder_walks_back(m in msgs()) {
            let mut b = CmsgBuilder::new();
            for (l, t, d) in &m {
                b.push(*l, *t, d);
            }
            let buf = b.finish();
            let k: Vec<_> = kernel_cmsgs(&buf).map(|r| r.map(|c| (c.level, c.ty, c.data.to_vec()))).collect();
            let want: Vec<Result<_, crate::errno::Error>> = m.iter().cloned().map(Ok).collect();
            prop_assert_eq!(k, want);
            let u: Vec<_> = user_cmsgs(&buf).map(|c| (c.level, c.ty, c.data.to_vec())).collect();
            prop_assert_eq!(u, m);
        }

        #[test]
        fn writer_never_exceeds_capacity(cap in 0usize..120, m in msgs(), fds in proptest::collection::vec(any::<i32>(), 0..40)) {
            let mut w = ControlWriter::new(cap);
            for (l, t, d) in &m {
                w.put(*l, *t, d);
                prop_assert!(w.written() <= cap);
            }
            let room = w.rights_room();
            w.put_rights(&fds);
            prop_assert!(w.written() <= cap);
            let ctrunc = w.ctrunc();
            let b = w.into_bytes();
            prop_assert!(b.len() <= cap);
            // What the kernel wrote walks back in order (possibly truncated).
            let got: Vec<_> = user_cmsgs(&b).collect();
            let n_put = m.len() + usize::from(room > 0 && !fds.is_empty());
            prop_assert!(got.len() <= n_put);
            if !ctrunc {
                prop_assert_eq!(got.len(), n_put);
            }
        }
    }
}
