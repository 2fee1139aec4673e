//! The backend ↔ helper protocol: [`Request`] and [`Response`] encoded with
//! serde and `postcard` (a compact, well-specified binary format). Decoding
//! never panics: malformed input, or trailing bytes, give `None`.

use afunix_backend::backend::{Call, Reply};
use serde::{Deserialize, Serialize};

/// What the backend asks a helper to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Request {
    /// Run one scenario call.
    Call(Call),
    /// Fork (the new helper's channel end follows with `Go`, SCM_RIGHTS).
    Fork,
    /// Keeper: write the decimal form of the value to
    /// `/proc/sys/net/unix/max_dgram_qlen`; answers `Admin(0)` or
    /// `Admin(-errno)` when the kernel refuses the value.
    SetQlen(i64),
    /// Keeper: create and close a unix socket (queues the in-flight GC).
    GcKick,
    /// Keeper: count the sockets in `/proc/self/net/unix`.
    Stat,
    /// Keeper: the namespaces are ready, go on with the setup. Fork: this
    /// frame carries the new channel end.
    Go,
}

/// What a helper answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    // Serializing these plain enums into a Vec cannot fail (no maps with
    // non-string keys, no sequences of unknown length).
    postcard::to_stdvec(v).unwrap_or_default()
}

fn decode<'a, T: Deserialize<'a>>(b: &'a [u8]) -> Option<T> {
    match postcard::take_from_bytes(b) {
        Ok((v, [])) => Some(v),
        _ => None,
    }
}

impl Request {
    pub(crate) fn encode(&self) -> Vec<u8> {
        encode(self)
    }
    pub(crate) fn decode(b: &[u8]) -> Option<Request> {
        decode(b)
    }
}

impl Response {
    pub(crate) fn encode(&self) -> Vec<u8> {
        encode(self)
    }
    pub(crate) fn decode(b: &[u8]) -> Option<Response> {
        decode(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use afunix::Errno;
    use afunix_backend::backend::{Out, RecvBuf, SendBuf, SockOpt};

    fn calls() -> Vec<Call> {
        vec![
            Call::Socket { ty: 2, protocol: 0 },
            Call::Socketpair { ty: 5, protocol: 7 },
            Call::Sendmsg {
                fd: 3,
                name: Some(SendBuf::Bytes(vec![1, 0, b'a'])),
                iov: vec![SendBuf::Bytes(b"ab".to_vec()), SendBuf::Null(4)],
                control: vec![0xff; 20],
                flags: 0x4000,
            },
            Call::Sendmsg {
                fd: 3,
                name: Some(SendBuf::Null(9)),
                iov: vec![],
                control: vec![],
                flags: 0,
            },
            Call::Recvmsg {
                fd: 4,
                iov: vec![RecvBuf::Len(2), RecvBuf::Null(3)],
                namelen: 5,
                control: RecvBuf::Null(64),
                flags: 2,
            },
            Call::Dup2 { fd: 3, newfd: 9 },
            Call::Getsockopt {
                fd: 3,
                opt: SockOpt { level: 1, name: 3 },
                optlen: -1,
            },
            Call::Getsockname { fd: 3, len: 5 },
            Call::Getpeername { fd: 3, len: -1 },
            Call::SetOwn { fd: 4 },
            Call::Poll {
                fds: vec![3, -1, 4],
                list: (),
                events: -1,
                timeout: -1,
            },
            Call::Open {
                path: b"d/f".to_vec(),
                flags: 0o100,
                mode: 0o644,
            },
            Call::Mkdir {
                path: b"d".to_vec(),
                mode: 0o777,
            },
            Call::Unlink {
                path: b"x".to_vec(),
            },
            Call::Chmod {
                path: b"x".to_vec(),
                mode: 0o711,
            },
            Call::Rename {
                old: b"a".to_vec(),
                new: b"b".to_vec(),
            },
            Call::Ioctl { fd: 3, req: 0x541b },
            Call::Sigurg,
            Call::Exec,
            Call::Exit,
        ]
    }

    #[test]
    fn calls_round_trip() {
        for c in calls() {
            let r = Request::Call(c);
            assert_eq!(Request::decode(&r.encode()), Some(r));
        }
        for r in [
            Request::Fork,
            Request::SetQlen(-1),
            Request::SetQlen(4294967296),
            Request::GcKick,
            Request::Stat,
            Request::Go,
        ] {
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
                namelen: 14,
                control: vec![9; 24],
                controllen: 24,
                flags: 8,
            },
        );
        r.sigpipe = true;
        let failed_opt = Reply {
            ret: Err(Errno::ERANGE.into()),
            out: Out::Optval {
                optlen: 12,
                value: vec![],
            },
            sigpipe: false,
        };
        for resp in [
            Response::Reply(r),
            Response::Reply(Reply::err(Errno::EPIPE)),
            Response::Reply(failed_opt),
            Response::Reply(Reply::with(
                0,
                Out::Addr {
                    addr: vec![1, 0, b'a'],
                    len: 14,
                },
            )),
            Response::Reply(Reply::with(2, Out::Revents(vec![1, 0, 32]))),
            Response::Reply(Reply::with(0, Out::Pair([3, 4]))),
            Response::Ready(7),
            Response::Unshared,
            Response::Starting,
            Response::Forked(9),
            Response::SendFd,
            Response::Fail("x".into()),
            Response::Admin(-3),
        ] {
            assert_eq!(Response::decode(&resp.encode()), Some(resp));
        }
    }

    #[test]
    fn garbage_never_panics() {
        for c in calls() {
            let good = Request::Call(c).encode();
            for n in 0..good.len() {
                assert_eq!(Request::decode(&good[..n]), None);
            }
            let mut long = good.clone();
            long.push(0);
            assert_eq!(Request::decode(&long), None);
        }
        // A huge length prefix must not allocate or panic.
        assert_eq!(
            Request::decode(&[0, 6, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
            None
        );
        assert_eq!(Response::decode(&[77]), None);
        // Every short byte string decodes or fails, without panicking.
        let mut x: u32 = 1;
        for len in 0..64 {
            for _ in 0..64 {
                let v: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        x as u8
                    })
                    .collect();
                let _ = Request::decode(&v);
                let _ = Response::decode(&v);
            }
        }
    }
}
