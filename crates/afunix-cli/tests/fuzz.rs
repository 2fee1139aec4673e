//! The fuzzer's generator and minimizer, without the host kernel.

use afunix_cli::fuzz::{
    generate, generate_mode, minimize, prepare_blocking, repair, simpler_lines, stream_seed, Rng,
};
use afunix_cli::runner::RunErrorKind;
use afunix_cli::{run_source, scenario, BackendKind};

#[test]
fn prng_is_deterministic() {
    let mut a = Rng::new(42);
    let mut b = Rng::new(42);
    let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
    let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
    assert_eq!(xs, ys);
    assert_ne!(stream_seed(1, 0), stream_seed(1, 1));
    assert_eq!(generate(7, 40), generate(7, 40));
}

/// Every generated scenario parses and, once repaired, runs on the model
/// to the end without a scenario error; repair drops only a few lines.
#[test]
fn generated_scenarios_parse_and_run_on_the_model() {
    let mut dropped = 0usize;
    let mut total = 0usize;
    for n in 0..60 {
        let text = generate(stream_seed(12345, n), 40);
        let sc = scenario::parse(&text)
            .unwrap_or_else(|e| panic!("scenario {n} does not parse: {e:?}\n{text}"));
        assert!(!sc.lines.is_empty());
        for banned in ["sleep", " &", ": wait", "sndtimeo", "rcvtimeo", ": pidof "] {
            assert!(
                !text.contains(banned),
                "scenario {n} has `{banned}`:\n{text}"
            );
        }
        // `stat` only right after `gc`.
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if *l == "stat" {
                assert!(
                    i > 0 && lines[i - 1] == "gc",
                    "scenario {n}: stat without gc"
                );
            }
        }
        let (fixed, _, run) =
            repair(&text).unwrap_or_else(|| panic!("scenario {n} cannot be repaired:\n{text}"));
        assert!(run.error.is_none(), "scenario {n}: {:?}", run.error);
        let o = run_source(&fixed, BackendKind::Sim).expect("runs");
        if let Some(e) = &o.run.error {
            assert_ne!(e.kind, RunErrorKind::Scenario, "scenario {n}: {e}\n{fixed}");
        }
        total += text.lines().count();
        dropped += text.lines().count() - fixed.lines().count();
    }
    assert!(
        dropped * 4 < total,
        "repair dropped {dropped} of {total} lines"
    );
}

/// The minimizer finds the two lines a fake divergence needs, and
/// simplifies their tokens while the predicate holds.
#[test]
fn minimize_a_synthetic_divergence() {
    let text = generate(stream_seed(99, 3), 30);
    // (`gc` lines are never dropped by `minimize`: leave them out here.)
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| *l != "gc")
        .map(String::from)
        .collect();
    lines.insert(
        5,
        "A: sendmsg s1 data=\"hello\" flags=dontwait|oob|eor".into(),
    );
    lines.push("A: listen s1 5".into());
    // "Diverges" when some sendmsg with oob is followed by a listen with
    // a backlog > 0: the minimum is those two lines, reduced to
    // `flags=dontwait|oob` and backlog 1.
    let mut calls = 0;
    let mut pred = |ls: &[String]| {
        calls += 1;
        let s = ls
            .iter()
            .position(|l| l.contains("sendmsg") && l.contains("oob"));
        let l = ls.iter().rposition(|l| {
            l.contains(": listen ")
                && l.rsplit(' ')
                    .next()
                    .and_then(|n| n.parse::<i32>().ok())
                    .is_some_and(|n| n > 0)
        });
        matches!((s, l), (Some(s), Some(l)) if s < l)
    };
    assert!(pred(&lines));
    let small = minimize(&lines, &mut pred);
    assert_eq!(small.len(), 2, "{small:?}");
    // The flags down to `dontwait` (which the minimizer keeps) and `oob`,
    // in whichever order the line wrote them.
    let flags = small[0].rsplit_once(" flags=").map(|(_, f)| f);
    let mut words: Vec<&str> = flags.unwrap_or_default().split('|').collect();
    words.sort_unstable();
    assert!(small[0].contains("sendmsg"), "{}", small[0]);
    assert_eq!(words, ["dontwait", "oob"], "{}", small[0]);
    assert!(!small[0].contains("hello"), "{}", small[0]);
    assert!(small[1].ends_with(" 1"), "{}", small[1]);
    assert!(calls > 0);
}

#[test]
fn simpler_lines_keep_dontwait_and_nonblock() {
    let v = simpler_lines("A: recvmsg s1 len=100 flags=dontwait|peek -> r1");
    assert!(v.contains(&"A: recvmsg s1 flags=dontwait|peek -> r1".to_string()));
    assert!(v.contains(&"A: recvmsg s1 len=50 flags=dontwait|peek -> r1".to_string()));
    assert!(v.contains(&"A: recvmsg s1 len=100 flags=dontwait -> r1".to_string()));
    assert!(v.iter().all(|l| l.contains("dontwait")));
    let v = simpler_lines("A: socket stream nonblock cloexec -> s1");
    assert!(v.iter().all(|l| l.contains("nonblock")));
    assert!(v.contains(&"A: socket stream nonblock -> s1".to_string()));
}

/// `--blocking`: the generated scenarios have background calls, and once
/// prepared (repaired, with the settling waits) they run on the model to
/// the end; every `wait` is a generous `wait 300`, and there are no
/// timeouts or sleeps.
#[test]
fn blocking_scenarios_parse_and_run_on_the_model() {
    let mut bg = 0usize;
    let mut prepared = 0usize;
    for n in 0..12 {
        let text = generate_mode(stream_seed(4242, n), 25, true);
        scenario::parse(&text)
            .unwrap_or_else(|e| panic!("scenario {n} does not parse: {e:?}\n{text}"));
        for banned in ["sleep", "sndtimeo", "rcvtimeo"] {
            assert!(!text.contains(banned), "scenario {n} has `{banned}`");
        }
        let Some((fixed, _, run)) = prepare_blocking(&text) else {
            continue;
        };
        prepared += 1;
        assert!(
            run.error.is_none(),
            "scenario {n}: {:?}\n{fixed}",
            run.error
        );
        bg += fixed.lines().filter(|l| l.ends_with(" &")).count();
        for l in fixed.lines().filter(|l| l.contains(": wait")) {
            assert!(l.contains(": wait 300"), "scenario {n}: {l}");
        }
        let o = run_source(&fixed, BackendKind::Sim).expect("runs");
        if let Some(e) = &o.run.error {
            assert_ne!(e.kind, RunErrorKind::Scenario, "scenario {n}: {e}\n{fixed}");
        }
    }
    assert!(prepared >= 9, "only {prepared} of 12 prepared");
    assert!(bg >= 6, "only {bg} background calls");
}
