//! The backend ↔ helper protocol: a small hand-rolled binary encoding of
//! [`Request`] and [`Response`] (little-endian integers, length-prefixed
//! byte strings). Decoding never panics: malformed input gives `None`.

use afunix::backend::{Call, Out, Reply};
use afunix::Errno;

/// What the backend asks a helper to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    /// Run one scenario call.
    Call(Call),
    /// Fork (the new helper's channel end follows with `Go`, SCM_RIGHTS).
    Fork,
    /// Keeper: write `/proc/sys/net/unix/max_dgram_qlen`.
    SetQlen(u32),
    /// Keeper: create and close a unix socket (queues the in-flight GC).
    GcKick,
    /// Keeper: count the sockets in `/proc/self/net/unix`.
    Stat,
    /// Keeper: the namespaces are ready, go on with the setup. Fork: this
    /// frame carries the new channel end.
    Go,
}

/// What a helper answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Response {
    /// The helper is set up; its pid.
    Ready(i32),
    /// The keeper has unshared its namespaces.
    Unshared,
    /// The call is about to enter the kernel.
    Starting,
    /// The call returned.
    Reply(Reply),
    /// A fork succeeded: the child's pid.
    Forked(i32),
    /// Fork: the helper has made room; send the channel fd (with `Go`).
    SendFd,
    /// A setup or fork step failed.
    Fail(String),
    /// The result of an administrative request.
    Admin(i64),
}

#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn opt_bytes(&mut self, b: &Option<Vec<u8>>) {
        match b {
            None => self.u8(0),
            Some(b) => {
                self.u8(1);
                self.bytes(b);
            }
        }
    }
}

struct Dec<'a>(&'a [u8]);

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn usize(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?).ok()
    }
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = self.usize()?;
        self.take(n).map(|b| b.to_vec())
    }
    fn opt_bytes(&mut self) -> Option<Option<Vec<u8>>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(self.bytes()?)),
            _ => None,
        }
    }
    fn bool(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    fn end(&self) -> Option<()> {
        self.0.is_empty().then_some(())
    }
}

fn enc_call(e: &mut Enc, c: &Call) {
    match c {
        Call::Socket { ty } => {
            e.u8(0);
            e.i32(*ty);
        }
        Call::Socketpair { ty } => {
            e.u8(1);
            e.i32(*ty);
        }
        Call::Bind { fd, addr } => {
            e.u8(2);
            e.i32(*fd);
            e.bytes(addr);
        }
        Call::Connect { fd, addr } => {
            e.u8(3);
            e.i32(*fd);
            e.bytes(addr);
        }
        Call::Listen { fd, backlog } => {
            e.u8(4);
            e.i32(*fd);
            e.i32(*backlog);
        }
        Call::Accept { fd, flags } => {
            e.u8(5);
            e.i32(*fd);
            e.i32(*flags);
        }
        Call::Sendmsg {
            fd,
            name,
            data,
            control,
            flags,
        } => {
            e.u8(6);
            e.i32(*fd);
            e.opt_bytes(name);
            e.opt_bytes(data);
            e.bytes(control);
            e.i32(*flags);
        }
        Call::Recvmsg {
            fd,
            len,
            controllen,
            flags,
        } => {
            e.u8(7);
            e.i32(*fd);
            e.u64(*len as u64);
            e.u64(*controllen as u64);
            e.i32(*flags);
        }
        Call::Close { fd } => {
            e.u8(8);
            e.i32(*fd);
        }
        Call::Dup { fd } => {
            e.u8(9);
            e.i32(*fd);
        }
        Call::Shutdown { fd, how } => {
            e.u8(10);
            e.i32(*fd);
            e.i32(*how);
        }
        Call::Setsockopt {
            fd,
            level,
            name,
            value,
        } => {
            e.u8(11);
            e.i32(*fd);
            e.i32(*level);
            e.i32(*name);
            e.bytes(value);
        }
        Call::Getsockopt {
            fd,
            level,
            name,
            optlen,
        } => {
            e.u8(12);
            e.i32(*fd);
            e.i32(*level);
            e.i32(*name);
            e.u64(*optlen as u64);
        }
        Call::Getsockname { fd } => {
            e.u8(13);
            e.i32(*fd);
        }
        Call::Getpeername { fd } => {
            e.u8(14);
            e.i32(*fd);
        }
        Call::SetNonblock { fd, on } => {
            e.u8(15);
            e.i32(*fd);
            e.u8(u8::from(*on));
        }
        Call::GetFd { fd } => {
            e.u8(16);
            e.i32(*fd);
        }
        Call::Pipe { flags } => {
            e.u8(17);
            e.i32(*flags);
        }
        Call::Memfd { content } => {
            e.u8(18);
            e.bytes(content);
        }
        Call::Read { fd, len } => {
            e.u8(19);
            e.i32(*fd);
            e.u64(*len as u64);
        }
        Call::Write { fd, data } => {
            e.u8(20);
            e.i32(*fd);
            e.bytes(data);
        }
        Call::Poll { fd, events } => {
            e.u8(21);
            e.i32(*fd);
            e.i32(i32::from(*events));
        }
        Call::Ioctl { fd, req } => {
            e.u8(22);
            e.i32(*fd);
            e.u64(*req);
        }
        Call::Pidof { fd } => {
            e.u8(23);
            e.i32(*fd);
        }
        Call::Exit => e.u8(24),
    }
}

