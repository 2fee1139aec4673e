//! The model's socket objects (`afunix::net`) against `std::os::unix::net`
//! on this machine's kernel: the same steps, written once for each, must
//! give the same answers (values, or the errno). The expected values are
//! whatever the host kernel answers, never written by hand.

use afunix::abi::sockaddr::UnixAddr;
use afunix::net::{UnixDatagram as MDgram, UnixListener as MListener, UnixStream as MStream};
use afunix::{TaskSpec, World};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener, UnixStream};
use std::time::Duration;

/// One step's answer: a value, or the errno.
type Out = Result<String, i32>;

fn io<T: std::fmt::Debug>(r: std::io::Result<T>) -> Out {
    r.map(|v| format!("{v:?}"))
        .map_err(|e| e.raw_os_error().unwrap_or(-1))
}

fn model<T: std::fmt::Debug>(r: afunix::SysResult<T>) -> Out {
    r.map(|v| format!("{v:?}")).map_err(|e| e.raw())
}

/// An abstract name unique to this run (the host's namespace is shared).
fn name(tag: &str) -> String {
    format!("afunix-objects-{}-{tag}", std::process::id())
}

/// std's address, printed as the model prints a `UnixAddr`.
fn std_addr(a: &SocketAddr) -> String {
    let m = if let Some(n) = a.as_abstract_name() {
        UnixAddr::abstract_name(n)
    } else if let Some(p) = a.as_pathname() {
        UnixAddr::path(p.as_os_str().as_encoded_bytes())
    } else {
        UnixAddr::Unnamed
    };
    format!("{m:?}")
}

