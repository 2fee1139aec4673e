//! Ancillary data (`net/core/scm.c`, `include/net/scm.h`): parsing the
//! sender's control buffer into a cookie of file references and
//! credentials (`__scm_send`), and delivering both on receive
//! (`scm_recv_unix`: credentials, `scm_detach_fds`, `SCM_PIDFD`).
//!
//! Ownership: the cookie holds one reference per passed file from the
//! moment `scm_send` takes it; on any error they are all dropped
//! (`scm_destroy`); on success they move into the queued message.

use crate::abi::cmsg::{kernel_cmsgs, ControlWriter};
use crate::abi::consts::*;
use crate::abi::ucred::Ucred;
use crate::errno::{Errno, SysResult};
use crate::fs::file::File;
use crate::net::unix::SkbCred;
use crate::process::{Capability, RawPid};
use crate::security::FileRef;
use crate::world::Kernel;
use std::sync::Arc;

/// Credentials a sender put in `SCM_CREDENTIALS` (`scm_cookie.creds` + pid).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScmCreds {
    /// The pid claimed (checked to exist).
    pub pid: RawPid,
    /// The uid claimed.
    pub uid: u32,
    /// The gid claimed.
    pub gid: u32,
}

/// The files a message carries (`struct scm_fp_list`), each holding one
/// reference. Most messages that carry files carry one: that one is kept
/// in place, and only two or more spill to the heap, so passing a file
/// costs no allocation of its own (the kernel's list is one `kmalloc`
/// sized for what it holds).
pub(crate) type FpList = smallvec::SmallVec<[Arc<File>; 1]>;

/// What `__scm_send` made of a control buffer (`struct scm_cookie`).
#[derive(Debug, Default)]
pub struct ScmCookie {
    /// Passed files, each holding one reference (`scm_fp_list`).
    pub(crate) fp: FpList,
    /// Explicit credentials; the last `SCM_CREDENTIALS` wins.
    pub creds: Option<ScmCreds>,
    /// `fpl->user`: the sender's account, taken with the files
    /// (`get_uid(current_user())`), whose in-flight count they join.
    pub user: Option<Arc<crate::process::UserStruct>>,
    /// The most files `user` may have in flight for this sender
    /// (`too_many_unix_fds`: its RLIMIT_NOFILE, or no limit with
    /// `CAP_SYS_RESOURCE` or `CAP_SYS_ADMIN`), read with the files.
    pub(crate) inflight_max: u64,
}

/// The credentials a receive reports: those of the message it read
/// (attached at send time, or not), or, for a read that took no message
/// (a stream EOF), the read's own zeroed cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvCred {
    /// No message was read: `{0, 0, 0}`.
    NoMessage,
    /// The message's credentials (`None`: none attached, `{0, -1, -1}`).
    Message(Option<SkbCred>),
}

/// `overflowuid`/`overflowgid`: what an invalid id reads as.
pub const OVERFLOW_ID: u32 = 65534;
/// `INVALID_UID`.
const INVALID_ID: u32 = u32::MAX;

impl Kernel {
    /// `scm_send` / `__scm_send`: parse the control buffer of a `sendmsg`
    /// by `pid`, in the kernel's order. Runs only when `msg_controllen > 0`.
    pub(crate) fn scm_send(&self, pid: RawPid, control: &[u8]) -> SysResult<ScmCookie> {
        crate::path::step("__scm_send");
        let mut cookie = ScmCookie::default();
        if control.is_empty() {
            return Ok(cookie);
        }
        match self.scm_parse(pid, control, &mut cookie) {
            Ok(()) => {
                if !cookie.fp.is_empty() {
                    // unix_prepare_fpl → unix_schedule_gc(user)
                    if let Some(user) = &cookie.user {
                        self.unix_schedule_gc_for(user);
                    }
                }
                Ok(cookie)
            }
            Err(e) => {
                self.scm_destroy(cookie);
                Err(e)
            }
        }
    }

