//! The LSM hook points of the socket layer (`security/security.c`).
//!
//! A [`Security`] policy installed with [`crate::World::with_security`] is
//! asked where Linux asks its LSMs, in Linux's order, with what Linux's
//! hooks receive: the calling task, the socket, its peer, the address, the
//! file being passed. A denial is the call's answer: its errno, and its
//! rule for `--explain` (so a policy should name its hook:
//! `"security_file_receive: sandbox: only memfds"`). Every hook defaults to
//! allowing; a world without a policy skips the hooks entirely, so they
//! cost nothing on the fast path.
//!
//! The views ([`SocketRef`], [`FileRef`]) read only what needs no lock: a
//! hook may be called with the socket's lock held (as `unix_may_send` is in
//! Linux, under `unix_state_lock(other)`), so it must not call back into
//! the world.

use crate::abi::sockaddr::UnixAddr;
use crate::errno::SysResult;
use crate::fs::file::{File, FileKind};
use crate::ids::Pid;
use crate::net::unix::{Sock, SockType};
use crate::process::Cred;

/// The task making the call (`current`).
#[derive(Clone, Copy, Debug)]
pub struct Task<'a> {
    /// Its pid.
    pub pid: Pid,
    /// Its credentials (`current_cred()`).
    pub cred: &'a Cred,
}

/// A unix socket, as a hook sees it (`struct socket` / `struct sock`).
#[derive(Clone, Copy)]
pub struct SocketRef<'a>(pub(crate) &'a Sock);

impl<'a> SocketRef<'a> {
    /// `SOCK_STREAM`, `SOCK_DGRAM` or `SOCK_SEQPACKET`.
    pub fn ty(self) -> SockType {
        self.0.ty
    }
    /// The inode number (`sock_i_ino`, what `/proc/net/unix` shows).
    pub fn ino(self) -> u64 {
        self.0.ino
    }
    /// The network namespace it lives in (a world's label).
    pub fn netns(self) -> u32 {
        self.0.netns
    }
    /// The bound address (`u->addr`), once it has one.
    pub fn addr(self) -> Option<&'a UnixAddr> {
        self.0.addr.get().map(|a| &**a)
    }
}

impl core::fmt::Debug for SocketRef<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SocketRef")
            .field("ino", &self.ino())
            .field("ty", &self.ty())
            .field("addr", &self.addr())
            .finish()
    }
}

/// What kind of open file a [`FileRef`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// `/dev/null`.
    Null,
    /// A memfd.
    Memfd,
    /// The read end of a pipe.
    PipeRead,
    /// The write end of a pipe.
    PipeWrite,
    /// A unix socket.
    Socket,
    /// A pidfd.
    Pidfd,
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// An `O_PATH` fd.
    Path,
    /// A file the model does not implement (an embedder's).
    External,
}

/// An open file, as a hook sees it (`struct file`).
#[derive(Clone, Copy)]
pub struct FileRef<'a>(pub(crate) &'a File);

impl<'a> FileRef<'a> {
    /// What it is.
    pub fn file_type(self) -> FileType {
        match &self.0.kind {
            FileKind::Null => FileType::Null,
            FileKind::Memfd(_) => FileType::Memfd,
            FileKind::PipeRead(_) => FileType::PipeRead,
            FileKind::PipeWrite(_) => FileType::PipeWrite,
            FileKind::Socket(_) => FileType::Socket,
            FileKind::Pidfd(_) => FileType::Pidfd,
            FileKind::Regular(_) => FileType::Regular,
            FileKind::Dir => FileType::Directory,
            FileKind::Path => FileType::Path,
            FileKind::External(..) => FileType::External,
        }
    }
    /// The embedder's id of an [`FileType::External`] file (the id given
    /// to [`crate::World::open_external`]), so that a policy can ask the
    /// embedder what the file really is.
    pub fn external_id(self) -> Option<u64> {
        match self.0.kind {
            FileKind::External(id, _) => Some(id),
            _ => None,
        }
    }
    /// What it is as a policy judges it: [`FileRef::file_type`], except
    /// that an external file is what its embedder said it is
    /// ([`crate::World::open_external_as`]; `External` if it did not say).
    pub fn host_type(self) -> FileType {
        match self.0.kind {
            FileKind::External(_, ty) => ty,
            _ => self.file_type(),
        }
    }
    /// The socket, if it is one.
    pub fn socket(self) -> Option<SocketRef<'a>> {
        self.0.sock().map(|s| SocketRef(s))
    }
}

