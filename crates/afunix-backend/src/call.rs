//! Each system call of the scenario language, defined once.
//!
//! A call is the same call whether it is written in a scenario
//! (`A: sendmsg a to=@srv rights=[b]`: fd *names*, an address as written,
//! the pieces of the control buffer) or handed to a backend (fd numbers,
//! `sockaddr` bytes, the control buffer in the x86_64 layout). Both are a
//! [`Syscall`], generic over the [`Stage`] its arguments are at: what
//! differs between the stages is the *types* of the arguments that need
//! resolving, never the list of calls or of their arguments. The CLI's
//! parser builds `Syscall<Written>`; [`Syscall::lower`] turns it into the
//! backend's [`Raw`] call (the [`Call`](crate::Call) the model and the host
//! kernel execute, and the host codec serialises) through a [`Lower`], which
//! resolves one *kind* of argument at a time (an fd, an address, a control
//! buffer) rather than one call at a time. The same walk, to the argument-
//! less [`Shape`] stage, is how the CLI finds every fd name a line uses.

use afunix::net::socket::{RecvBuf, SendBuf};
use std::fmt;

/// What an argument of a [`Syscall`] must be.
pub trait Arg: Clone + fmt::Debug + PartialEq + Eq {}
impl<T: Clone + fmt::Debug + PartialEq + Eq> Arg for T {}

/// The types of the arguments of a [`Syscall`] that differ between what a
/// scenario writes and what the kernel's ABI takes.
pub trait Stage: Clone + fmt::Debug + PartialEq + Eq {
    /// A file descriptor.
    type Fd: Arg;
    /// A `sockaddr` of `bind` and `connect`.
    type Addr: Arg;
    /// `sendmsg`'s `msg_name`.
    type MsgName: Arg;
    /// `sendmsg`'s control buffer.
    type SendControl: Arg;
    /// `recvmsg`'s control buffer.
    type RecvControl: Arg;
    /// A socket option: its level and name.
    type Opt: Arg;
    /// A length the scenario may leave out (the runner supplies the
    /// default the call's buffer has).
    type Given<T: Arg>: Arg;
    /// What only the scenario's text says (a poll written as a list).
    type Syntax<T: Arg>: Arg;
    /// What only a scenario has and no backend executes (`fork`, `wait`
    /// are the runner's); [`Never`] at the [`Raw`] stage.
    type Only<T: Arg>: Arg;
}

/// A value that cannot exist: the [`Stage::Only`] arguments at the [`Raw`]
/// stage, so a backend never sees a `fork` or `wait` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Never {}

/// The stage of the Linux ABI: fds are numbers, addresses raw `sockaddr`
/// bytes, control buffers raw bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Raw;

/// A socket option: `setsockopt(fd, level, name, …)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SockOpt {
    /// `SOL_SOCKET`, or another level.
    pub level: i32,
    /// `SO_*`.
    pub name: i32,
}

impl Stage for Raw {
    type Fd = i32;
    type Addr = Vec<u8>;
    type MsgName = SendBuf;
    type SendControl = Vec<u8>;
    type RecvControl = RecvBuf;
    type Opt = SockOpt;
    type Given<T: Arg> = T;
    type Syntax<T: Arg> = ();
    type Only<T: Arg> = Never;
}

/// The stage without arguments to resolve: what a [`Lower`] that only
/// looks at a call's arguments (and builds nothing) produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape;

impl Stage for Shape {
    type Fd = ();
    type Addr = ();
    type MsgName = ();
    type SendControl = ();
    type RecvControl = ();
    type Opt = ();
    type Given<T: Arg> = ();
    type Syntax<T: Arg> = ();
    type Only<T: Arg> = ();
}

