//! Drive a [`Backend`] through a [`Scenario`]: resolve names, encode the
//! calls, decode the replies into the trace.

use crate::encode;
use crate::scenario::*;
use crate::trace::{self, AddrView, Rendered};
use afunix::abi::cmsg::{user_cmsgs, CmsgBuilder};
use afunix::abi::consts::*;
use afunix::abi::timeval::Timeval;
use afunix::abi::ucred::Ucred;
use afunix::Rule;
use afunix_backend::backend::{
    Backend, Call, Lower, Never, Out, ProcId, Progress, Raw, RecvBuf, Reply, SendBuf, SockOpt,
    TaskSpec,
};
use afunix_backend::call::Arg;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Duration;

/// How long a call written without `&` may block before it is `BLOCKED`.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(1000);

/// One line of the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceLine {
    /// The 1-based line number in the scenario.
    pub lineno: usize,
    /// The line as written (without comment and `= ...`).
    pub echo: String,
    /// The result; `None` for a background call just started.
    pub result: Option<Rendered>,
    /// The rule behind an errno result ([`Rule::NONE`] for none).
    pub why: &'static Rule,
    /// The path the call took through the model (with
    /// [`RunOptions::paths`]): kernel functions and decisions.
    pub path: Vec<String>,
}

impl TraceLine {
    /// The values that decided an errno result: the last step of the path
    /// when it is a decision note (recorded with [`RunOptions::paths`]).
    pub fn decision(&self) -> Option<&str> {
        if self.why.is_none() {
            return None;
        }
        afunix::path::decision(&self.path)
    }

    /// The rule and, when the path was recorded, the values that decided
    /// it: `unix_dgram_sendmsg: len > sk_sndbuf - 32 (9969 bytes > sk_sndbuf
    /// 10000 - 32)`; `""` for no rule.
    pub fn explanation(&self) -> String {
        match self.decision() {
            Some(d) => format!("{} ({d})", self.why),
            None => self.why.to_string(),
        }
    }

    /// The trace text of this line; with `explain`, the errno's rule (and
    /// the values that decided it) as a comment.
    pub fn text(&self, explain: bool) -> String {
        let mut s = self.echo.clone();
        if let Some(r) = &self.result {
            s.push_str(" = ");
            s.push_str(&r.to_string());
        }
        if explain && !self.why.is_none() {
            s.push_str("  # ");
            s.push_str(&self.explanation());
        }
        s
    }
}

/// What stopped a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunErrorKind {
    /// The scenario is wrong (unknown name, call by an exited process...).
    Scenario,
    /// The backend failed.
    Backend,
}

/// An error that stopped a run, at a line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What went wrong.
    pub msg: String,
    /// Scenario or backend.
    pub kind: RunErrorKind,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            RunErrorKind::Scenario => write!(f, "{}:{}: {}", self.line, self.col, self.msg),
            RunErrorKind::Backend => {
                write!(f, "{}:{}: backend error: {}", self.line, self.col, self.msg)
            }
        }
    }
}

/// The outcome of a run: the trace so far and, if it stopped early, why.
#[derive(Clone, Debug, Default)]
pub struct Run {
    /// The trace lines, in order.
    pub lines: Vec<TraceLine>,
    /// The error that stopped the run, if any.
    pub error: Option<RunError>,
    /// Pictures of the world (with [`RunOptions::pictures`]): after each
    /// `stat` and `gc` line (its line number) and at the end (line 0).
    pub pictures: Vec<(usize, String)>,
    /// What the backend said when the run ended ([`Backend::finish`]):
    /// something of the run that outlives it.
    pub warnings: Vec<String>,
}

impl Run {
    /// The whole trace as text, one line each.
    pub fn text(&self, explain: bool) -> String {
        let mut s = String::new();
        for l in &self.lines {
            s.push_str(&l.text(explain));
            s.push('\n');
        }
        s
    }
}

/// Options of a run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The wait of a call written without `&` (1000 ms).
    pub call_timeout: Duration,
    /// Take pictures of the world (where the backend can draw one).
    pub pictures: bool,
    /// Faults to inject (model only): each armed when the run starts, or
    /// when its process is created.
    pub faults: Vec<FaultArg>,
    /// Record the path of each call (model only).
    pub paths: bool,
    /// Arm the faults of the file's `# afunix: fault` comments (on the
    /// model; see [`crate::pragma`]). `diff` runs without them.
    pub pragmas: bool,
    /// The model's security policy: deny rules (`--deny`; model only).
    pub deny: Vec<DenyArg>,
}

