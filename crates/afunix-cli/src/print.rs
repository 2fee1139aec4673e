//! The scenario language's printer: a [`Line`] or a call ([`Op`]) back to
//! the text the parser reads.
//!
//! Parsing the printed text gives the line back (columns aside):
//! [`round_trip`] checks it, over every scenario line of the repository in
//! a unit test and on every line the `scenario` fuzz target parses. The printed form
//! is canonical (defaults left out, flags by name, data as a string), so
//! what the fuzzer or a tool builds as a value is written one way, and a
//! change to the language breaks the round trip instead of passing silently.

use crate::scenario::{
    parse_line, AddrArg, AddrKind, CredsArg, CtlPiece, Directive, Expect, FdArg, FdKind, Line,
    LineKind, Op, Opt, OptArg, PidArg, Space, SpaceTerm, Written, MSG_FLAGS, OPEN_FLAGS,
};
use crate::trace::{fmt_bits, fmt_revents, fmt_string};
use afunix::abi::consts::*;
use afunix_backend::backend::{Lower, RecvBuf, SendBuf, TaskSpec};
use afunix_backend::call::Arg;
use std::collections::HashSet;
use std::convert::Infallible;
use std::fmt::{self, Display, Formatter, Write as _};

/// A call as a scenario writes it (`sendmsg a to=@srv rights=[b]`).
pub struct Call<'a>(pub &'a Op);

impl Display for Line {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            LineKind::Directive(d) => d.fmt(f)?,
            LineKind::Call {
                proc,
                op,
                binds,
                background,
                ..
            } => {
                write!(f, "{proc}: {}", Call(op))?;
                if !binds.is_empty() {
                    write!(f, " -> {}", binds.join(" "))?;
                }
                if *background {
                    f.write_str(" &")?;
                }
            }
        }
        if let Some(e) = &self.expect {
            write!(f, " = {e}")?;
        }
        Ok(())
    }
}

impl Display for Directive {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Directive::Task { name, spec } => {
                write!(f, "task {name}")?;
                let d = TaskSpec::default();
                if spec.uid != d.uid {
                    write!(f, " uid={}", spec.uid)?;
                }
                if spec.gid != d.gid {
                    write!(f, " gid={}", spec.gid)?;
                }
                // Without `groups=` the parser makes them `[gid]`.
                if spec.groups != [spec.gid] {
                    write!(f, " groups=[{}]", join(&spec.groups))?;
                }
                if spec.nofile != d.nofile {
                    write!(f, " nofile={}", spec.nofile)?;
                }
                if spec.umask != d.umask {
                    write!(f, " umask={:#o}", spec.umask)?;
                }
                if spec.netns != d.netns {
                    write!(f, " netns={}", spec.netns)?;
                }
                Ok(())
            }
            Directive::Sysctl {
                max_dgram_qlen,
                netns,
            } => {
                write!(f, "sysctl max_dgram_qlen={max_dgram_qlen}")?;
                if *netns != 0 {
                    write!(f, " netns={netns}")?;
                }
                Ok(())
            }
            Directive::Gc => f.write_str("gc"),
            Directive::Stat => f.write_str("stat"),
            Directive::Sleep { ms } => write!(f, "sleep {ms}"),
        }
    }
}

impl Display for FdArg {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.fd {
            FdKind::Name(n) => f.write_str(n),
            FdKind::Num(n) => write!(f, "{n}"),
        }
    }
}

impl Display for AddrArg {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.addr {
            AddrKind::Path(p) => f.write_str(&fmt_string(p)),
            AddrKind::Abstract(n)
                if !n.is_empty() && n.iter().all(|&b| crate::scenario::plain_name_byte(b)) =>
            {
                // Plain bytes only, hence UTF-8.
                write!(f, "@{}", String::from_utf8_lossy(n))
            }
            AddrKind::Abstract(n) => write!(f, "@{}", fmt_string(n)),
            AddrKind::Auto => f.write_str("auto"),
            AddrKind::Unspec => f.write_str("unspec"),
            AddrKind::Hex(b) => f.write_str(&crate::trace::fmt_hex(b)),
            AddrKind::Autobound(n) => write!(f, "@#{n}"),
            AddrKind::Null(n) => write!(f, "null:{n}"),
        }
    }
}

