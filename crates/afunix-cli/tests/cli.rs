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
