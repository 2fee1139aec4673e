//! The scenario language: lexer, parser and syntax tree (see SCENARIO.md).
//!
//! [`parse`] turns the text of a `.scn` file into a [`Scenario`], or into
//! every [`ParseError`] it found (one per bad line, with line and column).
//! Names (fds, processes, `@#N`) stay unresolved here: the runner resolves
//! them, because they depend on what happened before.

use afunix::abi::consts::*;
use afunix::backend::TaskSpec;
use std::collections::HashSet;
use std::fmt;

/// The largest byte count a scenario may ask for (`data=N`, `len=N`,
/// `read FD N`, `space=N`): large enough for every socket buffer, small
/// enough that a typo cannot exhaust memory.
pub const MAX_BYTES: u64 = 1 << 26;

/// A syntax error: where (1-based line and column, in characters) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column (characters).
    pub col: usize,
    /// What is wrong.
    pub msg: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.msg)
    }
}

/// A whole scenario file.
#[derive(Clone, Debug, Default)]
pub struct Scenario {
    /// Every directive and call, in order (blank and comment lines dropped).
    pub lines: Vec<Line>,
    /// Every abstract name the scenario writes itself (`@name`, `@"..."`):
    /// such a name is never printed as `@#N`.
    pub written_abstract: HashSet<Vec<u8>>,
}

/// One directive or call.
#[derive(Clone, Debug)]
pub struct Line {
    /// 1-based line number.
    pub lineno: usize,
    /// The text echoed in the trace: the line without its comment and
    /// without its `= ...` part.
    pub echo: String,
    /// What the line does.
    pub kind: LineKind,
    /// The expected result (`= RESULT FIELD...`), if written.
    pub expect: Option<Expect>,
}

/// The expectation written after ` = `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expect {
    /// The result token (`0`, `EINVAL`, `BLOCKED`).
    pub result: String,
    /// The fields, as written (`data="x"`, `sigpipe`).
    pub fields: Vec<String>,
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.result)?;
        for x in &self.fields {
            write!(f, " {x}")?;
        }
        Ok(())
    }
}

/// A directive or a call by a process.
#[derive(Clone, Debug)]
pub enum LineKind {
    /// A directive (`task`, `sysctl`, `gc`, `stat`, `sleep`).
    Directive(Directive),
    /// `NAME: CALL ARG... [-> BIND...]` or `NAME: CALL ARG... &`.
    Call {
        /// The process name.
        proc: String,
        /// Column of the process name.
        proc_col: usize,
        /// The call and its arguments.
        op: Op,
        /// Names bound after `->`.
        binds: Vec<String>,
        /// Written with `&`: started in the background.
        background: bool,
    },
}

/// A directive line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Directive {
    /// `task A [uid=N] [gid=N] [groups=[..]] [nofile=N]`.
    Task {
        /// The process name.
        name: String,
        /// Credentials and limits.
        spec: TaskSpec,
    },
    /// `sysctl max_dgram_qlen=N`.
    Sysctl {
        /// The new `net.unix.max_dgram_qlen`.
        max_dgram_qlen: u32,
    },
    /// `gc`.
    Gc,
    /// `stat`.
    Stat,
    /// `sleep MS`.
    Sleep {
        /// Milliseconds.
        ms: u64,
    },
}

/// An fd argument: a name bound in the calling process, or a number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdArg {
    /// The name or number.
    pub fd: FdKind,
    /// Column where it was written.
    pub col: usize,
}

/// How an fd argument was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FdKind {
    /// A name bound earlier in the same process.
    Name(String),
    /// A literal fd number.
    Num(i32),
}

/// An address argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrArg {
    /// What was written.
    pub addr: AddrKind,
    /// Column where it was written.
    pub col: usize,
}

/// The forms of an address argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddrKind {
    /// `"path"`: a pathname, passed with SUN_LEN + 1.
    Path(Vec<u8>),
    /// `@name` / `@"bytes"`: an abstract name.
    Abstract(Vec<u8>),
    /// `auto` / `unnamed`: the family alone (length 2).
    Auto,
    /// `unspec`: AF_UNSPEC, length 2.
    Unspec,
    /// `hex:...`: raw sockaddr bytes.
    Hex(Vec<u8>),
    /// `@#N`: the N-th autobound name printed so far.
    Autobound(usize),
}

/// The pid part of `creds=PID,UID,GID`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PidArg {
    /// A process name: its pid.
    Name(String),
    /// A literal pid.
    Num(i32),
}

/// `creds=...` of sendmsg.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredsArg {
    /// `creds=self`: the caller's pid, uid and gid.
    Own,
    /// `creds=PID,UID,GID`.
    Explicit {
        /// The pid (a process name or a number).
        pid: PidArg,
        /// The uid.
        uid: u32,
        /// The gid.
        gid: u32,
    },
}

/// One piece of a sendmsg control buffer, in the order written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CtlPiece {
    /// `rights=[FD,...]`: one SCM_RIGHTS message.
    Rights(Vec<FdArg>),
    /// `creds=C`: one SCM_CREDENTIALS message.
    Creds(CredsArg, usize),
    /// `cmsg=hex:...`: raw bytes.
    Raw(Vec<u8>),
}