/// A fault of `--fault POINT[,proc=NAME][,line=L][,nth=N][,p=P]`.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultArg {
    /// Where.
    pub point: afunix::fault::FaultPoint,
    /// Only calls of this scenario process.
    pub proc: Option<String>,
    /// Armed when the call of this scenario line starts (so `nth` counts
    /// from that call on); `None`: when the run (or the process) starts.
    pub line: Option<usize>,
    /// When.
    pub when: afunix::fault::When,
}

impl std::str::FromStr for FaultArg {
    type Err = String;

    /// `POINT[,proc=NAME][,line=L][,nth=N][,p=P]` (default: the first
    /// occurrence).
    fn from_str(s: &str) -> Result<FaultArg, String> {
        let mut parts = s.split(',');
        let name = parts.next().unwrap_or("");
        let point = afunix::fault::FaultPoint::from_name(name).ok_or_else(|| {
            let all: Vec<&str> = afunix::fault::FaultPoint::ALL
                .iter()
                .map(|p| p.name())
                .collect();
            format!("`{name}` is not a fault point (one of: {})", all.join(", "))
        })?;
        let mut f = FaultArg {
            point,
            proc: None,
            line: None,
            when: afunix::fault::When::Nth(1),
        };
        for p in parts {
            match p.split_once('=') {
                Some(("proc", v)) if !v.is_empty() => f.proc = Some(v.to_string()),
                Some(("line", v)) => match v.parse::<usize>() {
                    Ok(n) if n > 0 => f.line = Some(n),
                    _ => return Err(format!("line={v}: a line number from 1")),
                },
                Some(("nth", v)) => match v.parse::<u64>() {
                    Ok(n) if n > 0 => f.when = afunix::fault::When::Nth(n),
                    _ => return Err(format!("nth={v}: a count from 1")),
                },
                Some(("p", v)) => match v.parse::<f64>() {
                    Ok(x) if (0.0..=1.0).contains(&x) => f.when = afunix::fault::When::Random(x),
                    _ => return Err(format!("p={v}: a probability from 0 to 1")),
                },
                _ => return Err(format!("`{p}`: expected proc=NAME, line=L, nth=N or p=P")),
            }
        }
        Ok(f)
    }
}

/// A rule of `--deny HOOK[,uid=N][,pid=N][,type=T][,file=TYPE|!TYPE][,errno=E]`: the
/// model's hook `HOOK` (`socket_create`, …, `file_receive`) refuses with
/// `E` (default `EACCES`) the calls of tasks of effective uid N, of the
/// task of pid N, on sockets of type T (`stream`, `dgram`, `seqpacket`)
/// (each default: all), at `file_receive` only for files of TYPE, or of any type but
/// TYPE (`memfd`, `pipe_read`, `pipe_write`, `socket`, `pidfd`, `regular`,
/// `directory`, `path`, `null`, `external`: an embedder's file of no
/// known type; under `afunix exec` a host file is given its host type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenyArg(pub afunix::security::DenyRule);

/// The file types `file=` names.
const FILE_TYPES: [(&str, afunix::security::FileType); 10] = {
    use afunix::security::FileType::*;
    [
        ("memfd", Memfd),
        ("pipe_read", PipeRead),
        ("pipe_write", PipeWrite),
        ("socket", Socket),
        ("pidfd", Pidfd),
        ("regular", Regular),
        ("directory", Directory),
        ("path", Path),
        ("null", Null),
        ("external", External),
    ]
};

impl std::str::FromStr for DenyArg {
    type Err = String;

