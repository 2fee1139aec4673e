//! `fs/pipe.c`: `pipe2` and writes into a pipe (reads are in
//! `read_write`).

use crate::errno::{Errno, SysResult};
use crate::fs::file::{File, FileKind};
use crate::fs::file::{Pipe, PipeInner, PIPE_PAGE};
use crate::net::unix::stream::StreamProgress;
use crate::process::RawPid;
use crate::world::Kernel;
use crate::world::{lock, Fail, KResult, Wait};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::Mutex;

impl Kernel {
    pub(crate) fn pipe2(&self, pid: RawPid, flags: i32) -> SysResult<[i32; 2]> {
        use crate::abi::consts::{O_CLOEXEC, O_NONBLOCK};
        if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
            crate::path::note(|| {
                let bad = flags & !(O_CLOEXEC | O_NONBLOCK);
                format!("flags {flags:#x}: bits {bad:#x} are neither O_CLOEXEC nor O_NONBLOCK")
            });
            return Err(Errno::EINVAL.why(rule!(pipe2, "unknown flags")));
        }
        self.fd_reserve(pid, 2)?;
        let pipe = Arc::new(Pipe {
            inner: Mutex::new(PipeInner {
                readers: 1,
                writers: 1,
                ..Default::default()
            }),
            wait: Default::default(),
        });
        // Registered for interrupt_all.
        self.pipes.add(&pipe);
        let nb = flags & O_NONBLOCK != 0;
        let cloexec = flags & O_CLOEXEC != 0;
        let rf = self.alloc_file(FileKind::PipeRead(Arc::clone(&pipe)), nb);
        let wf = self.alloc_file(FileKind::PipeWrite(pipe), nb);
        self.fd_install_pair(pid, rf, wf, cloexec)
    }

    // pipe_write: the head of the data merges into the last page when it
    // fits, the rest goes page by page; a blocking write loops until all is
    // written, re-reading O_NONBLOCK on every round (`pr.sent` carries what
    // was written across sleeps).
    pub(crate) fn pipe_write(
        &self,
        pid: RawPid,
        f: &File,
        p: &Arc<Pipe>,
        bytes: &[u8],
        pr: &mut StreamProgress,
    ) -> KResult<usize> {
        let total = bytes.len();
        let mut g = lock(&p.inner);
        let mut ret = pr.sent;
        if ret == 0 {
            if g.readers == 0 {
                drop(g);
                crate::path::note(|| "0 readers".to_string());
                self.raise_sigpipe(pid);
                return Err(Errno::EPIPE.why(rule!(pipe_write, "no reader")).into());
            }
            let chars = total & (PIPE_PAGE - 1);
            if chars > 0 {
                if let Some(last) = g.bufs.back_mut().filter(|b| b.len() + chars <= PIPE_PAGE) {
                    last.extend_from_slice(bytes.get(..chars).unwrap_or_default());
                    ret = chars;
                }
            }
        }
        loop {
            if ret == total {
                break;
            }
            if g.readers == 0 {
                drop(g);
                self.raise_sigpipe(pid);
                pr.sent = 0;
                if ret == 0 {
                    crate::path::note(|| {
                        "the pipe's last reader closed while the write waited".to_string()
                    });
                    return Err(Errno::EPIPE
                        .why(rule!(pipe_write, "the last reader went away"))
                        .into());
                }
                return Ok(ret);
            }
            if !g.is_full() {
                let n = (total - ret).min(PIPE_PAGE);
                let page = bytes.get(ret..ret + n).unwrap_or_default().to_vec();
                g.bufs.push_back(page);
                ret += n;
                continue;
            }
            if f.is_nonblock() {
                if ret == 0 {
                    crate::path::note(|| format!("{} bytes buffered, {total} to write", g.len()));
                    return Err(Errno::EAGAIN
                        .why(rule!(pipe_write, "full, O_NONBLOCK"))
                        .into());
                }
                break;
            }
            // Wake the readers, then sleep for room.
            p.wake_locked(&mut g);
            pr.sent = ret;
            return Err(Fail::Block(Wait::Pipe(Arc::clone(p), g.seq)));
        }
        p.wake_locked(&mut g);
        pr.sent = 0;
        Ok(ret)
    }

    /// `send_sig(SIGPIPE, current)`.
    pub(crate) fn raise_sigpipe(&self, pid: RawPid) {
        if let Ok(p) = self.proc(pid) {
            p.sigpipe.store(true, Ordering::SeqCst);
        }
    }
}
