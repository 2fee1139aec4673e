//! Helpers both host-test files use: a root task, one call run to its
//! reply, and control-buffer builders.

#![allow(dead_code)]

use afunix::Errno;
use afunix_backend::backend::{Backend, Call, Out, Progress, Reply, TaskSpec};
use afunix_host::HostBackend;
use std::time::Duration;

/// How long one call may take before a test calls it blocked.
pub const T: Duration = Duration::from_secs(2);

pub fn root() -> TaskSpec {
    TaskSpec {
        uid: 0,
        gid: 0,
        groups: vec![0],
        nofile: 1024,
        ..TaskSpec::default()
    }
}

pub fn call(b: &mut HostBackend, id: usize, c: Call) -> Reply {
    b.start(id, c).expect("start");
    match b.wait(id, T).expect("wait") {
        Progress::Done(r) => r,
        Progress::Blocked => panic!("call blocked"),
    }
}

pub fn ok(r: Reply) -> (i64, Out) {
    match r.ret {
        Ok(v) => (v, r.out),
        Err(e) => panic!("unexpected {e:?}"),
    }
}

pub fn errno(r: Reply) -> Errno {
    r.ret.expect_err("expected an error").errno
}

pub fn cmsg(level: i32, ty: i32, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((16 + data.len()) as u64).to_ne_bytes());
    v.extend_from_slice(&level.to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(data);
    while v.len() % 8 != 0 {
        v.push(0);
    }
    v
}

pub fn ints(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|i| i.to_ne_bytes()).collect()
}