    fn from_str(s: &str) -> Result<DenyArg, String> {
        use afunix::security::{DenyRule, FileMatch, Hook};
        let mut parts = s.split(',');
        let name = parts.next().unwrap_or("");
        let hook = Hook::from_name(name).ok_or_else(|| {
            let all: Vec<&str> = Hook::ALL.iter().map(|h| h.name()).collect();
            format!("`{name}` is not a hook (one of: {})", all.join(", "))
        })?;
        let mut r = DenyRule::new(hook);
        for p in parts {
            match p.split_once('=') {
                Some(("uid", v)) => r.uid = Some(v.parse().map_err(|_| format!("uid={v}: a uid"))?),
                Some(("pid", v)) => {
                    let pid = v.parse().map_err(|_| format!("pid={v}: a pid"))?;
                    r.pid = Some(afunix::Pid::from_raw(pid));
                }
                Some(("type", v)) => {
                    r.sock = Some(
                        afunix::SockType::from_name(v)
                            .ok_or_else(|| format!("type={v}: stream, dgram or seqpacket"))?,
                    )
                }
                Some(("file", v)) => {
                    let (not, t) = v.strip_prefix('!').map_or((false, v), |t| (true, t));
                    let ty = FILE_TYPES
                        .iter()
                        .find(|(n, _)| *n == t)
                        .map(|(_, ty)| *ty)
                        .ok_or_else(|| {
                            let all: Vec<&str> = FILE_TYPES.iter().map(|(n, _)| *n).collect();
                            format!("file={v}: a file type (one of: {})", all.join(", "))
                        })?;
                    if hook != Hook::FileReceive {
                        return Err(format!("file={v}: only `file_receive` sees a file"));
                    }
                    r.file = Some(if not {
                        FileMatch::IsNot(ty)
                    } else {
                        FileMatch::Is(ty)
                    });
                }
                Some(("errno", v)) => {
                    r.errno = afunix::Errno::from_name(v)
                        .ok_or_else(|| format!("errno={v}: an errno name (EACCES, EPERM, …)"))?
                }
                _ => {
                    return Err(format!(
                        "`{p}`: expected uid=N, pid=N, type=stream|dgram|seqpacket, file=TYPE or errno=E"
                    ))
                }
            }
        }
        Ok(DenyArg(r))
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            call_timeout: CALL_TIMEOUT,
            pictures: false,
            faults: Vec::new(),
            paths: false,
            pragmas: true,
            deny: Vec::new(),
        }
    }
}

struct Pending {
    op: Op,
    binds: Vec<String>,
}

struct Proc {
    name: String,
    spec: TaskSpec,
    names: HashMap<String, i32>,
    exited: bool,
    pending: Option<Pending>,
}

/// Run a scenario on a backend, to the end or to the first error.
pub fn run(sc: &Scenario, backend: &mut dyn Backend, opts: &RunOptions) -> Run {
    let mut r = Runner {
        backend,
        procs: Vec::new(),
        by_name: HashMap::new(),
        autobound: Vec::new(),
        written: &sc.written_abstract,
        opts,
    };
    let mut out = Run::default();
    r.backend.record_paths(opts.paths);
    for f in opts
        .faults
        .iter()
        .filter(|f| f.proc.is_none() && f.line.is_none())
    {
        if let Err(e) = r.backend.inject(f.point, None, f.when) {
            out.error = Some(RunError {
                line: 1,
                col: 1,
                msg: e.0,
                kind: RunErrorKind::Backend,
            });
            return out;
        }
    }
    // Whether the collector ran since the last call (a picture then shows
    // what it left as leaked).
    let mut since_gc = false;
    // Faults that fired in a call whose line has no result yet (a
    // background call): they show on the line that collects it.
    let mut pending: Vec<(ProcId, &'static str)> = Vec::new();
    for line in &sc.lines {
        let proc = match &line.kind {
            LineKind::Call { proc, .. } => r.by_name.get(proc).copied(),
            _ => None,
        };
        // `line=L` faults: armed as the call of line L starts.
        for f in opts.faults.iter().filter(|f| f.line == Some(line.lineno)) {
            let pid = match &f.proc {
                None => None,
                Some(name) => match r.by_name.get(name) {
                    Some(&id) => Some(id),
                    None => {
                        out.error = Some(RunError {
                            line: line.lineno,
                            col: 1,
                            msg: format!(
                                "a fault for process `{name}` armed at this line, where it does not exist"
                            ),
                            kind: RunErrorKind::Scenario,
                        });
                        return out;
                    }
                },
            };
            if let Err(e) = r.backend.inject(f.point, pid, f.when) {
                out.error = Some(RunError {
                    line: line.lineno,
                    col: 1,
                    msg: e.0,
                    kind: RunErrorKind::Backend,
                });
                return out;
            }
        }
        match r.line(line) {
            Ok(mut t) => {
                // Every injected fault shows on the line where it fired.
                let fired = r.backend.take_fired();
                match &mut t.result {
                    Some(res) => {
                        pending.retain(|&(p, name)| {
                            let mine = Some(p) == proc;
                            if mine {
                                res.fields.push(format!("fault={name}"));
                            }
                            !mine
                        });
                        for (point, p) in fired {
                            // In another process's background call (woken
                            // by this line): on the line that collects it.
                            match p.filter(|&p| Some(p) != proc && r.procs[p].pending.is_some()) {
                                Some(p) => pending.push((p, point.name())),
                                None => res.fields.push(format!("fault={}", point.name())),
                            }
                        }
                    }
                    None => pending.extend(
                        fired
                            .into_iter()
                            .filter_map(|(point, p)| Some((p.or(proc)?, point.name()))),
                    ),
                }
                out.lines.push(t)
            }
            Err(e) => {
                out.error = Some(e);
                break;
            }
        }
        match &line.kind {
            LineKind::Directive(Directive::Gc) => since_gc = true,
            LineKind::Call { .. } => since_gc = false,
            _ => {}
        }
        if opts.pictures {
            if let LineKind::Directive(Directive::Gc | Directive::Stat) = &line.kind {
                if let Some(p) = r.backend.picture(moment_of(since_gc)) {
                    out.pictures.push((line.lineno, p));
                }
            }
        }
    }
    if opts.pictures {
        if let Some(p) = r.backend.picture(moment_of(since_gc)) {
            out.pictures.push((0, p));
        }
    }
    match r.backend.finish() {
        Ok(w) => out.warnings.extend(w),
        Err(e) => out
            .warnings
            .push(format!("the run did not end cleanly: {}", e.0)),
    }
    out
}

/// What a picture is taken after: the collector ran since the last call,
/// or not.
fn moment_of(since_gc: bool) -> afunix::dot::Moment {
    if since_gc {
        afunix::dot::Moment::AfterGc
    } else {
        afunix::dot::Moment::Now
    }
}

struct Runner<'a> {
    backend: &'a mut dyn Backend,
    procs: Vec<Proc>,
    by_name: HashMap<String, ProcId>,
    autobound: Vec<Vec<u8>>,
    written: &'a HashSet<Vec<u8>>,
    opts: &'a RunOptions,
}