    fn scm_parse(&self, pid: RawPid, control: &[u8], cookie: &mut ScmCookie) -> SysResult<()> {
        for cmsg in kernel_cmsgs(control) {
            let cmsg = cmsg?;
            if cmsg.level != SOL_SOCKET {
                continue;
            }
            match cmsg.ty {
                SCM_RIGHTS => self.scm_fp_copy(pid, cmsg.data, cookie)?,
                SCM_CREDENTIALS => {
                    if cmsg.cmsg_len != crate::abi::cmsg::cmsg_len(Ucred::SIZE) as u64 {
                        crate::path::note(|| {
                            format!(
                                "cmsg_len {}, CMSG_LEN(12) {}",
                                cmsg.cmsg_len,
                                crate::abi::cmsg::cmsg_len(Ucred::SIZE)
                            )
                        });
                        return Err(Errno::EINVAL.why(rule!(
                            __scm_send,
                            "SCM_CREDENTIALS cmsg_len != CMSG_LEN(sizeof(struct ucred))"
                        )));
                    }
                    let c = Ucred::parse(cmsg.data).ok_or(Errno::EINVAL.why(rule!(
                        __scm_send,
                        "cmsg_len != CMSG_LEN(sizeof(struct ucred))"
                    )))?;
                    self.scm_check_creds(pid, &c)?;
                    if !self.pid_alive(c.pid) {
                        crate::path::note(|| format!("pid {} is not alive", c.pid));
                        return Err(
                            Errno::ESRCH.why(rule!(__scm_send, "find_get_pid: no such pid"))
                        );
                    }
                    cookie.creds = Some(ScmCreds {
                        pid: c.pid,
                        uid: c.uid,
                        gid: c.gid,
                    });
                }
                ty => {
                    crate::path::note(|| format!("cmsg_type {ty}"));
                    return Err(
                        Errno::EINVAL.why(rule!(__scm_send, "unknown SOL_SOCKET cmsg type"))
                    );
                }
            }
        }
        Ok(())
    }

    // scm_fp_copy: take a reference to each file, in order.
    fn scm_fp_copy(&self, pid: RawPid, data: &[u8], cookie: &mut ScmCookie) -> SysResult<()> {
        let ScmCookie {
            fp,
            user,
            inflight_max,
            ..
        } = cookie;
        crate::path::step("scm_fp_copy");
        let num = data.len() / 4;
        if num == 0 {
            return Ok(());
        }
        if fp.len() + num > SCM_MAX_FD {
            crate::path::note(|| format!("{} fds > SCM_MAX_FD 253", fp.len() + num));
            return Err(if num > SCM_MAX_FD {
                Errno::EINVAL.why(rule!(
                    scm_fp_copy,
                    "more than SCM_MAX_FD (253) fds in one cmsg"
                ))
            } else {
                Errno::EINVAL.why(rule!(
                    scm_fp_copy,
                    "more than SCM_MAX_FD (253) fds in one message"
                ))
            });
        }
        // kmalloc of the scm_fp_list
        if fp.is_empty() && self.fault(crate::fault::FaultPoint::ScmFpCopy, pid) {
            return Err(crate::fault::FaultPoint::ScmFpCopy.error());
        }
        // fget_raw of each fd, under one hold of the table's lock.
        fp.reserve(num);
        let ebadf = || Errno::EBADF.why(rule!(scm_fp_copy, "fget_raw: fd not open"));
        self.procs
            .with(pid, |p| {
                if user.is_none() {
                    *user = Some(Arc::clone(&p.user));
                    let c = &p.cred;
                    let privileged =
                        c.capable(Capability::SysResource) || c.capable(Capability::SysAdmin);
                    *inflight_max = if privileged { u64::MAX } else { p.nofile };
                }
                let t = p.fd_table();
                for (i, chunk) in data.chunks_exact(4).enumerate() {
                    let fd = i32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
                    let e = t.lookup(fd).ok_or_else(|| {
                        crate::path::note(|| format!("rights[{i}] is fd {fd}, not open"));
                        ebadf()
                    })?;
                    fp.push(self.fget(&e.file));
                }
                Ok(())
            })
            .unwrap_or_else(|| Err(ebadf()))
    }

