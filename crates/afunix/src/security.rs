//! The LSM hook points of the socket layer (`security/security.c`), as a
//! trait whose default allows everything. A sandbox or a test installs its
//! own policy with [`crate::World::with_security`] to make a call fail the
//! way an LSM would.

use crate::errno::SysResult;
use crate::process::Pid;

/// Policy hooks, called at the points where Linux calls its LSM hooks.
pub trait Security: Send {
    /// `security_socket_sendmsg`, from `sock_sendmsg`.
    fn socket_sendmsg(&self, _pid: Pid, _len: usize) -> SysResult<()> {
        Ok(())
    }
    /// `security_socket_recvmsg`, from `sock_recvmsg`.
    fn socket_recvmsg(&self, _pid: Pid, _len: usize) -> SysResult<()> {
        Ok(())
    }
    /// `security_unix_may_send`, for datagram sends (`unix_dgram_sendmsg`).
    fn unix_may_send(&self, _pid: Pid) -> SysResult<()> {
        Ok(())
    }
    /// `security_unix_stream_connect`, from `unix_stream_connect`.
    fn unix_stream_connect(&self, _pid: Pid) -> SysResult<()> {
        Ok(())
    }
    /// `security_file_receive`, for each fd installed by `scm_detach_fds`;
    /// a denial stops the installation (the rest are dropped, `MSG_CTRUNC`).
    fn file_receive(&self, _pid: Pid) -> SysResult<()> {
        Ok(())
    }
}

/// The default policy: allow everything (no LSM).
#[derive(Debug, Default)]
pub struct AllowAll;

impl Security for AllowAll {}