/// One term of `space=`: the control buffer size of recvmsg.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpaceTerm {
    /// A byte count.
    Bytes(usize),
    /// `rights:K`: CMSG_SPACE(4 K).
    Rights(usize),
    /// `creds`: CMSG_SPACE(12).
    Creds,
    /// `pidfd`: CMSG_SPACE(4).
    Pidfd,
    /// `inq`: CMSG_SPACE(4).
    Inq,
}

/// The default `space=`: `rights:253+creds+pidfd+inq`.
pub fn default_space() -> Vec<SpaceTerm> {
    vec![
        SpaceTerm::Rights(SCM_MAX_FD),
        SpaceTerm::Creds,
        SpaceTerm::Pidfd,
        SpaceTerm::Inq,
    ]
}

/// A socket option name of `setsockopt`/`getsockopt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opt {
    /// SO_PASSCRED.
    Passcred,
    /// SO_SNDBUF.
    Sndbuf,
    /// SO_RCVBUF.
    Rcvbuf,
    /// SO_SNDTIMEO (milliseconds).
    Sndtimeo,
    /// SO_RCVTIMEO (milliseconds).
    Rcvtimeo,
    /// SO_PEEK_OFF.
    PeekOff,
    /// SO_OOBINLINE.
    Oobinline,
    /// SO_PASSPIDFD.
    Passpidfd,
    /// SO_PASSRIGHTS.
    Passrights,
    /// SO_INQ.
    Inq,
    /// SO_ATTACH_FILTER (setsockopt) / SO_GET_FILTER (getsockopt).
    AttachFilter,
    /// SO_DETACH_FILTER.
    DetachFilter,
    /// SO_PEERCRED.
    Peercred,
    /// SO_PEERGROUPS.
    Peergroups,
    /// SO_PEERPIDFD.
    Peerpidfd,
    /// SO_TYPE.
    Type,
    /// SO_ACCEPTCONN.
    Acceptconn,
    /// SO_ERROR.
    Error,
}

const OPTS: &[(&str, Opt, i32)] = &[
    ("passcred", Opt::Passcred, SO_PASSCRED),
    ("sndbuf", Opt::Sndbuf, SO_SNDBUF),
    ("rcvbuf", Opt::Rcvbuf, SO_RCVBUF),
    ("sndtimeo", Opt::Sndtimeo, SO_SNDTIMEO),
    ("rcvtimeo", Opt::Rcvtimeo, SO_RCVTIMEO),
    ("peek_off", Opt::PeekOff, SO_PEEK_OFF),
    ("oobinline", Opt::Oobinline, SO_OOBINLINE),
    ("passpidfd", Opt::Passpidfd, SO_PASSPIDFD),
    ("passrights", Opt::Passrights, SO_PASSRIGHTS),
    ("inq", Opt::Inq, SO_INQ),
    ("attach_filter", Opt::AttachFilter, SO_ATTACH_FILTER),
    ("detach_filter", Opt::DetachFilter, SO_DETACH_FILTER),
    ("peercred", Opt::Peercred, SO_PEERCRED),
    ("peergroups", Opt::Peergroups, SO_PEERGROUPS),
    ("peerpidfd", Opt::Peerpidfd, SO_PEERPIDFD),
    ("type", Opt::Type, SO_TYPE),
    ("acceptconn", Opt::Acceptconn, SO_ACCEPTCONN),
    ("error", Opt::Error, SO_ERROR),
];

impl Opt {
    /// Look an option up by its scenario name.
    pub fn from_name(s: &str) -> Option<Opt> {
        OPTS.iter().find(|(n, _, _)| *n == s).map(|(_, o, _)| *o)
    }
    /// The `SO_*` number (at level `SOL_SOCKET`).
    pub fn number(self) -> i32 {
        OPTS.iter()
            .find(|(_, o, _)| *o == self)
            .map(|(_, _, n)| *n)
            .unwrap_or(0)
    }
}

