//! The `afunix` binary: exit codes and messages.

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

fn temp(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("afunix-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn syntax_error_exits_2_with_line_and_column() {
    let f = temp(
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
    let good = temp(
        "good.scn",
        "task A = 0\nA: socketpair dgram -> a b = 0 fds=[3,4]\nA: sendmsg a data=\"hi\" = 2\nA: recvmsg b = 2 flags=0\n",
    );
    let bad = temp(
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
            format!("{bad}: FAILED (2 of 3)").as_str(),
            "5 passed, 2 failed",
        ]
    );
    let (code, out, _) = afunix(&["check", "--backend", "host", &good]);
    assert_eq!((code, out.lines().last()), (0, Some("4 passed, 0 failed")));
}

#[test]
fn run_prints_headers_and_stops_at_a_scenario_error() {
    if !is_root() || cfg!(not(feature = "host")) {
        eprintln!("skipped: needs root and the host backend");
        return;
    }
    let a = temp(
        "a.scn",
        "task A\nA: socket dgram -> s # c\nA: bind s auto\nA: getsockname s\n",
    );
    let b = temp("b.scn", "task A\nA: close nosuch\nA: socket dgram\n");
    let (code, out, err) = afunix(&["run", "--backend", "host", &a, &b]);
    assert_eq!(code, 2);
    assert_eq!(
        out,
        format!(
            "==> {a} <==\ntask A = 0\nA: socket dgram -> s = 3\nA: bind s auto = 0\nA: getsockname s = 0 addr=@#1\n\n==> {b} <==\ntask A = 0\n"
        )
    );
    assert!(
        err.contains(&format!(
            "{b}:2:10: `nosuch` is not a name bound in process `A`"
        )),
        "{err}"
    );
}