/// Turns the arguments of one stage into the next's, one kind of argument
/// at a time; [`Syscall::lower`] applies it to every argument of a call.
#[allow(missing_docs)]
pub trait Lower<'a, S: Stage, T: Stage> {
    /// Why an argument could not be lowered.
    type Error;
    fn fd(&mut self, fd: &'a S::Fd) -> Result<T::Fd, Self::Error>;
    fn addr(&mut self, addr: &'a S::Addr) -> Result<T::Addr, Self::Error>;
    fn msg_name(&mut self, name: &'a S::MsgName) -> Result<T::MsgName, Self::Error>;
    fn send_control(&mut self, c: &'a S::SendControl) -> Result<T::SendControl, Self::Error>;
    fn recv_control(&mut self, c: &'a S::RecvControl) -> Result<T::RecvControl, Self::Error>;
    fn opt(&mut self, opt: &'a S::Opt) -> Result<T::Opt, Self::Error>;
    /// `recvmsg`'s `msg_namelen`.
    fn namelen(&mut self, n: &'a S::Given<u32>) -> Result<T::Given<u32>, Self::Error>;
    /// `getsockname`'s and `getpeername`'s `*addrlen`.
    fn addrlen(&mut self, n: &'a S::Given<i32>) -> Result<T::Given<i32>, Self::Error>;
    /// `getsockopt`'s `*optlen` (its default depends on the option).
    fn optlen(
        &mut self,
        opt: &'a S::Opt,
        n: &'a S::Given<i32>,
    ) -> Result<T::Given<i32>, Self::Error>;
    fn syntax<X: Arg>(&mut self, x: &'a S::Syntax<X>) -> Result<T::Syntax<X>, Self::Error>;
    /// A `fork` or `wait` argument (`call` names which).
    fn only<X: Arg>(
        &mut self,
        call: &'static str,
        x: &'a S::Only<X>,
    ) -> Result<T::Only<X>, Self::Error>;
}

/// One system call of a scenario process. Fields are the syscall's
/// arguments, named as in its man page.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(bound(
    serialize = "S::Fd: serde::Serialize, S::Addr: serde::Serialize, \
                 S::MsgName: serde::Serialize, S::SendControl: serde::Serialize, \
                 S::RecvControl: serde::Serialize, S::Opt: serde::Serialize, \
                 S::Given<u32>: serde::Serialize, S::Given<i32>: serde::Serialize, \
                 S::Syntax<bool>: serde::Serialize, S::Only<String>: serde::Serialize, \
                 S::Only<usize>: serde::Serialize, S::Only<Option<u64>>: serde::Serialize",
    deserialize = "S::Fd: serde::Deserialize<'de>, S::Addr: serde::Deserialize<'de>, \
                   S::MsgName: serde::Deserialize<'de>, S::SendControl: serde::Deserialize<'de>, \
                   S::RecvControl: serde::Deserialize<'de>, S::Opt: serde::Deserialize<'de>, \
                   S::Given<u32>: serde::Deserialize<'de>, S::Given<i32>: serde::Deserialize<'de>, \
                   S::Syntax<bool>: serde::Deserialize<'de>, \
                   S::Only<String>: serde::Deserialize<'de>, \
                   S::Only<usize>: serde::Deserialize<'de>, \
                   S::Only<Option<u64>>: serde::Deserialize<'de>"
))]
pub enum Syscall<S: Stage> {
    /// `socket(AF_UNIX, ty, protocol)`; `ty` may carry `SOCK_NONBLOCK|SOCK_CLOEXEC`.
    Socket { ty: i32, protocol: i32 },
    /// `socketpair(AF_UNIX, ty, protocol, sv)`.
    Socketpair { ty: i32, protocol: i32 },
    /// `bind(fd, addr, addr.len())`.
    Bind { fd: S::Fd, addr: S::Addr },
    /// `connect(fd, addr, addr.len())`.
    Connect { fd: S::Fd, addr: S::Addr },
    /// `listen(fd, backlog)`.
    Listen { fd: S::Fd, backlog: i32 },
    /// `accept4(fd, NULL, NULL, flags)`.
    Accept { fd: S::Fd, flags: i32 },
    /// `sendmsg(fd, msg, flags)`: `name` is `msg_name` (None: NULL, 0);
    /// `iov` the iovecs in order (empty: `msg_iovlen` 0); `control` the
    /// control buffer (empty: NULL, 0).
    Sendmsg {
        fd: S::Fd,
        name: Option<S::MsgName>,
        iov: Vec<SendBuf>,
        control: S::SendControl,
        flags: i32,
    },
    /// `recvmsg(fd, msg, flags)` with a 128-byte name buffer passed with
    /// `msg_namelen = namelen`, the iovecs `iov` and a control buffer
    /// (`RecvBuf::Len(0)` and `RecvBuf::Null(_)`: `msg_control` NULL).
    Recvmsg {
        fd: S::Fd,
        iov: Vec<RecvBuf>,
        namelen: S::Given<u32>,
        control: S::RecvControl,
        flags: i32,
    },
    /// `close(fd)`.
    Close { fd: S::Fd },
    /// `dup(fd)`.
    Dup { fd: S::Fd },
    /// `dup2(fd, newfd)`.
    Dup2 { fd: S::Fd, newfd: S::Fd },
    /// `shutdown(fd, how)`.
    Shutdown { fd: S::Fd, how: i32 },
    /// `setsockopt(fd, level, name, value, value.len())`. For
    /// `SO_ATTACH_FILTER` the value is the `struct sock_filter` array; the
    /// backend builds the `struct sock_fprog` that points to it.
    Setsockopt {
        fd: S::Fd,
        opt: S::Opt,
        value: Vec<u8>,
    },
    /// `getsockopt(fd, level, name, buf, &optlen)` with a buffer of
    /// `max(optlen, 0)` bytes.
    Getsockopt {
        fd: S::Fd,
        opt: S::Opt,
        optlen: S::Given<i32>,
    },
    /// `getsockname(fd, buf, &len)` with a 128-byte buffer and `len` passed.
    Getsockname { fd: S::Fd, len: S::Given<i32> },
    /// `getpeername(fd, buf, &len)`, as getsockname.
    Getpeername { fd: S::Fd, len: S::Given<i32> },
    /// `fcntl(fd, F_SETFL, O_NONBLOCK or 0)` (other status flags kept).
    SetNonblock { fd: S::Fd, on: bool },
    /// `fcntl(fd, F_GETFD)`.
    GetFd { fd: S::Fd },
    /// `fcntl(fd, F_SETOWN, getpid())`.
    SetOwn { fd: S::Fd },
    /// `pipe2(fds, flags)`.
    Pipe { flags: i32 },
    /// `memfd_create` then `write(content)` then `lseek(0)`.
    Memfd { content: Vec<u8> },
    /// `read(fd, buf, len)`.
    Read { fd: S::Fd, len: usize },
    /// `write(fd, data)`.
    Write { fd: S::Fd, data: Vec<u8> },
    /// `poll(fds, n, timeout)`, every fd asking for `events`; `list`: the
    /// scenario wrote the fds as a list (its trace prints `revents=[..]`).
    Poll {
        fds: Vec<S::Fd>,
        list: S::Syntax<bool>,
        events: i16,
        timeout: i32,
    },
    /// `open(path, flags, mode)`, relative to the world's directory.
    Open {
        path: Vec<u8>,
        flags: i32,
        mode: u32,
    },
    /// `mkdir(path, mode)`.
    Mkdir { path: Vec<u8>, mode: u32 },
    /// `unlink(path)`.
    Unlink { path: Vec<u8> },
    /// `chmod(path, mode)`.
    Chmod { path: Vec<u8>, mode: u32 },
    /// `rename(old, new)`.
    Rename { old: Vec<u8>, new: Vec<u8> },
    /// `ioctl(fd, req, &int)`.
    Ioctl { fd: S::Fd, req: u64 },
    /// The pid a pidfd refers to (`-1` once it exited).
    Pidof { fd: S::Fd },
    /// Whether SIGURG was delivered since the last `Sigurg` (consumes it).
    Sigurg,
    /// `execve`: close every close-on-exec fd, keep the rest.
    Exec,
    /// `exit`: close every fd, the process is reaped.
    Exit,
    /// `fork B`: the runner's (the backend forks with `Backend::fork`);
    /// `col` is the child's name's column.
    Fork {
        child: S::Only<String>,
        col: S::Only<usize>,
    },
    /// `wait [MS]`: the runner's, collecting a background call (default
    /// 1000 ms).
    Wait { ms: S::Only<Option<u64>> },
}

impl<S: Stage> Syscall<S> {
    /// The syscall's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Syscall::Socket { .. } => "socket",
            Syscall::Socketpair { .. } => "socketpair",
            Syscall::Bind { .. } => "bind",
            Syscall::Connect { .. } => "connect",
            Syscall::Listen { .. } => "listen",
            Syscall::Accept { .. } => "accept",
            Syscall::Sendmsg { .. } => "sendmsg",
            Syscall::Recvmsg { .. } => "recvmsg",
            Syscall::Close { .. } => "close",
            Syscall::Dup { .. } => "dup",
            Syscall::Dup2 { .. } => "dup2",
            Syscall::Shutdown { .. } => "shutdown",
            Syscall::Setsockopt { .. } => "setsockopt",
            Syscall::Getsockopt { .. } => "getsockopt",
            Syscall::Getsockname { .. } => "getsockname",
            Syscall::Getpeername { .. } => "getpeername",
            Syscall::SetNonblock { .. } | Syscall::GetFd { .. } | Syscall::SetOwn { .. } => "fcntl",
            Syscall::Pipe { .. } => "pipe",
            Syscall::Memfd { .. } => "memfd",
            Syscall::Read { .. } => "read",
            Syscall::Write { .. } => "write",
            Syscall::Poll { .. } => "poll",
            Syscall::Open { .. } => "open",
            Syscall::Mkdir { .. } => "mkdir",
            Syscall::Unlink { .. } => "unlink",
            Syscall::Chmod { .. } => "chmod",
            Syscall::Rename { .. } => "rename",
            Syscall::Sigurg => "sigurg",
            Syscall::Exec => "exec",
            Syscall::Ioctl { .. } => "ioctl",
            Syscall::Pidof { .. } => "pidof",
            Syscall::Exit => "exit",
            Syscall::Fork { .. } => "fork",
            Syscall::Wait { .. } => "wait",
        }
    }

    /// The same call at stage `T`: every argument that differs between the
    /// stages goes through `l`, in the order of the call's arguments;
    /// the rest is copied.
    pub fn lower<'a, T: Stage, L: Lower<'a, S, T>>(
        &'a self,
        l: &mut L,
    ) -> Result<Syscall<T>, L::Error> {
        Ok(match self {
            Syscall::Socket { ty, protocol } => Syscall::Socket {
                ty: *ty,
                protocol: *protocol,
            },
            Syscall::Socketpair { ty, protocol } => Syscall::Socketpair {
                ty: *ty,
                protocol: *protocol,
            },
            Syscall::Bind { fd, addr } => Syscall::Bind {
                fd: l.fd(fd)?,
                addr: l.addr(addr)?,
            },
            Syscall::Connect { fd, addr } => Syscall::Connect {
                fd: l.fd(fd)?,
                addr: l.addr(addr)?,
            },
            Syscall::Listen { fd, backlog } => Syscall::Listen {
                fd: l.fd(fd)?,
                backlog: *backlog,
            },
            Syscall::Accept { fd, flags } => Syscall::Accept {
                fd: l.fd(fd)?,
                flags: *flags,
            },
            Syscall::Sendmsg {
                fd,
                name,
                iov,
                control,
                flags,
            } => Syscall::Sendmsg {
                fd: l.fd(fd)?,
                name: name.as_ref().map(|n| l.msg_name(n)).transpose()?,
                iov: iov.clone(),
                control: l.send_control(control)?,
                flags: *flags,
            },
            Syscall::Recvmsg {
                fd,
                iov,
                namelen,
                control,
                flags,
            } => Syscall::Recvmsg {
                fd: l.fd(fd)?,
                iov: iov.clone(),
                namelen: l.namelen(namelen)?,
                control: l.recv_control(control)?,
                flags: *flags,
            },
            Syscall::Close { fd } => Syscall::Close { fd: l.fd(fd)? },
            Syscall::Dup { fd } => Syscall::Dup { fd: l.fd(fd)? },
            Syscall::Dup2 { fd, newfd } => Syscall::Dup2 {
                fd: l.fd(fd)?,
                newfd: l.fd(newfd)?,
            },
            Syscall::Shutdown { fd, how } => Syscall::Shutdown {
                fd: l.fd(fd)?,
                how: *how,
            },
            Syscall::Setsockopt { fd, opt, value } => Syscall::Setsockopt {
                fd: l.fd(fd)?,
                opt: l.opt(opt)?,
                value: value.clone(),
            },
            Syscall::Getsockopt { fd, opt, optlen } => Syscall::Getsockopt {
                fd: l.fd(fd)?,
                opt: l.opt(opt)?,
                optlen: l.optlen(opt, optlen)?,
            },
            Syscall::Getsockname { fd, len } => Syscall::Getsockname {
                fd: l.fd(fd)?,
                len: l.addrlen(len)?,
            },
            Syscall::Getpeername { fd, len } => Syscall::Getpeername {
                fd: l.fd(fd)?,
                len: l.addrlen(len)?,
            },
            Syscall::SetNonblock { fd, on } => Syscall::SetNonblock {
                fd: l.fd(fd)?,
                on: *on,
            },
            Syscall::GetFd { fd } => Syscall::GetFd { fd: l.fd(fd)? },
            Syscall::SetOwn { fd } => Syscall::SetOwn { fd: l.fd(fd)? },
            Syscall::Pipe { flags } => Syscall::Pipe { flags: *flags },
            Syscall::Memfd { content } => Syscall::Memfd {
                content: content.clone(),
            },
            Syscall::Read { fd, len } => Syscall::Read {
                fd: l.fd(fd)?,
                len: *len,
            },
            Syscall::Write { fd, data } => Syscall::Write {
                fd: l.fd(fd)?,
                data: data.clone(),
            },
            Syscall::Poll {
                fds,
                list,
                events,
                timeout,
            } => Syscall::Poll {
                fds: fds.iter().map(|f| l.fd(f)).collect::<Result<_, _>>()?,
                list: l.syntax(list)?,
                events: *events,
                timeout: *timeout,
            },
            Syscall::Open { path, flags, mode } => Syscall::Open {
                path: path.clone(),
                flags: *flags,
                mode: *mode,
            },
            Syscall::Mkdir { path, mode } => Syscall::Mkdir {
                path: path.clone(),
                mode: *mode,
            },
            Syscall::Unlink { path } => Syscall::Unlink { path: path.clone() },
            Syscall::Chmod { path, mode } => Syscall::Chmod {
                path: path.clone(),
                mode: *mode,
            },
            Syscall::Rename { old, new } => Syscall::Rename {
                old: old.clone(),
                new: new.clone(),
            },
            Syscall::Ioctl { fd, req } => Syscall::Ioctl {
                fd: l.fd(fd)?,
                req: *req,
            },
            Syscall::Pidof { fd } => Syscall::Pidof { fd: l.fd(fd)? },
            Syscall::Sigurg => Syscall::Sigurg,
            Syscall::Exec => Syscall::Exec,
            Syscall::Exit => Syscall::Exit,
            Syscall::Fork { child, col } => Syscall::Fork {
                child: l.only("fork", child)?,
                col: l.only("fork", col)?,
            },
            Syscall::Wait { ms } => Syscall::Wait {
                ms: l.only("wait", ms)?,
            },
        })
    }
}
