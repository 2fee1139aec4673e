//! The rules no scenario reaches (`tests/rules-without-scenario.txt`):
//! each is driven here through the model's API instead — a signal raised
//! before a call sleeps, a world torn down, flags the scenario language
//! cannot write, a budget set low — and its refusal must carry the
//! values that decided it, as the last note of its path (`--explain`).
//! A listed rule no driver reaches is in [`NOT_DRIVEN`] with the reason,
//! so every listed rule is accounted for.

use afunix::abi::consts::*;
use afunix::{Error, Interrupt, Pid, TaskSpec, World};
use std::collections::BTreeSet;
use std::path::Path;

/// Listed rules that cannot be driven deterministically, and why.
const NOT_DRIVEN: &[(&str, &str)] = &[
    ("____sys_sendmsg: msg_controllen > INT_MAX", "needs a control buffer of 2 GiB"),
    ("__scm_send: cmsg_len != CMSG_LEN(sizeof(struct ucred))", "defensive: the length was checked just before"),
    ("__skb_wait_for_more_packets: connection closed", "a seqpacket peer closing while the reader decides to sleep (a race)"),
    ("arch_do_signal_or_restart: SA_RESTART: the call restarts (injected fault)", "never an answer: it carries a restart to the call's entry, which makes the call again (faults.rs shows the restart)"),
    ("d_is_negative: the inode was removed meanwhile", "an unlink between a lookup and its use (a race)"),
    ("fd_install: the process exited", "an exit racing the call's own fd install"),
    ("generic_write_check_limits: the write passes the largest file offset", "an offset near usize::MAX, which no write reaches"),
    ("generic_write_checks: past the world's file size limit", "a regular file grown past MAX_FILE_SIZE by writes of that many bytes"),
    ("link_path_walk: the directory is gone", "a directory removed during a walk (a race)"),
    ("open_last_lookups: . or ..", "shadowed: O_CREAT on a directory is refused first"),
    ("pipe_write: the last reader went away", "shadowed: a writer woken with nothing written meets `no reader` first"),
    ("pidfd_prepare: no such process", "a peer reaped between the peer lookup and the pidfd (a race)"),
    ("queue_oob: the peer is gone or shut down reading", "shadowed by unix_stream_sendmsg's own check, unless the peer shuts down in between (a race)"),
    ("receive_fd: no free fd in the receiver (injected fault)", "the fault point's other branch: no fd free once the fault fired"),
    ("security_file_receive: a deny rule of the policy matches", "never an errno: receive_fd drops the refused file and sets MSG_CTRUNC (examples/faults/10_policy.scn, and `--explain=all` shows the rule in the path)"),
    ("shmem_alloc_folio: no memory for the file's pages", "a real allocation failure"),
    ("shmem_get_folio_gfp: the memfd passes the world's memory for files", "a memfd of MAX_FILE_SIZE bytes"),
    ("sock_error: a call that may not sleep would block", "defensive: no call made with with_sock_nb blocks"),
    ("unix_autobind: every abstract name is taken", "2^20 autobound sockets"),
    ("unix_dgram_sendmsg: the peer is dead", "a peer found by name dying before the send locks it (a race)"),
    ("unix_dgram_sendmsg: the seqpacket peer is dead", "as above, for seqpacket"),
    ("unix_find_bsd: no such file", "the socket file unlinked between the walk and the inode's lookup (a race)"),
    ("unix_find_other: the named socket was closed", "a socket closed between its lookup and its use (a race)"),
    ("unix_stream_read_generic: the socket is dead", "a socket released under a reader (a race)"),
    ("unix_stream_recv_urg: the OOB byte is gone", "the OOB byte read by another reader between the two checks (a race)"),
    ("unix_stream_sendmsg: the peer is gone or shut down reading", "shadowed by the sender's own SEND_SHUTDOWN, set by the same shutdown"),
    ("unix_validate_addr: no name", "shadowed: an address of the family alone is refused by its length first"),
];

type Driver = fn(&World, Pid) -> Option<Error>;

fn p(w: &World) -> Pid {
    w.spawn(&TaskSpec::default())
}

fn raised() -> Interrupt {
    let i = Interrupt::new();
    i.raise();
    i
}