impl core::fmt::Debug for FileRef<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("FileRef").field(&self.file_type()).finish()
    }
}

/// Policy hooks, called where Linux calls its LSM hooks, with what they get.
/// Each returns `Ok(())` to allow, or the error the call then fails with.
pub trait Security: Send + Sync {
    /// `security_socket_create`, from `__sock_create`: after the type's
    /// range check, before the protocol's checks. `ty` is the type
    /// argument without its flags.
    fn socket_create(&self, _task: &Task<'_>, _ty: i32, _protocol: i32) -> SysResult<()> {
        Ok(())
    }
    /// `security_socket_socketpair`, from `__sys_socketpair`, once both
    /// sockets exist.
    fn socket_socketpair(
        &self,
        _task: &Task<'_>,
        _a: SocketRef<'_>,
        _b: SocketRef<'_>,
    ) -> SysResult<()> {
        Ok(())
    }
    /// `security_socket_bind`, from `__sys_bind`, with the address as the
    /// caller passed it (not yet parsed by `unix_bind`).
    fn socket_bind(&self, _task: &Task<'_>, _sock: SocketRef<'_>, _addr: &[u8]) -> SysResult<()> {
        Ok(())
    }
    /// `security_socket_connect`, from `__sys_connect_file`, with the raw
    /// address, once per call (not again after a sleep).
    fn socket_connect(
        &self,
        _task: &Task<'_>,
        _sock: SocketRef<'_>,
        _addr: &[u8],
    ) -> SysResult<()> {
        Ok(())
    }
    /// `security_socket_listen`, from `__sys_listen`, with the backlog
    /// already clamped to `somaxconn`.
    fn socket_listen(
        &self,
        _task: &Task<'_>,
        _sock: SocketRef<'_>,
        _backlog: i32,
    ) -> SysResult<()> {
        Ok(())
    }
    /// `security_socket_accept`, from `do_accept`, before the wait for a
    /// connection (once per call).
    fn socket_accept(&self, _task: &Task<'_>, _sock: SocketRef<'_>) -> SysResult<()> {
        Ok(())
    }
    /// `security_socket_sendmsg`, from `sock_sendmsg` (also `write`),
    /// once per call: the payload length and the flags (`O_NONBLOCK`
    /// already folded into `MSG_DONTWAIT`).
    fn socket_sendmsg(
        &self,
        _task: &Task<'_>,
        _sock: SocketRef<'_>,
        _len: usize,
        _flags: i32,
    ) -> SysResult<()> {
        Ok(())
    }
    /// `security_socket_recvmsg`, from `sock_recvmsg` (also `read`).
    fn socket_recvmsg(
        &self,
        _task: &Task<'_>,
        _sock: SocketRef<'_>,
        _len: usize,
        _flags: i32,
    ) -> SysResult<()> {
        Ok(())
    }
    /// `security_unix_stream_connect`, from `unix_stream_connect`, with
    /// both sockets locked: the connecting socket and the listener.
    fn unix_stream_connect(
        &self,
        _task: &Task<'_>,
        _sock: SocketRef<'_>,
        _listener: SocketRef<'_>,
    ) -> SysResult<()> {
        Ok(())
    }
    /// `security_unix_may_send`, for each datagram send and datagram
    /// connect, with the receiver locked.
    fn unix_may_send(
        &self,
        _task: &Task<'_>,
        _sock: SocketRef<'_>,
        _other: SocketRef<'_>,
    ) -> SysResult<()> {
        Ok(())
    }
    /// `security_file_receive`, from `receive_fd` for each file
    /// `scm_detach_fds` installs in the receiver (`task`): a denial stops
    /// the installation there (the rest are dropped, `MSG_CTRUNC`).
    fn file_receive(&self, _task: &Task<'_>, _file: FileRef<'_>) -> SysResult<()> {
        Ok(())
    }
}

