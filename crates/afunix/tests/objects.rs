//! The socket objects (`afunix::net::{UnixDatagram, UnixStream,
//! UnixListener, OwnedFd}`): each method is the calls it names, and the
//! objects own their fds (closed on drop, nothing leaked). The same
//! sequences run against the host kernel through `std::os::unix::net` in
//! `afunix-host/tests/objects_vs_std.rs`.

use afunix::abi::sockaddr::UnixAddr;
use afunix::net::{OwnedFd, UnixDatagram, UnixListener, UnixStream};
use afunix::{Errno, Error, TaskSpec, World};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;

#[test]
fn a_memfd_travels_to_another_process_and_every_fd_is_closed_on_drop() {
    let w = World::new();
    let parent = w.spawn(&TaskSpec::default());
    // fds 0-2 of a new process are one open file (/dev/null's).
    let stdio = w.open_files();
    {
        let srv = UnixDatagram::bind(&w, parent, &UnixAddr::abstract_name("objects")).unwrap();
        let child = w.fork(parent).unwrap();
        let cli = UnixDatagram::unbound(&w, child).unwrap();
        let f = OwnedFd::memfd(&w, child, b"payload").unwrap();
        assert_eq!(
            cli.send_to_with_fds(b"m", &UnixAddr::abstract_name("objects"), &[f.fd()])
                .unwrap(),
            1
        );
        drop(f);
        let mut buf = [0u8; 8];
        let (n, fds) = srv.recv_with_fds(&mut buf).unwrap();
        assert_eq!((&buf[..n], fds.len()), (&b"m"[..], 1));
        assert_eq!(fds[0].pid(), parent);
        let mut s = Vec::new();
        fds[0].as_file().read_to_end(&mut s).unwrap();
        assert_eq!(s, b"payload");
        // An unbound sender without SO_PASSCRED stays unnamed.
        cli.send_to(b"x", &UnixAddr::abstract_name("objects"))
            .unwrap();
        assert_eq!(srv.recv_from(&mut buf).unwrap(), (1, UnixAddr::Unnamed));
        w.exit(child).unwrap();
    }
    // Every object is gone: the fds are closed, the memfd and both sockets freed.
    assert_eq!(w.open_files(), stdio);
    assert_eq!(w.socket_objects(), 0);
}

#[test]
fn a_stream_reads_and_writes_through_std_io_and_sees_eof_after_shutdown() {
    let w = World::new();
    let p = w.spawn(&TaskSpec::default());
    let l = UnixListener::bind(&w, p, &UnixAddr::path("srv")).unwrap();
    let mut c = UnixStream::connect(&w, p, &UnixAddr::path("srv")).unwrap();
    let (mut s, addr) = l.accept().unwrap();
    assert_eq!(addr, UnixAddr::Unnamed);
    assert_eq!(c.peer_addr().unwrap(), UnixAddr::path("srv"));
    assert_eq!(s.local_addr().unwrap(), UnixAddr::path("srv"));
    c.write_all(b"hello, ").unwrap();
    c.write_all(b"world").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).unwrap();
    assert_eq!(got, "hello, world");
    // The credentials of the connecting process, as SO_PEERCRED reports them.
    let cred = s.peer_cred().unwrap();
    assert_eq!((cred.uid, cred.gid), (1000, 1000));
    // Writing to a peer that shut down reading is EPIPE, without SIGPIPE.
    s.shutdown(Shutdown::Read).unwrap();
    let e = c.send(b"x");
    assert!(
        matches!(
            e,
            Err(Error {
                errno: Errno::EPIPE,
                ..
            })
        ),
        "{e:?}"
    );
    let io = c.write(b"x").unwrap_err();
    assert_eq!(io.kind(), std::io::ErrorKind::BrokenPipe);
    assert!(!w.take_sigpipe(p));
}

#[test]
fn nonblocking_and_timeouts_answer_as_linux() {
    let w = World::new();
    let p = w.spawn(&TaskSpec::default());
    let (a, b) = UnixStream::pair(&w, p).unwrap();
    a.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 4];
    let e = a.recv(&mut buf).unwrap_err();
    assert_eq!(e.errno, Errno::EAGAIN);
    // A read timeout rounds to jiffies (HZ=250) and a blocked read times out
    // with EAGAIN.
    b.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    assert_eq!(b.read_timeout().unwrap(), Some(Duration::from_millis(12)));
    assert_eq!(b.recv(&mut buf).unwrap_err().errno, Errno::EAGAIN);
    b.set_read_timeout(None).unwrap();
    assert_eq!(b.read_timeout().unwrap(), None);
    // A Some under a microsecond is still a timeout, not "none".
    b.set_read_timeout(Some(Duration::ZERO)).unwrap();
    assert!(b.read_timeout().unwrap().is_some());
    // Connecting to a name nobody bound.
    let e = UnixStream::connect(&w, p, &UnixAddr::path("nobody")).unwrap_err();
    assert_eq!(e.errno, Errno::ENOENT);
    let e = UnixStream::connect(&w, p, &UnixAddr::abstract_name("nobody")).unwrap_err();
    assert_eq!(e.errno, Errno::ECONNREFUSED);
    drop((a, b));
    // The failed connects closed their sockets.
    assert_eq!(w.socket_objects(), 0);
}

