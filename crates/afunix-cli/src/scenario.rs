//! The scenario language: lexer, parser and syntax tree (see SCENARIO.md).
//!
//! [`parse`] turns the text of a `.scn` file into a [`Scenario`], or into
//! every [`ParseError`] it found (one per bad line, with line and column).
//! Names (fds, processes, `@#N`) stay unresolved here: the runner resolves
//! them, because they depend on what happened before.

use afunix::abi::consts::*;
use afunix_backend::backend::{RecvBuf, SendBuf, Stage, Syscall, TaskSpec};
use afunix_backend::call::Arg;
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
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// `sysctl max_dgram_qlen=N [netns=L]`.
    Sysctl {
        /// The new `net.unix.max_dgram_qlen` (any integer: the kernel judges it).
        max_dgram_qlen: i64,
        /// The network namespace label.
        netns: u32,
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

impl FdArg {
    /// An fd argument as the text `s` writes it at column `col`: a number
    /// that fits an `int`, else a name.
    pub fn from_text(s: &str, col: usize) -> FdArg {
        let fd = match parse_int(s).and_then(|n| i32::try_from(n).ok()) {
            Some(n) => FdKind::Num(n),
            None => FdKind::Name(s.to_string()),
        };
        FdArg { fd, col }
    }
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
    /// `null:N` (sendmsg `to=` only): msg_name NULL with msg_namelen N.
    Null(usize),
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

/// `space=` of recvmsg: terms to add up, or `null:N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Space {
    /// A buffer of the terms' total size.
    Terms(Vec<SpaceTerm>),
    /// msg_control NULL with msg_controllen N.
    Null(usize),
}

/// The option of `setsockopt`/`getsockopt`: a named one at SOL_SOCKET, or
/// `raw=LEVEL,NAME`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptArg {
    /// A named option.
    Named(Opt),
    /// `raw=LEVEL,NAME`.
    Raw {
        /// The level.
        level: i32,
        /// The option number.
        name: i32,
    },
}

impl OptArg {
    /// The level and option number passed to the kernel.
    pub fn numbers(self) -> (i32, i32) {
        match self {
            OptArg::Named(o) => (SOL_SOCKET, o.number()),
            OptArg::Raw { level, name } => (level, name),
        }
    }
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
    /// SO_KEEPALIVE.
    Keepalive,
    /// SO_REUSEADDR.
    Reuseaddr,
    /// SO_SNDBUFFORCE.
    Sndbufforce,
    /// SO_RCVBUFFORCE.
    Rcvbufforce,
    /// SO_RCVLOWAT.
    Rcvlowat,
    /// SO_SNDLOWAT.
    Sndlowat,
    /// SO_PRIORITY.
    Priority,
    /// SO_LINGER (`ON,SECONDS`).
    Linger,
    /// SO_DOMAIN.
    Domain,
    /// SO_PROTOCOL.
    Protocol,
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
    ("keepalive", Opt::Keepalive, SO_KEEPALIVE),
    ("reuseaddr", Opt::Reuseaddr, SO_REUSEADDR),
    ("sndbufforce", Opt::Sndbufforce, SO_SNDBUFFORCE),
    ("rcvbufforce", Opt::Rcvbufforce, SO_RCVBUFFORCE),
    ("rcvlowat", Opt::Rcvlowat, SO_RCVLOWAT),
    ("sndlowat", Opt::Sndlowat, SO_SNDLOWAT),
    ("priority", Opt::Priority, SO_PRIORITY),
    ("linger", Opt::Linger, SO_LINGER),
    ("domain", Opt::Domain, SO_DOMAIN),
    ("protocol", Opt::Protocol, SO_PROTOCOL),
];