/// (rule, how to reach it): the driver returns the refusal.
const DRIVERS: &[(&str, Driver)] = &[
    ("__sys_accept4: unknown flags", |w, p| {
        let s = w.socket(p, SOCK_STREAM).ok()?;
        w.accept4(p, s, 0x40000).err()
    }),
    ("pipe2: unknown flags", |w, p| w.pipe2(p, 0x1).err()),
    (
        "find_task_by_vpid: no such process in this world",
        |w, p| {
            w.exit(p).ok()?;
            w.exit(p).err()
        },
    ),
    ("alloc_pid: every pid below pid_max is taken", |w, _| {
        (0..afunix::PID_MAX).find_map(|_| w.try_spawn(&TaskSpec::default()).err())
    }),
    ("unix_ioctl: unknown request (ENOIOCTLCMD)", |w, p| {
        let s = w.socket(p, SOCK_DGRAM).ok()?;
        w.ioctl(p, s, 0x1234).err()
    }),
    (
        "sock_intr_errno: signal_pending while the call waits (no timeout)",
        |w, p| {
            let [a, _b] = w.socketpair(p, SOCK_DGRAM).ok()?;
            w.interruptible(&raised(), || w.recvmsg(p, a, 8, 0, 0))
                .err()
        },
    ),
    (
        "sock_intr_errno: signal_pending while the call waits with a timeout",
        |w, p| {
            let [a, _b] = w.socketpair(p, SOCK_DGRAM).ok()?;
            let tv: Vec<u8> = [5i64, 0].iter().flat_map(|v| v.to_ne_bytes()).collect();
            w.setsockopt(p, a, SOL_SOCKET, SO_RCVTIMEO, &tv).ok()?;
            w.interruptible(&raised(), || w.recvmsg(p, a, 8, 0, 0))
                .err()
        },
    ),
    ("pipe_read: signal_pending while the pipe waits", |w, p| {
        let [r, _w] = w.pipe2(p, 0).ok()?;
        w.interruptible(&raised(), || w.read(p, r, 8)).err()
    }),
    ("do_poll: signal_pending while poll waits", |w, p| {
        let [a, _b] = w.socketpair(p, SOCK_DGRAM).ok()?;
        w.interruptible(&raised(), || w.poll_fds(p, &[a], POLLIN, -1))
            .err()
    }),
    (
        "signal_pending: the caller abandoned the call (it will restart it)",
        |w, p| {
            let [a, _b] = w.socketpair(p, SOCK_DGRAM).ok()?;
            let i = Interrupt::new();
            i.cancel();
            w.interruptible(&i, || w.recvmsg(p, a, 8, 0, 0)).err()
        },
    ),
    (
        "signal_pending: the world was torn down while the call slept",
        |w, p| {
            let [a, _b] = w.socketpair(p, SOCK_DGRAM).ok()?;
            w.interrupt_all();
            w.recvmsg(p, a, 8, 0, 0).err()
        },
    ),
    (
        "shmem_inode_acct_blocks: the world's memory for files is full",
        |w, p| {
            w.set_shmem_max(16);
            w.memfd(p, &[0; 17]).err()
        },
    ),
    (
        "sk_attach_filter: program bytes not a multiple of sizeof(sock_filter)",
        |_, _| afunix::abi::filter::Program::parse(&[0; 12]).err(),
    ),
    (
        "vfs_read: an external file is read by its owner, not the model",
        |w, p| {
            let f = w.open_external(p, 1, false).ok()?;
            w.read(p, f, 8).err()
        },
    ),
    (
        "vfs_write: an external file is written by its owner, not the model",
        |w, p| {
            let f = w.open_external(p, 1, false).ok()?;
            w.write(p, f, b"x").err()
        },
    ),
];

fn listed() -> BTreeSet<String> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/rules-without-scenario.txt");
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_rule_no_scenario_reaches_is_driven_with_its_values_or_said_why_not() {
    let listed = listed();
    let mut bad = Vec::new();
    let mut driven = BTreeSet::new();
    for (rule, drive) in DRIVERS {
        let w = World::new();
        let pid = p(&w);
        let (e, path) = w.with_path(|| drive(&w, pid));
        let Some(e) = e else {
            bad.push(format!("{rule}: the driver's call did not fail"));
            continue;
        };
        if e.rule.to_string() != *rule {
            bad.push(format!("{rule}: the driver reached `{}` instead", e.rule));
            continue;
        }
        if afunix::path::decision(&path).is_none() {
            bad.push(format!(
                "{rule}: refused without its values: {}",
                afunix::path::render(&path)
            ));
        }
        if !listed.contains(*rule) {
            bad.push(format!(
                "{rule}: driven here but not listed as without scenario"
            ));
        }
        driven.insert(rule.to_string());
        w.check_invariants()
            .unwrap_or_else(|e| bad.push(format!("{rule}: {e}")));
    }
    let not: BTreeSet<String> = NOT_DRIVEN.iter().map(|(r, _)| r.to_string()).collect();
    for r in &listed {
        if !driven.contains(r) && !not.contains(r) {
            bad.push(format!(
                "{r}: listed, neither driven here nor in NOT_DRIVEN"
            ));
        }
        if driven.contains(r) && not.contains(r) {
            bad.push(format!("{r}: driven here, remove it from NOT_DRIVEN"));
        }
    }
    for r in &not {
        if !listed.contains(r) {
            bad.push(format!(
                "{r}: in NOT_DRIVEN but not listed (a scenario reaches it now?)"
            ));
        }
    }
    assert!(bad.is_empty(), "\n{}", bad.join("\n"));
}
