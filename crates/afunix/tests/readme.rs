//! The README's Rust examples, run: each `rust` block of the README is
//! the body of one function here (the test below checks that the README
//! still says exactly this, line for line), so the README cannot drift
//! from the API.

use std::path::Path;

fn the_library() -> Result<(), afunix::Error> {
    use afunix::abi::{MsgFlags, PollFlags, SockFlags, SocketType};
    use afunix::{Errno, Error, TaskSpec, World};

    let w = World::new();
    let p = w.spawn(&TaskSpec::default()); // a Pid
    let [a, b] = w.socketpair(p, SocketType::DGRAM | SockFlags::CLOEXEC)?; // two Fds
    let f = w.memfd(p, b"hello")?;
    w.send_with_fds(p, a, b"fd", &[f])?;
    assert!(w.poll(p, b, PollFlags::IN)?.contains(PollFlags::IN));
    let m = w.recvmsg(p, b, 16, 64, MsgFlags::DONTWAIT)?;
    assert_eq!(w.read(p, m.rights()[0], 5)?, b"hello"); // the same open file
    match w.recvmsg(p, b, 16, 0, MsgFlags::DONTWAIT) {
        Err(Error {
            errno: Errno::EAGAIN,
            rule,
        }) => println!("{rule}"),
        other => panic!("{other:?}"),
    }
    Ok(())
}

fn the_convenience_layer() -> std::io::Result<()> {
    use afunix::abi::sockaddr::UnixAddr;
    use afunix::net::{UnixListener, UnixStream};
    use std::io::{Read, Write};

    let w = afunix::World::new();
    let p = w.spawn(&afunix::TaskSpec::default());
    let l = UnixListener::bind(&w, p, &UnixAddr::abstract_name("srv"))?;
    let mut c = UnixStream::connect(&w, p, &UnixAddr::abstract_name("srv"))?;
    let (mut s, _) = l.accept()?;
    c.write_all(b"hi")?;
    c.shutdown(std::net::Shutdown::Write)?;
    let mut got = String::new();
    s.read_to_string(&mut got)?; // "hi", then EOF
    assert_eq!(got, "hi");
    Ok(())
}

#[test]
fn the_readme_examples_run() {
    the_library().unwrap();
    the_convenience_layer().unwrap();
}

/// Code with whitespace, comments and the trailing commas rustfmt adds
/// squeezed out (rustfmt may wrap it here, not in the README).
fn squeeze(code: &str) -> String {
    let s: String = code
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .filter(|l| !l.trim_start().starts_with("# "))
        .collect::<String>()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    s.replace(",}", "}").replace(",)", ")")
}

#[test]
fn the_readme_says_what_runs_here() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let here = squeeze(include_str!("readme.rs"));
    let blocks: Vec<&str> = readme
        .split("```rust\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap_or(""))
        .collect();
    assert_eq!(blocks.len(), 2, "the README's rust blocks");
    for b in blocks {
        let b = squeeze(b);
        assert!(here.contains(&b), "README block not run here:\n{b}");
    }
}