    // scm_check_creds
    fn scm_check_creds(&self, pid: RawPid, c: &Ucred) -> SysResult<()> {
        if c.uid == INVALID_ID || c.gid == INVALID_ID {
            crate::path::note(|| format!("claimed uid {} gid {}", c.uid as i32, c.gid as i32));
            return Err(Errno::EINVAL.why(rule!(scm_check_creds, "uid/gid does not map (-1)")));
        }
        let p = self.proc(pid)?;
        let cred = &p.cred;
        let pid_ok = c.pid == pid || cred.capable(Capability::SysAdmin);
        let uid_ok =
            [cred.uid, cred.euid, cred.suid].contains(&c.uid) || cred.capable(Capability::SetUid);
        let gid_ok =
            [cred.gid, cred.egid, cred.sgid].contains(&c.gid) || cred.capable(Capability::SetGid);
        if !(pid_ok && uid_ok && gid_ok) {
            crate::path::note(|| {
                format!(
                    "claimed pid {} uid {} gid {}; the sender is pid {pid}, uid/euid/suid {}/{}/{}, gid/egid/sgid {}/{}/{}",
                    c.pid, c.uid, c.gid, cred.uid, cred.euid, cred.suid, cred.gid, cred.egid, cred.sgid
                )
            });
        }
        if !pid_ok {
            return Err(Errno::EPERM.why(rule!(
                scm_check_creds,
                "pid is not the sender's and no CAP_SYS_ADMIN"
            )));
        }
        if !uid_ok {
            return Err(Errno::EPERM.why(rule!(
                scm_check_creds,
                "uid not among uid/euid/suid and no CAP_SETUID"
            )));
        }
        if !gid_ok {
            return Err(Errno::EPERM.why(rule!(
                scm_check_creds,
                "gid not among gid/egid/sgid and no CAP_SETGID"
            )));
        }
        Ok(())
    }

    /// `scm_destroy`: drop every file reference the cookie holds.
    pub(crate) fn scm_destroy(&self, cookie: ScmCookie) {
        for f in cookie.fp {
            self.fput(f);
        }
    }

    /// `scm_recv_unix`: write credentials, install passed files, write
    /// `SCM_PIDFD`, into a control buffer of `controllen` bytes (after the
    /// receive timestamps of `tstamp`, which the datagram receive writes
    /// first). `fds` are
    /// references the caller hands over (consumed or duplicated from the
    /// message); whatever is not installed is dropped here.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn scm_recv_unix(
        &self,
        pid: RawPid,
        controllen: usize,
        flags: i32,
        tstamp: Option<&crate::time::RecvStamp>,
        passcred: bool,
        passpidfd: bool,
        cred: RecvCred,
        fds: FpList,
        inq: Option<i32>,
        msg_flags: &mut i32,
    ) -> Vec<u8> {
        crate::path::step("scm_recv_unix");
        if controllen == 0 {
            if tstamp.is_some() || passcred || passpidfd || !fds.is_empty() || inq.is_some() {
                *msg_flags |= MSG_CTRUNC;
            }
            for f in fds {
                self.fput(f);
            }
            return Vec::new();
        }
        let mut w = ControlWriter::new(controllen);
        // __sock_recv_timestamp writes before scm_recv_unix's messages.
        if let Some(stamp) = tstamp {
            let (ty, ts) = stamp.timestamp();
            w.put(SOL_SOCKET, ty, &ts);
            if let Some((ty, ts)) = stamp.timestamping() {
                w.put(SOL_SOCKET, ty, &ts);
            }
        }
        let cred_pid = match cred {
            RecvCred::Message(Some(c)) => c.pid,
            _ => None,
        };
        if passcred {
            let (pid_v, uid, gid) = match cred {
                RecvCred::Message(Some(c)) => (c.pid.unwrap_or(0), munge(c.uid), munge(c.gid)),
                RecvCred::Message(None) => (0, OVERFLOW_ID, OVERFLOW_ID),
                RecvCred::NoMessage => (0, 0, 0),
            };
            let u = Ucred {
                pid: pid_v,
                uid,
                gid,
            };
            w.put(SOL_SOCKET, SCM_CREDENTIALS, &u.to_bytes());
        }
        if !fds.is_empty() {
            self.scm_detach_fds(pid, &mut w, flags, fds);
        }
        if passpidfd {
            self.scm_pidfd_recv(pid, &mut w, cred_pid);
        }
        if let Some(inq) = inq {
            w.put(SOL_SOCKET, SCM_INQ, &inq.to_ne_bytes());
        }
        if w.ctrunc() {
            *msg_flags |= MSG_CTRUNC;
        }
        w.into_bytes()
    }

    // scm_detach_fds: install as many as fit, stop at the first failure,
    // drop the rest, MSG_CTRUNC if any was not installed.
    fn scm_detach_fds(&self, pid: RawPid, w: &mut ControlWriter, flags: i32, fds: FpList) {
        crate::path::step("scm_detach_fds");
        let count = fds.len();
        let fdmax = w.rights_room().min(count);
        let cloexec = flags & MSG_CMSG_CLOEXEC != 0;
        // The fds installed: on the stack for a few (most messages), as
        // the kernel writes each straight to the user's buffer.
        let mut room: smallvec::SmallVec<[i32; 16]> = smallvec::smallvec![0; fdmax];
        let mut n = 0;
        let mut rest = fds.into_iter();
        if self.security.is_none() {
            // No hook to call between two: every fd under one hold of the
            // table's lock (receive_fd → get_unused_fd_flags + fd_install).
            n = self.fd_install_many(pid, &mut rest, cloexec, &mut room);
        } else {
            for slot in room.iter_mut() {
                let Some(f) = rest.next() else { break };
                if self
                    .lsm(pid, |sec, task| sec.file_receive(task, FileRef(&f)))
                    .is_err()
                {
                    self.fput(f);
                    break;
                }
                if self.fault(crate::fault::FaultPoint::ReceiveFd, pid) {
                    self.fput(f);
                    break;
                }
                match self.fd_install(pid, f, cloexec) {
                    Ok(fd) => {
                        *slot = fd;
                        n += 1;
                    }
                    Err(_) => break, // fd_install dropped f
                }
            }
        }
        let installed = room.get(..n).unwrap_or_default();
        let leftover: Vec<Arc<File>> = rest.collect();
        crate::path::note(|| {
            let dropped = count - installed.len();
            if dropped == 0 {
                format!("installed {} fds {installed:?}", installed.len())
            } else {
                format!(
                    "installed {} of {count} fds {installed:?}: MSG_CTRUNC",
                    installed.len()
                )
            }
        });
        if !installed.is_empty() {
            w.put_rights(installed);
        }
        if installed.len() < count || (count > 0 && fdmax == 0) {
            w.set_ctrunc();
        }
        for f in leftover {
            self.fput(f);
        }
    }

    // scm_pidfd_recv
    fn scm_pidfd_recv(&self, pid: RawPid, w: &mut ControlWriter, sender: Option<RawPid>) {
        // The room is checked before the pid: no room is MSG_CTRUNC even
        // when there is no pid to report.
        if w.remaining() < crate::abi::cmsg::cmsg_len(4) {
            w.set_ctrunc();
            return;
        }
        let Some(target) = sender else { return };
        let known = self.pid_known(target);
        let v = if !known {
            -Errno::ESRCH.raw()
        } else {
            match self.pidfd_install(pid, target) {
                Ok(fd) => fd,
                Err(e) => -e.raw(),
            }
        };
        w.put(SOL_SOCKET, SCM_PIDFD, &v.to_ne_bytes());
    }
}

