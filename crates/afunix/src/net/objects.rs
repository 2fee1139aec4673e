//! Socket objects for test writers, in the shape of `std::os::unix::net`:
//! a [`UnixDatagram`], [`UnixStream`] or [`UnixListener`] is an fd of one
//! process of a [`World`], closed when the object is dropped, and every
//! method is one system call (or the few a C program would make) on the
//! syscall-shaped core, so what they answer is what [`World`]'s methods
//! answer: Linux's errno with the rule that decided it.
//!
//! ```
//! use afunix::net::{OwnedFd, UnixDatagram};
//! use afunix::{TaskSpec, World};
//! use std::io::Read;
//!
//! let w = World::new();
//! let p = w.spawn(&TaskSpec::default());
//! let (a, b) = UnixDatagram::pair(&w, p)?;
//! let f = OwnedFd::memfd(&w, p, b"hello")?;
//! a.send_with_fds(b"fd", &[f.fd()])?;
//! drop(f); // the message holds the file now
//! let mut buf = [0; 16];
//! let (n, fds) = b.recv_with_fds(&mut buf)?;
//! assert_eq!(&buf[..n], b"fd");
//! let mut s = String::new();
//! fds[0].as_file().read_to_string(&mut s)?; // the same open file
//! assert_eq!(s, "hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Blocking is the world's: a `recv` on an empty socket sleeps until another
//! thread sends (run the peers in `std::thread::scope`), unless the socket is
//! non-blocking or has a timeout.

use crate::abi::cmsg::cmsg_space;
use crate::abi::consts::{
    SCM_MAX_FD, SHUT_RD, SHUT_RDWR, SHUT_WR, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_STREAM, SOL_SOCKET,
    SO_PEERCRED, SO_RCVTIMEO, SO_SNDTIMEO,
};
use crate::abi::flags::MsgFlags;
use crate::abi::sockaddr::UnixAddr;
use crate::abi::timeval::Timeval;
use crate::abi::ucred::Ucred;
use crate::errno::SysResult;
use crate::net::socket::MsgHdr;
use crate::{Fd, Pid, World};
use std::fmt;
use std::io;
use std::net::Shutdown;
use std::time::Duration;

/// Room for the most fds one message can carry (`SCM_MAX_FD`).
const RIGHTS_SPACE: usize = cmsg_space(SCM_MAX_FD * 4);

/// An open fd of one process, closed on drop (`close(2)`, its error
/// ignored, as `std::os::fd::OwnedFd` does).
pub struct OwnedFd<'w> {
    world: &'w World,
    pid: Pid,
    fd: Fd,
}

impl<'w> OwnedFd<'w> {
    /// Take ownership of `fd` of `pid`: it is closed when this is dropped.
    pub fn from_raw(world: &'w World, pid: Pid, fd: Fd) -> OwnedFd<'w> {
        OwnedFd { world, pid, fd }
    }

    /// `memfd_create`, then `write(content)` and `lseek(0)`.
    ///
    /// # Errors
    /// As [`World::memfd`].
    pub fn memfd(world: &'w World, pid: Pid, content: &[u8]) -> SysResult<OwnedFd<'w>> {
        Ok(OwnedFd::from_raw(world, pid, world.memfd(pid, content)?))
    }

    /// The fd number, still owned by this object.
    pub fn fd(&self) -> Fd {
        self.fd
    }

    /// The process whose fd this is.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The world the fd lives in.
    pub fn world(&self) -> &'w World {
        self.world
    }

    /// Give up ownership: the fd stays open and is returned.
    pub fn into_raw(self) -> Fd {
        let fd = self.fd;
        std::mem::forget(self);
        fd
    }

    /// `dup(fd)`: a second fd of the same open file.
    ///
    /// # Errors
    /// As [`World::dup`].
    pub fn try_clone(&self) -> SysResult<OwnedFd<'w>> {
        Ok(OwnedFd::from_raw(
            self.world,
            self.pid,
            self.world.dup(self.pid, self.fd)?,
        ))
    }

    /// `fcntl(F_SETFL)` with `O_NONBLOCK` set or cleared.
    ///
    /// # Errors
    /// As [`World::set_nonblock`].
    pub fn set_nonblocking(&self, on: bool) -> SysResult<()> {
        self.world.set_nonblock(self.pid, self.fd, on)
    }

