//! Pathname sockets on the real filesystem.
//!
//! A pathname `bind` makes a real socket inode at the path, as the caller
//! would (its working directory and root, its filesystem credentials and
//! umask): `ls`, `stat`, `unlink` by anyone see it. The kernel is the
//! oracle for the path walk (`ENOENT`, `ENOTDIR`, `EACCES`,
//! `EADDRINUSE`); the model's tree mirrors the inodes the run made, at the
//! absolute path the caller named, and is reconciled with the real tree on
//! every lookup (a real unlink or rename is followed).

use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// The filesystem identity of a caller.
#[derive(Clone, Debug)]
pub struct FsCred {
    /// `fsuid`.
    pub uid: u32,
    /// `fsgid`.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// `umask`.
    pub umask: u32,
}

/// Read the caller's filesystem identity from `/proc`.
pub fn fs_cred(tid: i32) -> Option<FsCred> {
    let s = crate::procfs::ProcStatus::read(tid)?;
    Some(FsCred {
        uid: s.uids[3],
        gid: s.gids[3],
        groups: s.groups,
        umask: s.umask,
    })
}

/// The path through which the supervisor reaches what the caller names:
/// `/proc/TGID/root/...` for an absolute path, `/proc/TGID/cwd/...` for a
/// relative one.
pub fn host_path(tgid: i32, p: &[u8]) -> PathBuf {
    let mut out = if p.first() == Some(&b'/') {
        format!("/proc/{tgid}/root").into_bytes()
    } else {
        format!("/proc/{tgid}/cwd/").into_bytes()
    };
    out.extend_from_slice(p);
    PathBuf::from(OsStr::from_bytes(&out))
}

/// The absolute path the caller names (its working directory joined).
pub fn abs_path(tgid: i32, p: &[u8]) -> Vec<u8> {
    if p.first() == Some(&b'/') {
        return p.to_vec();
    }
    let cwd = std::fs::read_link(format!("/proc/{tgid}/cwd")).unwrap_or_default();
    let mut out = cwd.as_os_str().as_bytes().to_vec();
    if out.last() != Some(&b'/') {
        out.push(b'/');
    }
    out.extend_from_slice(p);
    out
}

/// Run `f` on a thread of its own with the caller's filesystem
/// credentials (`setfsuid`, `setfsgid`, `setgroups` are per thread at the
/// system-call level; raw calls, so that the C library does not apply
/// them to every thread). Without privilege to take them (the supervisor
/// is not root), `f` runs as the supervisor.
pub fn as_caller<T: Send>(cred: &FsCred, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: raw id-changing syscalls on this thread only; the
            // groups array outlives the call.
            unsafe {
                libc::syscall(libc::SYS_setgroups, cred.groups.len(), cred.groups.as_ptr());
                libc::syscall(libc::SYS_setfsgid, cred.gid);
                libc::syscall(libc::SYS_setfsuid, cred.uid);
            }
            f()
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn cpath(p: &std::path::Path) -> Result<CString, i32> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| libc::EINVAL)
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Make a socket inode at `path` (run [`as_caller`]): bind a throwaway
/// unix socket there, then give it the caller's `0777 & ~umask`. The
/// inode's (device, number), or the errno the kernel's `bind` gave.
pub fn mknod_socket(path: &std::path::Path, umask: u32) -> Result<(u64, u64), i32> {
    let c = cpath(path)?;
    let bytes = c.as_bytes();
    // SAFETY: a socket we close below; `sa` is plain data, and the path
    // fits (checked).
    unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(last_errno());
        }
        let mut sa: libc::sockaddr_un = std::mem::zeroed();
        sa.sun_family = libc::AF_UNIX as u16;
        if bytes.len() >= sa.sun_path.len() {
            libc::close(fd);
            return Err(libc::ENAMETOOLONG);
        }
        for (d, s) in sa.sun_path.iter_mut().zip(bytes) {
            *d = *s as libc::c_char;
        }
        let len = (2 + bytes.len() + 1) as libc::socklen_t;
        let r = libc::bind(fd, (&sa as *const libc::sockaddr_un).cast(), len);
        let e = last_errno();
        libc::close(fd);
        if r < 0 {
            return Err(e);
        }
        libc::chmod(c.as_ptr(), 0o777 & !umask);
        let mut st: libc::stat = std::mem::zeroed();
        if libc::lstat(c.as_ptr(), &mut st) < 0 {
            return Err(last_errno());
        }
        Ok((st.st_dev, st.st_ino))
    }
}

/// What is at a path the caller connects to (run [`as_caller`]).
pub enum Found {
    /// A socket inode the caller may write to: (device, inode).
    Socket(u64, u64),
    /// Something else (`ECONNREFUSED`).
    NotSocket,
}

/// `unix_find_bsd`'s walk on the real tree: `kern_path`, then
/// `MAY_WRITE` on the inode, then `S_ISSOCK`.
pub fn find_socket(path: &std::path::Path) -> Result<Found, i32> {
    let c = cpath(path)?;
    // SAFETY: plain data filled by stat; a NUL-terminated path.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::stat(c.as_ptr(), &mut st) < 0 {
            return Err(last_errno());
        }
        // path_permission(MAY_WRITE) for the thread's filesystem ids
        // (AT_EACCESS: faccessat2 checks the current credentials).
        if libc::syscall(
            libc::SYS_faccessat2,
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::W_OK,
            libc::AT_EACCESS,
        ) < 0
        {
            return Err(last_errno());
        }
        if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
            return Ok(Found::NotSocket);
        }
        Ok(Found::Socket(st.st_dev, st.st_ino))
    }
}

/// `unlink(path)` (run [`as_caller`]); the errno on failure.
pub fn unlink(path: &std::path::Path) -> Result<(), i32> {
    let c = cpath(path)?;
    // SAFETY: a NUL-terminated path.
    if unsafe { libc::unlink(c.as_ptr()) } < 0 {
        return Err(last_errno());
    }
    Ok(())
}

/// The (device, inode) of what `path` names, not following a last symlink.
pub fn lstat_ino(path: &std::path::Path) -> Option<(u64, u64, u32)> {
    let c = cpath(path).ok()?;
    // SAFETY: plain data filled by lstat.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        (libc::lstat(c.as_ptr(), &mut st) == 0).then_some((st.st_dev, st.st_ino, st.st_mode))
    }
}