impl Display for Call<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let name = self.0.name();
        match self.0 {
            Op::Socket { ty, protocol } | Op::Socketpair { ty, protocol } => {
                write!(f, "{name} {}", sock_type(*ty))?;
                if *protocol != 0 {
                    write!(f, " protocol={protocol}")?;
                }
                Ok(())
            }
            Op::Bind { fd, addr } | Op::Connect { fd, addr } => write!(f, "{name} {fd} {addr}"),
            Op::Listen { fd, backlog } => write!(f, "listen {fd} {backlog}"),
            Op::Accept { fd, flags } => write!(f, "accept {fd}{}", open_words(*flags)),
            Op::Sendmsg {
                fd,
                name,
                iov,
                control,
                flags,
            } => {
                write!(f, "sendmsg {fd}")?;
                if let Some(to) = name {
                    write!(f, " to={to}")?;
                }
                match &iov[..] {
                    [] => {}
                    [one] => write!(f, " data={}", send_buf(one))?,
                    many => {
                        let items: Vec<String> = many.iter().map(send_buf).collect();
                        write!(f, " data=[{}]", items.join(","))?;
                    }
                }
                for piece in control {
                    f.write_char(' ')?;
                    ctl_piece(f, piece)?;
                }
                msg_flags(f, *flags)
            }
            Op::Recvmsg {
                fd,
                iov,
                namelen,
                control,
                flags,
            } => {
                write!(f, "recvmsg {fd}")?;
                match &iov[..] {
                    // The parser's default.
                    [RecvBuf::Len(1024)] => {}
                    [RecvBuf::Len(n)] => write!(f, " len={n}")?,
                    many => {
                        let items: Vec<String> = many
                            .iter()
                            .map(|b| match b {
                                RecvBuf::Len(n) => n.to_string(),
                                RecvBuf::Null(n) => format!("null:{n}"),
                            })
                            .collect();
                        write!(f, " iov=[{}]", items.join(","))?;
                    }
                }
                if let Some(n) = namelen {
                    write!(f, " name={n}")?;
                }
                match control {
                    None => {}
                    Some(Space::Null(n)) => write!(f, " space=null:{n}")?,
                    Some(Space::Terms(t)) => write!(f, " space={}", space(t))?,
                }
                msg_flags(f, *flags)
            }
            Op::Close { fd } | Op::Dup { fd } | Op::Pidof { fd } => write!(f, "{name} {fd}"),
            Op::Dup2 { fd, newfd } => write!(f, "dup2 {fd} {newfd}"),
            Op::Shutdown { fd, how } => {
                let how = match *how {
                    SHUT_RD => "rd".to_string(),
                    SHUT_WR => "wr".to_string(),
                    SHUT_RDWR => "rdwr".to_string(),
                    n => n.to_string(),
                };
                write!(f, "shutdown {fd} {how}")
            }
            Op::Setsockopt { fd, opt, value } => {
                write!(
                    f,
                    "setsockopt {fd} {} {}",
                    opt_name(opt),
                    opt_value(opt, value)
                )
            }
            Op::Getsockopt { fd, opt, optlen } => {
                write!(f, "getsockopt {fd} {}", opt_name(opt))?;
                if let Some(n) = optlen {
                    write!(f, " optlen={n}")?;
                }
                Ok(())
            }
            Op::Getsockname { fd, len } | Op::Getpeername { fd, len } => {
                write!(f, "{name} {fd}")?;
                if let Some(n) = len {
                    write!(f, " len={n}")?;
                }
                Ok(())
            }
            Op::SetNonblock { fd, on } => {
                write!(f, "fcntl {fd} {}", if *on { "nonblock" } else { "block" })
            }
            Op::GetFd { fd } => write!(f, "fcntl {fd} getfd"),
            Op::SetOwn { fd } => write!(f, "fcntl {fd} setown"),
            Op::Pipe { flags } => write!(f, "pipe{}", open_words(*flags)),
            Op::Memfd { content } => write!(f, "memfd {}", fmt_string(content)),
            Op::Read { fd, len } => write!(f, "read {fd} {len}"),
            Op::Write { fd, data } => write!(f, "write {fd} {}", data_text(data)),
            Op::Poll {
                fds,
                list,
                events,
                timeout,
            } => {
                if *list {
                    write!(f, "poll [{}]", join(fds))?;
                } else {
                    // A poll of one fd not written as a list has one fd.
                    let one = fds.first().map(|fd| fd.to_string()).unwrap_or_default();
                    write!(f, "poll {one}")?;
                }
                if *timeout != 0 {
                    write!(f, " timeout={timeout}")?;
                }
                if *events != crate::encode::POLL_EVENTS {
                    write!(f, " events={}", fmt_revents(*events))?;
                }
                Ok(())
            }
            Op::Open { path, flags, mode } => {
                write!(f, "open {} {}", fmt_string(path), bits(*flags, OPEN_FLAGS))?;
                if *mode != 0o644 {
                    write!(f, " {mode:#o}")?;
                }
                Ok(())
            }
            Op::Mkdir { path, mode } => {
                write!(f, "mkdir {}", fmt_string(path))?;
                if *mode != 0o777 {
                    write!(f, " {mode:#o}")?;
                }
                Ok(())
            }
            Op::Unlink { path } => write!(f, "unlink {}", fmt_string(path)),
            Op::Chmod { path, mode } => write!(f, "chmod {} {mode:#o}", fmt_string(path)),
            Op::Rename { old, new } => {
                write!(f, "rename {} {}", fmt_string(old), fmt_string(new))
            }
            Op::Ioctl { fd, req } => {
                let req = match *req {
                    SIOCINQ => "inq".to_string(),
                    SIOCOUTQ => "outq".to_string(),
                    SIOCATMARK => "atmark".to_string(),
                    // Not a request the language has: written as the
                    // number, which the parser refuses.
                    n => n.to_string(),
                };
                write!(f, "ioctl {fd} {req}")
            }
            Op::Sigurg | Op::Exec | Op::Exit => f.write_str(name),
            Op::Fork { child, .. } => write!(f, "fork {child}"),
            Op::Wait { ms: None } => f.write_str("wait"),
            Op::Wait { ms: Some(ms) } => write!(f, "wait {ms}"),
        }
    }
}

