//! The directory tree, path walk, regular files and O_PATH fds, against
//! the kernel's answers (scenarios 22, 23, 24, 36 transcribed, and the
//! path-walk family checked on Linux 6.18).

use afunix::abi::consts::*;
use afunix::abi::sockaddr::UnixAddr;
use afunix::abi::PollFlags;
use afunix::net::socket::MsgHdr;
use afunix::TaskSpec;
use afunix::{Errno, Fd, Pid, World};

fn sa(p: &str) -> Vec<u8> {
    UnixAddr::Pathname(p.as_bytes().to_vec()).to_sockaddr()
}

fn task(uid: u32, gid: u32, groups: Vec<u32>, umask: u32) -> TaskSpec {
    TaskSpec {
        uid,
        gid,
        groups,
        umask,
        ..TaskSpec::default()
    }
}

fn name(w: &World, pid: Pid, fd: Fd) -> UnixAddr {
    UnixAddr::from_sockaddr(&w.getsockname(pid, fd).unwrap())
}

fn send(
    w: &World,
    pid: Pid,
    fd: Fd,
    to: Option<&[u8]>,
    data: &[u8],
) -> Result<usize, afunix::Error> {
    w.sendmsg(
        pid,
        fd,
        &MsgHdr {
            name: to,
            iov: Some(data),
            control: &[],
        },
        0,
    )
}

#[test]
fn scenario_22_path_subdir_search() {
    let w = World::new();
    let s = w.spawn(&task(1000, 1000, vec![1000], 0));
    let c = w.spawn(&task(1001, 1001, vec![1001], 0o022));
    w.mkdir(s, b"srv", 0o700).unwrap();
    let l = w.socket(s, SOCK_STREAM).unwrap();
    w.bind(s, l, &sa("srv/sock")).unwrap();
    w.listen(s, l, 5).unwrap();
    assert_eq!(name(&w, s, l), UnixAddr::Pathname(b"srv/sock".to_vec()));
    let cs = w.socket(c, SOCK_STREAM).unwrap();
    assert_eq!(w.connect(c, cs, &sa("srv/sock")), Err(Errno::EACCES.into()));
    w.chmod(s, b"srv", 0o711).unwrap();
    w.connect(c, cs, &sa("srv/sock")).unwrap();
    assert_eq!(w.accept4(s, l, 0), Ok(Fd::from_raw(4)));
    assert_eq!(
        UnixAddr::from_sockaddr(&w.getpeername(c, cs).unwrap()),
        UnixAddr::Pathname(b"srv/sock".to_vec())
    );
}

#[test]
fn scenario_23_umask_socket_mode() {
    let w = World::new();
    let s = w.spawn(&task(1000, 1000, vec![1000], 0o002));
    let t = w.spawn(&TaskSpec::default());
    let g = w.spawn(&task(1001, 1001, vec![1001, 1000], 0o022));
    let l1 = w.socket(s, SOCK_STREAM).unwrap();
    w.bind(s, l1, &sa("group.sock")).unwrap();
    w.listen(s, l1, 1).unwrap();
    let l2 = w.socket(t, SOCK_STREAM).unwrap();
    w.bind(t, l2, &sa("owner.sock")).unwrap();
    w.listen(t, l2, 1).unwrap();
    let c = w.socket(g, SOCK_STREAM).unwrap();
    assert_eq!(
        w.connect(g, c, &sa("owner.sock")),
        Err(Errno::EACCES.into())
    );
    assert_eq!(w.connect(g, c, &sa("group.sock")), Ok(()));
}

#[test]
fn scenario_24_unlink_rebind() {
    let w = World::new();
    let a = w.spawn(&TaskSpec::default());
    let old = w.socket(a, SOCK_DGRAM).unwrap();
    w.bind(a, old, &sa("svc.sock")).unwrap();
    let new = w.socket(a, SOCK_DGRAM).unwrap();
    assert_eq!(
        w.bind(a, new, &sa("svc.sock")),
        Err(Errno::EADDRINUSE.into())
    );
    let c = w.socket(a, SOCK_DGRAM).unwrap();
    w.unlink(a, b"svc.sock").unwrap();
    let to = sa("svc.sock");
    assert_eq!(
        send(&w, a, c, Some(&to), b"lost"),
        Err(Errno::ENOENT.into())
    );
    assert_eq!(name(&w, a, old), UnixAddr::Pathname(b"svc.sock".to_vec()));
    w.bind(a, new, &to).unwrap();
    assert_eq!(send(&w, a, c, Some(&to), b"hello"), Ok(5));
    let r = w.recvmsg(a, new, 1024, 0, MSG_DONTWAIT).unwrap();
    assert_eq!(r.data, b"hello");
    assert_eq!(
        w.recvmsg(a, old, 1024, 0, MSG_DONTWAIT),
        Err(Errno::EAGAIN.into())
    );
    assert_eq!(name(&w, a, new), UnixAddr::Pathname(b"svc.sock".to_vec()));
}

