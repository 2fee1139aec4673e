//! Two receivers of a message carrying two files, and one fault: the
//! second file cannot be installed (`receive_fd`, as when the receiver is
//! at its fd limit), so the message arrives with `MSG_CTRUNC` and one fd.
//! The careful receiver closes what it got when the control data was cut;
//! the naive one expects both fds, gives up, and leaks the one it got.
//!
//! `cargo run -p afunix --example ctrunc`

use afunix::abi::consts::SOCK_DGRAM;
use afunix::abi::MsgFlags;
use afunix::fault::{Fault, FaultPoint, When};
use afunix::{Fd, Pid, TaskSpec, World};

/// What a receiver did with the message.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It used both files.
    Used,
    /// It saw the truncation and closed what it got.
    Refused,
    /// It gave up and left the fds it got open.
    GaveUp,
}

/// Close every fd of a truncated message, use a whole one.
fn careful(w: &World, p: Pid, sock: Fd) -> Outcome {
    let m = w
        .recvmsg(p, sock, 16, 64, MsgFlags::empty())
        .expect("recvmsg");
    if m.ctrunc() {
        for fd in m.rights() {
            w.close(p, fd).expect("close");
        }
        return Outcome::Refused;
    }
    for fd in m.rights() {
        w.close(p, fd).expect("close");
    }
    Outcome::Used
}

/// Take the two fds it expects; anything else is "an error" it returns
/// from, forgetting the fds it did get.
fn naive(w: &World, p: Pid, sock: Fd) -> Outcome {
    let m = w
        .recvmsg(p, sock, 16, 64, MsgFlags::empty())
        .expect("recvmsg");
    let fds = m.rights();
    if fds.len() != 2 {
        return Outcome::GaveUp;
    }
    for fd in fds {
        w.close(p, fd).expect("close");
    }
    Outcome::Used
}

/// Run one receiver against the fault; its outcome, and the open files
/// the receiver still holds at the end beyond its own socket.
pub fn run(receiver: Receiver) -> (Outcome, usize) {
    let w = World::new();
    let sender = w.spawn(&TaskSpec::default());
    let [a, b] = w.socketpair(sender, SOCK_DGRAM).expect("socketpair");
    let rcv = w.fork(sender).expect("fork");
    w.close(sender, b).expect("close");
    w.close(rcv, a).expect("close");
    let f = w.memfd(sender, b"one").expect("memfd");
    let g = w.memfd(sender, b"two").expect("memfd");
    w.send_with_fds(sender, a, b"files", &[f, g])
        .expect("sendmsg");
    w.exit(sender).expect("exit");
    w.inject(Fault {
        point: FaultPoint::ReceiveFd,
        pid: Some(rcv),
        when: When::Nth(2),
    });
    let outcome = receiver(&w, rcv, b);
    w.gc();
    // The receiver's socket and /dev/null (fds 0-2) are its own; any
    // other open file is one it still holds.
    let baseline = 2;
    (outcome, w.open_files() - baseline)
}

#[allow(dead_code)] // a test includes this file and calls `run`
fn main() {
    for (name, r) in [
        ("careful", careful as fn(&World, Pid, Fd) -> Outcome),
        ("naive", naive),
    ] {
        let (outcome, held) = run(r);
        println!("{name}: {outcome:?}, {held} file(s) still open");
    }
}

/// A receiver: how a program handles the message.
pub type Receiver = fn(&World, Pid, Fd) -> Outcome;

/// The receivers, for the test.
#[allow(dead_code)]
pub const RECEIVERS: [(&str, Receiver); 2] = [("careful", careful), ("naive", naive)];