fn dec_call(d: &mut Dec<'_>) -> Option<Call> {
    Some(match d.u8()? {
        0 => Call::Socket { ty: d.i32()? },
        1 => Call::Socketpair { ty: d.i32()? },
        2 => Call::Bind {
            fd: d.i32()?,
            addr: d.bytes()?,
        },
        3 => Call::Connect {
            fd: d.i32()?,
            addr: d.bytes()?,
        },
        4 => Call::Listen {
            fd: d.i32()?,
            backlog: d.i32()?,
        },
        5 => Call::Accept {
            fd: d.i32()?,
            flags: d.i32()?,
        },
        6 => Call::Sendmsg {
            fd: d.i32()?,
            name: d.opt_bytes()?,
            data: d.opt_bytes()?,
            control: d.bytes()?,
            flags: d.i32()?,
        },
        7 => Call::Recvmsg {
            fd: d.i32()?,
            len: d.usize()?,
            controllen: d.usize()?,
            flags: d.i32()?,
        },
        8 => Call::Close { fd: d.i32()? },
        9 => Call::Dup { fd: d.i32()? },
        10 => Call::Shutdown {
            fd: d.i32()?,
            how: d.i32()?,
        },
        11 => Call::Setsockopt {
            fd: d.i32()?,
            level: d.i32()?,
            name: d.i32()?,
            value: d.bytes()?,
        },
        12 => Call::Getsockopt {
            fd: d.i32()?,
            level: d.i32()?,
            name: d.i32()?,
            optlen: d.usize()?,
        },
        13 => Call::Getsockname { fd: d.i32()? },
        14 => Call::Getpeername { fd: d.i32()? },
        15 => Call::SetNonblock {
            fd: d.i32()?,
            on: d.bool()?,
        },
        16 => Call::GetFd { fd: d.i32()? },
        17 => Call::Pipe { flags: d.i32()? },
        18 => Call::Memfd {
            content: d.bytes()?,
        },
        19 => Call::Read {
            fd: d.i32()?,
            len: d.usize()?,
        },
        20 => Call::Write {
            fd: d.i32()?,
            data: d.bytes()?,
        },
        21 => Call::Poll {
            fd: d.i32()?,
            events: i16::try_from(d.i32()?).ok()?,
        },
        22 => Call::Ioctl {
            fd: d.i32()?,
            req: d.u64()?,
        },
        23 => Call::Pidof { fd: d.i32()? },
        24 => Call::Exit,
        _ => return None,
    })
}

fn enc_reply(e: &mut Enc, r: &Reply) {
    match &r.ret {
        Ok(v) => {
            e.u8(0);
            e.i64(*v);
        }
        Err(er) => {
            e.u8(1);
            e.i32(er.raw());
        }
    }
    match &r.out {
        Out::None => e.u8(0),
        Out::Pair([a, b]) => {
            e.u8(1);
            e.i32(*a);
            e.i32(*b);
        }
        Out::Msg {
            data,
            name,
            control,
            flags,
        } => {
            e.u8(2);
            e.bytes(data);
            e.bytes(name);
            e.bytes(control);
            e.i32(*flags);
        }
        Out::Data(b) => {
            e.u8(3);
            e.bytes(b);
        }
        Out::Optval(b) => {
            e.u8(4);
            e.bytes(b);
        }
        Out::Addr(b) => {
            e.u8(5);
            e.bytes(b);
        }
        Out::Revents(v) => {
            e.u8(6);
            e.i32(i32::from(*v));
        }
        Out::Int(v) => {
            e.u8(7);
            e.i32(*v);
        }
        Out::Pid(v) => {
            e.u8(8);
            e.i32(*v);
        }
    }
    e.u8(u8::from(r.sigpipe));
}