/// `inner`'s answers for every task but those `exempt` picks, which are
/// allowed everything: an embedder's own processes in the world (the
/// process of `afunix exec`'s supervisor that holds the model's ends of
/// a program's files) under the program's policy.
///
/// ```
/// use afunix::security::{Deny, DenyRule, Exempt, FileType, Hook};
/// use afunix::{Errno, Pid, TaskSpec, World};
/// use std::sync::{Arc, OnceLock};
///
/// let helper: Arc<OnceLock<Pid>> = Arc::default();
/// let exempt = Arc::clone(&helper);
/// let rules = Deny(vec![DenyRule::new(Hook::SocketCreate).errno(Errno::EACCES)]);
/// let w = World::with_security(Box::new(Exempt::new(rules, move |t| {
///     exempt.get() == Some(&t.pid)
/// })));
/// let h = w.spawn(&TaskSpec::default());
/// helper.set(h).unwrap();
/// let p = w.spawn(&TaskSpec::default());
/// assert!(w.socket(h, afunix::abi::consts::SOCK_DGRAM).is_ok());
/// assert_eq!(w.socket(p, afunix::abi::consts::SOCK_DGRAM).unwrap_err(), Errno::EACCES);
/// ```
pub struct Exempt<P, F> {
    inner: P,
    exempt: F,
}

impl<P, F: Fn(&Task<'_>) -> bool> Exempt<P, F> {
    /// `inner` for every task for which `exempt` is false.
    pub fn new(inner: P, exempt: F) -> Self {
        Exempt { inner, exempt }
    }

    fn ask(&self, t: &Task<'_>, hook: impl FnOnce(&P) -> SysResult<()>) -> SysResult<()> {
        if (self.exempt)(t) {
            return Ok(());
        }
        hook(&self.inner)
    }
}

impl<P: core::fmt::Debug, F> core::fmt::Debug for Exempt<P, F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Exempt")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<P: Security, F: Fn(&Task<'_>) -> bool + Send + Sync> Security for Exempt<P, F> {
    fn socket_create(&self, t: &Task<'_>, ty: i32, protocol: i32) -> SysResult<()> {
        self.ask(t, |p| p.socket_create(t, ty, protocol))
    }
    fn socket_socketpair(&self, t: &Task<'_>, a: SocketRef<'_>, b: SocketRef<'_>) -> SysResult<()> {
        self.ask(t, |p| p.socket_socketpair(t, a, b))
    }
    fn socket_bind(&self, t: &Task<'_>, s: SocketRef<'_>, addr: &[u8]) -> SysResult<()> {
        self.ask(t, |p| p.socket_bind(t, s, addr))
    }
    fn socket_connect(&self, t: &Task<'_>, s: SocketRef<'_>, addr: &[u8]) -> SysResult<()> {
        self.ask(t, |p| p.socket_connect(t, s, addr))
    }
    fn socket_listen(&self, t: &Task<'_>, s: SocketRef<'_>, backlog: i32) -> SysResult<()> {
        self.ask(t, |p| p.socket_listen(t, s, backlog))
    }
    fn socket_accept(&self, t: &Task<'_>, s: SocketRef<'_>) -> SysResult<()> {
        self.ask(t, |p| p.socket_accept(t, s))
    }
    fn socket_sendmsg(&self, t: &Task<'_>, s: SocketRef<'_>, n: usize, f: i32) -> SysResult<()> {
        self.ask(t, |p| p.socket_sendmsg(t, s, n, f))
    }
    fn socket_recvmsg(&self, t: &Task<'_>, s: SocketRef<'_>, n: usize, f: i32) -> SysResult<()> {
        self.ask(t, |p| p.socket_recvmsg(t, s, n, f))
    }
    fn unix_stream_connect(
        &self,
        t: &Task<'_>,
        s: SocketRef<'_>,
        other: SocketRef<'_>,
    ) -> SysResult<()> {
        self.ask(t, |p| p.unix_stream_connect(t, s, other))
    }
    fn unix_may_send(&self, t: &Task<'_>, s: SocketRef<'_>, other: SocketRef<'_>) -> SysResult<()> {
        self.ask(t, |p| p.unix_may_send(t, s, other))
    }
    fn file_receive(&self, t: &Task<'_>, file: FileRef<'_>) -> SysResult<()> {
        self.ask(t, |p| p.file_receive(t, file))
    }
}

