//! Every error the model produces names its rule: `Errno::X.why("f: …")`
//! with `f` the kernel function that applies it, or `Errno::X.gap("model
//! gap: …")` for what the model does not implement. Walks the model's
//! sources and checks each literal, so a rule without a function name (or a
//! gap dressed as a kernel answer) cannot land.

use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
}

/// The string literal right after `marker` and any whitespace.
fn literals<'a>(src: &'a str, marker: &str) -> Vec<(usize, &'a str)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = src[at..].find(marker) {
        let start = at + i + marker.len();
        let rest = src[start..].trim_start();
        at = start;
        let Some(body) = rest.strip_prefix('"') else {
            continue; // a non-literal argument (a constant defined elsewhere)
        };
        let end = body.find('"').unwrap();
        let line = src[..start].matches('\n').count() + 1;
        out.push((line, &body[..end]));
    }
    out
}

fn is_function(name: &str) -> bool {
    let first = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    first
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[test]
fn every_rule_names_a_kernel_function_and_every_gap_says_so() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let (mut rules, mut gaps, mut bad) = (0, 0, Vec::new());
    for (path, src) in &files {
        for (line, text) in literals(src, ".why(") {
            rules += 1;
            let ok = text
                .split_once(": ")
                .is_some_and(|(f, why)| is_function(f) && !why.is_empty() && f != "model");
            if !ok {
                bad.push(format!(
                    "{path}:{line}: rule without a kernel function: {text:?}"
                ));
            }
        }
        for (line, text) in literals(src, ".gap(") {
            gaps += 1;
            if !text.starts_with("model gap: ") {
                bad.push(format!(
                    "{path}:{line}: a gap must say \"model gap: \": {text:?}"
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    // The walk found the rules (it would pass vacuously on a wrong path).
    assert!(rules > 200, "only {rules} rules found");
    assert!(gaps >= 3, "only {gaps} gaps found");
}

#[test]
fn rule_parts_and_kinds() {
    use afunix::{Errno, RuleKind};
    let e = Errno::EBADF.why("fdget: fd is not open in this process");
    assert_eq!(e.rule.kind(), RuleKind::Kernel);
    assert_eq!(e.rule.function(), Some("fdget"));
    assert_eq!(e.rule.text(), "fd is not open in this process");
}
