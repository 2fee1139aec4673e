//! Delta debugging: a finding cut to the fewest lines, tokens and
//! smallest numbers that still show it.

use super::blocking::proc_and_word;

fn is_int(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Smaller integers to try instead of `s`.
fn smaller_ints(s: &str) -> Vec<String> {
    let Ok(n) = s.parse::<i64>() else {
        return Vec::new();
    };
    let mut v = Vec::new();
    for c in [0, 1, n / 2, n - 1] {
        if c.abs() < n.abs() && c >= 0 {
            v.push(c.to_string());
        }
    }
    v.dedup();
    v
}

/// Simpler versions of one value (`a|b|c`, `[x,y]`, an integer, a string).
fn simpler_values(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    if is_int(v) {
        out.extend(smaller_ints(v));
    } else if let Some(inner) = v.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
        let items: Vec<&str> = if inner.is_empty() {
            Vec::new()
        } else {
            inner.split(',').collect()
        };
        if items.len() > 8 {
            out.push(format!("[{}]", items[..items.len() / 2].join(",")));
        }
        for i in 0..items.len() {
            if items.len() > 1 {
                let mut it = items.clone();
                it.remove(i);
                out.push(format!("[{}]", it.join(",")));
            }
        }
    } else if v.starts_with('"') && v.ends_with('"') && v.len() > 2 {
        out.push("\"\"".into());
        if v.len() > 3 && !v[1..].starts_with('\\') {
            out.push(format!("\"{}\"", &v[1..2]));
        }
    } else if v.contains('|') {
        let parts: Vec<&str> = v.split('|').collect();
        for i in 0..parts.len() {
            if parts[i] == "dontwait" {
                continue;
            }
            let mut p = parts.clone();
            p.remove(i);
            out.push(p.join("|"));
        }
    } else if v.contains(',') && !v.starts_with("hex:") {
        // creds=PID,UID,GID
        let parts: Vec<&str> = v.split(',').collect();
        for i in 0..parts.len() {
            for s in smaller_ints(parts[i]) {
                let mut p: Vec<String> = parts.iter().map(|x| x.to_string()).collect();
                p[i] = s;
                out.push(p.join(","));
            }
        }
    }
    out
}

/// Simpler versions of one line, one change each.
pub fn simpler_lines(line: &str) -> Vec<String> {
    // A `wait` keeps its generous time.
    if proc_and_word(line).1 == "wait" {
        return Vec::new();
    }
    let toks: Vec<&str> = line.split(' ').collect();
    let mut out = Vec::new();
    // Calls start with `NAME:` and the call word; directives with one word.
    let fixed = if toks.first().is_some_and(|t| t.ends_with(':')) {
        2
    } else {
        1
    };
    let arrow = toks.iter().position(|t| *t == "->").unwrap_or(toks.len());
    let with = |i: usize, t: Option<String>| -> String {
        let mut v: Vec<String> = toks.iter().map(|x| x.to_string()).collect();
        match t {
            Some(t) => v[i] = t,
            None => {
                v.remove(i);
            }
        }
        v.join(" ")
    };
    for (i, &t) in toks.iter().enumerate().take(arrow).skip(fixed) {
        if t == "nonblock" || t == "dontwait" {
            continue;
        }
        if let Some((k, v)) = t.split_once('=') {
            if !(k == "flags" && v.contains("dontwait")) {
                out.push(with(i, None));
            } else if v != "dontwait" {
                out.push(with(i, Some("flags=dontwait".into())));
            }
            for s in simpler_values(v) {
                out.push(with(i, Some(format!("{k}={s}"))));
            }
        } else if t == "cloexec" {
            out.push(with(i, None));
        } else {
            for s in simpler_values(t) {
                out.push(with(i, Some(s)));
            }
        }
    }
    out
}

/// Delta debugging: the smallest list of lines (by dropping lines, then
/// simplifying tokens) for which `pred` still holds. `pred` must hold for
/// `lines` itself.
pub fn minimize(lines: &[String], pred: &mut dyn FnMut(&[String]) -> bool) -> Vec<String> {
    minimize_keeping(lines, &|_| false, pred)
}

/// [`minimize`], never dropping a line for which `keep` holds (`gc` lines
/// when a divergence could otherwise be the collector's timing).
pub fn minimize_keeping(
    lines: &[String],
    keep: &dyn Fn(&str) -> bool,
    pred: &mut dyn FnMut(&[String]) -> bool,
) -> Vec<String> {
    let mut cur: Vec<String> = lines.to_vec();
    for _round in 0..4 {
        let before = cur.clone();
        // Drop chunks of lines, halving the chunk size.
        let mut chunk = (cur.len() / 2).max(1);
        loop {
            let mut i = 0;
            let mut changed = false;
            while i < cur.len() {
                let end = (i + chunk).min(cur.len());
                let cand: Vec<String> = cur
                    .iter()
                    .enumerate()
                    .filter(|(j, l)| !(i..end).contains(j) || keep(l))
                    .map(|(_, l)| l.clone())
                    .collect();
                if !cand.is_empty() && cand.len() < cur.len() && pred(&cand) {
                    cur = cand;
                    changed = true;
                } else {
                    i += chunk;
                }
            }
            if chunk == 1 && !changed {
                break;
            }
            if !changed {
                chunk = (chunk / 2).max(1);
            }
        }
        // Simplify each line, one change at a time.
        let mut i = 0;
        while i < cur.len() {
            let mut progressed = false;
            for c in simpler_lines(&cur[i]) {
                let mut cand = cur.clone();
                cand[i] = c;
                if pred(&cand) {
                    cur = cand;
                    progressed = true;
                    break;
                }
            }
            if !progressed {
                i += 1;
            }
        }
        if cur == before {
            break;
        }
    }
    cur
}

/// After [`minimize`]: drop the lines after `last` (1-based: the
/// diverging line), and the `gc` lines before any `rights=` (no socket can
/// be in flight there), when `pred` still holds without them.
pub fn tidy(lines: &[String], last: usize, pred: &mut dyn FnMut(&[String]) -> bool) -> Vec<String> {
    let mut cur: Vec<String> = lines.to_vec();
    if last >= 1 && last < cur.len() {
        let cand = cur[..last].to_vec();
        if pred(&cand) {
            cur = cand;
        }
    }
    // Two `gc` in a row are one.
    cur.dedup_by(|a, b| a.as_str() == "gc" && b.as_str() == "gc");
    let first_rights = cur
        .iter()
        .position(|l| l.contains("rights="))
        .unwrap_or(cur.len());
    let cand: Vec<String> = cur
        .iter()
        .enumerate()
        .filter(|(i, l)| !(*i < first_rights && l.as_str() == "gc"))
        .map(|(_, l)| l.clone())
        .collect();
    if cand.len() < cur.len() && pred(&cand) {
        cur = cand;
    }
    cur
}
