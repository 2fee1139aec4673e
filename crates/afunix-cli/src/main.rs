//! The `afunix` command: run scenarios on the model or the host kernel,
//! check them against their recorded results, diff the two.

use afunix_cli::check::{check, diff};
use afunix_cli::{BackendKind, LoadError, Outcome};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[cfg(feature = "host")]
mod bench;

/// `println!` that ends the program quietly when stdout is closed (e.g.
/// piped into `head`) instead of panicking.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($t)*).is_err() {
            std::process::exit(0);
        }
    }};
}

const ABOUT: &str =
    "Run AF_UNIX scenarios (.scn files) on the user-space model or on the real kernel.";

const LONG_ABOUT: &str = "\
Run AF_UNIX scenarios (.scn files) on the user-space model or on the real kernel.

A scenario is a small text program, one system call by one process per line:

    task A
    A: socketpair dgram -> a b = 0 fds=[3,4]
    A: sendmsg a data=\"hi\" = 2
    A: recvmsg b = 2 data=\"hi\" flags=0

(the language is described in SCENARIO.md). A BACKEND is the world that
executes the calls:

    sim   the afunix model, in memory (the default; runs anywhere)
    host  the Linux kernel of this machine, in a private network namespace
          and a temporary directory (needs root)

Both print the same trace when the model is faithful to the kernel.

Exit status: 0 success, 1 a check or diff found differences,
2 a malformed scenario, a scenario error or a backend error.";

#[derive(Parser)]
#[command(name = "afunix", version, about = ABOUT, long_about = LONG_ABOUT)]
struct Cli {
    /// Output: `text` (the trace as the language prints it) or `json` (one
    /// JSON object per line; see the README for the fields).
    #[arg(long, global = true, value_enum, default_value = "text")]
    format: Format,
    /// Print less: check and diff print only problems and totals.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Print more: check prints the whole trace of a file that failed.
    #[arg(long, short, global = true, conflicts_with = "quiet")]
    verbose: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

/// How much to print, and whether the terminal gets progress and colour.
#[derive(Clone, Copy)]
struct Style {
    quiet: bool,
    verbose: bool,
    /// stdout is a terminal and NO_COLOR is not set.
    colour: bool,
    /// stderr is a terminal (progress bars).
    progress: bool,
}

impl Style {
    fn from(cli: &Cli) -> Style {
        use std::io::IsTerminal;
        let no_colour = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            quiet: cli.quiet,
            verbose: cli.verbose,
            colour: std::io::stdout().is_terminal() && !no_colour,
            progress: std::io::stderr().is_terminal() && !cli.quiet,
        }
    }