    /// `read`/`write` on the fd through `std::io::Read`/`Write`.
    pub fn as_file(&self) -> FileIo<'_, 'w> {
        FileIo(self)
    }

    /// The same fd as a socket object of `K`'s type; no call is made, the
    /// calls made through it answer `ENOTSOCK` if it is not a socket.
    pub fn into_socket<K: FromOwnedFd<'w>>(self) -> K {
        K::from_owned(self)
    }
}

impl Drop for OwnedFd<'_> {
    fn drop(&mut self) {
        // close(2): an error here (the process gone, the fd closed behind
        // our back) leaves nothing to undo, as for std's OwnedFd.
        let _ = self.world.close(self.pid, self.fd);
    }
}

impl fmt::Debug for OwnedFd<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedFd")
            .field("pid", &self.pid)
            .field("fd", &self.fd)
            .finish()
    }
}

/// `read(2)`/`write(2)` on an [`OwnedFd`], as `std::io::Read`/`Write`.
#[derive(Debug)]
pub struct FileIo<'a, 'w>(&'a OwnedFd<'w>);

impl io::Read for FileIo<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let b = self.0.world.read(self.0.pid, self.0.fd, buf.len())?;
        Ok(copy_into(buf, &b))
    }
}

impl io::Write for FileIo<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.0.world.write(self.0.pid, self.0.fd, buf)?)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Socket objects made from an owned fd ([`OwnedFd::into_socket`]).
pub trait FromOwnedFd<'w> {
    /// Wrap the fd; no call is made.
    fn from_owned(fd: OwnedFd<'w>) -> Self;
}

/// Copy what a call returned into the caller's buffer (never more than it
/// asked for, as the model's calls were given `buf.len()`).
fn copy_into(buf: &mut [u8], got: &[u8]) -> usize {
    let n = got.len().min(buf.len());
    if let (Some(dst), Some(src)) = (buf.get_mut(..n), got.get(..n)) {
        dst.copy_from_slice(src);
    }
    n
}

/// `socket(AF_UNIX, ty, 0)`, owned.
fn socket<'w>(world: &'w World, pid: Pid, ty: i32) -> SysResult<OwnedFd<'w>> {
    Ok(OwnedFd::from_raw(world, pid, world.socket(pid, ty)?))
}

/// `socketpair(AF_UNIX, ty, 0)`, owned.
fn pair<'w>(world: &'w World, pid: Pid, ty: i32) -> SysResult<(OwnedFd<'w>, OwnedFd<'w>)> {
    let [a, b] = world.socketpair(pid, ty)?;
    Ok((
        OwnedFd::from_raw(world, pid, a),
        OwnedFd::from_raw(world, pid, b),
    ))
}

/// The calls every socket object has: one definition, shared by the three.
impl<'w> OwnedFd<'w> {
    fn sock_bind(&self, addr: &UnixAddr) -> SysResult<()> {
        self.world.bind(self.pid, self.fd, &addr.to_sockaddr())
    }

    fn sock_connect(&self, addr: &UnixAddr) -> SysResult<()> {
        self.world.connect(self.pid, self.fd, &addr.to_sockaddr())
    }

    fn local_addr(&self) -> SysResult<UnixAddr> {
        Ok(UnixAddr::from_sockaddr(
            &self.world.getsockname(self.pid, self.fd)?,
        ))
    }

    fn peer_addr(&self) -> SysResult<UnixAddr> {
        Ok(UnixAddr::from_sockaddr(
            &self.world.getpeername(self.pid, self.fd)?,
        ))
    }

    fn send_to(&self, buf: &[u8], name: Option<&[u8]>, fds: &[Fd]) -> SysResult<usize> {
        let control = if fds.is_empty() {
            Vec::new()
        } else {
            crate::abi::cmsg::CmsgBuilder::new().rights(fds).finish()
        };
        let msg = MsgHdr {
            name,
            iov: Some(buf),
            control: &control,
        };
        self.world
            .sendmsg(self.pid, self.fd, &msg, MsgFlags::NOSIGNAL)
    }