impl Opt {
    /// Look an option up by its scenario name.
    pub fn from_name(s: &str) -> Option<Opt> {
        OPTS.iter().find(|(n, _, _)| *n == s).map(|(_, o, _)| *o)
    }
    /// The option's scenario name (`passcred`).
    pub fn name(self) -> &'static str {
        OPTS.iter()
            .find(|(_, o, _)| *o == self)
            .map(|(n, _, _)| *n)
            .unwrap_or_default()
    }
    /// The `SO_*` number (at level `SOL_SOCKET`).
    pub fn number(self) -> i32 {
        OPTS.iter()
            .find(|(_, o, _)| *o == self)
            .map(|(_, _, n)| *n)
            .unwrap_or(0)
    }
}

/// The stage of a call as the scenario writes it: fds by name or number,
/// addresses as written (`@srv`, `@#1`, `"path"`), the control buffer as
/// its pieces (`rights=`, `creds=`, `cmsg=`), lengths left out when not
/// written (the runner supplies the default buffer's, as the trace prints
/// a length only when the line wrote it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written;

impl Stage for Written {
    type Fd = FdArg;
    type Addr = AddrArg;
    /// `to=ADDR` (or `to=null:N`).
    type MsgName = AddrArg;
    /// The control pieces in order.
    type SendControl = Vec<CtlPiece>;
    /// `space=` (None: not written, the default space).
    type RecvControl = Option<Space>;
    type Opt = OptArg;
    type Given<T: Arg> = Option<T>;
    type Syntax<T: Arg> = T;
    type Only<T: Arg> = T;
}