/// `from_kuid_munged`: an invalid id reads as the overflow id.
fn munge(id: u32) -> u32 {
    if id == INVALID_ID {
        OVERFLOW_ID
    } else {
        id
    }
}

#[cfg(test)]
mod tests {
    use super::FpList;
    use crate::fs::file::FileKind;

    /// An fp list keeps its files in order whatever its size, however it
    /// was grown (pushed one by one, reserved first, collected), and gives
    /// each back by value exactly once.
    #[test]
    fn an_fp_list_keeps_its_files_in_order() {
        let w = crate::World::new();
        let k = w.kernel();
        for n in 0..5 {
            let files: Vec<_> = (0..n)
                .map(|_| k.alloc_file(FileKind::Null, false))
                .collect();
            for reserve in [0, 1, n] {
                let mut pushed = FpList::default();
                pushed.reserve(reserve);
                for f in &files {
                    pushed.push(std::sync::Arc::clone(f));
                }
                let collected: FpList = files.iter().cloned().collect();
                for list in [pushed, collected] {
                    assert_eq!(list.len(), n);
                    assert!(list
                        .iter()
                        .zip(&files)
                        .all(|(a, b)| std::sync::Arc::ptr_eq(a, b)));
                    let back: Vec<_> = list.into_iter().collect();
                    assert_eq!(back.len(), n);
                    assert!(back
                        .iter()
                        .zip(&files)
                        .all(|(a, b)| std::sync::Arc::ptr_eq(a, b)));
                }
            }
            for f in files {
                k.fput(f);
            }
        }
        assert_eq!(w.open_files(), 0);
    }
}