    /// `recvmsg` into `buf`, with room for `SCM_MAX_FD` fds when `fds`:
    /// the return value (a datagram's real length with `MSG_TRUNC`, as
    /// std's `recv` returns only what fitted), the sender's address and the
    /// fds received, owned.
    fn recv_from(
        &self,
        buf: &mut [u8],
        fds: bool,
        flags: MsgFlags,
    ) -> SysResult<(usize, UnixAddr, Vec<OwnedFd<'w>>)> {
        let controllen = if fds { RIGHTS_SPACE } else { 0 };
        let m = self
            .world
            .recvmsg(self.pid, self.fd, buf.len(), controllen, flags)?;
        let owned = m
            .rights()
            .into_iter()
            .map(|fd| OwnedFd::from_raw(self.world, self.pid, fd))
            .collect();
        let n = copy_into(buf, &m.data);
        Ok((n, UnixAddr::from_sockaddr(&m.name), owned))
    }

    fn set_timeout(&self, name: i32, t: Option<Duration>) -> SysResult<()> {
        // A zeroed timeval is "no timeout" to sock_set_timeout, so a
        // `Some` under a microsecond is sent as one (std rounds the same
        // way): `Some` always means a finite wait, the kernel's 1 jiffy at least.
        let tv = t.map_or(Timeval { sec: 0, usec: 0 }, |d| Timeval {
            sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            usec: i64::from(d.subsec_micros().max(u32::from(d.as_secs() == 0))),
        });
        self.world
            .setsockopt(self.pid, self.fd, SOL_SOCKET, name, &tv.to_bytes())
    }

    fn timeout(&self, name: i32) -> SysResult<Option<Duration>> {
        let b = self
            .world
            .getsockopt(self.pid, self.fd, SOL_SOCKET, name, 16)?;
        // A zeroed timeval is "none" (MAX_SCHEDULE_TIMEOUT), as std reads it.
        Ok(Timeval::parse(&b)
            .and_then(|t| t.to_duration())
            .filter(|d| !d.is_zero()))
    }

    fn sock_shutdown(&self, how: Shutdown) -> SysResult<()> {
        let how = match how {
            Shutdown::Read => SHUT_RD,
            Shutdown::Write => SHUT_WR,
            Shutdown::Both => SHUT_RDWR,
        };
        self.world.shutdown(self.pid, self.fd, how)
    }

    fn peer_cred(&self) -> SysResult<Ucred> {
        let b = self
            .world
            .getsockopt(self.pid, self.fd, SOL_SOCKET, SO_PEERCRED, 12)?;
        // sk_getsockopt writes a whole struct ucred when given 12 bytes.
        Ok(Ucred::parse(&b).unwrap_or(Ucred {
            pid: 0,
            uid: u32::MAX,
            gid: u32::MAX,
        }))
    }
}

/// The methods std's three socket types share, written once.
macro_rules! socket_common {
    ($t:ident) => {
        impl<'w> $t<'w> {
            /// The fd, still owned by this object.
            pub fn fd(&self) -> Fd {
                self.0.fd
            }

            /// The process the socket belongs to.
            pub fn pid(&self) -> Pid {
                self.0.pid
            }

            /// Give up the object, keeping the fd open.
            pub fn into_owned_fd(self) -> OwnedFd<'w> {
                self.0
            }

            /// `getsockname`.
            ///
            /// # Errors
            /// As [`World::getsockname`].
            pub fn local_addr(&self) -> SysResult<UnixAddr> {
                self.0.local_addr()
            }

            /// `dup`: a second object for the same socket.
            ///
            /// # Errors
            /// As [`World::dup`].
            pub fn try_clone(&self) -> SysResult<$t<'w>> {
                Ok($t(self.0.try_clone()?))
            }

            /// `fcntl(F_SETFL)` with `O_NONBLOCK` set or cleared.
            ///
            /// # Errors
            /// As [`World::set_nonblock`].
            pub fn set_nonblocking(&self, on: bool) -> SysResult<()> {
                self.0.set_nonblocking(on)
            }
        }

        impl<'w> FromOwnedFd<'w> for $t<'w> {
            fn from_owned(fd: OwnedFd<'w>) -> Self {
                $t(fd)
            }
        }
    };
}