#[test]
fn scenario_36_file_rights_offset() {
    use afunix::abi::cmsg::CmsgBuilder;
    let w = World::new();
    let a = w.spawn(&TaskSpec::default());
    let f = w
        .open(a, b"data.txt", O_RDWR | O_CREAT | O_EXCL, 0o644)
        .unwrap();
    assert_eq!(f, Fd::from_raw(3));
    assert_eq!(w.write(a, f, b"0123456789"), Ok(10));
    let [sa_, sb] = w.socketpair(a, SOCK_STREAM).unwrap();
    let pass = |fd: Fd| -> Fd {
        let control = CmsgBuilder::new().rights(&[fd]).finish();
        let msg = MsgHdr {
            name: None,
            iov: Some(b"f"),
            control: &control,
        };
        assert_eq!(w.sendmsg(a, sa_, &msg, 0), Ok(1));
        let r = w.recvmsg(a, sb, 16, 64, 0).unwrap();
        r.rights()[0]
    };
    let g = pass(f);
    assert_eq!(g, Fd::from_raw(6));
    assert_eq!(w.read(a, g, 3).unwrap(), b"");
    let h = w.open(a, b"data.txt", O_RDONLY, 0).unwrap();
    assert_eq!(h, Fd::from_raw(7));
    assert_eq!(w.read(a, h, 3).unwrap(), b"012");
    assert_eq!(w.write(a, g, b"AB"), Ok(2));
    assert_eq!(w.read(a, h, 20).unwrap(), b"3456789AB");
    let p = w.open(a, b"data.txt", O_PATH, 0).unwrap();
    assert_eq!(p, Fd::from_raw(8));
    let q = pass(p);
    assert_eq!(q, Fd::from_raw(9));
    assert_eq!(w.read(a, q, 1), Err(Errno::EBADF.into()));
    assert_eq!(w.get_fd_flags(a, q), Ok(0));
    assert_eq!(w.poll(a, q, POLLIN), Ok(PollFlags::NVAL));
    w.check_invariants().unwrap();
}

#[test]
fn path_walk_family() {
    let w = World::new();
    let a = w.spawn(&TaskSpec::default());
    let l = w.socket(a, SOCK_DGRAM).unwrap();
    w.bind(a, l, &sa("sock")).unwrap();
    let c = w.socket(a, SOCK_DGRAM).unwrap();
    assert_eq!(send(&w, a, c, Some(&sa("././sock")), b"x"), Ok(1));
    assert_eq!(
        send(&w, a, c, Some(&sa("sock/")), b"x"),
        Err(Errno::ENOTDIR.into())
    );
    assert_eq!(
        send(&w, a, c, Some(&sa("sock/x")), b"x"),
        Err(Errno::ENOTDIR.into())
    );
    assert_eq!(
        send(&w, a, c, Some(&sa("nope/x")), b"x"),
        Err(Errno::ENOENT.into())
    );
    assert_eq!(w.connect(a, c, &sa(".")), Err(Errno::ECONNREFUSED.into()));
    // bind over ., a directory, sock/ : EEXIST -> EADDRINUSE
    w.mkdir(a, b"d", 0o777).unwrap();
    let b = w.socket(a, SOCK_DGRAM).unwrap();
    for p in [".", "d", "sock/", "d/.."] {
        assert_eq!(w.bind(a, b, &sa(p)), Err(Errno::EADDRINUSE.into()), "{p}");
    }
    // d//s keeps its bytes
    w.bind(a, b, &sa("./d//s")).unwrap();
    assert_eq!(name(&w, a, b), UnixAddr::Pathname(b"./d//s".to_vec()));
    assert_eq!(send(&w, a, c, Some(&sa("d/s")), b"y"), Ok(1));
    // already bound: EINVAL, and nothing is left behind
    assert_eq!(w.bind(a, b, &sa("d/t")), Err(Errno::EINVAL.into()));
    assert_eq!(w.unlink(a, b"d/t"), Err(Errno::ENOENT.into()));
    // a directory or a regular file is not a socket
    assert_eq!(w.connect(a, c, &sa("d")), Err(Errno::ECONNREFUSED.into()));
    w.open(a, b"f", O_CREAT | O_WRONLY, 0o644).unwrap();
    assert_eq!(w.connect(a, c, &sa("f")), Err(Errno::ECONNREFUSED.into()));
    // wrong type
    let st = w.socket(a, SOCK_STREAM).unwrap();
    assert_eq!(w.connect(a, st, &sa("sock")), Err(Errno::EPROTOTYPE.into()));
    // open of a socket file
    assert_eq!(w.open(a, b"sock", O_RDONLY, 0), Err(Errno::ENXIO.into()));
    assert!(w.open(a, b"sock", O_PATH, 0).is_ok());
    assert_eq!(w.open(a, b"d", O_WRONLY, 0), Err(Errno::EISDIR.into()));
    assert_eq!(
        w.open(a, b"f", O_RDONLY | O_DIRECTORY, 0),
        Err(Errno::ENOTDIR.into())
    );
    assert_eq!(
        w.open(a, b"f", O_CREAT | O_EXCL, 0o644),
        Err(Errno::EEXIST.into())
    );
    assert_eq!(w.mkdir(a, b"d", 0o777), Err(Errno::EEXIST.into()));
    assert_eq!(w.unlink(a, b"d"), Err(Errno::EISDIR.into()));
}

