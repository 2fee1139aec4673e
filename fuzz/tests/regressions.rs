//! Every seed (`seeds/<target>/`, the minimized corpus of the last long
//! run) and every saved crash or slow input (`regressions/<target>/`) run
//! through its target's body once, as `cargo test` here (CI runs it).
//! Each body asserts the model's invariants itself, so a run that returns
//! is a pass; a panic names the file.

use std::path::Path;

/// A target's body.
type Body = fn(&[u8]);

/// Every target and its body.
const TARGETS: &[(&str, Body)] = &[
    ("calls", afunix_fuzz::calls::run),
    ("cmsg", afunix_fuzz::cmsg::run),
    ("exec_args", afunix_fuzz::exec_args::run),
    ("scenario", afunix_fuzz::scenario::run),
    ("sockaddr", afunix_fuzz::sockaddr::run),
];

/// The layout a fuzzing service reads (`.clusterfuzzlite/build.sh`): every
/// `[[bin]]` of Cargo.toml is in [`TARGETS`], has `options/NAME.options`,
/// the dictionary that file names, and seeds.
#[test]
fn layout() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let toml = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let mut bins: Vec<&str> = toml
        .split("[[bin]]")
        .skip(1)
        .filter_map(|b| b.lines().find_map(|l| l.strip_prefix("name = ")))
        .map(|n| n.trim_matches('"'))
        .collect();
    bins.sort();
    let names: Vec<&str> = TARGETS.iter().map(|t| t.0).collect();
    assert_eq!(bins, names);
    for t in names {
        let opts = std::fs::read_to_string(root.join(format!("options/{t}.options")))
            .unwrap_or_else(|e| panic!("options/{t}.options: {e}"));
        assert!(opts.starts_with("[libfuzzer]"), "{t}: {opts}");
        for d in opts.lines().filter_map(|l| l.strip_prefix("dict = ")) {
            assert!(root.join("dict").join(d).is_file(), "{t}: dict/{d} missing");
        }
        assert!(
            std::fs::read_dir(root.join("seeds").join(t)).is_ok_and(|mut d| d.next().is_some()),
            "{t}: no seeds"
        );
    }
}

fn replay(target: &str) {
    let run = TARGETS.iter().find(|t| t.0 == target).expect("a target").1;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(rd) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        let mut files: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            eprintln!("{target}: {}", f.display());
            run(&data);
            n += 1;
        }
    }
    assert!(n > 0, "no seeds for {target}: see README.md (cmin)");
    eprintln!("{target}: {n} inputs replayed");
}

#[test]
fn cmsg() {
    replay("cmsg");
}

#[test]
fn calls() {
    replay("calls");
}

#[test]
fn sockaddr() {
    replay("sockaddr");
}

#[test]
fn scenario() {
    replay("scenario");
}

#[test]
fn exec_args() {
    replay("exec_args");
}