/// `stream`, `dgram`, `seqpacket`, `raw` or the number, then the
/// `nonblock` / `cloexec` words.
fn sock_type(ty: i32) -> String {
    let base = ty & !(SOCK_NONBLOCK | SOCK_CLOEXEC);
    let word = match base {
        SOCK_STREAM => "stream".to_string(),
        SOCK_DGRAM => "dgram".to_string(),
        SOCK_SEQPACKET => "seqpacket".to_string(),
        SOCK_RAW => "raw".to_string(),
        n => n.to_string(),
    };
    word + &open_words(ty)
}

/// ` nonblock` and ` cloexec`, for the `SOCK_*` flags set in `flags`.
fn open_words(flags: i32) -> String {
    let mut s = String::new();
    if flags & SOCK_NONBLOCK != 0 {
        s.push_str(" nonblock");
    }
    if flags & SOCK_CLOEXEC != 0 {
        s.push_str(" cloexec");
    }
    s
}

/// Flags by the names of `table`, the rest as a hex number; `0` for none.
fn bits(v: i32, table: &[(&str, i32)]) -> String {
    let t: Vec<(&str, u32)> = table.iter().map(|(n, b)| (*n, *b as u32)).collect();
    fmt_bits(v as u32, &t)
}

/// ` flags=...` when any is set.
fn msg_flags(f: &mut Formatter<'_>, flags: i32) -> fmt::Result {
    if flags != 0 {
        write!(f, " flags={}", bits(flags, MSG_FLAGS))?;
    }
    Ok(())
}

/// Data: a string, or the byte count when it is a long run of `x` (what
/// `data=N` means).
fn data_text(b: &[u8]) -> String {
    if b.len() > 64 && b.iter().all(|&c| c == b'x') {
        b.len().to_string()
    } else {
        fmt_string(b)
    }
}

fn send_buf(b: &SendBuf) -> String {
    match b {
        SendBuf::Bytes(b) => data_text(b),
        SendBuf::Null(n) => format!("null:{n}"),
    }
}

