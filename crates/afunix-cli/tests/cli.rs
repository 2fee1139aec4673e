//! The `afunix` binary: exit codes and messages.

use std::path::Path;
use std::process::Command;

fn afunix(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_afunix"))
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A scenario file in a temporary directory removed when `dir` drops.
fn temp(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn tmpdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

fn afunix_stdin(args: &[&str], input: &[u8]) -> (i32, String, String) {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_afunix"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    // A command that refuses its arguments exits without reading its
    // input: a broken pipe here is that, not a failure.
    match child.stdin.take().expect("stdin").write_all(input) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r.expect("writes"),
    }
    let out = child.wait_with_output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn dash_reads_standard_input_and_a_bom_and_crlf_are_text() {
    let (code, out, err) = afunix_stdin(
        &["run", "-"],
        b"\xef\xbb\xbftask A\r\nA: socketpair dgram -> a b\r\n",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "task A = 0\nA: socketpair dgram -> a b = 0 fds=[3,4]\n"
    );
    let (code, out, _) = afunix_stdin(&["check", "-"], b"task A\nA: socket dgram = 4\n");
    assert_eq!(code, 1);
    assert!(out.contains("-:2: expected: 4 / actual: 3"), "{out}");
}

#[test]
fn check_counts_every_file() {
    let d = tmpdir();
    let ok = temp(&d, "ok.scn", "task A\nA: socket dgram = 3\n");
    let none = temp(&d, "none.scn", "task A\nA: socket dgram\n");
    let broken = temp(&d, "broken.scn", "task A\nA: socketpiar dgram\n");
    let (code, out, err) = afunix(&["check", &ok, &none, &broken]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains(&format!("{ok}: ok (1 expectation)")), "{out}");
    assert!(out.contains("no expectations"), "{out}");
    assert!(
        out.contains("3 files: 2 ok, 0 failed, 1 could not run"),
        "{out}"
    );
    assert!(err.contains("unknown call `socketpiar`"), "{err}");
}

#[test]
fn syntax_error_exits_2_with_line_and_column() {
    let d = tmpdir();
    let f = temp(
        &d,
        "bad.scn",
        "task A\nA: socket dgram -> s\nA: frob s\n\nA: bind s /abs\n",
    );
    for cmd in ["run", "check"] {
        let (code, _out, err) = afunix(&[cmd, &f]);
        assert_eq!(code, 2, "{cmd}");
        assert!(
            err.contains(&format!("{f}:3:4: unknown call `frob`")),
            "{err}"
        );
        assert!(err.contains(&format!("{f}:5:11: bad address")), "{err}");
    }
}

#[test]
fn missing_file_exits_2() {
    let (code, _out, err) = afunix(&["run", "/nonexistent/x.scn"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/x.scn"), "{err}");
}

#[test]
fn help_explains_backends_and_subcommands() {
    let (code, out, _) = afunix(&["--help"]);
    assert_eq!(code, 0);
    for w in ["sim", "host", "run", "check", "diff", "backend"] {
        assert!(out.contains(w), "--help lacks {w}: {out}");
    }
    let (code, out, _) = afunix(&["check", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Example: afunix check"), "{out}");
}

#[test]
fn bad_backend_name_is_a_usage_error() {
    let (code, _, err) = afunix(&["run", "--backend", "nope", "x.scn"]);
    assert_eq!(code, 2);
    assert!(err.contains("nope"), "{err}");
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn check_reports_mismatches_and_counts_expectations() {
    if !is_root() || cfg!(not(feature = "host")) {
        eprintln!("skipped: needs root and the host backend");
        return;
    }
    let d = tmpdir();
    let good = temp(
        &d,
        "good.scn",
        "task A = 0\nA: socketpair dgram -> a b = 0 fds=[3,4]\nA: sendmsg a data=\"hi\" = 2\nA: recvmsg b = 2 flags=0\n",
    );
    let bad = temp(
        &d,
        "badexp.scn",
        "task A\nA: socketpair dgram -> a b = 0 fds=[3,5]\nA: sendmsg a data=\"hi\" = 3\nA: recvmsg b = 2 data=\"hi\"\n",
    );
    let (code, out, _) = afunix(&["check", "--backend", "host", &good, &bad]);
    assert_eq!(code, 1, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            format!("{good}: ok (4 expectations)").as_str(),
            format!("{bad}:2: expected: 0 fds=[3,5] / actual: 0 fds=[3,4]").as_str(),
            format!("{bad}:3: expected: 3 / actual: 2").as_str(),
            format!("{bad}: FAILED (2 of 3 expectations)").as_str(),
            "2 files: 1 ok, 1 failed, 0 could not run",
            "5 passed, 2 failed",
        ]
    );
    let (code, out, _) = afunix(&["check", "--backend", "host", &good]);
    assert_eq!((code, out.lines().last()), (0, Some("4 passed, 0 failed")));
}

/// A host run that leaves sockets the kernel never frees (Linux 6.18's
/// collector) warns, since they outlive the run; a run that leaves nothing
/// does not. (The scenario's uid is 0, and any other uid of a run as root
/// is the run's own: what this test leaks cannot fail a later run.)
#[test]
fn a_host_run_that_leaks_sockets_warns() {
    if !is_root() || cfg!(not(feature = "host")) {
        eprintln!("skipped: needs root and the host backend");
        return;
    }
    let scn = |f: &str| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/scenarios")
            .join(f)
            .display()
            .to_string()
    };
    let leak = scn("gc_618_leak_random_graph_6.scn");
    let (code, _, err) = afunix(&["check", "--backend", "host", &leak]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!(
            "{leak}: warning: the kernel kept 6 unix socket(s) of this run after every process exited"
        )),
        "{err}"
    );
    let clean = scn("block_recvmsg_peer_close.scn");
    let (code, _, err) = afunix(&["check", "--backend", "host", &clean]);
    assert_eq!((code, err.as_str()), (0, ""));
}

#[test]
fn run_prints_headers_and_runs_nothing_of_a_file_with_unknown_names() {
    if !is_root() || cfg!(not(feature = "host")) {
        eprintln!("skipped: needs root and the host backend");
        return;
    }
    let d = tmpdir();
    let a = temp(
        &d,
        "a.scn",
        "task A\nA: socket dgram -> s # c\nA: bind s auto\nA: getsockname s\n",
    );
    let b = temp(&d, "b.scn", "task A\nA: close nosuch\nA: socket dgram\n");
    let (code, out, err) = afunix(&["run", "--backend", "host", &a, &b]);
    assert_eq!(code, 2);
    assert_eq!(
        out,
        format!(
            "==> {a} <==\ntask A = 0\nA: socket dgram -> s = 3\nA: bind s auto = 0\nA: getsockname s = 0 addr=@#1\n\n==> {b} <==\n"
        )
    );
    assert!(
        err.contains(&format!(
            "{b}:2:10: `nosuch` is not bound in process `A` by an earlier line"
        )),
        "{err}"
    );
}

#[test]
fn check_explain_names_the_rule_and_host_says_it_has_none() {
    let (code, out, _) = afunix_stdin(&["check", "--explain", "-"], b"task A\nA: close 9 = 0\n");
    assert_eq!(code, 1);
    assert!(out.contains("actual: EBADF  # "), "{out}");
    let (_, _, err) = afunix_stdin(&["run", "--explain", "--backend", "host", "-"], b"task A\n");
    assert!(err.contains("--explain shows the model's rules"), "{err}");
}

#[test]
fn explain_shows_the_values_that_decided_each_rule_without_the_path() {
    let (code, out, _) = afunix_stdin(
        &["run", "--explain", "-"],
        b"task A\nA: socketpair dgram -> a b\nA: sendmsg a data=300000\nA: close 9\n",
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "= EMSGSIZE  # unix_dgram_sendmsg: len > sk_sndbuf - 32 \
             (300000 bytes > sk_sndbuf 212992 - 32)"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "A: close 9 = EBADF  # fdget: fd is not open in this process (fd 9 is not open"
        ),
        "{out}"
    );
    // The path itself is printed only with --path.
    assert!(!out.contains("#   "), "{out}");
    let (_, out, _) = afunix_stdin(&["check", "--explain", "-"], b"task A\nA: close 9 = 0\n");
    assert!(
        out.contains("actual: EBADF  # fdget: fd is not open in this process (fd 9"),
        "{out}"
    );
}

#[test]
fn check_path_shows_the_path_of_a_mismatched_call() {
    let (code, out, _) = afunix_stdin(
        &["check", "--path", "-"],
        b"task A\nA: socketpair dgram -> a b\nA: sendmsg a data=300000 = 5\n",
    );
    assert_eq!(code, 1);
    let lines: Vec<&str> = out.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.contains("actual: EMSGSIZE"))
        .unwrap();
    assert!(
        lines[i + 1].starts_with("#   __sys_sendmsg → sock_sendmsg → unix_dgram_sendmsg")
            && lines[i + 1].contains("300000 bytes > sk_sndbuf 212992 - 32"),
        "{out}"
    );
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = afunix(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        for sub in ["run", "check", "diff", "fuzz"] {
            assert!(out.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    let (code, out, _) = afunix(&["man"]);
    assert_eq!(code, 0);
    assert!(out.contains(".TH afunix 1"), "{out}");
    assert!(out.contains("check"), "{out}");
}

#[test]
fn json_output_is_one_object_per_line() {
    let (code, out, _) = afunix_stdin(&["run", "--format", "json", "-"], b"task A\nA: close 9\n");
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[1].contains("\"result\":\"EBADF\"") && lines[1].contains("\"line\":2"),
        "{out}"
    );
    let (code, out, _) = afunix_stdin(
        &["check", "--format", "json", "-"],
        b"task A\nA: close 9 = 0\n",
    );
    assert_eq!(code, 1);
    let last = out.lines().last().unwrap_or_default();
    assert!(
        last.contains("\"expectations_failed\":1") && last.contains("\"files\":1"),
        "{out}"
    );
    assert!(
        out.contains("\"expected\":\"0\"") && out.contains("\"actual\":\"EBADF\""),
        "{out}"
    );
}

#[test]
fn quiet_prints_only_problems_and_totals_and_pipes_get_no_colour() {
    let d = tmpdir();
    let ok = temp(&d, "ok.scn", "task A\nA: socket dgram = 3\n");
    let bad = temp(&d, "bad.scn", "task A\nA: socket dgram = 4\n");
    let (code, out, _) = afunix(&["check", "--quiet", &ok, &bad]);
    assert_eq!(code, 1);
    assert!(!out.contains(": ok"), "{out}");
    assert!(out.contains("bad.scn: FAILED"), "{out}");
    assert!(!out.contains('\x1b'), "colour on a pipe: {out:?}");
    let (_, out, _) = afunix(&["check", "--verbose", &bad]);
    assert!(out.contains("  A: socket dgram = 3"), "{out}");
}

/// Every `Example:` of every subcommand's --help runs as written from the
/// repository root (with `afunix` the binary under test; `sudo` dropped,
/// and the examples that need root skipped without it).
#[test]
fn help_examples_run_as_written() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let bin = env!("CARGO_BIN_EXE_afunix");
    let (_, top, _) = afunix(&["--help"]);
    let subs: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    assert!(subs.len() >= 7, "{top}");
    let mut ran = 0;
    for sub in subs {
        let (_, help, _) = afunix(&[&sub, "--help"]);
        for ex in help
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Example: "))
        {
            let needs_root = ex.starts_with("sudo ") || ex.contains("--backend host");
            if needs_root && !is_root() {
                eprintln!("skipped (needs root): {ex}");
                continue;
            }
            let line = ex.trim_start_matches("sudo ").replacen("afunix", bin, 1);
            let out = Command::new("sh")
                .arg("-c")
                .arg(&line)
                .current_dir(root)
                .output()
                .expect("sh runs");
            // 0, or 1 for a fuzz that found something: the example ran.
            let code = out.status.code().unwrap_or(-1);
            assert!(
                code == 0 || (sub == "fuzz" && code == 1),
                "`{ex}` exited {code}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            ran += 1;
        }
    }
    assert!(ran >= 3, "only {ran} examples ran");
    let _ = std::fs::remove_dir_all(format!("{root}/fuzz-findings"));
}

#[test]
fn diff_json_names_each_diverging_line() {
    if !is_root() || cfg!(not(feature = "host")) {
        eprintln!("skipped: needs root and the host backend");
        return;
    }
    let f = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/scenarios/gap_sockopt_meminfo_filter.scn"
    );
    let (code, out, _) = afunix(&["diff", "--format", "json", f]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("\"model\":\"ENOPROTOOPT\"") && out.contains("\"kernel\":\"0 optlen=36"),
        "{out}"
    );
    assert!(
        out.lines()
            .last()
            .unwrap_or_default()
            .contains("\"diverging_lines\":1"),
        "{out}"
    );
}

/// Without root, the host backend's ids problem is said once in full, then
/// only named for each further file; nothing is reported as a mismatch.
#[test]
fn without_root_the_host_backend_says_its_problem_once() {
    if !is_root()
        || cfg!(not(feature = "host"))
        || !std::path::Path::new("/usr/bin/setpriv").exists()
    {
        eprintln!("skipped: needs root (to become uid 1000), setpriv and the host backend");
        return;
    }
    let d = tmpdir();
    let a = temp(&d, "a.scn", "task A\nA: socket dgram = 3\n");
    let b = temp(&d, "b.scn", "task A\nA: socket dgram = 3\n");
    let out = Command::new("/usr/bin/setpriv")
        .args(["--reuid", "1000", "--regid", "1000", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_afunix"))
        .args(["check", "--backend", "host", &a, &b])
        .output()
        .expect("runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    if stdout.contains("2 files: 2 ok") {
        eprintln!("skipped: this machine maps the ids without root");
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(!stdout.contains("(not run)"), "{stdout}");
    assert_eq!(stderr.matches("backend error:").count(), 1, "{stderr}");
    assert!(
        stderr.contains("the same backend error as above"),
        "{stderr}"
    );
    assert!(stdout.contains("2 could not run"), "{stdout}");
}

#[test]
fn fuzz_json_ends_with_a_summary() {
    if !is_root() || cfg!(not(feature = "host")) {
        eprintln!("skipped: needs root and the host backend");
        return;
    }
    let d = tmpdir();
    let out_dir = d.path().join("findings").display().to_string();
    let (code, out, err) = afunix(&[
        "fuzz", "--format", "json", "--seed", "5", "--count", "3", "--out", &out_dir,
    ]);
    assert!(code == 0 || code == 1, "{err}");
    assert!(
        out.lines().all(|l| l.starts_with('{') && l.ends_with('}')),
        "{out}"
    );
    let last = out.lines().last().unwrap_or_default();
    assert!(
        last.contains("\"event\":\"summary\"") && last.contains("\"scenarios\":3"),
        "{out}"
    );
}

/// Where the machine grants a range of subordinate ids (uidmap's
/// newuidmap, /etc/subuid), an ordinary user's host backend maps them, so
/// scenarios with other uids run without root.
#[test]
fn without_root_a_granted_id_range_runs_other_uids() {
    let granted = std::path::Path::new("/usr/bin/newuidmap").exists()
        && std::fs::read_to_string("/etc/subuid").is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("cloudsdk:") || l.starts_with("1000:"))
        });
    if !is_root() || cfg!(not(feature = "host")) || !granted {
        eprintln!("skipped: needs root (to become uid 1000), newuidmap and an /etc/subuid range for uid 1000");
        return;
    }
    let vectors = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors");
    let files: Vec<String> = [
        "01_dgram_rights_memfd",
        "04_creds_explicit",
        "22_path_subdir_search",
        "23_umask_socket_mode",
    ]
    .iter()
    .map(|f| format!("{vectors}/{f}.scn"))
    .collect();
    let out = Command::new("/usr/bin/setpriv")
        .args(["--reuid", "1000", "--regid", "1000", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_afunix"))
        .args(["check", "--backend", "host"])
        .args(&files)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("4 files: 4 ok"), "{stdout}");
}

/// `run --dot DIR` writes a picture after each `stat`/`gc` line and at the
/// end, and draws the in-flight socket of the self cycle as unreachable.
#[test]
fn run_dot_writes_pictures() {
    let dir = tmpdir();
    let out = dir.path().join("pics");
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/06_gc_pictures.scn"
    );
    let (code, stdout, err) = afunix(&["run", "--dot", out.to_str().unwrap(), example]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("gc = 0"), "{stdout}");
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".dot"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "06_gc_pictures-10.dot",
            "06_gc_pictures-11.dot",
            "06_gc_pictures-7.dot",
            "06_gc_pictures-9.dot",
            "06_gc_pictures-end.dot"
        ]
    );
    // Rendered to SVG where Graphviz is installed (CI installs it), else
    // said so.
    let svg = out.join("06_gc_pictures-9.svg");
    let has_dot = std::process::Command::new("dot")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if has_dot {
        let svg = std::fs::read_to_string(&svg).unwrap();
        assert!(svg.contains("<svg") && svg.contains("unreachable"), "{svg}");
    } else {
        assert!(!svg.exists());
        assert!(err.contains("Graphviz `dot` is not installed"), "{err}");
    }
    let before = std::fs::read_to_string(out.join("06_gc_pictures-9.dot")).unwrap();
    assert!(before.contains("unreachable"), "{before}");
    let after = std::fs::read_to_string(out.join("06_gc_pictures-11.dot")).unwrap();
    assert!(!after.contains("in flight"), "{after}");
    // The kernel cannot be drawn.
    let (code, _, err) = afunix(&[
        "run",
        "--dot",
        out.to_str().unwrap(),
        "--backend",
        "host",
        example,
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--dot draws the model only"), "{err}");
}

/// `run --fault` marks the line where the fault fired, with the rule under
/// `--explain`; `fuzz --faults` keeps the model consistent.
#[test]
fn faults_on_demand_from_the_command_line() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/01_pass_fd.scn");
    let (code, out, err) = afunix(&[
        "run",
        "--explain",
        "--fault",
        "sock_alloc_send_pskb,proc=A,nth=2",
        example,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("A: sendmsg a data=\"anyone?\" = ENOBUFS fault=sock_alloc_send_pskb  # sock_alloc_send_pskb:"),
        "{out}"
    );
    let (code, _, err) = afunix(&["run", "--fault", "nope", example]);
    assert_eq!(code, 2);
    assert!(err.contains("not a fault point"), "{err}");
    // wake_order: of two readers asleep on one socket, the later one is
    // served first; the fault shows on the line that collects its call.
    let two_readers = b"task A\nA: socketpair dgram -> a b\nA: fork B\nA: fork C\n\
B: recvmsg b &\nC: recvmsg b &\nA: sendmsg a data=\"one\"\nB: wait 100\nC: wait 100\n";
    let (_, plain, _) = afunix_stdin(&["run", "-"], two_readers);
    assert!(plain.contains("B: wait 100 = 3 data=\"one\""), "{plain}");
    assert!(plain.contains("C: wait 100 = BLOCKED"), "{plain}");
    let (_, out, _) = afunix_stdin(&["run", "--fault", "wake_order,proc=C", "-"], two_readers);
    assert!(out.contains("B: wait 100 = BLOCKED"), "{out}");
    assert!(
        out.contains("C: wait 100 = 3 data=\"one\" flags=0 fault=wake_order"),
        "{out}"
    );
    // signal_restart: B's receive is made again and still gets the datagram;
    // signal: it returns EINTR.
    let one_reader =
        b"task A\nA: socketpair dgram -> a b\nA: fork B\nB: recvmsg b &\nA: sendmsg a data=\"one\"\nB: wait 100\n";
    let (_, out, _) = afunix_stdin(
        &["run", "--path", "--fault", "signal_restart,proc=B", "-"],
        one_reader,
    );
    assert!(
        out.contains("B: wait 100 = 3 data=\"one\" flags=0 fault=signal_restart"),
        "{out}"
    );
    assert!(
        out.contains("(restarted (SA_RESTART)) → __sys_recvmsg"),
        "{out}"
    );
    let (_, out, _) = afunix_stdin(&["run", "--fault", "signal,proc=B", "-"], one_reader);
    assert!(out.contains("B: wait 100 = EINTR fault=signal"), "{out}");
    let dir = tmpdir();
    let (code, out, err) = afunix(&[
        "fuzz",
        "--faults",
        "0.3",
        "--seed",
        "3",
        "--count",
        "200",
        "--calls",
        "30",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("200 scenarios") && out.contains("0 left the model inconsistent"),
        "{out}"
    );
    let fired: u64 = out
        .split(" faults fired")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(fired > 20, "{out}");
}

/// `run --path`: under each call, the kernel functions it went through.
#[test]
fn run_path_shows_the_path_under_each_call() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/01_pass_fd.scn");
    let (code, out, err) = afunix(&["run", "--path", example]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("#   __sys_sendmsg → sock_sendmsg → unix_dgram_sendmsg → __scm_send → scm_fp_copy → (queued 2 bytes on #2 with 1 files)"),
        "{out}"
    );
    assert!(out.contains("(installed 1 fds [3])"), "{out}");
}

/// The path of a background call is printed under the `wait` that
/// collects it: where it slept, and which call woke it; a timed-out sleep
/// says so, and the errno's values are the timeout's.
#[test]
fn a_background_call_shows_who_woke_it() {
    let sc = b"task A\nA: socketpair dgram -> a b\nA: fork B\nB: recvmsg b &\n\
A: sendmsg a data=\"hi\"\nB: wait\nA: setsockopt a rcvtimeo 8\nA: recvmsg a\n";
    let (code, out, err) = afunix_stdin(&["run", "--explain=all", "-"], sc);
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    let wait = lines
        .iter()
        .position(|l| l.starts_with("B: wait = 2"))
        .expect("the wait");
    let path = lines[wait + 1];
    assert!(path.starts_with("#   __sys_recvmsg → sock_recvmsg → unix_dgram_recvmsg → (sleeps on sk_wq of #2 (exclusive)) → (woken on sk_wq of #2 (exclusive) by __sys_sendmsg of A (pid "), "{out}");
    assert!(
        out.contains(
            "A: setsockopt a rcvtimeo 8 = 0\n#   __sys_setsockopt → do_sock_setsockopt → sk_setsockopt → (#1 SO_RCVTIMEO, optlen 16, value 0 s 8000 µs)"
        ),
        "{out}"
    );
    assert!(
        out.contains("A: recvmsg a = EAGAIN  # schedule_timeout: the timeout (SO_RCVTIMEO/SO_SNDTIMEO) expired (its timeout of 8000 µs passed)"),
        "{out}"
    );
    assert!(
        out.contains("(the sleep on sk_wq of #1 (exclusive) timed out)"),
        "{out}"
    );
    // A pipe's sleeper is told who woke it too.
    let sc = b"task A\nA: pipe -> r w\nA: fork B\nB: read r 4 &\nA: write w \"abcd\"\nB: wait\n";
    let (code, out, err) = afunix_stdin(&["run", "--explain=all", "-"], sc);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("B: wait = 4 data=\"abcd\"\n#   ksys_read → (sleeps on the pipe's wait queue) → (woken on the pipe's wait queue by ksys_write of A (pid "), "{out}");
}

/// `# afunix: fault SPEC` comments arm faults on the model: after a call,
/// for that call; on a line of their own, for the next line; above the
/// first line, for the whole run. A fault fired in a background call shows
/// on its `wait`, not on the line that woke it. To the kernel and to
/// `diff` they are comments; a malformed one is a `file:line:col` error.
#[test]
fn fault_pragmas_arm_faults_on_the_model_only() {
    let sc = b"# afunix: fault receive_fd,proc=B\ntask A\nA: socketpair dgram -> a b\nA: fork B\n\
B: recvmsg b &\nA: sendmsg a data=\"1\" rights=[a]  # afunix: fault sock_alloc_send_pskb\n\
# afunix: fault scm_fp_copy\nA: sendmsg a data=\"2\" rights=[a]\nA: sendmsg a data=\"3\" rights=[a]\nB: wait\n";
    let (code, out, err) = afunix_stdin(&["run", "-"], sc);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("A: sendmsg a data=\"1\" rights=[a] = ENOBUFS fault=sock_alloc_send_pskb\n"),
        "{out}"
    );
    assert!(
        out.contains("A: sendmsg a data=\"2\" rights=[a] = ENOMEM fault=scm_fp_copy\n"),
        "{out}"
    );
    assert!(
        out.contains("A: sendmsg a data=\"3\" rights=[a] = 1\n"),
        "{out}"
    );
    assert!(
        out.contains("B: wait = 1 data=\"3\" flags=ctrunc fault=receive_fd\n"),
        "{out}"
    );
    assert_eq!(out.matches("fault=").count(), 3, "{out}");
    if is_root() && cfg!(feature = "host") {
        let (code, out, err) = afunix_stdin(&["run", "--backend", "host", "-"], sc);
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            !out.contains("fault=") && out.contains("B: wait = 1 data=\"1\" rights=[5] flags=0"),
            "{out}"
        );
        let (code, out, err) = afunix_stdin(&["diff", "-"], sc);
        assert_eq!(code, 0, "{out}{err}");
    }
    let bad = b"task A\n# afunix: fault nope\n#afunix:fault x\nA: socket dgram # afunix: fault signal,proc=Q\n\
# afunix: faults signal\n# afunix: fault signal\n";
    let (code, out, err) = afunix_stdin(&["run", "-"], bad);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    for e in [
        "-:2:17: `nope` is not a fault point",
        "-:3:15: `x` is not a fault point",
        "-:4:33: proc=Q: no `task` or `fork` line creates process `Q`",
        "-:5:10: a pragma is `# afunix: fault POINT",
        "-:6:17: a fault pragma after the last line arms nothing",
    ] {
        assert!(err.contains(e), "{e}\n{err}");
    }
}