/// A call and its parsed arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `socket TYPE [nonblock] [cloexec]` (`ty` includes the flags).
    Socket {
        /// Type and flags.
        ty: i32,
    },
    /// `socketpair TYPE [nonblock] [cloexec]`.
    Socketpair {
        /// Type and flags.
        ty: i32,
    },
    /// `bind FD ADDR`.
    Bind {
        /// The socket.
        fd: FdArg,
        /// The address.
        addr: AddrArg,
    },
    /// `connect FD ADDR`.
    Connect {
        /// The socket.
        fd: FdArg,
        /// The address.
        addr: AddrArg,
    },
    /// `listen FD BACKLOG`.
    Listen {
        /// The socket.
        fd: FdArg,
        /// The backlog.
        backlog: i32,
    },
    /// `accept FD [nonblock] [cloexec]`.
    Accept {
        /// The listener.
        fd: FdArg,
        /// accept4 flags.
        flags: i32,
    },
    /// `sendmsg FD [to=] [data=] [rights=] [creds=] [cmsg=] [flags=]`.
    Sendmsg {
        /// The socket.
        fd: FdArg,
        /// `to=ADDR`.
        to: Option<AddrArg>,
        /// `data=`: None for no iovec.
        data: Option<Vec<u8>>,
        /// The control pieces in order.
        control: Vec<CtlPiece>,
        /// Send flags.
        flags: i32,
    },
    /// `recvmsg FD [len=N] [space=S] [flags=F]`.
    Recvmsg {
        /// The socket.
        fd: FdArg,
        /// The iovec length.
        len: usize,
        /// The control buffer size, as terms to add up.
        space: Vec<SpaceTerm>,
        /// Receive flags.
        flags: i32,
    },
    /// `close FD`.
    Close {
        /// The fd.
        fd: FdArg,
    },
    /// `dup FD`.
    Dup {
        /// The fd.
        fd: FdArg,
    },
    /// `shutdown FD HOW`.
    Shutdown {
        /// The socket.
        fd: FdArg,
        /// SHUT_*.
        how: i32,
    },
    /// `setsockopt FD OPT VALUE`.
    Setsockopt {
        /// The socket.
        fd: FdArg,
        /// The option.
        opt: Opt,
        /// The encoded option value.
        value: Vec<u8>,
    },
    /// `getsockopt FD OPT`.
    Getsockopt {
        /// The socket.
        fd: FdArg,
        /// The option.
        opt: Opt,
    },
    /// `getsockname FD`.
    Getsockname {
        /// The socket.
        fd: FdArg,
    },
    /// `getpeername FD`.
    Getpeername {
        /// The socket.
        fd: FdArg,
    },
    /// `fcntl FD nonblock|block`.
    SetNonblock {
        /// The fd.
        fd: FdArg,
        /// Set (`nonblock`) or clear (`block`).
        on: bool,
    },
    /// `fcntl FD getfd`.
    GetFd {
        /// The fd.
        fd: FdArg,
    },
    /// `pipe [nonblock] [cloexec]`.
    Pipe {
        /// pipe2 flags.
        flags: i32,
    },
    /// `memfd "content"`.
    Memfd {
        /// The content.
        content: Vec<u8>,
    },
    /// `read FD N`.
    Read {
        /// The fd.
        fd: FdArg,
        /// Bytes to read.
        len: usize,
    },
    /// `write FD D`.
    Write {
        /// The fd.
        fd: FdArg,
        /// The bytes.
        data: Vec<u8>,
    },
    /// `poll FD`.
    Poll {
        /// The fd.
        fd: FdArg,
    },
    /// `ioctl FD inq|outq|atmark`.
    Ioctl {
        /// The fd.
        fd: FdArg,
        /// The request.
        req: u64,
    },
    /// `pidof FD`.
    Pidof {
        /// The pidfd.
        fd: FdArg,
    },
    /// `fork B`.
    Fork {
        /// The new process's name.
        child: String,
        /// Its column.
        col: usize,
    },
    /// `exit`.
    Exit,
    /// `wait [MS]`.
    Wait {
        /// Milliseconds (default 1000).
        ms: Option<u64>,
    },
}

/// A token and its 1-based column.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Tok {
    text: String,
    col: usize,
    /// Byte offsets in the line.
    start: usize,
    end: usize,
}

fn err(line: usize, col: usize, msg: impl Into<String>) -> ParseError {
    ParseError {
        line,
        col,
        msg: msg.into(),
    }
}

/// Split one line into tokens, dropping the comment.
fn tokenize(line: &str, lineno: usize) -> Result<Vec<Tok>, ParseError> {
    let mut toks = Vec::new();
    let mut cur: Option<Tok> = None;
    let mut in_str: Option<usize> = None; // column where the string began
    let mut escape = false;
    let mut prev_space = true;
    for (col0, (off, c)) in line.char_indices().enumerate() {
        let col = col0 + 1;
        if let Some(_start) = in_str {
            if let Some(t) = cur.as_mut() {
                t.text.push(c);
                t.end = off + c.len_utf8();
            }
            if escape {
                escape = false;
            } else if c == '\\' {
                escape = true;
            } else if c == '"' {
                in_str = None;
            }
            prev_space = false;
            continue;
        }
        if c == ' ' || c == '\t' || c == '\r' {
            if let Some(t) = cur.take() {
                toks.push(t);
            }
            prev_space = true;
            continue;
        }
        if c == '#' && prev_space {
            break;
        }
        prev_space = false;
        if c == '"' {
            in_str = Some(col);
        }
        match cur.as_mut() {
            Some(t) => {
                t.text.push(c);
                t.end = off + c.len_utf8();
            }
            None => {
                cur = Some(Tok {
                    text: c.to_string(),
                    col,
                    start: off,
                    end: off + c.len_utf8(),
                })
            }
        }
    }
    if let Some(col) = in_str {
        return Err(err(lineno, col, "unterminated string"));
    }
    if let Some(t) = cur.take() {
        toks.push(t);
    }
    Ok(toks)
}

