//! `fs/read_write.c`: `read` and `write` on any file: sockets go to the
//! socket layer, pipes to `fs/pipe.c`, memfds and regular files to their
//! content (`shmem`, bounded by the world's memory for files).

use crate::errno::Errno;
use crate::fs::file::{File, FileKind};
use crate::net::unix::stream::StreamProgress;
use crate::process::RawPid;
use crate::world::Kernel;
use crate::world::{lock, Fail, KResult, Wait};
use std::sync::Arc;

impl Kernel {
    /// `vfs_read` on a file the caller holds (`ksys_read` has done
    /// `fdget_pos`).
    pub(crate) fn file_read(
        &self,
        pid: RawPid,
        f: &Arc<File>,
        len: usize,
        pr: &mut StreamProgress,
    ) -> KResult<Vec<u8>> {
        match &f.kind {
            FileKind::Null => Ok(Vec::new()),
            FileKind::Memfd(m) => {
                let mut m = lock(m);
                let start = m.pos.min(m.data.len());
                let end = start.saturating_add(len).min(m.data.len());
                let out = m
                    .data
                    .as_slice()
                    .get(start..end)
                    .unwrap_or_default()
                    .to_vec();
                m.pos = m.pos.max(end);
                Ok(out)
            }
            FileKind::PipeRead(p) => {
                let mut g = lock(&p.inner);
                if len == 0 {
                    return Ok(Vec::new());
                }
                if g.is_empty() {
                    if g.writers == 0 {
                        return Ok(Vec::new());
                    }
                    if f.is_nonblock() {
                        crate::path::note(|| format!("0 bytes buffered, {} writers", g.writers));
                        return Err(Errno::EAGAIN
                            .why(rule!(pipe_read, "empty, O_NONBLOCK"))
                            .into());
                    }
                    return Err(Fail::Block(Wait::Pipe(Arc::clone(p), g.seq)));
                }
                // pipe_read: drain buffers in order while there is room.
                let mut out = Vec::new();
                while out.len() < len {
                    let Some(front) = g.bufs.front_mut() else {
                        break;
                    };
                    let n = (len - out.len()).min(front.len());
                    out.extend(front.drain(..n));
                    if front.is_empty() {
                        g.bufs.pop_front();
                    }
                }
                p.wake_locked(&mut g);
                Ok(out)
            }
            FileKind::PipeWrite(_) => Err(f
                .refused(Errno::EBADF.why(rule!(vfs_read, "the file is not open for reading")))
                .into()),
            FileKind::Regular(r) => {
                if !r.read {
                    return Err(f
                        .refused(Errno::EBADF.why(rule!(vfs_read, "file not open for reading")))
                        .into());
                }
                let data = lock(&r.data);
                let mut pos = lock(&r.pos);
                let start = (*pos).min(data.len());
                let end = start.saturating_add(len).min(data.len());
                let out = data.as_slice().get(start..end).unwrap_or_default().to_vec();
                *pos = (*pos).max(end);
                Ok(out)
            }
            FileKind::Dir => Err(f
                .refused(Errno::EISDIR.why(rule!(generic_read_dir, "a directory")))
                .into()),
            FileKind::External(..) => Err(f
                .refused(Errno::EINVAL.why(rule!(
                    vfs_read,
                    "an external file is read by its owner, not the model"
                )))
                .into()),
            FileKind::Path => Err(f
                .refused(Errno::EBADF.why(rule!(ksys_read, "fdget refuses an O_PATH fd")))
                .into()),
            // A pidfd is opened read-write but has no read operation.
            FileKind::Pidfd(_) => Err(f
                .refused(Errno::EINVAL.why(rule!(vfs_read, "a pidfd cannot be read")))
                .into()),
            // sock_read_iter: a zero-length read never reaches the protocol.
            FileKind::Socket(_) if len == 0 => Ok(Vec::new()),
            FileKind::Socket(s) => {
                let r = self.sock_recvmsg(pid, s, f, len, 0, 0, pr)?;
                Ok(r.data)
            }
        }
    }