/// Timeouts and the peer's identity, for the two connection types.
macro_rules! socket_io {
    ($t:ident) => {
        impl<'w> $t<'w> {
            /// `getpeername`.
            ///
            /// # Errors
            /// As [`World::getpeername`] (`ENOTCONN` without a peer).
            pub fn peer_addr(&self) -> SysResult<UnixAddr> {
                self.0.peer_addr()
            }

            /// `setsockopt(SO_RCVTIMEO)`; `None` clears it, a `Some` under a
            /// microsecond is one (a zeroed timeval would mean no timeout).
            ///
            /// # Errors
            /// As [`World::setsockopt`] (`EDOM` past the kernel's range).
            pub fn set_read_timeout(&self, t: Option<Duration>) -> SysResult<()> {
                self.0.set_timeout(SO_RCVTIMEO, t)
            }

            /// `setsockopt(SO_SNDTIMEO)`; `None` clears it, a `Some` under a
            /// microsecond is one.
            ///
            /// # Errors
            /// As [`World::setsockopt`] (`EDOM` past the kernel's range).
            pub fn set_write_timeout(&self, t: Option<Duration>) -> SysResult<()> {
                self.0.set_timeout(SO_SNDTIMEO, t)
            }

            /// `getsockopt(SO_RCVTIMEO)`, in the kernel's jiffies.
            ///
            /// # Errors
            /// As [`World::getsockopt`].
            pub fn read_timeout(&self) -> SysResult<Option<Duration>> {
                self.0.timeout(SO_RCVTIMEO)
            }

            /// `getsockopt(SO_SNDTIMEO)`, in the kernel's jiffies.
            ///
            /// # Errors
            /// As [`World::getsockopt`].
            pub fn write_timeout(&self) -> SysResult<Option<Duration>> {
                self.0.timeout(SO_SNDTIMEO)
            }

            /// `getsockopt(SO_PEERCRED)`: who the peer was when it connected
            /// (or made the pair).
            ///
            /// # Errors
            /// As [`World::getsockopt`].
            pub fn peer_cred(&self) -> SysResult<Ucred> {
                self.0.peer_cred()
            }

            /// `shutdown(how)`.
            ///
            /// # Errors
            /// As [`World::shutdown`].
            pub fn shutdown(&self, how: Shutdown) -> SysResult<()> {
                self.0.sock_shutdown(how)
            }

            /// `sendmsg(MSG_NOSIGNAL)` of `buf` with the open files behind
            /// `fds` (`SCM_RIGHTS`; none: no control message).
            ///
            /// # Errors
            /// As [`World::sendmsg`] (`EPIPE` without SIGPIPE).
            pub fn send_with_fds(&self, buf: &[u8], fds: &[Fd]) -> SysResult<usize> {
                self.0.send_to(buf, None, fds)
            }

            /// `recvmsg` into `buf` with room for 253 fds: the bytes
            /// received and the fds installed, owned (closed on drop).
            ///
            /// # Errors
            /// As [`World::recvmsg`].
            pub fn recv_with_fds(&self, buf: &mut [u8]) -> SysResult<(usize, Vec<OwnedFd<'w>>)> {
                let (n, _, fds) = self.0.recv_from(buf, true, MsgFlags::empty())?;
                Ok((n, fds))
            }

            /// `sendmsg(MSG_NOSIGNAL)`.
            ///
            /// # Errors
            /// As [`World::sendmsg`] (`EPIPE` without SIGPIPE).
            pub fn send(&self, buf: &[u8]) -> SysResult<usize> {
                self.0.send_to(buf, None, &[])
            }

            /// `recvmsg` into `buf` (no room for control data: fds sent
            /// with the message are dropped and `MSG_CTRUNC` set, as Linux
            /// does).
            ///
            /// # Errors
            /// As [`World::recvmsg`].
            pub fn recv(&self, buf: &mut [u8]) -> SysResult<usize> {
                Ok(self.0.recv_from(buf, false, MsgFlags::empty())?.0)
            }

            /// `recvmsg(MSG_PEEK)` into `buf`.
            ///
            /// # Errors
            /// As [`World::recvmsg`].
            pub fn peek(&self, buf: &mut [u8]) -> SysResult<usize> {
                Ok(self.0.recv_from(buf, false, MsgFlags::PEEK)?.0)
            }
        }
    };
}