#[test]
fn a_blocked_accept_and_recv_wake_when_another_thread_connects_and_sends() {
    let w = World::new();
    let p = w.spawn(&TaskSpec::default());
    let l = UnixListener::bind(&w, p, &UnixAddr::abstract_name("threads")).unwrap();
    std::thread::scope(|t| {
        let server = t.spawn(|| {
            let mut conn = l.incoming().next().unwrap().unwrap();
            let mut buf = [0u8; 5];
            conn.read_exact(&mut buf).unwrap();
            buf
        });
        let mut c = UnixStream::connect(&w, p, &UnixAddr::abstract_name("threads")).unwrap();
        c.write_all(b"ready").unwrap();
        assert_eq!(&server.join().unwrap(), b"ready");
    });
}

#[test]
fn seqpacket_keeps_records_and_fds_are_cut_without_room() {
    let w = World::new();
    let p = w.spawn(&TaskSpec::default());
    let stdio = w.open_files();
    let (a, b) = UnixStream::seqpacket_pair(&w, p).unwrap();
    let f = OwnedFd::memfd(&w, p, b"z").unwrap();
    a.send_with_fds(b"one", &[f.fd()]).unwrap();
    a.send(b"two").unwrap();
    let mut buf = [0u8; 16];
    // No room for control data: the fd is dropped (MSG_CTRUNC), the record kept.
    assert_eq!(b.peek(&mut buf).unwrap(), 3);
    assert_eq!(b.recv(&mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"one");
    assert_eq!(b.recv(&mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"two");
    drop(f);
    // The dropped fd's file was released with the message.
    assert_eq!(w.open_files(), stdio + 2);
    // An fd handed over by into_raw stays open until closed by hand.
    let g = OwnedFd::memfd(&w, p, b"").unwrap().try_clone().unwrap();
    let raw = g.into_raw();
    assert_eq!(w.open_files(), stdio + 3);
    w.close(p, raw).unwrap();
    assert_eq!(w.open_files(), stdio + 2);
    // A socket object made from an fd that is not a socket answers ENOTSOCK.
    let not_sock: UnixStream<'_> = OwnedFd::memfd(&w, p, b"").unwrap().into_socket();
    assert_eq!(not_sock.send(b"x").unwrap_err().errno, Errno::ENOTSOCK);
}

/// `World::send_with_fds` sends what a `CmsgBuilder` control buffer sends
/// (one SCM_RIGHTS message, padded to CMSG_SPACE), whether it builds the
/// message on the stack (up to 8 fds) or on the heap: the same files, in
/// order, and the same control bytes back.
#[test]
fn send_with_fds_sends_what_a_built_control_buffer_sends() {
    use afunix::abi::cmsg::{cmsg_space, CmsgBuilder};
    use afunix::abi::consts::SOCK_DGRAM;
    use afunix::net::socket::MsgHdr;
    let w = World::new();
    let p = w.spawn(&TaskSpec::default());
    let [a, b] = w.socketpair(p, SOCK_DGRAM).unwrap();
    let before = w.open_files();
    for n in [1, 7, 8, 9, 20] {
        let files: Vec<afunix::Fd> = (0..n as u8).map(|i| w.memfd(p, &[i]).unwrap()).collect();
        let sent = &files[..];
        let control = CmsgBuilder::new().rights(sent).finish();
        let msg = MsgHdr {
            name: None,
            iov: Some(b"x"),
            control: &control,
        };
        w.sendmsg(p, a, &msg, 0).unwrap();
        w.send_with_fds(p, a, b"x", sent).unwrap();
        let built = w.recvmsg(p, b, 4, cmsg_space(4 * 253), 0).unwrap();
        let ours = w.recvmsg(p, b, 4, cmsg_space(4 * 253), 0).unwrap();
        assert_eq!(ours.control.len(), built.control.len(), "{n} fds");
        assert_eq!(ours.flags, built.flags, "{n} fds");
        let (ours, built) = (ours.rights(), built.rights());
        assert_eq!(ours.len(), n);
        for ((o, b), i) in ours.iter().zip(&built).zip(0u8..) {
            assert_eq!(w.read(p, *o, 4).unwrap(), [i], "{n} fds");
            assert_eq!(
                w.read(p, *b, 4).unwrap(),
                Vec::<u8>::new(),
                "{n} fds: shared offset"
            );
            w.close(p, *o).unwrap();
            w.close(p, *b).unwrap();
        }
        for f in files {
            w.close(p, f).unwrap();
        }
    }
    assert_eq!(w.open_files(), before);
}
