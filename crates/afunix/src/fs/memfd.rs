//! `mm/memfd.c`: `memfd_create` (the content is `shmem`, grown in
//! `read_write`).

use crate::errno::SysResult;
use crate::fs::file::FileKind;
use crate::fs::file::Memfd;
use crate::process::RawPid;
use crate::world::Kernel;
use std::sync::Mutex;

impl Kernel {
    pub(crate) fn memfd(&self, pid: RawPid, content: &[u8]) -> SysResult<i32> {
        self.fd_reserve(pid, 1)?;
        let f = self.alloc_file(
            FileKind::Memfd(Box::new(Mutex::new(Memfd {
                data: content.to_vec(),
                pos: 0,
            }))),
            false,
        );
        self.fd_install(pid, f, false)
    }
}