/// Parse a whole scenario; on failure, every error found (one per line).
pub fn parse(src: &str) -> Result<Scenario, Vec<ParseError>> {
    let mut sc = Scenario::default();
    let mut errors = Vec::new();
    for (i, raw) in src.lines().enumerate() {
        let lineno = i + 1;
        match parse_line(raw, lineno, &mut sc.written_abstract) {
            Ok(Some(l)) => sc.lines.push(l),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(sc)
    } else {
        Err(errors)
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parse one line; `Ok(None)` for a blank or comment line.
pub fn parse_line(
    raw: &str,
    lineno: usize,
    written: &mut HashSet<Vec<u8>>,
) -> Result<Option<Line>, ParseError> {
    let toks = tokenize(raw, lineno)?;
    if toks.is_empty() {
        return Ok(None);
    }
    let (head, expect) = match toks.iter().position(|t| t.text == "=") {
        Some(i) => {
            let rest = &toks[i + 1..];
            let Some(first) = rest.first() else {
                return Err(err(lineno, toks[i].col, "`=` without a result"));
            };
            if let Some(t) = rest.iter().find(|t| t.text == "=") {
                return Err(err(lineno, t.col, "a second `=` on one line"));
            }
            let expect = Expect {
                result: first.text.clone(),
                fields: rest[1..].iter().map(|t| t.text.clone()).collect(),
            };
            (&toks[..i], Some(expect))
        }
        None => (&toks[..], None),
    };
    let Some(first) = head.first() else {
        return Err(err(lineno, toks[0].col, "a result without a call"));
    };
    let last = head.last().unwrap_or(first);
    let echo = raw
        .get(first.start..last.end)
        .unwrap_or_default()
        .to_string();
    let mut p = P { lineno, written };
    let kind = if let Some(name) = first.text.strip_suffix(':') {
        if !is_ident(name) {
            return Err(err(lineno, first.col, format!("bad process name `{name}`")));
        }
        p.call(name, first.col, &head[1..], last)?
    } else {
        LineKind::Directive(p.directive(head)?)
    };
    if let LineKind::Call {
        background: true, ..
    } = kind
    {
        if expect.is_some() {
            return Err(err(
                lineno,
                last.col,
                "a background call (`&`) has no result",
            ));
        }
    }
    Ok(Some(Line {
        lineno,
        echo,
        kind,
        expect,
    }))
}

struct P<'a> {
    lineno: usize,
    written: &'a mut HashSet<Vec<u8>>,
}

impl P<'_> {
    fn e(&self, col: usize, msg: impl Into<String>) -> ParseError {
        err(self.lineno, col, msg)
    }

    fn directive(&mut self, head: &[Tok]) -> Result<Directive, ParseError> {
        let d = &head[0];
        let args = &head[1..];
        let none = |p: &Self, args: &[Tok]| -> Result<(), ParseError> {
            match args.first() {
                Some(t) => Err(p.e(t.col, format!("unexpected `{}`", t.text))),
                None => Ok(()),
            }
        };
        match d.text.as_str() {
            "task" => {
                let Some(name) = args.first() else {
                    return Err(self.e(d.col, "task needs a process name"));
                };
                if !is_ident(&name.text) {
                    return Err(self.e(name.col, format!("bad process name `{}`", name.text)));
                }
                let mut spec = TaskSpec::default();
                let mut groups = None;
                for t in &args[1..] {
                    let Some((k, v, vc)) = kv(t) else {
                        return Err(self.e(t.col, format!("unexpected `{}`", t.text)));
                    };
                    match k {
                        "uid" => spec.uid = self.u32v(v, vc)?,
                        "gid" => spec.gid = self.u32v(v, vc)?,
                        "nofile" => {
                            let n = self.int(v, vc)?;
                            spec.nofile = u64::try_from(n)
                                .map_err(|_| self.e(vc, "nofile must not be negative"))?;
                        }
                        "groups" => {
                            let items = self.list(v, vc)?;
                            let mut g = Vec::new();
                            for (s, c) in items {
                                g.push(self.u32v(s, c)?);
                            }
                            groups = Some(g);
                        }
                        _ => return Err(self.e(t.col, format!("unknown task option `{k}`"))),
                    }
                }
                spec.groups = groups.unwrap_or_else(|| vec![spec.gid]);
                Ok(Directive::Task {
                    name: name.text.clone(),
                    spec,
                })
            }
            "sysctl" => {
                let Some(t) = args.first() else {
                    return Err(self.e(d.col, "sysctl needs max_dgram_qlen=N"));
                };
                none(self, &args[1..])?;
                match kv(t) {
                    Some(("max_dgram_qlen", v, vc)) => Ok(Directive::Sysctl {
                        max_dgram_qlen: self.u32v(v, vc)?,
                    }),
                    _ => Err(self.e(t.col, format!("unknown sysctl `{}`", t.text))),
                }
            }
            "gc" => none(self, args).map(|_| Directive::Gc),
            "stat" => none(self, args).map(|_| Directive::Stat),
            "sleep" => {
                let Some(t) = args.first() else {
                    return Err(self.e(d.col, "sleep needs milliseconds"));
                };
                none(self, &args[1..])?;
                Ok(Directive::Sleep {
                    ms: self.ms(&t.text, t.col)?,
                })
            }
            other => Err(self.e(
                d.col,
                format!("expected a directive (task, sysctl, gc, stat, sleep) or `NAME:`, found `{other}`"),
            )),
        }
    }

    fn call(
        &mut self,
        proc: &str,
        proc_col: usize,
        rest: &[Tok],
        last: &Tok,
    ) -> Result<LineKind, ParseError> {
        let Some(name) = rest.first() else {
            return Err(self.e(
                last.col + last.text.chars().count(),
                "missing call after the process name",
            ));
        };
        let mut args = &rest[1..];
        let mut background = false;
        if let Some(l) = args.last() {
            if l.text == "&" {
                background = true;
                args = &args[..args.len() - 1];
            }
        }
        if name.text == "&" {
            return Err(self.e(name.col, "missing call before `&`"));
        }
        if let Some(t) = args.iter().find(|t| t.text == "&") {
            return Err(self.e(t.col, "`&` must end the call"));
        }
        let mut binds = Vec::new();
        if let Some(i) = args.iter().position(|t| t.text == "->") {
            let arrow = &args[i];
            if background {
                return Err(self.e(
                    arrow.col,
                    "a background call binds its names on its `wait` line",
                ));
            }
            let names = &args[i + 1..];
            if names.is_empty() {
                return Err(self.e(arrow.col, "`->` needs at least one name"));
            }
            for t in names {
                if !is_ident(&t.text) {
                    return Err(self.e(t.col, format!("bad name `{}`", t.text)));
                }
                binds.push(t.text.clone());
            }
            args = &args[..i];
        }
        let op = self.op(name, args)?;
        Ok(LineKind::Call {
            proc: proc.to_string(),
            proc_col,
            op,
            binds,
            background,
        })
    }

    fn op(&mut self, name: &Tok, args: &[Tok]) -> Result<Op, ParseError> {
        let want = |p: &Self, n: usize| -> Result<(), ParseError> {
            if args.len() < n {
                let c = args
                    .last()
                    .map(|t| t.col + t.text.chars().count())
                    .unwrap_or(name.col + name.text.chars().count());
                return Err(p.e(c, format!("`{}` needs {} argument(s)", name.text, n)));
            }
            if let Some(t) = args.get(n) {
                return Err(p.e(t.col, format!("unexpected `{}`", t.text)));
            }
            Ok(())
        };
        Ok(match name.text.as_str() {
            "socket" | "socketpair" => {
                let Some(t) = args.first() else {
                    return Err(self.e(name.col, "missing socket type"));
                };
                let mut ty = match t.text.as_str() {
                    "stream" => SOCK_STREAM,
                    "dgram" => SOCK_DGRAM,
                    "seqpacket" => SOCK_SEQPACKET,
                    s => self.i32v(s, t.col).map_err(|_| {
                        self.e(
                            t.col,
                            format!("unknown socket type `{s}` (stream, dgram, seqpacket)"),
                        )
                    })?,
                };
                ty |= self.open_flags(&args[1..])?;
                if name.text == "socket" {
                    Op::Socket { ty }
                } else {
                    Op::Socketpair { ty }
                }
            }
            "bind" | "connect" => {
                want(self, 2)?;
                let fd = self.fd(&args[0]);
                let addr = self.addr(&args[1].text, args[1].col)?;
                if name.text == "bind" {
                    Op::Bind { fd, addr }
                } else {
                    Op::Connect { fd, addr }
                }
            }
            "listen" => {
                want(self, 2)?;
                Op::Listen {
                    fd: self.fd(&args[0]),
                    backlog: self.i32v(&args[1].text, args[1].col)?,
                }
            }
            "accept" => {
                let Some(t) = args.first() else {
                    return Err(self.e(name.col, "accept needs an fd"));
                };
                Op::Accept {
                    fd: self.fd(t),
                    flags: self.open_flags(&args[1..])?,
                }
            }
            "sendmsg" => self.sendmsg(name, args)?,
            "recvmsg" => self.recvmsg(name, args)?,
            "close" | "dup" | "getsockname" | "getpeername" | "poll" | "pidof" => {
                want(self, 1)?;
                let fd = self.fd(&args[0]);
                match name.text.as_str() {
                    "close" => Op::Close { fd },
                    "dup" => Op::Dup { fd },
                    "getsockname" => Op::Getsockname { fd },
                    "getpeername" => Op::Getpeername { fd },
                    "poll" => Op::Poll { fd },
                    _ => Op::Pidof { fd },
                }
            }
            "shutdown" => {
                want(self, 2)?;
                let t = &args[1];
                let how = match t.text.as_str() {
                    "rd" => SHUT_RD,
                    "wr" => SHUT_WR,
                    "rdwr" => SHUT_RDWR,
                    s => self.i32v(s, t.col).map_err(|_| {
                        self.e(t.col, format!("unknown shutdown `{s}` (rd, wr, rdwr)"))
                    })?,
                };
                Op::Shutdown {
                    fd: self.fd(&args[0]),
                    how,
                }
            }
            "setsockopt" => {
                want(self, 3)?;
                let opt = self.opt(&args[1])?;
                let v = &args[2];
                let value = match opt {
                    Opt::AttachFilter => {
                        let b = self.hex(&v.text, v.col)?;
                        if b.len() & 7 != 0 {
                            return Err(self.e(
                                v.col,
                                format!(
                                    "a filter is 8 bytes an instruction; {} bytes given",
                                    b.len()
                                ),
                            ));
                        }
                        b
                    }
                    Opt::Sndtimeo | Opt::Rcvtimeo => {
                        let ms = self.ms(&v.text, v.col)?;
                        afunix::abi::timeval::Timeval::from_millis(ms)
                            .to_bytes()
                            .to_vec()
                    }
                    _ => self.i32v(&v.text, v.col)?.to_ne_bytes().to_vec(),
                };
                Op::Setsockopt {
                    fd: self.fd(&args[0]),
                    opt,
                    value,
                }
            }
            "getsockopt" => {
                want(self, 2)?;
                Op::Getsockopt {
                    fd: self.fd(&args[0]),
                    opt: self.opt(&args[1])?,
                }
            }
            "fcntl" => {
                want(self, 2)?;
                let fd = self.fd(&args[0]);
                match args[1].text.as_str() {
                    "nonblock" => Op::SetNonblock { fd, on: true },
                    "block" => Op::SetNonblock { fd, on: false },
                    "getfd" => Op::GetFd { fd },
                    s => {
                        return Err(self.e(
                            args[1].col,
                            format!("unknown fcntl `{s}` (nonblock, block, getfd)"),
                        ))
                    }
                }
            }
            "pipe" => Op::Pipe {
                flags: self.open_flags(args)?,
            },
            "memfd" => {
                want(self, 1)?;
                Op::Memfd {
                    content: self.string(&args[0].text, args[0].col)?,
                }
            }
            "read" => {
                want(self, 2)?;
                Op::Read {
                    fd: self.fd(&args[0]),
                    len: self.count(&args[1].text, args[1].col)?,
                }
            }
            "write" => {
                want(self, 2)?;
                Op::Write {
                    fd: self.fd(&args[0]),
                    data: self.data(&args[1].text, args[1].col)?,
                }
            }
            "ioctl" => {
                want(self, 2)?;
                let req = match args[1].text.as_str() {
                    "inq" => SIOCINQ,
                    "outq" => SIOCOUTQ,
                    "atmark" => SIOCATMARK,
                    s => {
                        return Err(self.e(
                            args[1].col,
                            format!("unknown ioctl `{s}` (inq, outq, atmark)"),
                        ))
                    }
                };
                Op::Ioctl {
                    fd: self.fd(&args[0]),
                    req,
                }
            }
            "fork" => {
                want(self, 1)?;
                if !is_ident(&args[0].text) {
                    return Err(self.e(args[0].col, format!("bad process name `{}`", args[0].text)));
                }
                Op::Fork {
                    child: args[0].text.clone(),
                    col: args[0].col,
                }
            }
            "exit" => {
                want(self, 0)?;
                Op::Exit
            }
            "wait" => match args.len() {
                0 => Op::Wait { ms: None },
                _ => {
                    want(self, 1)?;
                    Op::Wait {
                        ms: Some(self.ms(&args[0].text, args[0].col)?),
                    }
                }
            },
            other => return Err(self.e(name.col, format!("unknown call `{other}`"))),
        })
    }

    fn sendmsg(&mut self, name: &Tok, args: &[Tok]) -> Result<Op, ParseError> {
        let Some(t) = args.first() else {
            return Err(self.e(name.col, "sendmsg needs an fd"));
        };
        let fd = self.fd(t);
        let mut to = None;
        let mut data = None;
        let mut control = Vec::new();
        let mut flags = 0;
        for t in &args[1..] {
            let Some((k, v, vc)) = kv(t) else {
                return Err(self.e(
                    t.col,
                    format!(
                        "unexpected `{}` (to=, data=, rights=, creds=, cmsg=, flags=)",
                        t.text
                    ),
                ));
            };
            match k {
                "to" => to = Some(self.addr(v, vc)?),
                "data" => data = Some(self.data(v, vc)?),
                "rights" => {
                    let items = self.list(v, vc)?;
                    let fds = items.into_iter().map(|(s, c)| self.fd_str(s, c)).collect();
                    control.push(CtlPiece::Rights(fds));
                }
                "creds" => control.push(CtlPiece::Creds(self.creds(v, vc)?, vc)),
                "cmsg" => control.push(CtlPiece::Raw(self.hex(v, vc)?)),
                "flags" => flags = self.flags(v, vc, MSG_FLAGS)?,
                _ => return Err(self.e(t.col, format!("unknown sendmsg argument `{k}=`"))),
            }
        }
        Ok(Op::Sendmsg {
            fd,
            to,
            data,
            control,
            flags,
        })
    }

    fn recvmsg(&mut self, name: &Tok, args: &[Tok]) -> Result<Op, ParseError> {
        let Some(t) = args.first() else {
            return Err(self.e(name.col, "recvmsg needs an fd"));
        };
        let fd = self.fd(t);
        let mut len = 1024;
        let mut space = default_space();
        let mut flags = 0;
        for t in &args[1..] {
            let Some((k, v, vc)) = kv(t) else {
                return Err(self.e(
                    t.col,
                    format!("unexpected `{}` (len=, space=, flags=)", t.text),
                ));
            };
            match k {
                "len" => len = self.count(v, vc)?,
                "space" => space = self.space(v, vc)?,
                "flags" => flags = self.flags(v, vc, MSG_FLAGS)?,
                _ => return Err(self.e(t.col, format!("unknown recvmsg argument `{k}=`"))),
            }
        }
        Ok(Op::Recvmsg {
            fd,
            len,
            space,
            flags,
        })
    }

    fn space(&self, v: &str, vc: usize) -> Result<Vec<SpaceTerm>, ParseError> {
        let mut out = Vec::new();
        let mut col = vc;
        for term in v.split('+') {
            let t = match term {
                "creds" => SpaceTerm::Creds,
                "pidfd" => SpaceTerm::Pidfd,
                "inq" => SpaceTerm::Inq,
                _ => {
                    if let Some(k) = term.strip_prefix("rights:") {
                        let k = self.count(k, col + 7)?;
                        if k > 1 << 20 {
                            return Err(self.e(col, "too many rights"));
                        }
                        SpaceTerm::Rights(k)
                    } else {
                        SpaceTerm::Bytes(self.count(term, col).map_err(|_| {
                            self.e(
                                col,
                                format!("bad space term `{term}` (N, rights:K, creds, pidfd, inq)"),
                            )
                        })?)
                    }
                }
            };
            out.push(t);
            col += term.chars().count() + 1;
        }
        Ok(out)
    }

    fn opt(&self, t: &Tok) -> Result<Opt, ParseError> {
        Opt::from_name(&t.text)
            .ok_or_else(|| self.e(t.col, format!("unknown socket option `{}`", t.text)))
    }

    fn open_flags(&self, args: &[Tok]) -> Result<i32, ParseError> {
        let mut f = 0;
        for t in args {
            f |= match t.text.as_str() {
                "nonblock" => SOCK_NONBLOCK,
                "cloexec" => SOCK_CLOEXEC,
                s => return Err(self.e(t.col, format!("unexpected `{s}` (nonblock, cloexec)"))),
            };
        }
        Ok(f)
    }

    fn fd(&self, t: &Tok) -> FdArg {
        self.fd_str(&t.text, t.col)
    }

    fn fd_str(&self, s: &str, col: usize) -> FdArg {
        match parse_int(s).and_then(|n| i32::try_from(n).ok()) {
            Some(n) => FdArg {
                fd: FdKind::Num(n),
                col,
            },
            None => FdArg {
                fd: FdKind::Name(s.to_string()),
                col,
            },
        }
    }

    fn creds(&self, v: &str, vc: usize) -> Result<CredsArg, ParseError> {
        if v == "self" {
            return Ok(CredsArg::Own);
        }
        let parts: Vec<&str> = v.split(',').collect();
        if parts.len() != 3 {
            return Err(self.e(vc, "creds= is PID,UID,GID or self"));
        }
        let pid = match parse_int(parts[0]) {
            Some(n) => PidArg::Num(i32::try_from(n).map_err(|_| self.e(vc, "pid out of range"))?),
            None if is_ident(parts[0]) => PidArg::Name(parts[0].to_string()),
            None => return Err(self.e(vc, format!("bad pid `{}`", parts[0]))),
        };
        let c2 = vc + parts[0].chars().count() + 1;
        let uid = self.u32v(parts[1], c2)?;
        let gid = self.u32v(parts[2], c2 + parts[1].chars().count() + 1)?;
        Ok(CredsArg::Explicit { pid, uid, gid })
    }

    fn addr(&mut self, v: &str, vc: usize) -> Result<AddrArg, ParseError> {
        let addr = match v {
            "auto" | "unnamed" => AddrKind::Auto,
            "unspec" => AddrKind::Unspec,
            _ if v.starts_with("hex:") => AddrKind::Hex(self.hex(v, vc)?),
            _ if v.starts_with("@#") => {
                let n = v[2..]
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| {
                        self.e(vc, format!("bad autobound name `{v}` (@#1, @#2, ...)"))
                    })?;
                AddrKind::Autobound(n)
            }
            _ if v.starts_with("@\"") => {
                let b = self.string(&v[1..], vc + 1)?;
                self.written.insert(b.clone());
                AddrKind::Abstract(b)
            }
            _ if v.starts_with('@') => {
                let name = &v[1..];
                if name.is_empty() || !name.bytes().all(plain_name_byte) {
                    return Err(self.e(
                        vc,
                        format!("bad abstract name `{v}` (use @\"...\" for other bytes)"),
                    ));
                }
                let b = name.as_bytes().to_vec();
                self.written.insert(b.clone());
                AddrKind::Abstract(b)
            }
            _ if v.starts_with('"') => {
                let b = self.string(v, vc)?;
                if b.first() == Some(&b'/') {
                    return Err(self.e(vc, "an absolute path is not allowed (paths are relative to the scenario's directory)"));
                }
                AddrKind::Path(b)
            }
            _ => {
                return Err(self.e(
                    vc,
                    format!(
                    "bad address `{v}` (\"path\", @name, @\"bytes\", auto, unspec, hex:..., @#N)"
                ),
                ))
            }
        };
        Ok(AddrArg { addr, col: vc })
    }

    fn data(&self, v: &str, vc: usize) -> Result<Vec<u8>, ParseError> {
        if v.starts_with('"') {
            self.string(v, vc)
        } else {
            if parse_int(v).is_none() {
                return Err(self.e(vc, format!("bad data `{v}` (a string or a byte count)")));
            }
            Ok(vec![b'x'; self.count(v, vc)?])
        }
    }

    fn count(&self, v: &str, vc: usize) -> Result<usize, ParseError> {
        let n = self.int(v, vc)?;
        if n < 0 || n as u64 > MAX_BYTES {
            return Err(self.e(vc, format!("count out of range (0..={MAX_BYTES})")));
        }
        Ok(n as usize)
    }

    fn ms(&self, v: &str, vc: usize) -> Result<u64, ParseError> {
        let n = self.int(v, vc)?;
        if !(0..=86_400_000).contains(&n) {
            return Err(self.e(vc, "milliseconds out of range (0..=86400000)"));
        }
        Ok(n as u64)
    }

    fn int(&self, v: &str, vc: usize) -> Result<i64, ParseError> {
        parse_int(v).ok_or_else(|| self.e(vc, format!("expected an integer, found `{v}`")))
    }

    fn i32v(&self, v: &str, vc: usize) -> Result<i32, ParseError> {
        let n = self.int(v, vc)?;
        i32::try_from(n)
            .or_else(|_| u32::try_from(n).map(|u| u as i32))
            .map_err(|_| self.e(vc, format!("`{v}` does not fit in 32 bits")))
    }

    fn u32v(&self, v: &str, vc: usize) -> Result<u32, ParseError> {
        let n = self.int(v, vc)?;
        u32::try_from(n)
            .or_else(|_| i32::try_from(n).map(|i| i as u32))
            .map_err(|_| self.e(vc, format!("`{v}` does not fit in 32 bits")))
    }

    fn list<'s>(&self, v: &'s str, vc: usize) -> Result<Vec<(&'s str, usize)>, ParseError> {
        let inner = v
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .ok_or_else(|| self.e(vc, format!("expected a list `[a,b,...]`, found `{v}`")))?;
        if inner.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut col = vc + 1;
        for item in inner.split(',') {
            if item.is_empty() {
                return Err(self.e(col, "empty list item"));
            }
            out.push((item, col));
            col += item.chars().count() + 1;
        }
        Ok(out)
    }

    fn flags(&self, v: &str, vc: usize, table: &[(&str, i32)]) -> Result<i32, ParseError> {
        let mut f = 0i32;
        let mut col = vc;
        for term in v.split('|') {
            if let Some((_, b)) = table.iter().find(|(n, _)| *n == term) {
                f |= b;
            } else if let Some(n) = parse_int(term) {
                f |= i32::try_from(n)
                    .or_else(|_| u32::try_from(n).map(|u| u as i32))
                    .map_err(|_| self.e(col, format!("flag `{term}` does not fit in 32 bits")))?;
            } else {
                return Err(self.e(col, format!("unknown flag `{term}`")));
            }
            col += term.chars().count() + 1;
        }
        Ok(f)
    }

    fn hex(&self, v: &str, vc: usize) -> Result<Vec<u8>, ParseError> {
        let h = v
            .strip_prefix("hex:")
            .ok_or_else(|| self.e(vc, format!("expected hex:..., found `{v}`")))?;
        parse_hex(h).ok_or_else(|| self.e(vc, "hex: needs an even number of hex digits"))
    }

    fn string(&self, v: &str, vc: usize) -> Result<Vec<u8>, ParseError> {
        parse_string(v).map_err(|(off, msg)| self.e(vc + off, msg))
    }
}