#[test]
fn a_fault_selected_by_line_fires_in_that_call() {
    let sc =
        b"task A\nA: socketpair dgram -> a b\nA: sendmsg a data=\"1\"\nA: sendmsg a data=\"2\"\n";
    for (line, hit) in [("3", "data=\"1\" = ENOBUFS"), ("4", "data=\"2\" = ENOBUFS")] {
        let spec = format!("sock_alloc_send_pskb,line={line}");
        let (code, out, err) = afunix_stdin(&["run", "--fault", &spec, "-"], sc);
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains(&format!("{hit} fault=sock_alloc_send_pskb")),
            "{out}"
        );
        assert_eq!(out.matches("fault=").count(), 1, "{out}");
    }
    let (code, _, err) = afunix_stdin(&["run", "--fault", "signal,line=0", "-"], sc);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("line=0: a line number from 1"), "{err}");
}

/// `run --deny`: a rule of the model's security policy refuses at its
/// hook, `--explain` names the hook and the rule; a bad rule is a usage
/// error, and the kernel's policy is not ours to set.
#[test]
fn deny_rules_refuse_at_their_hook_and_explain_says_so() {
    let sc = b"task A uid=1000 gid=1000\nA: socketpair dgram -> a b\nA: sendmsg a data=\"hi\"\n";
    let (code, out, err) = afunix_stdin(
        &[
            "run",
            "--explain",
            "--deny",
            "socket_sendmsg,uid=1000,errno=EPERM",
            "-",
        ],
        sc,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("A: sendmsg a data=\"hi\" = EPERM  # security_socket_sendmsg: a deny rule of the policy matches (deny rule 1 of the policy: socket_sendmsg by pid 100 (euid 1000) on a dgram socket)"),
        "{out}"
    );
    // Another uid, another pid, another socket type: not refused.
    for rule in [
        "socket_sendmsg,uid=0",
        "socket_sendmsg,pid=101",
        "socket_sendmsg,type=stream",
    ] {
        let (_, out, _) = afunix_stdin(&["run", "--deny", rule, "-"], sc);
        assert!(
            out.contains("A: sendmsg a data=\"hi\" = 2"),
            "{rule}: {out}"
        );
    }
    let (_, out, _) = afunix_stdin(
        &["run", "--deny", "socket_sendmsg,pid=100,type=dgram", "-"],
        sc,
    );
    assert!(out.contains("A: sendmsg a data=\"hi\" = EACCES"), "{out}");
    let (code, _, err) = afunix_stdin(&["run", "--deny", "socket_sendmsg,type=raw", "-"], sc);
    assert_eq!(code, 2);
    assert!(
        err.contains("type=raw: stream, dgram or seqpacket"),
        "{err}"
    );
    let (code, _, err) = afunix_stdin(&["run", "--deny", "socket_sendmsg,file=memfd", "-"], sc);
    assert_eq!(code, 2);
    assert!(err.contains("only `file_receive` sees a file"), "{err}");
    let (code, _, err) = afunix_stdin(
        &["run", "--backend", "host", "--deny", "socket_create", "-"],
        sc,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--deny is a policy of the model"), "{err}");
}