/// A datagram socket (`SOCK_DGRAM`), as `std::os::unix::net::UnixDatagram`.
#[derive(Debug)]
pub struct UnixDatagram<'w>(OwnedFd<'w>);
socket_common!(UnixDatagram);
socket_io!(UnixDatagram);

impl<'w> UnixDatagram<'w> {
    /// `socket(AF_UNIX, SOCK_DGRAM)` then `bind(addr)`.
    ///
    /// # Errors
    /// As [`World::socket`] and [`World::bind`]; the socket is closed.
    pub fn bind(world: &'w World, pid: Pid, addr: &UnixAddr) -> SysResult<UnixDatagram<'w>> {
        let s = socket(world, pid, SOCK_DGRAM)?;
        s.sock_bind(addr)?;
        Ok(UnixDatagram(s))
    }

    /// `socket(AF_UNIX, SOCK_DGRAM)`, unbound (a send autobinds it only
    /// with `SO_PASSCRED`; otherwise the receiver sees it unnamed).
    ///
    /// # Errors
    /// As [`World::socket`].
    pub fn unbound(world: &'w World, pid: Pid) -> SysResult<UnixDatagram<'w>> {
        Ok(UnixDatagram(socket(world, pid, SOCK_DGRAM)?))
    }

    /// `socketpair(AF_UNIX, SOCK_DGRAM)`.
    ///
    /// # Errors
    /// As [`World::socketpair`].
    pub fn pair(world: &'w World, pid: Pid) -> SysResult<(UnixDatagram<'w>, UnixDatagram<'w>)> {
        let (a, b) = pair(world, pid, SOCK_DGRAM)?;
        Ok((UnixDatagram(a), UnixDatagram(b)))
    }

    /// `connect(addr)`: the default destination, and the only sender
    /// this socket then receives from.
    ///
    /// # Errors
    /// As [`World::connect`].
    pub fn connect(&self, addr: &UnixAddr) -> SysResult<()> {
        self.0.sock_connect(addr)
    }

    /// `sendmsg` to `addr` (`msg_name`).
    ///
    /// # Errors
    /// As [`World::sendmsg`].
    pub fn send_to(&self, buf: &[u8], addr: &UnixAddr) -> SysResult<usize> {
        self.0.send_to(buf, Some(&addr.to_sockaddr()), &[])
    }

    /// `sendmsg` to `addr` with the open files behind `fds`.
    ///
    /// # Errors
    /// As [`World::sendmsg`].
    pub fn send_to_with_fds(&self, buf: &[u8], addr: &UnixAddr, fds: &[Fd]) -> SysResult<usize> {
        self.0.send_to(buf, Some(&addr.to_sockaddr()), fds)
    }

    /// `recvmsg` into `buf`: the bytes received and the sender's address
    /// (`Unnamed` for an unbound sender).
    ///
    /// # Errors
    /// As [`World::recvmsg`].
    pub fn recv_from(&self, buf: &mut [u8]) -> SysResult<(usize, UnixAddr)> {
        let (n, a, _) = self.0.recv_from(buf, false, MsgFlags::empty())?;
        Ok((n, a))
    }
}

/// A stream socket (`SOCK_STREAM`), as `std::os::unix::net::UnixStream`;
/// `Read` and `Write` are `recvmsg`/`sendmsg(MSG_NOSIGNAL)`.
#[derive(Debug)]
pub struct UnixStream<'w>(OwnedFd<'w>);
socket_common!(UnixStream);
socket_io!(UnixStream);

impl<'w> UnixStream<'w> {
    /// `socket(AF_UNIX, SOCK_STREAM)` then `connect(addr)`; blocks until the
    /// listener's backlog has room, as Linux does.
    ///
    /// # Errors
    /// As [`World::socket`] and [`World::connect`] (`ENOENT`,
    /// `ECONNREFUSED`, `EAGAIN` when non-blocking…); the socket is closed.
    pub fn connect(world: &'w World, pid: Pid, addr: &UnixAddr) -> SysResult<UnixStream<'w>> {
        let s = socket(world, pid, SOCK_STREAM)?;
        s.sock_connect(addr)?;
        Ok(UnixStream(s))
    }

    /// `socketpair(AF_UNIX, SOCK_STREAM)`.
    ///
    /// # Errors
    /// As [`World::socketpair`].
    pub fn pair(world: &'w World, pid: Pid) -> SysResult<(UnixStream<'w>, UnixStream<'w>)> {
        let (a, b) = pair(world, pid, SOCK_STREAM)?;
        Ok((UnixStream(a), UnixStream(b)))
    }

    /// `socketpair(AF_UNIX, SOCK_SEQPACKET)`: record boundaries kept, the
    /// same methods.
    ///
    /// # Errors
    /// As [`World::socketpair`].
    pub fn seqpacket_pair(
        world: &'w World,
        pid: Pid,
    ) -> SysResult<(UnixStream<'w>, UnixStream<'w>)> {
        let (a, b) = pair(world, pid, SOCK_SEQPACKET)?;
        Ok((UnixStream(a), UnixStream(b)))
    }
}

impl io::Read for &UnixStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.recv(buf)?)
    }
}