    /// `vfs_write` on a file the caller holds.
    pub(crate) fn file_write(
        &self,
        pid: RawPid,
        f: &Arc<File>,
        bytes: &[u8],
        pr: &mut StreamProgress,
    ) -> KResult<usize> {
        match &f.kind {
            FileKind::Null => Ok(bytes.len()),
            FileKind::Memfd(m) => {
                let mut m = lock(m);
                let start = m.pos;
                let end = start
                    .checked_add(bytes.len())
                    .ok_or_else(|| crate::fs::shmem::past_largest_offset(start, bytes.len()))?;
                if end > crate::abi::consts::MAX_FILE_SIZE {
                    crate::path::note(|| {
                        let max = crate::abi::consts::MAX_FILE_SIZE;
                        format!("the file would end at {end} > {max}")
                    });
                    return Err(Errno::ENOSPC
                        .why(rule!(
                            shmem_get_folio_gfp,
                            "the memfd passes the world's memory for files"
                        ))
                        .into());
                }
                m.data.write_at(start, bytes)?;
                m.pos = end;
                Ok(bytes.len())
            }
            // pipe_write: a zero-length write returns before anything is checked.
            FileKind::PipeWrite(_) if bytes.is_empty() => Ok(0),
            FileKind::PipeWrite(p) => self.pipe_write(pid, f, p, bytes, pr),
            FileKind::PipeRead(_) => Err(f
                .refused(Errno::EBADF.why(rule!(vfs_write, "the file is not open for writing")))
                .into()),
            FileKind::Regular(r) => {
                if !r.write {
                    return Err(f
                        .refused(Errno::EBADF.why(rule!(vfs_write, "file not open for writing")))
                        .into());
                }
                let mut data = lock(&r.data);
                let mut pos = lock(&r.pos);
                let start = if r.append { data.len() } else { *pos };
                let end = start
                    .checked_add(bytes.len())
                    .filter(|e| *e <= crate::abi::consts::MAX_FILE_SIZE)
                    .ok_or(Errno::EFBIG.why(rule!(
                        generic_write_checks,
                        "past the world's file size limit"
                    )))?;
                data.write_at(start, bytes)?;
                *pos = end;
                Ok(bytes.len())
            }
            FileKind::Dir | FileKind::Path => Err(f
                .refused(Errno::EBADF.why(rule!(ksys_write, "not open for writing")))
                .into()),
            FileKind::External(..) => Err(f
                .refused(Errno::EINVAL.why(rule!(
                    vfs_write,
                    "an external file is written by its owner, not the model"
                )))
                .into()),
            FileKind::Pidfd(_) => Err(f
                .refused(Errno::EINVAL.why(rule!(vfs_write, "a pidfd cannot be written")))
                .into()),
            FileKind::Socket(s) => {
                let msg = crate::net::socket::MsgHdr {
                    name: None,
                    iov: Some(bytes),
                    control: &[],
                };
                self.sock_sendmsg(pid, s, f, &msg, 0, pr)
            }
        }
    }

    /// Drop what an unfinished stream call still holds. Every send and
    /// receive ends here, and almost always holds nothing: that check is
    /// inlined, the work is not.
    #[inline]
    pub(crate) fn progress_drop(&self, pr: &mut StreamProgress) {
        if pr.cookie.is_some() || !pr.fds.is_empty() {
            self.progress_put(pr);
        }
    }

    #[inline(never)]
    fn progress_put(&self, pr: &mut StreamProgress) {
        if let Some(c) = pr.cookie.take() {
            self.scm_destroy(c);
        }
        for f in std::mem::take(&mut pr.fds) {
            self.fput(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::errno::Errno;
    use crate::fs::file::FileKind;
    use crate::world::lock;
    use crate::{TaskSpec, World};

    /// A memfd is bounded by the world's memory for files: a write past
    /// it is `ENOSPC` (a full tmpfs), not an allocation that aborts.
    #[test]
    fn memfd_content_is_bounded() {
        let w = World::new();
        let p = w.spawn(&TaskSpec::default());
        let fd = w.memfd(p, b"abc").unwrap();
        let f = w.kernel().fdget(p.as_raw(), fd.as_raw()).unwrap();
        if let FileKind::Memfd(m) = &f.kind {
            lock(m).pos = crate::abi::consts::MAX_FILE_SIZE;
        }
        w.kernel().fput(f);
        let e = w.write(p, fd, b"x").unwrap_err();
        assert_eq!(e.errno, Errno::ENOSPC);
        assert_eq!(w.read(p, fd, 8).unwrap(), b"");
        // Below the bound a write still grows the file.
        let e2 = w.memfd(p, b"").unwrap();
        assert_eq!(w.write(p, e2, &[7u8; 100]).unwrap(), 100);
    }
}
