//! The LSM hook points: a policy installed with `World::with_security`
//! makes calls fail where Linux's LSM hooks would. (No kernel recording is
//! possible here: the host has no such policy loaded.)

use afunix::abi::cmsg::{user_cmsgs, CmsgBuilder};
use afunix::abi::consts::{MSG_CTRUNC, MSG_DONTWAIT, SOCK_DGRAM};
use afunix::backend::TaskSpec;
use afunix::errno::{Errno, SysResult};
use afunix::net::socket::MsgHdr;
use afunix::process::Pid;
use afunix::security::Security;
use afunix::World;

/// Denies receiving files (`security_file_receive`) to one pid and
/// datagram sends (`security_unix_may_send`) to another.
struct Policy {
    no_receive: Pid,
    no_dgram_send: Pid,
}

impl Security for Policy {
    fn file_receive(&self, pid: Pid) -> SysResult<()> {
        if pid == self.no_receive {
            return Err(Errno::EPERM.why("test policy: no files for this process"));
        }
        Ok(())
    }
    fn unix_may_send(&self, pid: Pid) -> SysResult<()> {
        if pid == self.no_dgram_send {
            return Err(Errno::EACCES.why("test policy: no datagrams from this process"));
        }
        Ok(())
    }
}

#[test]
fn denied_file_receive_drops_the_files_and_sets_ctrunc() {
    // Pids are handed out from 100 in creation order: a is 100, b is 101.
    let w = World::with_security(Box::new(Policy {
        no_receive: 101,
        no_dgram_send: -1,
    }));
    let a = w.spawn(&TaskSpec::default());
    let [s0, s1] = w.socketpair(a, SOCK_DGRAM).unwrap();
    let b = w.fork(a).unwrap();
    assert_eq!(b, 101);
    let send_memfd = |from: Pid| {
        let f = w.memfd(from, b"secret").unwrap();
        let control = CmsgBuilder::new().rights(&[f]).finish();
        let msg = MsgHdr {
            name: None,
            iov: Some(b"x"),
            control: &control,
        };
        assert_eq!(w.sendmsg(from, s0, &msg, 0), Ok(1));
        w.close(from, f).unwrap();
    };
    send_memfd(a);
    let before = w.open_files();
    // scm_detach_fds stops at the first denial: nothing installed, MSG_CTRUNC.
    let r = w.recvmsg(b, s1, 16, 64, MSG_DONTWAIT).unwrap();
    assert_eq!(r.data, b"x");
    assert_eq!(r.flags & MSG_CTRUNC, MSG_CTRUNC);
    assert!(user_cmsgs(&r.control).next().is_none());
    // The memfd was dropped, not leaked.
    assert_eq!(w.open_files(), before - 1);
    assert_eq!(w.check_invariants(), Ok(()));
    // Process a may receive.
    send_memfd(b);
    let r = w.recvmsg(a, s1, 16, 64, MSG_DONTWAIT).unwrap();
    assert_eq!(r.flags & MSG_CTRUNC, 0);
    assert_eq!(user_cmsgs(&r.control).count(), 1);
    assert_eq!(w.check_invariants(), Ok(()));
}

#[test]
fn denied_unix_may_send_fails_the_datagram_with_the_policy_errno() {
    let w = World::with_security(Box::new(Policy {
        no_receive: -1,
        no_dgram_send: 100,
    }));
    let a = w.spawn(&TaskSpec::default());
    let b = w.spawn(&TaskSpec::default());
    let [s0, _s1] = w.socketpair(a, SOCK_DGRAM).unwrap();
    let msg = MsgHdr {
        name: None,
        iov: Some(b"x"),
        control: &[],
    };
    let e = w.sendmsg(a, s0, &msg, MSG_DONTWAIT).unwrap_err();
    assert_eq!(e, Errno::EACCES);
    assert_eq!(e.reason(), "test policy: no datagrams from this process");
    let [t0, _t1] = w.socketpair(b, SOCK_DGRAM).unwrap();
    assert_eq!(w.sendmsg(b, t0, &msg, MSG_DONTWAIT), Ok(1));
}