fn ctl_piece(f: &mut Formatter<'_>, piece: &CtlPiece) -> fmt::Result {
    match piece {
        CtlPiece::Rights(fds) => write!(f, "rights=[{}]", join(fds)),
        CtlPiece::Creds(CredsArg::Own, _) => f.write_str("creds=self"),
        CtlPiece::Creds(CredsArg::Explicit { pid, uid, gid }, _) => {
            let pid = match pid {
                PidArg::Name(n) => n.clone(),
                PidArg::Num(n) => n.to_string(),
            };
            write!(f, "creds={pid},{uid},{gid}")
        }
        CtlPiece::Raw(b) => write!(f, "cmsg={}", crate::trace::fmt_hex(b)),
    }
}

/// `space=` terms joined by `+`; an empty list is a buffer of 0 bytes.
fn space(terms: &[SpaceTerm]) -> String {
    if terms.is_empty() {
        return "0".into();
    }
    let t: Vec<String> = terms
        .iter()
        .map(|t| match t {
            SpaceTerm::Bytes(n) => n.to_string(),
            SpaceTerm::Rights(k) => format!("rights:{k}"),
            SpaceTerm::Creds => "creds".into(),
            SpaceTerm::Pidfd => "pidfd".into(),
            SpaceTerm::Inq => "inq".into(),
        })
        .collect();
    t.join("+")
}

fn opt_name(opt: &OptArg) -> String {
    match opt {
        OptArg::Named(o) => o.name().to_string(),
        OptArg::Raw { level, name } => format!("raw={level},{name}"),
    }
}

/// The value of `setsockopt` in the form its option is written in: an
/// integer, `tv:SEC,USEC` for a timeout, `ON,SECONDS` for linger, `hex:`
/// for a filter or a raw option (or any value of an unexpected length).
fn opt_value(opt: &OptArg, v: &[u8]) -> String {
    let i32_at =
        |i: usize| -> Option<i32> { Some(i32::from_ne_bytes(v.get(i..i + 4)?.try_into().ok()?)) };
    let i64_at =
        |i: usize| -> Option<i64> { Some(i64::from_ne_bytes(v.get(i..i + 8)?.try_into().ok()?)) };
    let typed = match opt {
        OptArg::Raw { .. } | OptArg::Named(Opt::AttachFilter) => None,
        OptArg::Named(Opt::Sndtimeo | Opt::Rcvtimeo) if v.len() == 16 => Some(format!(
            "tv:{},{}",
            i64_at(0).unwrap_or(0),
            i64_at(8).unwrap_or(0)
        )),
        OptArg::Named(Opt::Linger) if v.len() == 8 => Some(format!(
            "{},{}",
            i32_at(0).unwrap_or(0),
            i32_at(4).unwrap_or(0)
        )),
        OptArg::Named(Opt::Sndtimeo | Opt::Rcvtimeo | Opt::Linger) => None,
        OptArg::Named(_) if v.len() == 4 => i32_at(0).map(|n| n.to_string()),
        OptArg::Named(_) => None,
    };
    typed.unwrap_or_else(|| crate::trace::fmt_hex(v))
}

fn join<T: Display>(items: &[T]) -> String {
    let v: Vec<String> = items.iter().map(T::to_string).collect();
    v.join(",")
}

/// Print `line` and parse the text back: `Err` says how the two differ
/// (a parse error, another meaning, or a print that is not a fixpoint).
/// The fuzzer's `scenario` target checks it on every line it parses.
pub fn round_trip(line: &Line) -> Result<(), String> {
    let printed = line.to_string();
    let mut written = HashSet::new();
    let back = match parse_line(&printed, line.lineno, &mut written) {
        Ok(Some(back)) => back,
        Ok(None) => return Err(format!("`{printed}` parses as an empty line")),
        Err(e) => return Err(format!("`{printed}` does not parse: {e}")),
    };
    if meaning(line) != meaning(&back) {
        return Err(format!("`{printed}` parses as another line: {back:?}"));
    }
    let again = back.to_string();
    if again != printed {
        return Err(format!("`{printed}` prints again as `{again}`"));
    }
    Ok(())
}

/// The same call with every column 0: what the text says, not where.
struct NoColumns;

