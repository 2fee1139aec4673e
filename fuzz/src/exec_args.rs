//! The `afunix exec` supervisor's reading of a traced program's call
//! arguments (`afunix_exec::decode`), on a fake address space.
//!
//! Input: byte 0 picks the call shape (sendmsg, writev, an address, a
//! path) and the socket type; bytes 1–2 place the argument pointer; the
//! whole input is also the memory, mapped at [`BASE`] (anything else is
//! unmapped, so pointers the fuzzer writes as small integers are valid).
//! Never a panic; what is decoded is exactly what the memory holds (the
//! iovec array, every gathered byte, the control buffer, the address, the
//! path), within the kernel's bounds (`UIO_MAXIOV`, 16 MiB per send,
//! `optmem_max`, 128-byte addresses, `PATH_MAX`); then the decoded send
//! goes to the model, whose invariants hold and which leaves nothing.

use afunix::abi::consts::*;
use afunix::net::socket::{SendBuf, SendHdr};
use afunix::{TaskSpec, World};
use afunix_exec::decode::{self, Memory};

/// Where the input is mapped.
const BASE: u64 = 0x40;
/// `net.core.optmem_max` as this machine has it.
const OPTMEM_MAX: u64 = 131_072;

struct Image<'a>(&'a [u8]);

impl Memory for Image<'_> {
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let off = usize::try_from(addr.checked_sub(BASE)?).ok()?;
        self.0.get(off..off.checked_add(len)?).map(<[u8]>::to_vec)
    }
}

fn at(mem: &Image<'_>, addr: u64, len: usize) -> Vec<u8> {
    if len == 0 {
        return Vec::new();
    }
    mem.read(addr, len).expect("decoded from unmapped memory")
}

/// The iovec array really is what memory holds at `p`.
fn check_iov(mem: &Image<'_>, p: u64, iov: &[(u64, u64)]) {
    assert!(iov.len() as u64 <= decode::UIO_MAXIOV);
    if iov.is_empty() {
        return;
    }
    let raw = at(mem, p, iov.len() * 16);
    for (i, &(b, l)) in iov.iter().enumerate() {
        assert_eq!(b, decode::u64_at(&raw, 16 * i));
        assert_eq!(l, decode::u64_at(&raw, 16 * i + 8));
    }
}

/// Every gathered byte is the memory's, and no more than SEND_MAX.
fn check_gather(mem: &Image<'_>, iov: &[(u64, u64)]) -> Option<(Vec<SendBuf>, usize)> {
    let (bufs, total) = decode::gather(mem, iov).ok()?;
    assert!(total <= decode::SEND_MAX);
    assert_eq!(bufs.len(), iov.len());
    let mut sum = 0;
    for (b, &(base, _)) in bufs.iter().zip(iov) {
        match b {
            SendBuf::Bytes(v) => {
                assert_eq!(*v, at(mem, base, v.len()));
                sum += v.len();
            }
            SendBuf::Null(_) => assert_eq!(base, 0),
        }
    }
    assert_eq!(sum, total);
    Some((bufs, total))
}

/// One input (the fuzz target's body; also replayed by `tests/regressions.rs`).
pub fn run(data: &[u8]) {
    let [sel, lo, hi, ..] = *data else {
        return;
    };
    let mem = Image(data);
    let arg = BASE + u64::from(u16::from_le_bytes([lo, hi])) % (data.len() as u64 + 8);
    let ty = [SOCK_DGRAM, SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM][usize::from(sel >> 2 & 3)];
    let (name, bufs, control) = match sel & 3 {
        // sendmsg(fd, msg, flags)
        0 => {
            let Ok((hdr, iov)) = decode::read_msghdr(&mem, arg) else {
                return;
            };
            assert_eq!(hdr, at(&mem, arg, decode::MSGHDR));
            check_iov(&mem, decode::u64_at(&hdr, 16), &iov);
            let Some((bufs, _)) = check_gather(&mem, &iov) else {
                return;
            };
            let Ok(control) = decode::read_control(&mem, &hdr, OPTMEM_MAX) else {
                return;
            };
            assert!(control.len() as u64 <= OPTMEM_MAX);
            if !control.is_empty() {
                assert_eq!(control, at(&mem, decode::u64_at(&hdr, 32), control.len()));
            }
            let (np, nl) = (decode::u64_at(&hdr, 0), u64::from(decode::u32_at(&hdr, 8)));
            let name = if np != 0 && nl > 0 {
                match decode::read_addr(&mem, np, nl) {
                    Ok(a) => Some(a),
                    Err(_) => return,
                }
            } else {
                None
            };
            (name, bufs, control)
        }
        // writev(fd, iov, n)
        1 => {
            let n = u64::from(sel >> 4);
            let Ok(iov) = decode::read_iovecs(&mem, arg, n, false) else {
                return;
            };
            check_iov(&mem, arg, &iov);
            let Some((bufs, _)) = check_gather(&mem, &iov) else {
                return;
            };
            (None, bufs, Vec::new())
        }
        // sendto(fd, buf, len, 0, addr, addrlen)
        2 => {
            let len = u64::from(sel >> 4) * 9;
            let Ok(a) = decode::read_addr(&mem, arg, len) else {
                return;
            };
            assert!(a.len() <= decode::ADDR_MAX + 1);
            if len as usize <= decode::ADDR_MAX {
                assert_eq!(a, at(&mem, arg, len as usize));
            }
            (Some(a), vec![SendBuf::Bytes(b"x".to_vec())], Vec::new())
        }
        // a path (bind's sun_path as the supervisor reads a filename)
        _ => {
            if let Some(p) = decode::read_cstr(&mem, arg) {
                assert!(p.len() < decode::PATH_MAX && !p.contains(&0));
                assert_eq!(p, at(&mem, arg, p.len()));
                assert_eq!(at(&mem, arg + p.len() as u64, 1), [0]);
            }
            return;
        }
    };
    // The decoded call, on the model.
    let w = World::new();
    let pid = w.spawn(&TaskSpec::default());
    let Ok([a, _b]) = w.socketpair(pid, ty) else {
        return;
    };
    let msg = SendHdr {
        name: name.as_deref(),
        iov: &bufs,
        control: &control,
    };
    let _ = w.sendmsg_iov(pid, a, &msg, MSG_DONTWAIT);
    if let Err(e) = w.check_invariants() {
        panic!("invariant broken: {e}");
    }
    w.exit(pid).unwrap();
    w.gc();
    assert_eq!(w.open_files(), 0, "files left after exit and gc");
}