impl io::Read for UnixStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl io::Write for &UnixStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.send(buf)?)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Write for UnixStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A listening stream socket, as `std::os::unix::net::UnixListener`.
#[derive(Debug)]
pub struct UnixListener<'w>(OwnedFd<'w>);
socket_common!(UnixListener);

impl<'w> UnixListener<'w> {
    /// `socket(AF_UNIX, SOCK_STREAM)`, `bind(addr)`, `listen(128)` (std's
    /// backlog).
    ///
    /// # Errors
    /// As [`World::bind`] and [`World::listen`]; the socket is closed.
    pub fn bind(world: &'w World, pid: Pid, addr: &UnixAddr) -> SysResult<UnixListener<'w>> {
        Self::bind_type(world, pid, addr, SOCK_STREAM)
    }

    /// As [`UnixListener::bind`], for `SOCK_SEQPACKET`.
    ///
    /// # Errors
    /// As [`UnixListener::bind`].
    pub fn bind_seqpacket(
        world: &'w World,
        pid: Pid,
        addr: &UnixAddr,
    ) -> SysResult<UnixListener<'w>> {
        Self::bind_type(world, pid, addr, SOCK_SEQPACKET)
    }

    fn bind_type(world: &'w World, pid: Pid, addr: &UnixAddr, ty: i32) -> SysResult<Self> {
        let s = socket(world, pid, ty)?;
        s.sock_bind(addr)?;
        world.listen(pid, s.fd, 128)?;
        Ok(UnixListener(s))
    }

    /// `accept4(0)`, then `getpeername`: the connection and the address its
    /// client bound (`Unnamed` for most clients).
    ///
    /// # Errors
    /// As [`World::accept4`] (`EAGAIN` when non-blocking and none waits).
    pub fn accept(&self) -> SysResult<(UnixStream<'w>, UnixAddr)> {
        let fd = self.0.world.accept4(self.0.pid, self.0.fd, 0)?;
        let s = UnixStream(OwnedFd::from_raw(self.0.world, self.0.pid, fd));
        let addr = s.peer_addr()?;
        Ok((s, addr))
    }

    /// The connections as they come, as std's `incoming`: each item is one
    /// [`UnixListener::accept`], its error included (the iterator never
    /// ends by itself).
    pub fn incoming(&self) -> impl Iterator<Item = SysResult<UnixStream<'w>>> + '_ {
        std::iter::repeat_with(|| self.accept().map(|(s, _)| s))
    }
}

impl UnixAddr {
    /// A filesystem path (`sun_path`, without its NUL).
    pub fn path(p: impl AsRef<[u8]>) -> UnixAddr {
        UnixAddr::Pathname(p.as_ref().to_vec())
    }

    /// An abstract name (the bytes after `sun_path`'s leading NUL).
    pub fn abstract_name(n: impl AsRef<[u8]>) -> UnixAddr {
        UnixAddr::Abstract(n.as_ref().to_vec())
    }
}