fn dec_reply(d: &mut Dec<'_>) -> Option<Reply> {
    let ret = match d.u8()? {
        0 => Ok(d.i64()?),
        1 => Err(Errno::from_raw(d.i32()?)),
        _ => return None,
    };
    let out = match d.u8()? {
        0 => Out::None,
        1 => Out::Pair([d.i32()?, d.i32()?]),
        2 => Out::Msg {
            data: d.bytes()?,
            name: d.bytes()?,
            control: d.bytes()?,
            flags: d.i32()?,
        },
        3 => Out::Data(d.bytes()?),
        4 => Out::Optval(d.bytes()?),
        5 => Out::Addr(d.bytes()?),
        6 => Out::Revents(i16::try_from(d.i32()?).ok()?),
        7 => Out::Int(d.i32()?),
        8 => Out::Pid(d.i32()?),
        _ => return None,
    };
    let sigpipe = d.bool()?;
    Some(Reply { ret, out, sigpipe })
}

impl Request {
    /// The wire form.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        match self {
            Request::Call(c) => {
                e.u8(0);
                enc_call(&mut e, c);
            }
            Request::Fork => e.u8(1),
            Request::SetQlen(n) => {
                e.u8(2);
                e.u32(*n);
            }
            Request::GcKick => e.u8(3),
            Request::Stat => e.u8(4),
            Request::Go => e.u8(5),
        }
        e.0
    }

    /// Parse the wire form; `None` when malformed.
    pub(crate) fn decode(b: &[u8]) -> Option<Request> {
        let mut d = Dec(b);
        let r = match d.u8()? {
            0 => Request::Call(dec_call(&mut d)?),
            1 => Request::Fork,
            2 => Request::SetQlen(d.u32()?),
            3 => Request::GcKick,
            4 => Request::Stat,
            5 => Request::Go,
            _ => return None,
        };
        d.end()?;
        Some(r)
    }
}

impl Response {
    /// The wire form.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        match self {
            Response::Ready(p) => {
                e.u8(0);
                e.i32(*p);
            }
            Response::Unshared => e.u8(1),
            Response::Starting => e.u8(2),
            Response::Reply(r) => {
                e.u8(3);
                enc_reply(&mut e, r);
            }
            Response::Forked(p) => {
                e.u8(4);
                e.i32(*p);
            }
            Response::Fail(s) => {
                e.u8(5);
                e.bytes(s.as_bytes());
            }
            Response::Admin(v) => {
                e.u8(6);
                e.i64(*v);
            }
            Response::SendFd => e.u8(7),
        }
        e.0
    }

    /// Parse the wire form; `None` when malformed.
    pub(crate) fn decode(b: &[u8]) -> Option<Response> {
        let mut d = Dec(b);
        let r = match d.u8()? {
            0 => Response::Ready(d.i32()?),
            1 => Response::Unshared,
            2 => Response::Starting,
            3 => Response::Reply(dec_reply(&mut d)?),
            4 => Response::Forked(d.i32()?),
            5 => Response::Fail(String::from_utf8_lossy(&d.bytes()?).into_owned()),
            6 => Response::Admin(d.i64()?),
            7 => Response::SendFd,
            _ => return None,
        };
        d.end()?;
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_round_trip() {
        let calls = vec![
            Call::Socket { ty: 2 },
            Call::Sendmsg {
                fd: 3,
                name: Some(vec![1, 0, b'a']),
                data: None,
                control: vec![0xff; 20],
                flags: 0x4000,
            },
            Call::Recvmsg {
                fd: 4,
                len: 0,
                controllen: 24,
                flags: 2,
            },
            Call::Poll { fd: 3, events: -1 },
            Call::Ioctl { fd: 3, req: 0x541b },
            Call::Exit,
        ];
        for c in calls {
            let r = Request::Call(c);
            assert_eq!(Request::decode(&r.encode()), Some(r));
        }
    }

    #[test]
    fn replies_round_trip() {
        let mut r = Reply::with(
            5,
            Out::Msg {
                data: b"hello".to_vec(),
                name: vec![1, 0],
                control: vec![9; 24],
                flags: 8,
            },
        );
        r.sigpipe = true;
        for resp in [
            Response::Reply(r),
            Response::Reply(Reply::err(Errno::EPIPE)),
            Response::Fail("x".into()),
            Response::Admin(-3),
        ] {
            assert_eq!(Response::decode(&resp.encode()), Some(resp));
        }
    }

    #[test]
    fn garbage_never_panics() {
        let good = Request::Call(Call::Write {
            fd: 1,
            data: b"abc".to_vec(),
        })
        .encode();
        for n in 0..good.len() {
            assert_eq!(Request::decode(&good[..n]), None);
        }
        assert_eq!(
            Request::decode(&[0, 6, 0, 0, 0, 0, 1, 255, 255, 255, 255, 255, 255, 255, 255]),
            None
        );
        assert_eq!(Response::decode(&[77]), None);
    }
}