/// The default policy: allow everything (no LSM).
#[derive(Debug, Default)]
pub struct AllowAll;

impl Security for AllowAll {}

/// A hook of [`Security`], by its kernel name without `security_`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hook {
    /// `security_socket_create`.
    SocketCreate,
    /// `security_socket_socketpair`.
    SocketSocketpair,
    /// `security_socket_bind`.
    SocketBind,
    /// `security_socket_connect`.
    SocketConnect,
    /// `security_socket_listen`.
    SocketListen,
    /// `security_socket_accept`.
    SocketAccept,
    /// `security_socket_sendmsg`.
    SocketSendmsg,
    /// `security_socket_recvmsg`.
    SocketRecvmsg,
    /// `security_unix_stream_connect`.
    UnixStreamConnect,
    /// `security_unix_may_send`.
    UnixMaySend,
    /// `security_file_receive`.
    FileReceive,
}

impl Hook {
    /// Every hook, in the order a send with files meets them.
    pub const ALL: [Hook; 11] = [
        Hook::SocketCreate,
        Hook::SocketSocketpair,
        Hook::SocketBind,
        Hook::SocketConnect,
        Hook::SocketListen,
        Hook::SocketAccept,
        Hook::SocketSendmsg,
        Hook::SocketRecvmsg,
        Hook::UnixStreamConnect,
        Hook::UnixMaySend,
        Hook::FileReceive,
    ];

    /// Its name (`file_receive`).
    pub fn name(self) -> &'static str {
        self.rule().function.trim_start_matches("security_")
    }

    /// The hook of this name.
    pub fn from_name(name: &str) -> Option<Hook> {
        Hook::ALL.into_iter().find(|h| h.name() == name)
    }

    /// The rule of a denial by a [`Deny`] rule at this hook.
    fn rule(self) -> &'static crate::Rule {
        match self {
            Hook::SocketCreate => {
                rule!(security_socket_create, "a deny rule of the policy matches")
            }
            Hook::SocketSocketpair => rule!(
                security_socket_socketpair,
                "a deny rule of the policy matches"
            ),
            Hook::SocketBind => rule!(security_socket_bind, "a deny rule of the policy matches"),
            Hook::SocketConnect => {
                rule!(security_socket_connect, "a deny rule of the policy matches")
            }
            Hook::SocketListen => {
                rule!(security_socket_listen, "a deny rule of the policy matches")
            }
            Hook::SocketAccept => {
                rule!(security_socket_accept, "a deny rule of the policy matches")
            }
            Hook::SocketSendmsg => {
                rule!(security_socket_sendmsg, "a deny rule of the policy matches")
            }
            Hook::SocketRecvmsg => {
                rule!(security_socket_recvmsg, "a deny rule of the policy matches")
            }
            Hook::UnixStreamConnect => rule!(
                security_unix_stream_connect,
                "a deny rule of the policy matches"
            ),
            Hook::UnixMaySend => rule!(security_unix_may_send, "a deny rule of the policy matches"),
            Hook::FileReceive => rule!(security_file_receive, "a deny rule of the policy matches"),
        }
    }
}

