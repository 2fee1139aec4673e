//! A sandbox written as an LSM policy: processes running as the sandbox's
//! uid may receive only memfds over unix sockets; every other file a
//! broker passes them is refused at `security_file_receive` — dropped, not
//! leaked, with `MSG_CTRUNC` — exactly where an LSM would refuse it.
//!
//! `cargo run -p afunix --example memfd_sandbox`

use afunix::abi::consts::{MSG_DONTWAIT, O_CLOEXEC, SOCK_DGRAM};
use afunix::abi::sockaddr::UnixAddr;
use afunix::net::socket::MsgHdr;
use afunix::security::{FileRef, FileType, Security, Task};
use afunix::TaskSpec;
use afunix::{Errno, SysResult, World};

/// Files of any type but memfds are refused to tasks whose effective uid
/// is `uid`.
pub struct MemfdOnly {
    /// The sandbox's uid.
    pub uid: u32,
}

impl Security for MemfdOnly {
    fn file_receive(&self, task: &Task<'_>, file: FileRef<'_>) -> SysResult<()> {
        if task.cred.euid == self.uid && file.file_type() != FileType::Memfd {
            return Err(Errno::EPERM.why(afunix::rule!(
                security_file_receive,
                "sandbox policy: this uid may receive only memfds"
            )));
        }
        Ok(())
    }
}

/// What the sandboxed process saw.
#[derive(Debug)]
pub struct Report {
    /// A memfd arrived and reads back what the broker wrote.
    pub memfd_content: Vec<u8>,
    /// The pipe sent next: the fds installed (none) and `MSG_CTRUNC`.
    pub pipe_fds: usize,
    /// Whether MSG_CTRUNC was set on the pipe's message.
    pub pipe_ctrunc: bool,
    /// Open files in the world at the end, once both processes exited.
    pub files_left: usize,
}

/// The broker (root) passes a memfd, then a pipe, to the sandboxed
/// process (uid 1000), which listens on `@sandbox`.
pub fn run() -> Report {
    let w = World::with_security(Box::new(MemfdOnly { uid: 1000 }));
    let broker = w.spawn(&TaskSpec {
        uid: 0,
        gid: 0,
        groups: vec![0],
        ..TaskSpec::default()
    });
    let sandboxed = w.spawn(&TaskSpec::default());
    let name = UnixAddr::Abstract(b"sandbox".to_vec()).to_sockaddr();
    let inbox = w.socket(sandboxed, SOCK_DGRAM).expect("socket");
    w.bind(sandboxed, inbox, &name).expect("bind");
    let out = w.socket(broker, SOCK_DGRAM).expect("socket");

    let send = |fd| {
        let control = afunix::abi::cmsg::CmsgBuilder::new().rights(&[fd]).finish();
        let msg = MsgHdr {
            name: Some(&name),
            iov: Some(b"f"),
            control: &control,
        };
        w.sendmsg(broker, out, &msg, 0).expect("sendmsg");
        w.close(broker, fd).expect("close");
    };

    send(w.memfd(broker, b"allowed").expect("memfd"));
    let r = w
        .recvmsg(sandboxed, inbox, 8, 64, MSG_DONTWAIT)
        .expect("recvmsg");
    let memfd = r.rights()[0];
    let memfd_content = w.read(sandboxed, memfd, 64).expect("read");

    let [rd, wr] = w.pipe2(broker, O_CLOEXEC).expect("pipe2");
    send(rd);
    let r = w
        .recvmsg(sandboxed, inbox, 8, 64, MSG_DONTWAIT)
        .expect("recvmsg");
    let report = Report {
        memfd_content,
        pipe_fds: r.rights().len(),
        pipe_ctrunc: r.ctrunc(),
        files_left: 0,
    };
    w.close(broker, wr).expect("close");
    w.exit(broker).expect("exit");
    w.exit(sandboxed).expect("exit");
    w.gc();
    Report {
        files_left: w.open_files(),
        ..report
    }
}

#[allow(dead_code)] // the test includes this file and calls `run`
fn main() {
    let r = run();
    println!(
        "memfd: {:?}; pipe: {} fds installed, MSG_CTRUNC {}; open files at the end: {}",
        String::from_utf8_lossy(&r.memfd_content),
        r.pipe_fds,
        r.pipe_ctrunc,
        r.files_left
    );
}