type R<T> = Result<T, RunError>;

fn scen(line: usize, col: usize, msg: impl Into<String>) -> RunError {
    RunError {
        line,
        col,
        msg: msg.into(),
        kind: RunErrorKind::Scenario,
    }
}

fn errno_text(e: afunix::Errno) -> String {
    match e.name() {
        Some(n) => n.to_string(),
        None => e.raw().to_string(),
    }
}

impl Runner<'_> {
    fn line(&mut self, l: &Line) -> R<TraceLine> {
        let ln = l.lineno;
        let be = |e: afunix_backend::backend::BackendError| RunError {
            line: ln,
            col: 1,
            msg: e.0,
            kind: RunErrorKind::Backend,
        };
        let mut why = Rule::NONE;
        let result = match &l.kind {
            LineKind::Directive(d) => Some(match d {
                Directive::Task { name, spec } => {
                    if self.by_name.contains_key(name) {
                        return Err(scen(ln, 6, format!("process `{name}` already exists")));
                    }
                    let id = self.procs.len();
                    self.backend.task(id, spec).map_err(be)?;
                    self.add_proc(name, spec.clone(), HashMap::new());
                    Rendered::plain("0")
                }
                Directive::Sysctl {
                    max_dgram_qlen,
                    netns,
                } => match self
                    .backend
                    .set_max_dgram_qlen(*netns, *max_dgram_qlen)
                    .map_err(be)?
                {
                    Ok(()) => Rendered::plain("0"),
                    Err(e) => {
                        why = e.rule;
                        Rendered::plain(errno_text(e.errno))
                    }
                },
                Directive::Gc => {
                    self.backend.gc().map_err(be)?;
                    Rendered::plain("0")
                }
                Directive::Stat => {
                    let n = self.backend.stat().map_err(be)?;
                    Rendered {
                        result: "0".into(),
                        fields: vec![format!("sockets={n}")],
                    }
                }
                Directive::Sleep { ms } => {
                    self.backend.sleep(Duration::from_millis(*ms)).map_err(be)?;
                    Rendered::plain("0")
                }
            }),
            LineKind::Call {
                proc,
                proc_col,
                op,
                binds,
                background,
            } => {
                let id = *self
                    .by_name
                    .get(proc)
                    .ok_or_else(|| scen(ln, *proc_col, format!("unknown process `{proc}`")))?;
                if self.procs[id].exited {
                    return Err(scen(ln, *proc_col, format!("process `{proc}` has exited")));
                }
                match op {
                    Op::Wait { ms } => {
                        let Some(p) = self.procs[id].pending.take() else {
                            return Err(scen(
                                ln,
                                *proc_col,
                                format!("process `{proc}` has no call to wait for"),
                            ));
                        };
                        let t = ms.map(Duration::from_millis).unwrap_or(CALL_TIMEOUT);
                        match self.backend.wait(id, t).map_err(be)? {
                            Progress::Blocked => {
                                self.procs[id].pending = Some(p);
                                Some(Rendered::plain("BLOCKED"))
                            }
                            Progress::Done(reply) => {
                                let binds = if binds.is_empty() { &p.binds } else { binds };
                                let (r, w) = self.finish(id, &p.op, &reply, binds);
                                why = w;
                                Some(r)
                            }
                        }
                    }
                    _ => {
                        if self.procs[id].pending.is_some() {
                            return Err(scen(
                                ln,
                                *proc_col,
                                format!("process `{proc}` has a call pending (`{proc}: wait` collects it)"),
                            ));
                        }
                        if let Op::Fork { child, col } = op {
                            if self.by_name.contains_key(child) {
                                return Err(scen(
                                    ln,
                                    *col,
                                    format!("process `{child}` already exists"),
                                ));
                            }
                            let cid = self.procs.len();
                            self.backend.fork(id, cid).map_err(be)?;
                            let spec = self.procs[id].spec.clone();
                            let names = self.procs[id].names.clone();
                            self.add_proc(child, spec, names);
                            Some(Rendered::plain("0"))
                        } else {
                            let call = self.encode(ln, id, op)?;
                            self.backend.start(id, call).map_err(be)?;
                            if *background {
                                self.procs[id].pending = Some(Pending {
                                    op: op.clone(),
                                    binds: Vec::new(),
                                });
                                None
                            } else {
                                match self.backend.wait(id, self.opts.call_timeout).map_err(be)? {
                                    Progress::Blocked => {
                                        self.procs[id].pending = Some(Pending {
                                            op: op.clone(),
                                            binds: binds.clone(),
                                        });
                                        Some(Rendered::plain("BLOCKED"))
                                    }
                                    Progress::Done(reply) => {
                                        let (r, w) = self.finish(id, op, &reply, binds);
                                        why = w;
                                        Some(r)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        };
        // The path of the call this line ran or collected.
        let path = match &l.kind {
            LineKind::Call { proc, .. } if result.is_some() => self
                .by_name
                .get(proc)
                .map(|id| self.backend.take_path(*id))
                .unwrap_or_default(),
            LineKind::Directive(Directive::Sysctl { .. } | Directive::Gc) => {
                self.backend.take_directive_path()
            }
            _ => Vec::new(),
        };
        let path = self.name_wakers(path);
        Ok(TraceLine {
            lineno: ln,
            echo: l.echo.clone(),
            result,
            why,
            path,
        })
    }

    /// A waker in the path (`... by __sys_sendmsg of pid 100`) by its
    /// scenario name as well: `of A (pid 100)`.
    fn name_wakers(&self, mut path: Vec<String>) -> Vec<String> {
        for step in &mut path {
            afunix::path::name_waker(step, |pid| {
                let id = (0..self.procs.len()).find(|&id| self.backend.pid(id) == pid)?;
                Some(format!("{} (pid {pid})", self.procs[id].name))
            });
        }
        path
    }

    fn add_proc(&mut self, name: &str, spec: TaskSpec, names: HashMap<String, i32>) {
        let id = self.procs.len();
        let opts = self.opts;
        for f in opts
            .faults
            .iter()
            .filter(|f| f.proc.as_deref() == Some(name) && f.line.is_none())
        {
            // A backend that cannot inject refused at the start already.
            let _ = self.backend.inject(f.point, Some(id), f.when);
        }
        self.by_name.insert(name.to_string(), self.procs.len());
        self.procs.push(Proc {
            name: name.to_string(),
            spec,
            names,
            exited: false,
            pending: None,
        });
    }

    fn fd(&self, ln: usize, id: ProcId, a: &FdArg) -> R<i32> {
        match &a.fd {
            FdKind::Num(n) => Ok(*n),
            FdKind::Name(n) => self.procs[id].names.get(n).copied().ok_or_else(|| {
                scen(
                    ln,
                    a.col,
                    format!(
                        "`{n}` is not a name bound in process `{}`",
                        self.procs[id].name
                    ),
                )
            }),
        }
    }

    fn addr(&self, ln: usize, a: &AddrArg) -> R<Vec<u8>> {
        Ok(match &a.addr {
            AddrKind::Path(p) => encode::path_addr(p),
            AddrKind::Abstract(n) => encode::abstract_addr(n),
            AddrKind::Auto => encode::family_only(AF_UNIX),
            AddrKind::Unspec => encode::family_only(AF_UNSPEC),
            AddrKind::Hex(b) => b.clone(),
            AddrKind::Null(_) => return Err(scen(ln, a.col, "null: is only a sendmsg to=")),
            AddrKind::Autobound(n) => {
                let name = self
                    .autobound
                    .get(n - 1)
                    .ok_or_else(|| scen(ln, a.col, format!("@#{n} has not been printed yet")))?;
                encode::abstract_addr(name)
            }
        })
    }

    fn pid_of(&self, ln: usize, col: usize, p: &PidArg) -> R<i32> {
        match p {
            PidArg::Num(n) => Ok(*n),
            PidArg::Name(n) => self
                .by_name
                .get(n)
                .map(|id| self.backend.pid(*id))
                .ok_or_else(|| scen(ln, col, format!("unknown process `{n}`"))),
        }
    }

    /// Arguments to a raw [`Call`]: the same call, its names resolved
    /// and its buffers encoded ([`Encoder`]).
    fn encode(&self, ln: usize, id: ProcId, op: &Op) -> R<Call> {
        op.lower(&mut Encoder { run: self, ln, id })
    }

    /// A pid as printed: the name of the process that has or had it.
    fn pid_text(&self, pid: i32) -> String {
        if pid > 0 {
            for (id, p) in self.procs.iter().enumerate() {
                if self.backend.pid(id) == pid {
                    return p.name.clone();
                }
            }
        }
        pid.to_string()
    }

    fn addr_text(&mut self, b: &[u8]) -> String {
        match trace::view_addr(b) {
            AddrView::Unnamed => "unnamed".into(),
            AddrView::Path(p) => trace::fmt_string(&p),
            AddrView::Raw(r) => trace::fmt_hex(&r),
            AddrView::Abstract(n) => {
                if b.len() == 8 && trace::looks_autobound(&n) && !self.written.contains(&n) {
                    let i = match self.autobound.iter().position(|x| *x == n) {
                        Some(i) => i,
                        None => {
                            self.autobound.push(n);
                            self.autobound.len() - 1
                        }
                    };
                    format!("@#{}", i + 1)
                } else {
                    trace::fmt_abstract(&n)
                }
            }
        }
    }

    /// Credentials the kernel reported, as printed: the pid by name and
    /// the uid as the scenario wrote it ([`Backend::from_kuid`]).
    fn creds_text(&self, u: &Ucred) -> String {
        let uid = self.backend.from_kuid(u.uid);
        format!("{},{},{}", self.pid_text(u.pid), uid, u.gid)
    }

    /// Decode a reply into the trace and bind names. Returns the rendered
    /// result and the errno's rule.
    fn finish(
        &mut self,
        id: ProcId,
        op: &Op,
        reply: &Reply,
        binds: &[String],
    ) -> (Rendered, &'static Rule) {
        let ret = match reply.ret {
            Ok(v) => v,
            Err(e) => {
                let mut r = Rendered::plain(errno_text(e.errno));
                // getsockopt: the optlen the kernel wrote back on failure.
                if let (Op::Getsockopt { opt, optlen, .. }, Out::Optval { optlen: got, .. }) =
                    (op, &reply.out)
                {
                    let passed = optlen.unwrap_or_else(|| encode::getsockopt_len(*opt));
                    if *got != passed {
                        r.fields.push(format!("optlen={got}"));
                    }
                }
                if reply.sigpipe {
                    r.fields.push("sigpipe".into());
                }
                return (r, e.rule);
            }
        };
        let mut r = Rendered::plain(ret.to_string());
        let mut fds: Vec<i32> = Vec::new();
        match (op, &reply.out) {
            (
                Op::Socket { .. }
                | Op::Accept { .. }
                | Op::Dup { .. }
                | Op::Dup2 { .. }
                | Op::Memfd { .. }
                | Op::Open { .. },
                _,
            ) => {
                if let Ok(fd) = i32::try_from(ret) {
                    fds.push(fd);
                }
            }
            (Op::Socketpair { .. } | Op::Pipe { .. }, Out::Pair([a, b])) => {
                r.fields.push(format!("fds=[{a},{b}]"));
                fds.extend([*a, *b]);
            }
            (
                Op::Recvmsg {
                    namelen: name_arg,
                    control: space_arg,
                    ..
                },
                Out::Msg {
                    data,
                    name,
                    namelen,
                    control,
                    controllen,
                    flags,
                },
            ) => {
                r.fields.push(format!("data={}", trace::fmt_data(data)));
                if !name.is_empty() {
                    let a = self.addr_text(name);
                    r.fields.push(format!("from={a}"));
                }
                if name_arg.is_some() {
                    r.fields.push(format!("namelen={namelen}"));
                }
                let mut rights: Vec<i32> = Vec::new();
                let mut creds = None;
                let mut pidfd = None;
                let mut inq = None;
                let mut raw: Vec<u8> = Vec::new();
                for c in user_cmsgs(control) {
                    let int = c.int();
                    match (c.level, c.ty) {
                        (SOL_SOCKET, SCM_RIGHTS) => rights.extend(c.ints()),
                        (SOL_SOCKET, SCM_CREDENTIALS)
                            if creds.is_none() && Ucred::parse(c.data).is_some() =>
                        {
                            creds = Ucred::parse(c.data)
                        }
                        (SOL_SOCKET, SCM_PIDFD) if pidfd.is_none() && int.is_some() => pidfd = int,
                        (SOL_SOCKET, SCM_INQ) if inq.is_none() && int.is_some() => inq = int,
                        _ => c.write_raw(&mut raw),
                    }
                }
                if !rights.is_empty() {
                    let list: Vec<String> = rights.iter().map(|f| f.to_string()).collect();
                    r.fields.push(format!("rights=[{}]", list.join(",")));
                    fds.extend(&rights);
                }
                if let Some(u) = creds {
                    r.fields.push(format!("creds={}", self.creds_text(&u)));
                }
                if let Some(p) = pidfd {
                    r.fields.push(format!("pidfd={p}"));
                    if p >= 0 {
                        fds.push(p);
                    }
                }
                if let Some(q) = inq {
                    r.fields.push(format!("inq={q}"));
                }
                if !raw.is_empty() {
                    r.fields.push(format!("cmsg={}", trace::fmt_hex(&raw)));
                }
                if space_arg.is_some() {
                    r.fields.push(format!("controllen={controllen}"));
                }
                r.fields
                    .push(format!("flags={}", trace::fmt_msg_flags(*flags)));
            }
            (Op::Read { .. }, Out::Data(d)) => {
                r.fields.push(format!("data={}", trace::fmt_data(d)))
            }
            (
                Op::Getsockopt {
                    opt: OptArg::Raw { .. },
                    ..
                },
                Out::Optval { optlen, value },
            ) => {
                r.fields.push(format!("optlen={optlen}"));
                r.fields.push(format!("value={}", trace::fmt_hex(value)));
            }
            (
                Op::Getsockopt {
                    opt: OptArg::Named(opt),
                    optlen: written,
                    ..
                },
                Out::Optval { optlen, value: v },
            ) => {
                if written.is_some() {
                    r.fields.push(format!("optlen={optlen}"));
                }
                let int = {
                    let mut b = [0u8; 4];
                    let n = v.len().min(4);
                    b[..n].copy_from_slice(&v[..n]);
                    i32::from_ne_bytes(b)
                };
                // The value prints only when it fits in what came back.
                let need = match opt {
                    Opt::Sndtimeo | Opt::Rcvtimeo => 16,
                    Opt::Linger => 8,
                    Opt::Peercred => 12,
                    Opt::Peergroups | Opt::AttachFilter => 0,
                    _ => 4,
                };
                let fits = v.len() >= need;
                match opt {
                    _ if !fits => {}
                    Opt::Linger => {
                        let second = i32::from_ne_bytes([v[4], v[5], v[6], v[7]]);
                        r.fields.push(format!("value={int},{second}"));
                    }
                    Opt::Sndtimeo | Opt::Rcvtimeo => match Timeval::parse(v) {
                        Some(t) => r.fields.push(format!("value={}", t.as_millis())),
                        None => r.fields.push(format!("value={}", trace::fmt_hex(v))),
                    },
                    Opt::Peercred => match Ucred::parse(v) {
                        Some(u) => r.fields.push(format!("creds={}", self.creds_text(&u))),
                        None => r.fields.push(format!("value={}", trace::fmt_hex(v))),
                    },
                    Opt::Peergroups => {
                        let g: Vec<String> = v
                            .chunks_exact(4)
                            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]).to_string())
                            .collect();
                        r.fields.push(format!("groups=[{}]", g.join(",")));
                    }
                    Opt::Peerpidfd => {
                        r.fields.push(format!("fd={int}"));
                        if int >= 0 {
                            fds.push(int);
                        }
                    }
                    Opt::AttachFilter => r.fields.push(format!("value={optlen}")),
                    _ => r.fields.push(format!("value={int}")),
                }
            }
            (
                Op::Getsockname { len: written, .. } | Op::Getpeername { len: written, .. },
                Out::Addr { addr, len },
            ) => {
                if !addr.is_empty() {
                    let a = self.addr_text(addr);
                    r.fields.push(format!("addr={a}"));
                }
                if written.is_some() {
                    r.fields.push(format!("namelen={len}"));
                }
            }
            (Op::Poll { list, .. }, Out::Revents(e)) => {
                if *list {
                    let all: Vec<String> = e.iter().map(|x| trace::fmt_revents(*x)).collect();
                    r.fields.push(format!("revents=[{}]", all.join(",")));
                } else if let Some(x) = e.first() {
                    r.fields.push(format!("revents={}", trace::fmt_revents(*x)));
                }
            }
            (Op::Ioctl { .. }, Out::Int(v)) => r.fields.push(format!("value={v}")),
            (Op::Pidof { .. }, Out::Pid(p)) => {
                let t = self.pid_text(*p);
                r.fields.push(format!("pid={t}"));
            }
            (Op::Exit, _) => self.procs[id].exited = true,
            _ => {}
        }
        if reply.sigpipe {
            r.fields.push("sigpipe".into());
        }
        for (name, fd) in binds.iter().zip(fds) {
            self.procs[id].names.insert(name.clone(), fd);
        }
        (r, Rule::NONE)
    }
}

/// Lowers a call as written to the call a backend executes, one kind of
/// argument at a time: fd names to numbers in process `id`, addresses to
/// `sockaddr` bytes, control pieces to the control buffer, lengths left
/// out to the default buffer's.
struct Encoder<'r, 'a> {
    run: &'r Runner<'a>,
    ln: usize,
    id: ProcId,
}

impl<'o> Lower<'o, Written, Raw> for Encoder<'_, '_> {
    type Error = RunError;

    fn fd(&mut self, fd: &'o FdArg) -> R<i32> {
        self.run.fd(self.ln, self.id, fd)
    }

    fn addr(&mut self, addr: &'o AddrArg) -> R<Vec<u8>> {
        self.run.addr(self.ln, addr)
    }

    fn msg_name(&mut self, to: &'o AddrArg) -> R<SendBuf> {
        Ok(match to.addr {
            AddrKind::Null(n) => SendBuf::Null(n),
            _ => SendBuf::Bytes(self.run.addr(self.ln, to)?),
        })
    }

    fn send_control(&mut self, control: &'o Vec<CtlPiece>) -> R<Vec<u8>> {
        let (run, ln, id) = (self.run, self.ln, self.id);
        let mut b = CmsgBuilder::new();
        for piece in control {
            match piece {
                CtlPiece::Rights(fds) => {
                    let fds = fds
                        .iter()
                        .map(|f| run.fd(ln, id, f))
                        .collect::<R<Vec<i32>>>()?;
                    b.rights(&fds);
                }
                CtlPiece::Creds(c, col) => {
                    let u = match c {
                        CredsArg::Own => Ucred {
                            pid: run.backend.pid(id),
                            uid: run.backend.make_kuid(run.procs[id].spec.uid),
                            gid: run.procs[id].spec.gid,
                        },
                        CredsArg::Explicit { pid, uid, gid } => Ucred {
                            pid: run.pid_of(ln, *col, pid)?,
                            uid: run.backend.make_kuid(*uid),
                            gid: *gid,
                        },
                    };
                    b.creds(u);
                }
                CtlPiece::Raw(bytes) => {
                    b.raw(bytes);
                }
            }
        }
        Ok(b.finish())
    }

    fn recv_control(&mut self, space: &'o Option<Space>) -> R<RecvBuf> {
        Ok(match space {
            None => RecvBuf::Len(encode::space_bytes(&default_space())),
            Some(Space::Terms(t)) => RecvBuf::Len(encode::space_bytes(t)),
            Some(Space::Null(n)) => RecvBuf::Null(*n),
        })
    }

    fn opt(&mut self, opt: &'o OptArg) -> R<SockOpt> {
        let (level, name) = opt.numbers();
        Ok(SockOpt { level, name })
    }

    fn namelen(&mut self, n: &'o Option<u32>) -> R<u32> {
        Ok(n.unwrap_or(encode::NAME_BUF as u32))
    }

    fn addrlen(&mut self, n: &'o Option<i32>) -> R<i32> {
        Ok(n.unwrap_or(encode::NAME_BUF as i32))
    }

    fn optlen(&mut self, opt: &'o OptArg, n: &'o Option<i32>) -> R<i32> {
        Ok(n.unwrap_or_else(|| encode::getsockopt_len(*opt)))
    }

    fn syntax<X: Arg>(&mut self, _: &'o X) -> R<()> {
        Ok(())
    }

    fn only<X: Arg>(&mut self, call: &'static str, _: &'o X) -> R<Never> {
        // `fork` and `wait` are the runner's; it never encodes them.
        Err(scen(self.ln, 1, format!("{call} is not a backend call")))
    }
}