/// Which passed files a [`DenyRule`] of `file_receive` matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileMatch {
    /// Files of this type.
    Is(FileType),
    /// Files of any other type (`file=!memfd`: everything but memfds).
    IsNot(FileType),
}

/// One rule of a [`Deny`] policy: `hook` refuses with `errno` the calls
/// that every selector it has matches: the task's effective uid (`uid`),
/// the task (`pid`), the type of the socket the hook is about (`sock`: the
/// type asked for at `socket_create`, the passed socket's at
/// `file_receive`; a hook with no socket never matches it), and at
/// `file_receive` the passed file (`file`; at other hooks a rule with
/// `file` never matches). A rule with no selector matches every call of
/// its hook.
///
/// ```
/// use afunix::security::{DenyRule, FileMatch, FileType, Hook};
/// use afunix::{Errno, SockType};
/// // uid 1000 may receive only memfds, and may not connect stream sockets.
/// let rules = [
///     DenyRule::new(Hook::FileReceive).uid(1000).file(FileMatch::IsNot(FileType::Memfd)),
///     DenyRule::new(Hook::SocketConnect).uid(1000).sock(SockType::Stream).errno(Errno::EPERM),
/// ];
/// assert_eq!(rules[1].errno, Errno::EPERM);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DenyRule {
    /// Where.
    pub hook: Hook,
    /// Only tasks of this effective uid.
    pub uid: Option<u32>,
    /// Only this task.
    pub pid: Option<Pid>,
    /// Only sockets of this type.
    pub sock: Option<SockType>,
    /// Only these passed files (`file_receive`).
    pub file: Option<FileMatch>,
    /// The answer (`EACCES` is what SELinux and AppArmor give).
    pub errno: crate::Errno,
}

impl DenyRule {
    /// A rule refusing every call of `hook` with `EACCES`.
    pub fn new(hook: Hook) -> DenyRule {
        DenyRule {
            hook,
            uid: None,
            pid: None,
            sock: None,
            file: None,
            errno: crate::Errno::EACCES,
        }
    }
    /// Only for tasks of effective uid `uid`.
    pub fn uid(self, uid: u32) -> DenyRule {
        DenyRule {
            uid: Some(uid),
            ..self
        }
    }
    /// Only for the task `pid`.
    pub fn pid(self, pid: Pid) -> DenyRule {
        DenyRule {
            pid: Some(pid),
            ..self
        }
    }
    /// Only where the hook's socket is of type `ty`.
    pub fn sock(self, ty: SockType) -> DenyRule {
        DenyRule {
            sock: Some(ty),
            ..self
        }
    }
    /// Only for the passed files `file` matches (`file_receive`).
    pub fn file(self, file: FileMatch) -> DenyRule {
        DenyRule {
            file: Some(file),
            ..self
        }
    }
    /// Refuse with `errno`.
    pub fn errno(self, errno: crate::Errno) -> DenyRule {
        DenyRule { errno, ..self }
    }
}

/// A policy made of deny rules (`afunix run --deny`): a hook call that a
/// rule matches is refused with the rule's errno, and `--explain` names the
/// hook and the rule; what no rule matches is allowed. The memfd sandbox
/// is one rule: `file_receive` for uid 1000 of anything but a memfd.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deny(pub Vec<DenyRule>);