/// The bytes that stand for themselves in `@name`.
pub fn plain_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-'
}

/// Send and receive flag names (without `MSG_`), as written in scenarios.
pub const MSG_FLAGS: &[(&str, i32)] = &[
    ("oob", MSG_OOB),
    ("peek", MSG_PEEK),
    ("dontroute", MSG_DONTROUTE),
    ("ctrunc", MSG_CTRUNC),
    ("trunc", MSG_TRUNC),
    ("dontwait", MSG_DONTWAIT),
    ("eor", MSG_EOR),
    ("waitall", MSG_WAITALL),
    ("confirm", MSG_CONFIRM),
    ("errqueue", MSG_ERRQUEUE),
    ("nosignal", MSG_NOSIGNAL),
    ("more", MSG_MORE),
    ("cmsg_cloexec", MSG_CMSG_CLOEXEC),
];

/// Split `key=value` where key is lower-case letters and `_`: (key, value,
/// column of value).
fn kv(t: &Tok) -> Option<(&str, &str, usize)> {
    let i = t.text.find('=')?;
    let k = &t.text[..i];
    if k.is_empty() || !k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return None;
    }
    Some((k, &t.text[i + 1..], t.col + k.chars().count() + 1))
}

/// An integer: decimal or `0x` hex, optionally negative.
pub fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        if h.is_empty() || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        i64::from_str_radix(h, 16).ok()?
    } else {
        if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        body.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// Hex digits (an even number) to bytes.
pub fn parse_hex(h: &str) -> Option<Vec<u8>> {
    if h.len() & 1 != 0 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A quoted string with escapes `\\ \" \n \t \0 \xHH`, to bytes. Errors
/// carry the character offset in `s`.
pub fn parse_string(s: &str) -> Result<Vec<u8>, (usize, String)> {
    let mut chars = s.char_indices().enumerate().peekable();
    match chars.next() {
        Some((_, (_, '"'))) => {}
        _ => return Err((0, format!("expected a string \"...\", found `{s}`"))),
    }
    let mut out = Vec::new();
    loop {
        let Some((ci, (_, c))) = chars.next() else {
            return Err((0, "unterminated string".into()));
        };
        match c {
            '"' => {
                if let Some((ci, _)) = chars.next() {
                    return Err((ci, "unexpected text after the closing quote".into()));
                }
                return Ok(out);
            }
            '\\' => {
                let Some((_, (_, e))) = chars.next() else {
                    return Err((ci, "unterminated escape".into()));
                };
                match e {
                    '\\' => out.push(b'\\'),
                    '"' => out.push(b'"'),
                    'n' => out.push(b'\n'),
                    't' => out.push(b'\t'),
                    '0' => out.push(0),
                    'x' => {
                        let h: String = (0..2)
                            .filter_map(|_| chars.next().map(|(_, (_, c))| c))
                            .collect();
                        match parse_hex(&h) {
                            Some(b) if b.len() == 1 => out.push(b[0]),
                            _ => return Err((ci, "\\x needs two hex digits".into())),
                        }
                    }
                    other => return Err((ci, format!("unknown escape `\\{other}`"))),
                }
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}
