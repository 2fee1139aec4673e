//! `mm/memfd.c`: `memfd_create` (the content is `shmem`, grown in
//! `read_write`).

use crate::errno::SysResult;
use crate::fs::file::FileKind;
use crate::fs::file::Memfd;
use crate::fs::shmem::Pages;
use crate::process::RawPid;
use crate::world::Kernel;
use std::sync::Mutex;

impl Kernel {
    pub(crate) fn memfd(&self, pid: RawPid, content: &[u8]) -> SysResult<i32> {
        // memfd_create, then the write of its content (charged to the
        // world's memory for files first: ENOSPC leaves nothing behind).
        let mut data = Pages::new(&self.shmem);
        data.write_at(0, content)?;
        self.fd_reserve(pid, 1)?;
        let f = self.alloc_file(
            FileKind::Memfd(Box::new(Mutex::new(Memfd { data, pos: 0 }))),
            false,
        );
        self.fd_install(pid, f, false)
    }
}