impl Deny {
    /// The answer of the rules at `hook` for `task`, on a socket of type
    /// `sock` (if the hook is about one) and, at `file_receive`, a file of
    /// type `file`: for an embedder that knows a file's type better than
    /// the model does (an external file).
    pub fn check(
        &self,
        hook: Hook,
        task: &Task<'_>,
        sock: Option<SockType>,
        file: Option<FileType>,
    ) -> SysResult<()> {
        let hit = self.0.iter().enumerate().find(|(_, r)| {
            r.hook == hook
                && r.uid.is_none_or(|u| u == task.cred.euid)
                && r.pid.is_none_or(|p| p == task.pid)
                && r.sock.is_none_or(|t| Some(t) == sock)
                && match (r.file, file) {
                    (None, _) => true,
                    (Some(FileMatch::Is(t)), Some(f)) => t == f,
                    (Some(FileMatch::IsNot(t)), Some(f)) => t != f,
                    (Some(_), None) => false,
                }
        });
        let Some((i, r)) = hit else {
            return Ok(());
        };
        crate::path::note(|| {
            let sock = sock.map_or(String::new(), |t| format!(" on a {} socket", t.name()));
            let file = file.map_or(String::new(), |f| format!(", a {f:?} file"));
            format!(
                "deny rule {} of the policy: {} by pid {} (euid {}){sock}{file}",
                i + 1,
                hook.name(),
                task.pid.as_raw(),
                task.cred.euid,
            )
        });
        Err(r.errno.why(hook.rule()))
    }
}

impl Security for Deny {
    fn socket_create(&self, task: &Task<'_>, ty: i32, _protocol: i32) -> SysResult<()> {
        let sock = SockType::from_raw(ty & crate::abi::consts::SOCK_TYPE_MASK).ok();
        self.check(Hook::SocketCreate, task, sock, None)
    }
    fn socket_socketpair(
        &self,
        task: &Task<'_>,
        a: SocketRef<'_>,
        _: SocketRef<'_>,
    ) -> SysResult<()> {
        self.check(Hook::SocketSocketpair, task, Some(a.ty()), None)
    }
    fn socket_bind(&self, task: &Task<'_>, s: SocketRef<'_>, _: &[u8]) -> SysResult<()> {
        self.check(Hook::SocketBind, task, Some(s.ty()), None)
    }
    fn socket_connect(&self, task: &Task<'_>, s: SocketRef<'_>, _: &[u8]) -> SysResult<()> {
        self.check(Hook::SocketConnect, task, Some(s.ty()), None)
    }
    fn socket_listen(&self, task: &Task<'_>, s: SocketRef<'_>, _: i32) -> SysResult<()> {
        self.check(Hook::SocketListen, task, Some(s.ty()), None)
    }
    fn socket_accept(&self, task: &Task<'_>, s: SocketRef<'_>) -> SysResult<()> {
        self.check(Hook::SocketAccept, task, Some(s.ty()), None)
    }
    fn socket_sendmsg(&self, task: &Task<'_>, s: SocketRef<'_>, _: usize, _: i32) -> SysResult<()> {
        self.check(Hook::SocketSendmsg, task, Some(s.ty()), None)
    }
    fn socket_recvmsg(&self, task: &Task<'_>, s: SocketRef<'_>, _: usize, _: i32) -> SysResult<()> {
        self.check(Hook::SocketRecvmsg, task, Some(s.ty()), None)
    }
    fn unix_stream_connect(
        &self,
        task: &Task<'_>,
        s: SocketRef<'_>,
        _: SocketRef<'_>,
    ) -> SysResult<()> {
        self.check(Hook::UnixStreamConnect, task, Some(s.ty()), None)
    }
    fn unix_may_send(&self, task: &Task<'_>, s: SocketRef<'_>, _: SocketRef<'_>) -> SysResult<()> {
        self.check(Hook::UnixMaySend, task, Some(s.ty()), None)
    }
    fn file_receive(&self, task: &Task<'_>, file: FileRef<'_>) -> SysResult<()> {
        let sock = file.socket().map(|s| s.ty());
        self.check(Hook::FileReceive, task, sock, Some(file.host_type()))
    }
}