    /// `text` in red (a failure) when colour is on.
    fn bad(&self, text: &str) -> String {
        if self.colour {
            format!("\x1b[31m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// A progress bar on stderr over `n` files (hidden off a terminal).
    fn bar(&self, n: usize, what: &str) -> indicatif::ProgressBar {
        if !self.progress || n < 2 {
            return indicatif::ProgressBar::hidden();
        }
        let pb = indicatif::ProgressBar::new(n as u64);
        if let Ok(st) = indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} files, {elapsed}",
        ) {
            pb.set_style(st.progress_chars("=> "));
        }
        pb.set_prefix(what.to_string());
        pb
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}

/// What `--explain` shows.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Explain {
    /// After each errno, its rule and the values that decided it.
    Errors,
    /// That, and under every call (successful ones too) its path.
    All,
}

impl Explain {
    /// `(explain, path)` from `--explain[=WHAT]` and `--path`.
    fn flags(explain: Option<Explain>, path: bool) -> (bool, bool) {
        (explain.is_some(), path || explain == Some(Explain::All))
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Which {
    /// The afunix model (in memory).
    Sim,
    /// The host kernel (needs root).
    Host,
}

impl From<Which> for BackendKind {
    fn from(w: Which) -> Self {
        match w {
            Which::Sim => BackendKind::Sim,
            Which::Host => BackendKind::Host,
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Print a shell completion script for afunix.
    ///
    /// Example: afunix completions bash | head -n 3
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page of afunix (roff; `man -l -` reads it).
    ///
    /// Example: afunix man | head -n 5
    Man,
    /// Run a real, unmodified program (and everything it starts) with
    /// every AF_UNIX socket served by the model (seccomp user
    /// notification); other files stay with the kernel.
    ///
    /// Exit status: the program's (128+N after signal N); 125 afunix
    /// failed, 126 not executable, 127 not found.
    ///
    /// Example: afunix exec --stats -- python3 -c "import socket; a, b = socket.socketpair(); a.send(b'hi'); print(b.recv(2))"
    Exec {
        /// Write every served call to FILE, one line each.
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// Print what was served at exit (on standard error).
        #[arg(long)]
        stats: bool,
        /// Print the model's census at exit: sockets and open files left
        /// once every process is gone and the collector ran.
        #[arg(long)]
        census: bool,
        /// A pathname socket outside the run (e.g. /run/dbus/system_bus_socket)
        /// that connects and sends reach on the kernel instead of being
        /// refused as a dead socket; repeatable.
        #[arg(long, value_name = "PATH")]
        host_path: Vec<PathBuf>,
        /// In the trace, after an errno, the rule that produced it and the
        /// values that decided it (`= EPERM  # scm_check_creds: ... (...)`);
        /// `--explain=all` adds the path of every call (as `--path`).
        #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "errors", value_name = "WHAT")]
        explain: Option<Explain>,
        /// In the trace, under each call, the path it took through the
        /// model (the kernel functions and the decisions on the way).
        #[arg(long)]
        path: bool,
        /// Inject a fault in the model (repeatable): POINT[,nth=N][,p=P],
        /// as for `afunix run --fault` (any process of the program).
        #[arg(long, value_name = "SPEC")]
        fault: Vec<afunix_cli::runner::FaultArg>,
        /// A rule of the model's security policy for the program's
        /// processes (repeatable), as for `afunix run --deny`:
        /// HOOK[,uid=N][,pid=N][,type=T][,file=TYPE|!TYPE][,errno=E].
        #[arg(long, value_name = "SPEC")]
        deny: Vec<afunix_cli::runner::DenyArg>,
        /// The program and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        argv: Vec<std::ffi::OsString>,
    },
    /// Run scenarios and print their traces.
    ///
    /// Each line is echoed with its result (`LINE = RESULT FIELDS`); with
    /// several files, a `==> FILE <==` header comes before each trace.
    ///
    /// Example: afunix run tests/vectors/01_dgram_rights_memfd.scn --explain
    Run {
        /// Scenario files (`-`: standard input).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Where the calls run.
        #[arg(long, value_enum, default_value = "sim")]
        backend: Which,
        /// After an errno result, print the kernel rule behind it and the
        /// values that decided it as a comment (model only): `... = EMSGSIZE
        /// # unix_dgram_sendmsg: len > sk_sndbuf - 32 (9969 bytes > ...)`;
        /// `--explain=all` adds the path of every call (as `--path`).
        #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "errors", value_name = "WHAT")]
        explain: Option<Explain>,
        /// Under each call, the path it took through the model: the kernel
        /// functions it went through and the decisions on the way (model
        /// only), as a comment line.
        #[arg(long)]
        path: bool,
        /// Inject a fault (model only; repeatable): POINT[,proc=NAME][,line=L][,nth=N][,p=P],
        /// POINT one of sock_alloc_send_pskb, scm_fp_copy, unix_create1,
        /// receive_fd, signal, signal_restart, short_write, wake_order; the N-th time (default 1st) or
        /// each time with probability P (seeded: the same run every time),
        /// counted from the call of line L when given (armed as it starts).
        /// The line where it fires gets a `fault=POINT` field. A file arms
        /// its own in comments: `# afunix: fault SPEC`.
        #[arg(long, value_name = "SPEC")]
        fault: Vec<afunix_cli::runner::FaultArg>,
        /// A rule of the model's security policy (model only; repeatable):
        /// HOOK[,uid=N][,pid=N][,type=T][,file=TYPE|!TYPE][,errno=E]: the LSM hook HOOK
        /// (socket_create, socket_socketpair, socket_bind, socket_connect,
        /// socket_listen, socket_accept, socket_sendmsg, socket_recvmsg,
        /// unix_stream_connect, unix_may_send, file_receive) refuses with E
        /// (default EACCES) the calls of tasks of euid N, of the task of
        /// pid N, on sockets of type T (stream, dgram, seqpacket; at
        /// file_receive the passed socket's), at file_receive only files
        /// of TYPE (or, with `!`, of any other type):
        /// `--deny file_receive,uid=1000,file=!memfd` is a sandbox whose
        /// uid 1000 receives only memfds. `--explain` names the hook. A
        /// file states its own in comments: `# afunix: deny SPEC`.
        #[arg(long, value_name = "SPEC")]
        deny: Vec<afunix_cli::runner::DenyArg>,
        /// Write pictures of the world (Graphviz DOT, and SVG where `dot`
        /// is installed) into DIR: after every `stat` and `gc` line and at
        /// the end, as FILE-LINE.dot and FILE-end.dot (model only).
        #[arg(long, value_name = "DIR")]
        dot: Option<PathBuf>,
    },
    /// Run scenarios and compare every `= ...` written in them with what
    /// happened (only the fields written are compared).
    ///
    /// Prints each mismatch as `file:line: expected: ... / actual: ...`,
    /// one `file: ok` or `file: FAILED` line per file, then `N passed, M
    /// failed` (counting expectations). Exit 1 on any mismatch.
    ///
    /// Example: afunix check tests/vectors/*.scn --backend host
    Check {
        /// Scenario files (`-`: standard input).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Where the calls run.
        #[arg(long, value_enum, default_value = "sim")]
        backend: Which,
        /// After a mismatch whose actual result is an errno of the model,
        /// print the rule that produced it and the values that decided it;
        /// `--explain=all` adds the path (as `--path`).
        #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "errors", value_name = "WHAT")]
        explain: Option<Explain>,
        /// Under a mismatch, the path its call took through the model
        /// (the kernel functions and the decisions on the way; model only).
        #[arg(long)]
        path: bool,
    },
    /// Run scenarios on the model and on the host kernel and print each
    /// line whose results differ. Needs root for the host backend.
    ///
    /// Example: sudo afunix diff tests/vectors/*.scn
    Diff {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Measure how the model's send/receive path scales from one thread to
    /// two (each thread sends to itself over its own socketpair), next to
    /// the host kernel doing the same work; prints a table. Build with
    /// --release for meaningful figures.
    ///
    /// Example: afunix bench --secs 0.2 --size 64
    Bench {
        /// Seconds per measurement (12 measurements in all).
        #[arg(long, default_value_t = 2.0)]
        secs: f64,
        /// Bytes per message (1 to 32768).
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Instead: time CPython's unix-socket tests natively and under
        /// `afunix exec` (median of 3 runs each) and print the ratio.
        #[arg(long)]
        exec: bool,
        /// Instead: collect rings and random graphs of 10^4, 10^5 and 10^6
        /// in-flight sockets on the model (about 3 GB of memory and half a
        /// minute) and print the cost per socket of each and how it grows.
        #[arg(long, conflicts_with = "exec")]
        gc: bool,
    },
    /// Differential fuzzing: generate random valid scenarios, run each on
    /// the model and on the host kernel, and compare the whole traces. A
    /// divergence (that the kernel repeats on a second run) is minimized
    /// and written to --out as divergence-SEED-N.scn. Needs root.
    ///
    /// Exit status: 0 no divergence, 1 a divergence was found, 2 an error
    /// (e.g. the host backend is unavailable).
    ///
    /// Example: sudo afunix fuzz --seed 1 --count 20 --calls 40 --keep-going --out fuzz-findings
    Fuzz {
        /// The seed (printed; the same seed gives the same scenarios).
        /// Default: from the clock.
        #[arg(long)]
        seed: Option<u64>,
        /// How many scenarios to generate.
        #[arg(long, default_value_t = 1000)]
        count: u64,
        /// Random calls per scenario.
        #[arg(long, default_value_t = 30)]
        calls: usize,
        /// Where to write the minimized divergences.
        #[arg(long, default_value = "fuzz-findings")]
        out: PathBuf,
        /// Go on after a divergence (each kind is minimized and written once).
        #[arg(long)]
        keep_going: bool,
        /// Also generate blocking calls: background calls (`&`) on
        /// blocking files, collected by `wait 300` only after the calls
        /// that may wake them (outcomes that do not depend on timing).
        #[arg(long)]
        blocking: bool,
        /// Instead: run the scenarios on the model alone with every fault
        /// point armed at random (probability P, seeded), and check that
        /// the model stays consistent and leaves nothing behind. Needs no
        /// root.
        #[arg(long, value_name = "P", num_args = 0..=1, default_missing_value = "0.05")]
        faults: Option<f64>,
    },
}

/// The bytes of a scenario file; `-` is standard input (read once, so
/// `diff -` runs the same text on both backends).
fn read_input(path: &PathBuf) -> std::io::Result<Vec<u8>> {
    static STDIN: std::sync::OnceLock<Result<Vec<u8>, String>> = std::sync::OnceLock::new();
    if path.as_os_str() == "-" {
        STDIN
            .get_or_init(|| {
                let mut b = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)
                    .map(|_| b)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(std::io::Error::other)
    } else {
        std::fs::read(path)
    }
}

/// Load, parse and run one file (`-`: standard input) without its fault
/// pragmas, as `diff` compares the model with the kernel; print its
/// errors. `None`: could not run.
fn load(path: &PathBuf, kind: BackendKind) -> Option<Outcome> {
    let opts = afunix_cli::runner::RunOptions {
        pragmas: false,
        ..Default::default()
    };
    load_with(path, kind, &opts)
}

/// As [`load`], with run options (faults).
fn load_with(
    path: &PathBuf,
    kind: BackendKind,
    opts: &afunix_cli::runner::RunOptions,
) -> Option<Outcome> {
    let name = path.display();
    let src = match read_input(path) {
        Ok(b) => match String::from_utf8(b) {
            // A UTF-8 byte order mark is not part of the first line.
            Ok(s) => s.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(s),
            Err(_) => {
                eprintln!("{name}: not UTF-8 text");
                return None;
            }
        },
        Err(e) => {
            eprintln!("{name}: {e}");
            return None;
        }
    };
    match afunix_cli::run_source_with(&src, kind, opts) {
        Ok(o) => {
            for w in &o.run.warnings {
                eprintln!("{name}: warning: {w}");
            }
            Some(o)
        }
        Err(LoadError::Parse(errs)) => {
            for e in errs {
                eprintln!("{name}:{e}");
            }
            None
        }
        Err(LoadError::Backend(e)) => {
            eprintln!("{name}: {e}");
            None
        }
    }
}

fn cmd_run(
    files: &[PathBuf],
    kind: BackendKind,
    (explain, path): (bool, bool),
    format: Format,
    opts: &afunix_cli::runner::RunOptions,
) -> u8 {
    let mut code = 0;
    for (i, f) in files.iter().enumerate() {
        if format == Format::Json {
            let Some(o) = load_with(f, kind, opts) else {
                code = 2;
                continue;
            };
            for l in &o.run.lines {
                let (result, fields) = match &l.result {
                    Some(r) => (Some(r.result.clone()), r.fields.clone()),
                    None => (None, Vec::new()),
                };
                let v = serde_json::json!({
                    "file": f.display().to_string(),
                    "line": l.lineno,
                    "call": l.echo,
                    "result": result,
                    "fields": fields,
                    "rule": (!l.why.is_none()).then(|| l.why.to_string()),
                    "decision": l.decision(),
                });
                say!("{v}");
            }
            if let Some(e) = &o.run.error {
                eprintln!("{}:{e}", f.display());
                code = 2;
            }
            continue;
        }
        if files.len() > 1 {
            if i > 0 {
                say!("");
            }
            say!("==> {} <==", f.display());
        }
        let Some(o) = load_with(f, kind, opts) else {
            code = 2;
            continue;
        };
        for l in &o.run.lines {
            say!("{}", l.text(explain));
            if path && !l.path.is_empty() {
                say!("#   {}", afunix::path::render(&l.path));
            }
        }
        if let Some(e) = &o.run.error {
            eprintln!("{}:{e}", f.display());
            code = 2;
        }
    }
    code
}

/// `afunix run --dot DIR`: run each file on the model, print its trace,
/// and write its pictures into DIR (rendered to SVG when Graphviz is there).
fn cmd_dot(files: &[PathBuf], dir: &std::path::Path) -> u8 {
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("afunix run: {}: {e}", dir.display());
        return 2;
    }
    let have_dot = std::process::Command::new("dot")
        .arg("-V")
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have_dot {
        eprintln!("afunix run: Graphviz `dot` is not installed: writing DOT text only (apt-get install graphviz renders SVG)");
    }
    let mut code = 0;
    let opts = afunix_cli::runner::RunOptions {
        pictures: true,
        ..Default::default()
    };
    for f in files {
        let src = match read_input(f) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                eprintln!("{}: {e}", f.display());
                code = 2;
                continue;
            }
        };
        let o = match afunix_cli::run_source_with(&src, BackendKind::Sim, &opts) {
            Ok(o) => o,
            Err(afunix_cli::LoadError::Parse(errs)) => {
                for e in errs {
                    eprintln!("{}:{e}", f.display());
                }
                code = 2;
                continue;
            }
            Err(afunix_cli::LoadError::Backend(e)) => {
                eprintln!("{}: {e}", f.display());
                code = 2;
                continue;
            }
        };
        for l in &o.run.lines {
            say!("{}", l.text(false));
        }
        if let Some(e) = &o.run.error {
            eprintln!("{}:{e}", f.display());
            code = 2;
        }
        let stem = f
            .file_stem()
            .map_or("stdin".into(), |s| s.to_string_lossy().into_owned());
        for (line, text) in &o.run.pictures {
            let name = if *line == 0 {
                format!("{stem}-end")
            } else {
                format!("{stem}-{line}")
            };
            let path = dir.join(format!("{name}.dot"));
            if let Err(e) = std::fs::write(&path, text) {
                eprintln!("afunix run: {}: {e}", path.display());
                return 2;
            }
            if have_dot {
                let svg = dir.join(format!("{name}.svg"));
                let ok = std::process::Command::new("dot")
                    .arg("-Tsvg")
                    .arg(&path)
                    .arg("-o")
                    .arg(&svg)
                    .status()
                    .is_ok_and(|s| s.success());
                if !ok {
                    eprintln!("afunix run: dot could not render {}", path.display());
                }
            }
            eprintln!("afunix run: wrote {}", path.display());
        }
    }
    code
}

/// `N expectation(s)`.
fn expectations(n: usize) -> String {
    format!("{n} expectation{}", if n == 1 { "" } else { "s" })
}

/// Print a file's lines at once, with the progress bar out of the way.
fn print_above(pb: &indicatif::ProgressBar, lines: &[String]) {
    pb.suspend(|| {
        for l in lines {
            say!("{l}");
        }
    });
}

/// One line of fuzz's or bench's text output, as text or as a JSON log
/// event.
fn log_line(json: bool, l: &str) {
    if json {
        say!("{}", serde_json::json!({"event": "log", "text": l}));
    } else {
        say!("{l}");
    }
}

/// A backend that cannot start is one error (exit 2), said once, before
/// any file runs, not a failure per file.
fn backend_ready(kind: BackendKind) -> Result<(), u8> {
    match afunix_cli::new_backend(kind) {
        Ok(_) => Ok(()),
        Err(e) => {
            eprintln!("afunix: {e}");
            Err(2)
        }
    }
}

/// `--explain` explains the model's answers: the kernel gives no reasons.
fn warn_explain_host(explain: bool, kind: BackendKind) {
    if explain && kind == BackendKind::Host {
        eprintln!("afunix: --explain shows the model's rules; the host kernel gives none, so nothing is added");
    }
}

/// Errors of several files' runs: a backend error already said in full
/// (the same for every file: e.g. ids that cannot be mapped without root)
/// is said once, then only named.
#[derive(Default)]
struct Said(std::collections::HashSet<String>);

impl Said {
    fn say_error(&mut self, file: &str, e: &afunix_cli::runner::RunError, who: Option<&str>) {
        let who = who.map(|w| format!(" ({w})")).unwrap_or_default();
        if e.kind == afunix_cli::runner::RunErrorKind::Backend && !self.0.insert(e.msg.clone()) {
            eprintln!("{file}: could not run: the same backend error as above{who}");
        } else {
            eprintln!("{file}:{e}{who}");
        }
    }
}

fn cmd_check(
    files: &[PathBuf],
    kind: BackendKind,
    (explain, path): (bool, bool),
    format: Format,
    style: Style,
) -> u8 {
    // --explain records the path too, for the values behind each rule.
    let opts = afunix_cli::runner::RunOptions {
        paths: path || explain,
        ..Default::default()
    };
    let json = format == Format::Json;
    let pb = style.bar(files.len(), "check");
    let mut said = Said::default();
    let (mut passed, mut failed) = (0usize, 0usize);
    let (mut files_ok, mut files_failed, mut files_broken) = (0usize, 0usize, 0usize);
    let mut code = 0;
    for f in files {
        pb.inc(1);
        let mut out: Vec<String> = Vec::new();
        // Lines of this file, printed at once with the bar out of the way.
        macro_rules! emit {
            ($($t:tt)*) => { out.push(format!($($t)*)) };
        }
        let name = f.display();
        let Some(o) = load_with(f, kind, &opts) else {
            code = 2;
            files_broken += 1;
            continue;
        };
        let mut rep = check(&o.scenario, &o.run);
        // A backend that failed leaves the rest of the file unrun: that is
        // one error (printed below), not a mismatch per line.
        if o.run
            .error
            .as_ref()
            .is_some_and(|e| e.kind == afunix_cli::runner::RunErrorKind::Backend)
        {
            rep.mismatches.retain(|m| m.actual != "(not run)");
        }
        for m in &rep.mismatches {
            let line = o.run.lines.iter().find(|t| t.lineno == m.lineno);
            let why = line.map_or(afunix::Rule::NONE, |t| t.why);
            if json {
                let v = serde_json::json!({
                    "file": name.to_string(),
                    "line": m.lineno,
                    "expected": m.expected,
                    "actual": m.actual,
                    "rule": (!why.is_none()).then(|| why.to_string()),
                    "decision": line.and_then(|t| t.decision()),
                });
                emit!("{v}");
            } else if explain && !why.is_none() {
                let why = line.map(|t| t.explanation()).unwrap_or_default();
                emit!(
                    "{name}:{}: expected: {} / actual: {}  # {why}",
                    m.lineno,
                    m.expected,
                    m.actual
                );
            } else {
                emit!(
                    "{name}:{}: expected: {} / actual: {}",
                    m.lineno,
                    m.expected,
                    m.actual
                );
            }
            if let Some(t) = line.filter(|t| path && !json && !t.path.is_empty()) {
                emit!("#   {}", afunix::path::render(&t.path));
            }
        }
        if let Some(e) = &o.run.error {
            said.say_error(&name.to_string(), e, None);
            code = 2;
        }
        let k = rep.mismatches.len();
        // Expectations of lines that never ran count neither way.
        let ran = match &o.run.error {
            Some(e) => o
                .scenario
                .lines
                .iter()
                .filter(|l| l.expect.is_some() && l.lineno < e.line)
                .count(),
            None => rep.expectations,
        };
        passed += ran.saturating_sub(k);
        failed += k;
        if json {
            let status = if o.run.error.is_some() {
                files_broken += 1;
                "error"
            } else if rep.ok() {
                files_ok += 1;
                "ok"
            } else {
                files_failed += 1;
                code = code.max(1);
                "failed"
            };
            let v = serde_json::json!({
                "file": name.to_string(),
                "status": status,
                "expectations": rep.expectations,
                "mismatches": k,
            });
            emit!("{v}");
        } else if let Some(e) = &o.run.error {
            files_broken += 1;
            if e.kind == afunix_cli::runner::RunErrorKind::Backend {
                emit!(
                    "{name}: ERROR (the backend stopped the run at line {})",
                    e.line
                );
            } else {
                emit!(
                    "{name}: ERROR ({k} of {} failed before the run stopped)",
                    expectations(rep.expectations)
                );
            }
        } else if rep.ok() {
            files_ok += 1;
            if style.quiet {
            } else if rep.expectations == 0 {
                emit!("{name}: ok (no expectations: nothing was checked)");
            } else {
                emit!("{name}: ok ({})", expectations(rep.expectations));
            }
        } else {
            files_failed += 1;
            emit!(
                "{name}: {} ({k} of {})",
                style.bad("FAILED"),
                expectations(rep.expectations)
            );
            if style.verbose {
                for l in &o.run.lines {
                    emit!("  {}", l.text(explain));
                }
            }
            code = code.max(1);
        }
        print_above(&pb, &out);
    }
    pb.finish_and_clear();
    if json {
        let v = serde_json::json!({
            "files": files.len(),
            "ok": files_ok,
            "failed": files_failed,
            "could_not_run": files_broken,
            "expectations_passed": passed,
            "expectations_failed": failed,
        });
        say!("{v}");
        return code;
    }
    say!(
        "{} files: {files_ok} ok, {files_failed} failed, {files_broken} could not run",
        files.len()
    );
    say!("{passed} passed, {failed} failed");
    code
}

fn cmd_diff(files: &[PathBuf], style: Style, format: Format) -> u8 {
    let json = format == Format::Json;
    let mut code = 0;
    let (mut lines, mut diverging_files) = (0usize, 0usize);
    let pb = style.bar(files.len(), "diff");
    let mut said = Said::default();
    for f in files {
        pb.inc(1);
        let mut out: Vec<String> = Vec::new();
        // Lines of this file, printed at once with the bar out of the way.
        macro_rules! emit {
            ($($t:tt)*) => { out.push(format!($($t)*)) };
        }
        let name = f.display();
        let Some(model) = load(f, BackendKind::Sim) else {
            code = 2;
            continue;
        };
        let Some(kernel) = load(f, BackendKind::Host) else {
            code = 2;
            continue;
        };
        let d = diff(&model.scenario, &model.run, &kernel.run);
        for x in &d {
            if json {
                let v = serde_json::json!({
                    "file": name.to_string(),
                    "line": x.lineno,
                    "call": x.echo,
                    "model": x.model,
                    "kernel": x.kernel,
                });
                emit!("{v}");
            } else {
                emit!("{name}:{}: {}", x.lineno, x.echo);
                emit!("  {} {}", style.bad("model: "), x.model);
                emit!("  kernel: {}", x.kernel);
            }
        }
        for (who, r) in [("model", &model.run), ("kernel", &kernel.run)] {
            if let Some(e) = &r.error {
                said.say_error(&name.to_string(), e, Some(who));
                code = 2;
            }
        }
        if !d.is_empty() {
            diverging_files += 1;
            lines += d.len();
            code = code.max(1);
        }
        print_above(&pb, &out);
    }
    pb.finish_and_clear();
    if json {
        let v = serde_json::json!({
            "files": files.len(),
            "diverging_files": diverging_files,
            "diverging_lines": lines,
        });
        say!("{v}");
        return code;
    }
    say!(
        "{} files, {diverging_files} with divergences, {lines} diverging lines",
        files.len()
    );
    code
}

fn cmd_exec(
    trace: Option<PathBuf>,
    stats: bool,
    census: bool,
    host_paths: Vec<PathBuf>,
    (explain, path): (bool, bool),
    (faults, deny): (
        Vec<afunix_cli::runner::FaultArg>,
        Vec<afunix_cli::runner::DenyArg>,
    ),
    argv: &[std::ffi::OsString],
) -> u8 {
    if let Some(f) = faults.iter().find(|f| f.proc.is_some() || f.line.is_some()) {
        eprintln!(
            "afunix exec: --fault {}: proc= and line= name a scenario's process and line; exec faults apply to every process",
            f.point.name()
        );
        return 125;
    }
    let trace: Option<Box<dyn std::io::Write + Send>> = match trace {
        None => None,
        Some(p) => match std::fs::File::create(&p) {
            Ok(f) => Some(Box::new(std::io::LineWriter::new(f))),
            Err(e) => {
                eprintln!("afunix exec: {}: {e}", p.display());
                return 125;
            }
        },
    };
    let opts = afunix_exec::Options {
        trace,
        stats,
        census,
        explain,
        path,
        host_paths,
        faults: faults.iter().map(|f| (f.point, f.when)).collect(),
        deny: deny.iter().map(|d| d.0).collect(),
    };
    let status = match afunix_exec::run(argv, opts) {
        Ok(o) => o.status,
        Err(e) => {
            eprintln!("{e}");
            e.status()
        }
    };
    // An exit status is 0-255 (128 + a signal number fits).
    (status & 0xff) as u8
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let style = Style::from(&cli);
    let code = match cli.cmd {
        Cmd::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "afunix", &mut std::io::stdout());
            0
        }
        Cmd::Man => match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
            Ok(()) => 0,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
            Err(e) => {
                eprintln!("afunix man: {e}");
                2
            }
        },
        Cmd::Exec {
            trace,
            stats,
            census,
            host_path,
            explain,
            path,
            fault,
            deny,
            argv,
        } => cmd_exec(
            trace,
            stats,
            census,
            host_path,
            Explain::flags(explain, path),
            (fault, deny),
            &argv,
        ),
        Cmd::Run {
            files,
            backend,
            explain,
            dot,
            fault,
            deny,
            path,
        } => {
            let (explain, path) = Explain::flags(explain, path);
            warn_explain_host(explain, backend.into());
            match dot {
                Some(dir) if BackendKind::from(backend) == BackendKind::Sim => {
                    cmd_dot(&files, &dir)
                }
                Some(_) => {
                    eprintln!("afunix run: --dot draws the model only (--backend sim)");
                    2
                }
                None => {
                    // --explain records the path too, for the values
                    // behind each rule.
                    let opts = afunix_cli::runner::RunOptions {
                        faults: fault,
                        deny,
                        paths: path || explain,
                        ..Default::default()
                    };
                    cmd_run(&files, backend.into(), (explain, path), cli.format, &opts)
                }
            }
        }
        Cmd::Check {
            files,
            backend,
            explain,
            path,
        } => {
            let (explain, path) = Explain::flags(explain, path);
            warn_explain_host(explain, backend.into());
            match backend_ready(backend.into()) {
                Ok(()) => cmd_check(&files, backend.into(), (explain, path), cli.format, style),
                Err(code) => code,
            }
        }
        Cmd::Diff { files } => match backend_ready(BackendKind::Host) {
            Ok(()) => cmd_diff(&files, style, cli.format),
            Err(code) => code,
        },
        #[cfg(feature = "host")]
        Cmd::Bench {
            secs,
            size,
            exec,
            gc,
        } => {
            let json = cli.format == Format::Json;
            let mut log = |l: &str| log_line(json, l);
            let r = if exec {
                bench::run_exec(3, &mut log)
            } else if gc {
                bench::workloads::gc(&mut log)
            } else {
                bench::run(bench::BenchOpts { secs, size }, &mut log)
            };
            match r {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("afunix bench: {e}");
                    2
                }
            }
        }
        #[cfg(not(feature = "host"))]
        Cmd::Bench { .. } => {
            eprintln!("afunix bench: needs the host backend (feature `host`)");
            2
        }
        Cmd::Fuzz {
            seed,
            count,
            calls,
            out,
            keep_going,
            blocking,
            faults,
        } => {
            let seed = seed.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64 % 1_000_000_000)
                    .unwrap_or(1)
            });
            let opts = afunix_cli::fuzz::FuzzOpts {
                seed,
                count,
                calls,
                out,
                keep_going,
                blocking,
            };
            let json = cli.format == Format::Json;
            let mut log = |l: &str| log_line(json, l);
            if let Some(p) = faults {
                return ExitCode::from(match afunix_cli::fuzz::run_faults(&opts, p, &mut log) {
                    Ok(s) if s.broken.is_empty() => 0,
                    Ok(_) => 1,
                    Err(e) => {
                        eprintln!("afunix fuzz: {e}");
                        2
                    }
                });
            }
            match afunix_cli::fuzz::run(&opts, &mut log) {
                Ok(s) => {
                    if json {
                        let files: Vec<String> =
                            s.files.iter().map(|f| f.display().to_string()).collect();
                        say!(
                            "{}",
                            serde_json::json!({
                                "event": "summary",
                                "scenarios": s.scenarios,
                                "divergences": s.divergences,
                                "kinds": s.kinds,
                                "host_unstable": s.host_unstable,
                                "gc_timing": s.gc_timing,
                                "skipped": s.skipped,
                                "files": files,
                            })
                        );
                    }
                    u8::from(s.divergences > 0)
                }
                Err(e) => {
                    eprintln!("afunix fuzz: {e}");
                    2
                }
            }
        }
    };
    ExitCode::from(code)
}