fn on_host() -> Vec<(&'static str, Out)> {
    let abs = |t: &str| SocketAddr::from_abstract_name(name(t)).unwrap();
    let mut out = Vec::new();
    let l = UnixListener::bind_addr(&abs("srv")).unwrap();
    out.push((
        "bind twice",
        io(UnixListener::bind_addr(&abs("srv")).map(|_| ())),
    ));
    out.push((
        "connect to a missing path",
        io(UnixStream::connect("/afunix-no-such-dir/x").map(|_| ())),
    ));
    out.push((
        "connect to a missing abstract name",
        io(UnixStream::connect_addr(&abs("nobody")).map(|_| ())),
    ));
    let mut c = UnixStream::connect_addr(&abs("srv")).unwrap();
    let (mut s, from) = l.accept().unwrap();
    out.push(("accept's address", Ok(std_addr(&from))));
    out.push(("client's peer", Ok(std_addr(&c.peer_addr().unwrap()))));
    out.push(("accepted's name", Ok(std_addr(&s.local_addr().unwrap()))));
    out.push(("write", io(c.write(b"hello"))));
    out.push(("shutdown write", io(c.shutdown(Shutdown::Write))));
    let mut got = String::new();
    out.push(("read to eof", io(s.read_to_string(&mut got).map(|_| got))));
    out.push(("read after eof", io(s.read(&mut [0; 4]))));
    out.push(("shutdown read", io(s.shutdown(Shutdown::Read))));
    out.push(("write to a peer not reading", io(c.write(b"x"))));
    out.push(("shutdown 3", io(c.shutdown(Shutdown::Both))));

    let (mut a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    out.push(("nonblocking read", io(a.read(&mut [0; 4]).map(|_| ()))));
    b.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    out.push(("read timeout", io(b.read_timeout())));
    out.push(("timed-out read", io((&b).read(&mut [0; 4]))));
    b.set_write_timeout(Some(Duration::from_micros(1500)))
        .unwrap();
    out.push(("write timeout", io(b.write_timeout())));
    b.set_read_timeout(None).unwrap();
    out.push(("no read timeout", io(b.read_timeout())));
    out.push(("peer of a pair", io(a.peer_addr().map(|x| std_addr(&x)))));
    drop(b);
    out.push(("read from a closed pair", io(a.read(&mut [0; 4]))));

    let d = UnixDatagram::bind_addr(&abs("dgram")).unwrap();
    let u = UnixDatagram::unbound().unwrap();
    out.push(("send_to", io(u.send_to_addr(b"abc", &abs("dgram")))));
    let mut buf = [0; 2];
    out.push((
        "recv_from, cut",
        io(d.recv_from(&mut buf).map(|(n, a)| (n, buf, std_addr(&a)))),
    ));
    out.push(("send unconnected", io(u.send(b"x"))));
    out.push(("too big", io(u.send_to_addr(&[0; 300_000], &abs("dgram")))));
    out.push(("connect", io(u.connect_addr(&abs("dgram")))));
    out.push(("send connected", io(u.send(b"yz"))));
    out.push(("recv", io(d.recv(&mut [0; 8]))));
    d.set_nonblocking(true).unwrap();
    out.push(("recv empty", io(d.recv(&mut [0; 8]))));
    drop(d);
    out.push(("send to a closed peer", io(u.send(b"x"))));
    out
}

fn on_model() -> Vec<(&'static str, Out)> {
    let w = World::new();
    let p = w.spawn(&TaskSpec::default());
    let abs = |t: &str| UnixAddr::abstract_name(name(t));
    let addr = |a: UnixAddr| format!("{a:?}");
    let mut out = Vec::new();
    let l = MListener::bind(&w, p, &abs("srv")).unwrap();
    out.push((
        "bind twice",
        model(MListener::bind(&w, p, &abs("srv")).map(|_| ())),
    ));
    out.push((
        "connect to a missing path",
        model(MStream::connect(&w, p, &UnixAddr::path("no-such-dir/x")).map(|_| ())),
    ));
    out.push((
        "connect to a missing abstract name",
        model(MStream::connect(&w, p, &abs("nobody")).map(|_| ())),
    ));
    let mut c = MStream::connect(&w, p, &abs("srv")).unwrap();
    let (mut s, from) = l.accept().unwrap();
    out.push(("accept's address", Ok(addr(from))));
    out.push(("client's peer", Ok(addr(c.peer_addr().unwrap()))));
    out.push(("accepted's name", Ok(addr(s.local_addr().unwrap()))));
    out.push(("write", io(c.write(b"hello"))));
    out.push(("shutdown write", model(c.shutdown(Shutdown::Write))));
    let mut got = String::new();
    out.push(("read to eof", io(s.read_to_string(&mut got).map(|_| got))));
    out.push(("read after eof", io(s.read(&mut [0; 4]))));
    out.push(("shutdown read", model(s.shutdown(Shutdown::Read))));
    out.push(("write to a peer not reading", io(c.write(b"x"))));
    out.push(("shutdown 3", model(c.shutdown(Shutdown::Both))));

    let (mut a, b) = MStream::pair(&w, p).unwrap();
    a.set_nonblocking(true).unwrap();
    out.push(("nonblocking read", io(a.read(&mut [0; 4]).map(|_| ()))));
    b.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    out.push(("read timeout", model(b.read_timeout())));
    out.push(("timed-out read", io((&b).read(&mut [0; 4]))));
    b.set_write_timeout(Some(Duration::from_micros(1500)))
        .unwrap();
    out.push(("write timeout", model(b.write_timeout())));
    b.set_read_timeout(None).unwrap();
    out.push(("no read timeout", model(b.read_timeout())));
    out.push(("peer of a pair", model(a.peer_addr().map(addr))));
    drop(b);
    out.push(("read from a closed pair", io(a.read(&mut [0; 4]))));

    let d = MDgram::bind(&w, p, &abs("dgram")).unwrap();
    let u = MDgram::unbound(&w, p).unwrap();
    out.push(("send_to", model(u.send_to(b"abc", &abs("dgram")))));
    let mut buf = [0; 2];
    out.push((
        "recv_from, cut",
        model(d.recv_from(&mut buf).map(|(n, a)| (n, buf, addr(a)))),
    ));
    out.push(("send unconnected", model(u.send(b"x"))));
    out.push(("too big", model(u.send_to(&[0; 300_000], &abs("dgram")))));
    out.push(("connect", model(u.connect(&abs("dgram")))));
    out.push(("send connected", model(u.send(b"yz"))));
    out.push(("recv", model(d.recv(&mut [0; 8]))));
    d.set_nonblocking(true).unwrap();
    out.push(("recv empty", model(d.recv(&mut [0; 8]))));
    drop(d);
    out.push(("send to a closed peer", model(u.send(b"x"))));
    out
}

#[test]
fn the_model_objects_answer_as_std_on_the_host_kernel() {
    let host = on_host();
    let sim = on_model();
    assert_eq!(host.len(), sim.len());
    let differ: Vec<String> = host
        .iter()
        .zip(&sim)
        .filter(|(h, m)| h != m)
        .map(|((step, h), (_, m))| format!("{step}: host {h:?}, model {m:?}"))
        .collect();
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    // Not vacuous: the run saw values and errnos both.
    assert!(host.iter().any(|(_, o)| o.is_err()) && host.iter().any(|(_, o)| o.is_ok()));
}