impl<'a> Lower<'a, Written, Written> for NoColumns {
    type Error = Infallible;
    fn fd(&mut self, fd: &'a FdArg) -> Result<FdArg, Infallible> {
        Ok(FdArg {
            col: 0,
            ..fd.clone()
        })
    }
    fn addr(&mut self, a: &'a AddrArg) -> Result<AddrArg, Infallible> {
        Ok(AddrArg {
            col: 0,
            ..a.clone()
        })
    }
    fn msg_name(&mut self, a: &'a AddrArg) -> Result<AddrArg, Infallible> {
        self.addr(a)
    }
    fn send_control(&mut self, c: &'a Vec<CtlPiece>) -> Result<Vec<CtlPiece>, Infallible> {
        Ok(c.iter()
            .map(|p| match p {
                CtlPiece::Rights(fds) => {
                    CtlPiece::Rights(fds.iter().map(|f| self.fd(f).unwrap()).collect())
                }
                CtlPiece::Creds(c, _) => CtlPiece::Creds(c.clone(), 0),
                CtlPiece::Raw(b) => CtlPiece::Raw(b.clone()),
            })
            .collect())
    }
    fn recv_control(&mut self, c: &'a Option<Space>) -> Result<Option<Space>, Infallible> {
        Ok(c.clone())
    }
    fn opt(&mut self, o: &'a OptArg) -> Result<OptArg, Infallible> {
        Ok(*o)
    }
    fn namelen(&mut self, n: &'a Option<u32>) -> Result<Option<u32>, Infallible> {
        Ok(*n)
    }
    fn addrlen(&mut self, n: &'a Option<i32>) -> Result<Option<i32>, Infallible> {
        Ok(*n)
    }
    fn optlen(&mut self, _: &'a OptArg, n: &'a Option<i32>) -> Result<Option<i32>, Infallible> {
        Ok(*n)
    }
    fn syntax<X: Arg>(&mut self, x: &'a X) -> Result<X, Infallible> {
        Ok(x.clone())
    }
    fn only<X: Arg>(&mut self, _: &'static str, x: &'a X) -> Result<X, Infallible> {
        Ok(x.clone())
    }
}

/// What a line means, without where it was written.
fn meaning(l: &Line) -> (LineKind, Option<Expect>) {
    let kind = match &l.kind {
        LineKind::Call {
            proc,
            op,
            binds,
            background,
            ..
        } => {
            let mut op = op.lower(&mut NoColumns).unwrap();
            if let Op::Fork { col, .. } = &mut op {
                *col = 0;
            }
            LineKind::Call {
                proc: proc.clone(),
                proc_col: 0,
                op,
                binds: binds.clone(),
                background: *background,
            }
        }
        d => d.clone(),
    };
    (kind, l.expect.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scn_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                scn_files(&p, out);
            } else {
                out.push(p);
            }
        }
    }

    /// Every line of every scenario in the repository (and the fuzzer's
    /// seeds, which are scenario text too) prints to a line the parser
    /// reads back as the same line; and printing is a fixpoint.
    #[test]
    fn every_line_prints_back_to_itself() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        for d in [
            "tests",
            "examples",
            "fuzz/seeds/scenario",
            "../shared/scenarios",
        ] {
            scn_files(&root.join(d), &mut files);
        }
        files.retain(|p| {
            p.extension().is_some_and(|e| e == "scn") || p.starts_with(root.join("fuzz/seeds"))
        });
        let (mut lines, mut kinds) = (0, HashSet::new());
        for p in &files {
            let Ok(text) = std::fs::read_to_string(p) else {
                continue;
            };
            for (i, raw) in text.lines().enumerate() {
                let mut w = HashSet::new();
                let Ok(Some(line)) = parse_line(raw, i + 1, &mut w) else {
                    continue;
                };
                if let Err(e) = round_trip(&line) {
                    panic!("{}:{}: {raw}\n  {e}", p.display(), i + 1);
                }
                lines += 1;
                if let LineKind::Call { op, .. } = &line.kind {
                    kinds.insert(std::mem::discriminant(op));
                }
            }
        }
        // The repository's own scenarios write every call of the language.
        assert!(lines > 1000, "{lines} lines");
        assert_eq!(kinds.len(), 36, "kinds of call seen");
    }
}