#[test]
fn rename_then_connect_and_chmod_eperm() {
    let w = World::new();
    let a = w.spawn(&TaskSpec::default());
    let b = w.spawn(&task(1001, 1001, vec![1001], 0o022));
    let l = w.socket(a, SOCK_DGRAM).unwrap();
    w.bind(a, l, &sa("one")).unwrap();
    w.mkdir(a, b"d", 0o755).unwrap();
    w.rename(a, b"one", b"d/two").unwrap();
    let c = w.socket(a, SOCK_DGRAM).unwrap();
    assert_eq!(
        send(&w, a, c, Some(&sa("one")), b"x"),
        Err(Errno::ENOENT.into())
    );
    assert_eq!(send(&w, a, c, Some(&sa("d/two")), b"x"), Ok(1));
    assert_eq!(name(&w, a, l), UnixAddr::Pathname(b"one".to_vec()));
    assert_eq!(w.chmod(b, b"d/two", 0o777), Err(Errno::EPERM.into()));
    w.chmod(a, b"d/two", 0o777).unwrap();
    // close: the file stays, bind again is EADDRINUSE until unlinked
    w.close(a, l).unwrap();
    let n = w.socket(a, SOCK_DGRAM).unwrap();
    assert_eq!(w.bind(a, n, &sa("d/two")), Err(Errno::EADDRINUSE.into()));
    assert_eq!(
        send(&w, a, c, Some(&sa("d/two")), b"x"),
        Err(Errno::ECONNREFUSED.into())
    );
    w.unlink(a, b"d/two").unwrap();
    w.bind(a, n, &sa("d/two")).unwrap();
    // no write on d for b
    let s = w.socket(b, SOCK_DGRAM).unwrap();
    assert_eq!(w.bind(b, s, &sa("d/x")), Err(Errno::EACCES.into()));
    assert_eq!(w.unlink(b, b"d/two"), Err(Errno::EACCES.into()));
}

#[test]
fn regular_file_modes() {
    let w = World::new();
    let a = w.spawn(&TaskSpec::default());
    let f = w
        .open(a, b"f", O_CREAT | O_WRONLY | O_APPEND, 0o600)
        .unwrap();
    assert_eq!(w.write(a, f, b"abc"), Ok(3));
    assert_eq!(w.read(a, f, 1), Err(Errno::EBADF.into()));
    let r = w.open(a, b"f", O_RDONLY, 0).unwrap();
    assert_eq!(w.write(a, r, b"x"), Err(Errno::EBADF.into()));
    assert_eq!(w.ioctl(a, r, SIOCINQ), Ok(3));
    assert_eq!(w.write(a, f, b"de"), Ok(2));
    assert_eq!(w.read(a, r, 10).unwrap(), b"abcde");
    let t = w.open(a, b"f", O_WRONLY | O_TRUNC, 0).unwrap();
    assert_eq!(w.ioctl(a, t, SIOCINQ), Ok(0));
    assert_eq!(
        w.poll(a, r, POLLIN | POLLOUT),
        Ok(PollFlags::IN | PollFlags::OUT)
    );
    let o = w.spawn(&task(1001, 1001, vec![1001], 0o022));
    assert_eq!(w.open(o, b"f", O_RDONLY, 0), Err(Errno::EACCES.into()));
    w.check_invariants().unwrap();
}

// Checked on Linux 6.18: O_TRUNC asks MAY_WRITE (build_open_flags), so a
// directory is EISDIR and a read-only open truncates; O_CREAT with a
// trailing / is EISDIR before any lookup (open_last_lookups).
#[test]
fn open_trunc_and_creat_trailing_slash() {
    let w = World::new();
    let a = w.spawn(&TaskSpec::default());
    w.mkdir(a, b"d", 0o777).unwrap();
    assert_eq!(
        w.open(a, b"d", O_RDONLY | O_TRUNC, 0),
        Err(Errno::EISDIR.into())
    );
    let h = w.open(a, b"h", O_CREAT | O_WRONLY, 0o644).unwrap();
    assert_eq!(w.write(a, h, b"abcdef"), Ok(6));
    let r = w.open(a, b"h", O_RDONLY | O_TRUNC, 0).unwrap();
    assert_eq!(w.read(a, r, 10).unwrap(), b"");
    w.chmod(a, b"h", 0o444).unwrap();
    assert_eq!(
        w.open(a, b"h", O_RDONLY | O_TRUNC, 0),
        Err(Errno::EACCES.into())
    );
    assert_eq!(
        w.open(a, b"h/", O_CREAT | O_WRONLY, 0o644),
        Err(Errno::EISDIR.into())
    );
    assert_eq!(
        w.open(a, b"h/", O_CREAT | O_EXCL | O_WRONLY, 0o644),
        Err(Errno::EISDIR.into())
    );
    assert_eq!(
        w.open(a, b"g/", O_CREAT | O_WRONLY, 0o644),
        Err(Errno::EISDIR.into())
    );
}