/// A call and its parsed arguments: `socket TYPE [nonblock] [cloexec]
/// [protocol=N]`, `sendmsg FD [to=] [data=] [rights=] [creds=] [cmsg=]
/// [flags=]`, `recvmsg FD [len=N|iov=[..]] [name=N] [space=S] [flags=F]`,
/// … (see `docs/SCENARIO.md`).
pub type Op = Syscall<Written>;

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
    let line = match comment(line) {
        Some((_, text)) => &line[..line.len() - text.len() - 1],
        None => line,
    };
    let mut toks = Vec::new();
    let mut cur: Option<Tok> = None;
    let mut q = Quotes::default();
    let mut str_col = 0; // column where the last string began
    for (col0, (off, c)) in line.char_indices().enumerate() {
        let col = col0 + 1;
        let was_in = q.in_str;
        if !q.feed(c) && (c == ' ' || c == '\t' || c == '\r') {
            if let Some(t) = cur.take() {
                toks.push(t);
            }
            continue;
        }
        if !was_in && q.in_str {
            str_col = col;
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
    if q.in_str {
        return Err(err(lineno, str_col, "unterminated string"));
    }
    if let Some(t) = cur.take() {
        toks.push(t);
    }
    Ok(toks)
}

/// The comment of one line: the column of its `#` and the text after it,
/// by the language's rule (a `#` at the start or after a space or tab,
/// outside a string); `None` for a line without one (or whose string is
/// not terminated).
pub fn comment(line: &str) -> Option<(usize, &str)> {
    let mut q = Quotes::default();
    let mut prev_space = true;
    for (col0, (off, c)) in line.char_indices().enumerate() {
        if !q.feed(c) && c == '#' && prev_space {
            return Some((col0 + 1, &line[off + 1..]));
        }
        prev_space = !q.in_str && (c == ' ' || c == '\t' || c == '\r');
    }
    None
}

/// Where a left-to-right scan is with respect to `"..."` strings (with
/// their `\x` escapes): the one rule comments, tokens and list items obey.
#[derive(Default)]
struct Quotes {
    in_str: bool,
    escape: bool,
}

impl Quotes {
    /// Feed the next character; whether it belongs to a string (its
    /// quotes included).
    fn feed(&mut self, c: char) -> bool {
        if self.in_str {
            if self.escape {
                self.escape = false;
            } else if c == '\\' {
                self.escape = true;
            } else if c == '"' {
                self.in_str = false;
            }
            true
        } else {
            self.in_str = c == '"';
            self.in_str
        }
    }
}

/// Parse a whole scenario and resolve its names (processes, fds); on
/// failure, every error found (one per line). Nothing of a file that fails
/// here is ever run.
pub fn parse(src: &str) -> Result<Scenario, Vec<ParseError>> {
    let sc = parse_syntax(src)?;
    let errors = crate::resolve::resolve(&sc);
    if errors.is_empty() {
        Ok(sc)
    } else {
        Err(errors)
    }
}

/// Parse every line on its own, without resolving names across lines.
pub fn parse_syntax(src: &str) -> Result<Scenario, Vec<ParseError>> {
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
            let cols: Vec<usize> = rest.iter().map(|t| t.col).collect();
            let mut bad = Vec::new();
            crate::resolve::check_expect(lineno, &expect, &cols, &mut bad);
            if let Some(e) = bad.into_iter().next() {
                return Err(e);
            }
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
                        "umask" => spec.umask = self.mode(v, vc)?,
                        "netns" => spec.netns = self.u32v(v, vc)?,
                        "groups" => {
                            let items = self.list(v, vc)?;
                            let mut g = Vec::new();
                            for (s, c) in items {
                                g.push(self.u32v(s, c)?);
                            }
                            groups = Some(g);
                        }
                        _ => {
                            return Err(self.e(
                                t.col,
                                format!(
                                    "unknown task option `{k}`{}",
                                    crate::resolve::did_you_mean(
                                        k,
                                        ["uid", "gid", "groups", "nofile", "umask", "netns"]
                                    )
                                ),
                            ))
                        }
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
                let max_dgram_qlen = match kv(t) {
                    Some(("max_dgram_qlen", v, vc)) => self.int(v, vc)?,
                    _ => return Err(self.e(t.col, format!("unknown sysctl `{}`", t.text))),
                };
                let mut netns = 0;
                for t in &args[1..] {
                    match kv(t) {
                        Some(("netns", v, vc)) => netns = self.u32v(v, vc)?,
                        _ => return Err(self.e(t.col, format!("unexpected `{}` (netns=)", t.text))),
                    }
                }
                Ok(Directive::Sysctl {
                    max_dgram_qlen,
                    netns,
                })
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
        if background
            && matches!(
                op,
                Op::Fork { .. } | Op::Exit | Op::Exec | Op::Pidof { .. } | Op::Wait { .. }
            )
        {
            return Err(self.e(
                name.col,
                format!("`{}` cannot run in the background", name.text),
            ));
        }
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
                    "raw" => SOCK_RAW,
                    s => self.i32v(s, t.col).map_err(|_| {
                        self.e(
                            t.col,
                            format!("unknown socket type `{s}` (stream, dgram, seqpacket, raw)"),
                        )
                    })?,
                };
                let mut protocol = 0;
                let mut flag_toks = Vec::new();
                for a in &args[1..] {
                    match kv(a) {
                        Some(("protocol", v, vc)) => protocol = self.i32v(v, vc)?,
                        _ => flag_toks.push(a.clone()),
                    }
                }
                ty |= self.open_flags(&flag_toks)?;
                if name.text == "socket" {
                    Op::Socket { ty, protocol }
                } else {
                    Op::Socketpair { ty, protocol }
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
            "getsockname" | "getpeername" => {
                let Some(t) = args.first() else {
                    return Err(self.e(name.col, format!("{} needs an fd", name.text)));
                };
                let fd = self.fd(t);
                let mut len = None;
                for a in &args[1..] {
                    match kv(a) {
                        Some(("len", v, vc)) => len = Some(self.i32v(v, vc)?),
                        _ => return Err(self.e(a.col, format!("unexpected `{}` (len=)", a.text))),
                    }
                }
                if name.text == "getsockname" {
                    Op::Getsockname { fd, len }
                } else {
                    Op::Getpeername { fd, len }
                }
            }
            "close" | "dup" | "pidof" => {
                want(self, 1)?;
                let fd = self.fd(&args[0]);
                match name.text.as_str() {
                    "close" => Op::Close { fd },
                    "dup" => Op::Dup { fd },
                    _ => Op::Pidof { fd },
                }
            }
            "dup2" => {
                want(self, 2)?;
                Op::Dup2 {
                    fd: self.fd(&args[0]),
                    newfd: self.fd(&args[1]),
                }
            }
            "poll" => self.poll(name, args)?,
            "open" => {
                if args.len() < 2 {
                    return Err(self.e(name.col, "open needs a path and flags"));
                }
                if let Some(t) = args.get(3) {
                    return Err(self.e(t.col, format!("unexpected `{}`", t.text)));
                }
                Op::Open {
                    path: self.path(&args[0])?,
                    flags: self.flags(&args[1].text, args[1].col, OPEN_FLAGS)?,
                    mode: match args.get(2) {
                        Some(t) => self.mode(&t.text, t.col)?,
                        None => 0o644,
                    },
                }
            }
            "mkdir" => {
                let Some(t) = args.first() else {
                    return Err(self.e(name.col, "mkdir needs a path"));
                };
                if let Some(t) = args.get(2) {
                    return Err(self.e(t.col, format!("unexpected `{}`", t.text)));
                }
                Op::Mkdir {
                    path: self.path(t)?,
                    mode: match args.get(1) {
                        Some(t) => self.mode(&t.text, t.col)?,
                        None => 0o777,
                    },
                }
            }
            "unlink" => {
                want(self, 1)?;
                Op::Unlink {
                    path: self.path(&args[0])?,
                }
            }
            "chmod" => {
                want(self, 2)?;
                Op::Chmod {
                    path: self.path(&args[0])?,
                    mode: self.mode(&args[1].text, args[1].col)?,
                }
            }
            "rename" => {
                want(self, 2)?;
                Op::Rename {
                    old: self.path(&args[0])?,
                    new: self.path(&args[1])?,
                }
            }
            "sigurg" => {
                want(self, 0)?;
                Op::Sigurg
            }
            "exec" => {
                want(self, 0)?;
                Op::Exec
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
                let opt = self.opt_arg(&args[1])?;
                let v = &args[2];
                let value = match opt {
                    OptArg::Raw { .. } => self.hex(&v.text, v.col)?,
                    OptArg::Named(Opt::AttachFilter) => {
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
                    OptArg::Named(Opt::Sndtimeo | Opt::Rcvtimeo) => self.timeval(&v.text, v.col)?,
                    OptArg::Named(Opt::Linger) => {
                        let parts: Vec<&str> = v.text.split(',').collect();
                        let [on, secs] = parts[..] else {
                            return Err(self.e(v.col, "linger is ON,SECONDS"));
                        };
                        let on = self.c_int(on, v.col)?;
                        let secs = self.c_int(secs, v.col + on.to_string().len() + 1)?;
                        let mut b = on.to_ne_bytes().to_vec();
                        b.extend_from_slice(&secs.to_ne_bytes());
                        b
                    }
                    _ => self.c_int(&v.text, v.col)?.to_ne_bytes().to_vec(),
                };
                Op::Setsockopt {
                    fd: self.fd(&args[0]),
                    opt,
                    value,
                }
            }
            "getsockopt" => {
                if args.len() < 2 {
                    return Err(self.e(name.col, "getsockopt needs an fd and an option"));
                }
                let mut optlen = None;
                for a in &args[2..] {
                    match kv(a) {
                        Some(("optlen", v, vc)) => optlen = Some(self.i32v(v, vc)?),
                        _ => {
                            return Err(self.e(a.col, format!("unexpected `{}` (optlen=)", a.text)))
                        }
                    }
                }
                Op::Getsockopt {
                    fd: self.fd(&args[0]),
                    opt: self.opt_arg(&args[1])?,
                    optlen,
                }
            }
            "fcntl" => {
                want(self, 2)?;
                let fd = self.fd(&args[0]);
                match args[1].text.as_str() {
                    "nonblock" => Op::SetNonblock { fd, on: true },
                    "block" => Op::SetNonblock { fd, on: false },
                    "getfd" => Op::GetFd { fd },
                    "setown" => Op::SetOwn { fd },
                    s => {
                        return Err(self.e(
                            args[1].col,
                            format!("unknown fcntl `{s}` (nonblock, block, getfd, setown)"),
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
            other => {
                return Err(self.e(
                    name.col,
                    format!(
                        "unknown call `{other}`{}",
                        crate::resolve::did_you_mean(other, CALLS.iter().copied())
                    ),
                ))
            }
        })
    }

    fn sendmsg(&mut self, name: &Tok, args: &[Tok]) -> Result<Op, ParseError> {
        let Some(t) = args.first() else {
            return Err(self.e(name.col, "sendmsg needs an fd"));
        };
        let fd = self.fd(t);
        let mut to = None;
        let mut data = Vec::new();
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
                "to" if v.starts_with("null:") => {
                    to = Some(AddrArg {
                        addr: AddrKind::Null(self.count(&v[5..], vc + 5)?),
                        col: vc,
                    })
                }
                "to" => to = Some(self.addr(v, vc)?),
                "data" if v.starts_with('[') => {
                    data = Vec::new();
                    for (item, c) in self.list(v, vc)? {
                        data.push(self.send_buf(item, c)?);
                    }
                }
                "data" => data = vec![self.send_buf(v, vc)?],
                "rights" => {
                    let items = self.list(v, vc)?;
                    let fds = items.into_iter().map(|(s, c)| self.fd_str(s, c)).collect();
                    control.push(CtlPiece::Rights(fds));
                }
                "creds" => control.push(CtlPiece::Creds(self.creds(v, vc)?, vc)),
                "cmsg" => control.push(CtlPiece::Raw(self.hex(v, vc)?)),
                "flags" => flags = self.flags(v, vc, MSG_FLAGS)?,
                _ => {
                    return Err(self.e(
                        t.col,
                        format!(
                            "unknown sendmsg argument `{k}=`{}",
                            crate::resolve::did_you_mean(
                                k,
                                ["to", "data", "rights", "creds", "cmsg", "flags"]
                            )
                        ),
                    ))
                }
            }
        }
        Ok(Op::Sendmsg {
            fd,
            name: to,
            iov: data,
            control,
            flags,
        })
    }

    fn recvmsg(&mut self, name: &Tok, args: &[Tok]) -> Result<Op, ParseError> {
        let Some(t) = args.first() else {
            return Err(self.e(name.col, "recvmsg needs an fd"));
        };
        let fd = self.fd(t);
        let mut iov = vec![RecvBuf::Len(1024)];
        let mut len_col = None;
        let mut iov_col = None;
        let mut name = None;
        let mut space = None;
        let mut flags = 0;
        for t in &args[1..] {
            let Some((k, v, vc)) = kv(t) else {
                return Err(self.e(
                    t.col,
                    format!(
                        "unexpected `{}` (len=, iov=, name=, space=, flags=)",
                        t.text
                    ),
                ));
            };
            match k {
                "len" => {
                    iov = vec![RecvBuf::Len(self.count(v, vc)?)];
                    len_col = Some(t.col);
                }
                "iov" => {
                    iov = Vec::new();
                    for (item, c) in self.list(v, vc)? {
                        iov.push(match item.strip_prefix("null:") {
                            Some(n) => RecvBuf::Null(self.count(n, c + 5)?),
                            None => RecvBuf::Len(self.count(item, c)?),
                        });
                    }
                    iov_col = Some(t.col);
                }
                "name" => name = Some(self.u32v(v, vc)?),
                "space" => {
                    space = Some(match v.strip_prefix("null:") {
                        Some(n) => Space::Null(self.count(n, vc + 5)?),
                        None => Space::Terms(self.space(v, vc)?),
                    });
                }
                "flags" => flags = self.flags(v, vc, MSG_FLAGS)?,
                _ => {
                    return Err(self.e(
                        t.col,
                        format!(
                            "unknown recvmsg argument `{k}=`{}",
                            crate::resolve::did_you_mean(
                                k,
                                ["len", "iov", "name", "space", "flags"]
                            )
                        ),
                    ))
                }
            }
        }
        if let (Some(_), Some(c)) = (len_col, iov_col) {
            return Err(self.e(c, "recvmsg takes len= or iov=, not both"));
        }
        Ok(Op::Recvmsg {
            fd,
            iov,
            namelen: name,
            control: space,
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

    fn opt_arg(&self, t: &Tok) -> Result<OptArg, ParseError> {
        if let Some((_, v, vc)) = kv(t).filter(|(k, _, _)| *k == "raw") {
            let parts: Vec<&str> = v.split(',').collect();
            let [level, name] = parts[..] else {
                return Err(self.e(vc, "raw= is LEVEL,NAME"));
            };
            return Ok(OptArg::Raw {
                level: self.i32v(level, vc)?,
                name: self.i32v(name, vc + level.chars().count() + 1)?,
            });
        }
        Opt::from_name(&t.text).map(OptArg::Named).ok_or_else(|| {
            self.e(
                t.col,
                format!(
                    "unknown socket option `{}`{}",
                    t.text,
                    crate::resolve::did_you_mean(&t.text, OPTS.iter().map(|(n, _, _)| *n))
                ),
            )
        })
    }

    /// A setsockopt timeout: milliseconds (any integer) or `tv:SEC,USEC`,
    /// as the bytes of a `struct timeval`.
    fn timeval(&self, v: &str, vc: usize) -> Result<Vec<u8>, ParseError> {
        let (sec, usec) = match v.strip_prefix("tv:") {
            Some(tv) => {
                let parts: Vec<&str> = tv.split(',').collect();
                let [sec, usec] = parts[..] else {
                    return Err(self.e(vc, "tv: is tv:SEC,USEC"));
                };
                (
                    self.int(sec, vc + 3)?,
                    self.int(usec, vc + 4 + sec.chars().count())?,
                )
            }
            None => {
                let ms = self.int(v, vc)?;
                (ms.div_euclid(1000), ms.rem_euclid(1000) * 1000)
            }
        };
        let mut b = sec.to_ne_bytes().to_vec();
        b.extend_from_slice(&usec.to_ne_bytes());
        Ok(b)
    }

    /// A C int: any integer, taken modulo 2^32.
    fn c_int(&self, v: &str, vc: usize) -> Result<i32, ParseError> {
        Ok(self.int(v, vc)? as i32)
    }

    /// A file mode: an integer in 0..=0o7777.
    fn mode(&self, v: &str, vc: usize) -> Result<u32, ParseError> {
        let n = self.int(v, vc)?;
        u32::try_from(n)
            .ok()
            .filter(|m| *m <= 0o7777)
            .ok_or_else(|| self.e(vc, format!("mode `{v}` out of range (0..=0o7777)")))
    }

    /// A file path: a string, relative, that never leaves the scenario's
    /// directory, without NUL.
    fn path(&self, t: &Tok) -> Result<Vec<u8>, ParseError> {
        let b = self.string(&t.text, t.col)?;
        if b.contains(&0) {
            return Err(self.e(t.col, "a file path cannot contain a NUL byte"));
        }
        self.check_path(&b, t.col)?;
        Ok(b)
    }

    /// A path is relative and its `..` never climbs above the scenario's
    /// directory, counted component by component.
    fn check_path(&self, b: &[u8], col: usize) -> Result<(), ParseError> {
        if b.first() == Some(&b'/') {
            return Err(self.e(
                col,
                "an absolute path is not allowed (paths are relative to the scenario's directory)",
            ));
        }
        let mut depth = 0i64;
        for c in b.split(|c| *c == b'/') {
            match c {
                b"" | b"." => {}
                b".." => {
                    depth -= 1;
                    if depth < 0 {
                        return Err(self.e(col, "a path cannot leave the scenario's directory"));
                    }
                }
                _ => depth += 1,
            }
        }
        Ok(())
    }

    /// One sendmsg iovec: a string, a byte count of `x`, or `null:N`.
    fn send_buf(&self, v: &str, vc: usize) -> Result<SendBuf, ParseError> {
        match v.strip_prefix("null:") {
            Some(n) => Ok(SendBuf::Null(self.count(n, vc + 5)?)),
            None => Ok(SendBuf::Bytes(self.data(v, vc)?)),
        }
    }

    fn poll(&self, name: &Tok, args: &[Tok]) -> Result<Op, ParseError> {
        let Some(t) = args.first() else {
            return Err(self.e(name.col, "poll needs an fd or a list of fds"));
        };
        let (fds, list) = if t.text.starts_with('[') {
            let items = self.list(&t.text, t.col)?;
            (
                items.into_iter().map(|(s, c)| self.fd_str(s, c)).collect(),
                true,
            )
        } else {
            (vec![self.fd(t)], false)
        };
        let mut timeout = 0;
        let mut events = crate::encode::POLL_EVENTS;
        for a in &args[1..] {
            match kv(a) {
                Some(("timeout", v, vc)) => timeout = self.i32v(v, vc)?,
                Some(("events", v, vc)) => {
                    let table: Vec<(&str, i32)> = crate::trace::POLL_PRINT
                        .iter()
                        .map(|(n, b)| (*n, i32::from(*b as u16)))
                        .collect();
                    events = self.flags(v, vc, &table)? as i16;
                }
                _ => {
                    return Err(self.e(
                        a.col,
                        format!("unexpected `{}` (timeout=, events=)", a.text),
                    ))
                }
            }
        }
        Ok(Op::Poll {
            fds,
            list,
            timeout,
            events,
        })
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
        FdArg::from_text(s, col)
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
                let upto_nul = b.split(|c| *c == 0).next().unwrap_or_default();
                self.check_path(upto_nul, vc)?;
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
        // Split at commas outside strings.
        let mut out = Vec::new();
        let mut col = vc + 1;
        let (mut start, mut q) = (0usize, Quotes::default());
        let mut items = Vec::new();
        for (i, c) in inner.char_indices() {
            if !q.feed(c) && c == ',' {
                items.push(&inner[start..i]);
                start = i + 1;
            }
        }
        items.push(&inner[start..]);
        for item in items {
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
                return Err(self.e(
                    col,
                    format!(
                        "unknown flag `{term}`{}",
                        crate::resolve::did_you_mean(term, table.iter().map(|(n, _)| *n))
                    ),
                ));
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

/// Every call name of the language.
pub const CALLS: &[&str] = &[
    "socket",
    "socketpair",
    "bind",
    "connect",
    "listen",
    "accept",
    "sendmsg",
    "recvmsg",
    "close",
    "dup",
    "dup2",
    "shutdown",
    "setsockopt",
    "getsockopt",
    "getsockname",
    "getpeername",
    "fcntl",
    "pipe",
    "memfd",
    "open",
    "mkdir",
    "unlink",
    "chmod",
    "rename",
    "read",
    "write",
    "poll",
    "ioctl",
    "pidof",
    "sigurg",
    "fork",
    "exec",
    "exit",
    "wait",
];

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
    ("fastopen", MSG_FASTOPEN),
    ("zerocopy", MSG_ZEROCOPY),
];

/// `open` flag names, as written in scenarios.
pub const OPEN_FLAGS: &[(&str, i32)] = &[
    ("rdonly", O_RDONLY),
    ("wronly", O_WRONLY),
    ("rdwr", O_RDWR),
    ("creat", O_CREAT),
    ("excl", O_EXCL),
    ("trunc", O_TRUNC),
    ("append", O_APPEND),
    ("path", O_PATH),
    ("cloexec", O_CLOEXEC),
    ("nonblock", O_NONBLOCK),
    ("directory", O_DIRECTORY),
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
    } else if let Some(o) = body.strip_prefix("0o") {
        if o.is_empty() || !o.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return None;
        }
        i64::from_str_radix(o, 8).ok()?
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
