//! Parser tests: every line form, values, and errors with line:col.

use afunix::abi::consts::*;
use afunix_backend::backend::{RecvBuf, SendBuf, TaskSpec};
use afunix_cli::scenario::*;
use proptest::prelude::*;

fn one(src: &str) -> Line {
    let sc = parse_syntax(src).unwrap_or_else(|e| panic!("{src:?}: {e:?}"));
    assert_eq!(sc.lines.len(), 1, "{src:?}");
    sc.lines.into_iter().next().unwrap()
}

fn op(src: &str) -> Op {
    match one(src).kind {
        LineKind::Call { op, .. } => op,
        k => panic!("not a call: {k:?}"),
    }
}

fn fd(n: &str, col: usize) -> FdArg {
    FdArg {
        fd: FdKind::Name(n.into()),
        col,
    }
}

fn error(src: &str) -> (usize, usize, String) {
    let e = parse_syntax(src).expect_err(src);
    assert_eq!(e.len(), 1, "{src:?}: {e:?}");
    (e[0].line, e[0].col, e[0].msg.clone())
}

#[test]
fn directives() {
    let l = one("task B uid=1001 gid=1002 nofile=16 = 0  # c");
    assert_eq!(l.echo, "task B uid=1001 gid=1002 nofile=16");
    assert_eq!(
        l.expect,
        Some(Expect {
            result: "0".into(),
            fields: vec![]
        })
    );
    let LineKind::Directive(Directive::Task { name, spec }) = l.kind else {
        panic!()
    };
    assert_eq!(name, "B");
    assert_eq!(
        spec,
        TaskSpec {
            uid: 1001,
            gid: 1002,
            groups: vec![1002],
            nofile: 16,
            umask: 0o022,
            netns: 0,
        }
    );
    let LineKind::Directive(Directive::Task { spec, .. }) = one("task R uid=0 groups=[1,2,3]").kind
    else {
        panic!()
    };
    assert_eq!((spec.uid, spec.gid, spec.groups), (0, 1000, vec![1, 2, 3]));
    assert!(matches!(
        one("sysctl max_dgram_qlen=2").kind,
        LineKind::Directive(Directive::Sysctl {
            max_dgram_qlen: 2,
            netns: 0
        })
    ));
    assert!(matches!(
        one("sysctl max_dgram_qlen=-1 netns=3").kind,
        LineKind::Directive(Directive::Sysctl {
            max_dgram_qlen: -1,
            netns: 3
        })
    ));
    let LineKind::Directive(Directive::Task { spec, .. }) = one("task U umask=0o077 netns=2").kind
    else {
        panic!()
    };
    assert_eq!((spec.umask, spec.netns), (0o077, 2));
    assert!(matches!(one("gc").kind, LineKind::Directive(Directive::Gc)));
    let l = one("stat = 0 sockets=3");
    assert!(matches!(l.kind, LineKind::Directive(Directive::Stat)));
    assert_eq!(l.expect.unwrap().fields, ["sockets=3"]);
    assert!(matches!(
        one("sleep 0x10").kind,
        LineKind::Directive(Directive::Sleep { ms: 16 })
    ));
}

#[test]
fn comments_and_blank_lines() {
    let sc = parse_syntax(
        "# header\n\n   \ntask A # trailing\nA: bind s @#1 # c\nA: write w \"a # b\"\n",
    )
    .unwrap();
    assert_eq!(sc.lines.len(), 3);
    assert_eq!(sc.lines[0].lineno, 4);
    assert_eq!(sc.lines[1].echo, "A: bind s @#1");
    assert_eq!(sc.lines[2].echo, "A: write w \"a # b\"");
    assert_eq!(
        op("A: write w \"a # b\""),
        Op::Write {
            fd: fd("w", 10),
            data: b"a # b".to_vec()
        }
    );
    // `#` inside a token is not a comment.
    assert_eq!(one("A: close a#b").echo, "A: close a#b");
}

#[test]
fn calls_binds_background_results() {
    let l = one("A: socketpair dgram nonblock cloexec -> a b = 0 fds=[3,4]");
    assert_eq!(l.echo, "A: socketpair dgram nonblock cloexec -> a b");
    let LineKind::Call {
        proc,
        op: the_op,
        binds,
        background,
        ..
    } = l.kind
    else {
        panic!()
    };
    assert_eq!(proc, "A");
    assert_eq!(
        the_op,
        Op::Socketpair {
            ty: SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
            protocol: 0
        }
    );
    assert_eq!(binds, ["a", "b"]);
    assert!(!background);
    let l = one("B: recvmsg s1 &");
    assert_eq!(l.echo, "B: recvmsg s1 &");
    assert!(matches!(
        l.kind,
        LineKind::Call {
            background: true,
            ..
        }
    ));
    assert_eq!(op("B: wait"), Op::Wait { ms: None });
    assert_eq!(op("B: wait 50"), Op::Wait { ms: Some(50) });
    assert_eq!(
        op("A: fork B"),
        Op::Fork {
            child: "B".into(),
            col: 9
        }
    );
    assert_eq!(op("A: exit"), Op::Exit);
}

#[test]
fn every_call_form() {
    assert_eq!(
        op("A: socket seqpacket"),
        Op::Socket {
            ty: SOCK_SEQPACKET,
            protocol: 0
        }
    );
    assert_eq!(
        op("A: socket 99"),
        Op::Socket {
            ty: 99,
            protocol: 0
        }
    );
    assert_eq!(
        op("A: socket raw cloexec protocol=1"),
        Op::Socket {
            ty: SOCK_RAW | SOCK_CLOEXEC,
            protocol: 1
        }
    );
    assert_eq!(
        op("A: bind s \"srv.sock\""),
        Op::Bind {
            fd: fd("s", 9),
            addr: AddrArg {
                addr: AddrKind::Path(b"srv.sock".to_vec()),
                col: 11
            }
        }
    );
    let addr = |s: &str| match op(&format!("A: connect s {s}")) {
        Op::Connect { addr, .. } => addr.addr,
        o => panic!("{o:?}"),
    };
    assert_eq!(addr("@name"), AddrKind::Abstract(b"name".to_vec()));
    assert_eq!(addr("@\"a b\\0\""), AddrKind::Abstract(b"a b\0".to_vec()));
    assert_eq!(addr("@\"\""), AddrKind::Abstract(vec![]));
    assert_eq!(addr("auto"), AddrKind::Auto);
    assert_eq!(addr("unspec"), AddrKind::Unspec);
    assert_eq!(addr("hex:0100ff"), AddrKind::Hex(vec![1, 0, 0xff]));
    assert_eq!(addr("@#3"), AddrKind::Autobound(3));
    assert_eq!(
        op("A: listen l -1"),
        Op::Listen {
            fd: fd("l", 11),
            backlog: -1
        }
    );
    assert_eq!(
        op("A: accept l nonblock"),
        Op::Accept {
            fd: fd("l", 11),
            flags: SOCK_NONBLOCK
        }
    );
    assert_eq!(
        op("A: sendmsg a to=@x data=3 rights=[f,-1] creds=self cmsg=hex:00 creds=B,1,4294967295 flags=dontwait|nosignal|0x100000"),
        Op::Sendmsg {
            fd: fd("a", 12),
            name: Some(AddrArg {
                addr: AddrKind::Abstract(b"x".to_vec()),
                col: 17
            }),
            iov: vec![SendBuf::Bytes(b"xxx".to_vec())],
            control: vec![
                CtlPiece::Rights(vec![
                    fd("f", 35),
                    FdArg {
                        fd: FdKind::Num(-1),
                        col: 37
                    }
                ]),
                CtlPiece::Creds(CredsArg::Own, 47),
                CtlPiece::Raw(vec![0]),
                CtlPiece::Creds(
                    CredsArg::Explicit {
                        pid: PidArg::Name("B".into()),
                        uid: 1,
                        gid: u32::MAX
                    },
                    70
                ),
            ],
            flags: MSG_DONTWAIT | MSG_NOSIGNAL | 0x100000,
        }
    );
    assert_eq!(
        op("A: sendmsg a"),
        Op::Sendmsg {
            fd: fd("a", 12),
            name: None,
            iov: vec![],
            control: vec![],
            flags: 0
        }
    );
    assert_eq!(
        op("A: recvmsg b len=0 space=rights:2+creds+8 flags=peek|cmsg_cloexec"),
        Op::Recvmsg {
            fd: fd("b", 12),
            iov: vec![RecvBuf::Len(0)],
            namelen: None,
            control: Some(Space::Terms(vec![
                SpaceTerm::Rights(2),
                SpaceTerm::Creds,
                SpaceTerm::Bytes(8)
            ])),
            flags: MSG_PEEK | MSG_CMSG_CLOEXEC
        }
    );
    assert_eq!(
        op("A: recvmsg b iov=[2,null:3] name=5 space=null:64 flags=errqueue|0x40"),
        Op::Recvmsg {
            fd: fd("b", 12),
            iov: vec![RecvBuf::Len(2), RecvBuf::Null(3)],
            namelen: Some(5),
            control: Some(Space::Null(64)),
            flags: MSG_ERRQUEUE | MSG_DONTWAIT
        }
    );
    let Op::Sendmsg {
        iov: data,
        name: to,
        ..
    } = op(r#"A: sendmsg a to=null:9 data=["a,b",2,null:4]"#)
    else {
        panic!()
    };
    assert_eq!(
        data,
        vec![
            SendBuf::Bytes(b"a,b".to_vec()),
            SendBuf::Bytes(b"xx".to_vec()),
            SendBuf::Null(4)
        ]
    );
    assert_eq!(to.unwrap().addr, AddrKind::Null(9));
    assert_eq!(
        op("A: recvmsg b"),
        Op::Recvmsg {
            fd: fd("b", 12),
            iov: vec![RecvBuf::Len(1024)],
            namelen: None,
            control: None,
            flags: 0
        }
    );
    assert_eq!(
        op("A: shutdown s rdwr"),
        Op::Shutdown {
            fd: fd("s", 13),
            how: SHUT_RDWR
        }
    );
    assert_eq!(
        op("A: setsockopt s sndbuf 5000"),
        Op::Setsockopt {
            fd: fd("s", 15),
            opt: OptArg::Named(Opt::Sndbuf),
            value: 5000i32.to_ne_bytes().to_vec()
        }
    );
    let Op::Setsockopt { value, opt, .. } = op("A: setsockopt s rcvtimeo 1500") else {
        panic!()
    };
    assert_eq!(opt, OptArg::Named(Opt::Rcvtimeo));
    assert_eq!(value.len(), 16);
    assert_eq!(&value[..8], &1i64.to_ne_bytes());
    assert_eq!(&value[8..], &500_000i64.to_ne_bytes());
    // Negative milliseconds: floor division, as the spec writes it.
    let Op::Setsockopt { value, .. } = op("A: setsockopt s rcvtimeo -1") else {
        panic!()
    };
    assert_eq!(&value[..8], &(-1i64).to_ne_bytes());
    assert_eq!(&value[8..], &999_000i64.to_ne_bytes());
    let Op::Setsockopt { value, .. } = op("A: setsockopt s sndtimeo tv:-1,1000000") else {
        panic!()
    };
    assert_eq!(&value[8..], &1_000_000i64.to_ne_bytes());
    // C ints modulo 2^32.
    let Op::Setsockopt { value, .. } = op("A: setsockopt s sndbuf 4294967295") else {
        panic!()
    };
    assert_eq!(value, (-1i32).to_ne_bytes());
    let Op::Setsockopt { opt, value, .. } = op("A: setsockopt s raw=1,7 hex:0010") else {
        panic!()
    };
    assert_eq!(opt, OptArg::Raw { level: 1, name: 7 });
    assert_eq!(value, [0, 0x10]);
    let Op::Setsockopt { value, .. } = op("A: setsockopt s attach_filter hex:") else {
        panic!()
    };
    assert!(value.is_empty());
    assert_eq!(
        op("A: getsockopt s peergroups"),
        Op::Getsockopt {
            fd: fd("s", 15),
            opt: OptArg::Named(Opt::Peergroups),
            optlen: None
        }
    );
    assert_eq!(
        op("A: getsockopt s type optlen=-1"),
        Op::Getsockopt {
            fd: fd("s", 15),
            opt: OptArg::Named(Opt::Type),
            optlen: Some(-1)
        }
    );
    assert_eq!(Opt::Inq.number(), SO_INQ);
    assert_eq!(Opt::AttachFilter.number(), SO_GET_FILTER);
    assert_eq!(
        op("A: getsockname s"),
        Op::Getsockname {
            fd: fd("s", 16),
            len: None
        }
    );
    assert_eq!(
        op("A: getpeername s len=3"),
        Op::Getpeername {
            fd: fd("s", 16),
            len: Some(3)
        }
    );
    assert_eq!(
        op("A: dup2 s 7"),
        Op::Dup2 {
            fd: fd("s", 9),
            newfd: FdArg {
                fd: FdKind::Num(7),
                col: 11
            }
        }
    );
    assert_eq!(op("A: fcntl s setown"), Op::SetOwn { fd: fd("s", 10) });
    assert_eq!(op("A: exec"), Op::Exec);
    assert_eq!(op("A: sigurg"), Op::Sigurg);
    assert_eq!(
        op(r#"A: open "d/f" rdwr|creat|0x800"#),
        Op::Open {
            path: b"d/f".to_vec(),
            flags: O_RDWR | O_CREAT | 0x800,
            mode: 0o644
        }
    );
    assert_eq!(
        op(r#"A: mkdir "d" 0o700"#),
        Op::Mkdir {
            path: b"d".to_vec(),
            mode: 0o700
        }
    );
    assert_eq!(
        op(r#"A: rename "a" "./b""#),
        Op::Rename {
            old: b"a".to_vec(),
            new: b"./b".to_vec()
        }
    );
    assert_eq!(
        op("A: fcntl s block"),
        Op::SetNonblock {
            fd: fd("s", 10),
            on: false
        }
    );
    assert_eq!(op("A: fcntl s getfd"), Op::GetFd { fd: fd("s", 10) });
    assert_eq!(
        op("A: pipe cloexec"),
        Op::Pipe {
            flags: SOCK_CLOEXEC
        }
    );
    assert_eq!(
        op("A: memfd \"\\x41\\t\\\\\""),
        Op::Memfd {
            content: b"A\t\\".to_vec()
        }
    );
    assert_eq!(
        op("A: read f 0x10"),
        Op::Read {
            fd: fd("f", 9),
            len: 16
        }
    );
    assert_eq!(
        op("A: write 4 2"),
        Op::Write {
            fd: FdArg {
                fd: FdKind::Num(4),
                col: 10
            },
            data: b"xx".to_vec()
        }
    );
    assert_eq!(
        op("A: poll s"),
        Op::Poll {
            fds: vec![fd("s", 9)],
            list: false,
            timeout: 0,
            events: POLLIN | POLLPRI | POLLOUT | POLLRDHUP
        }
    );
    assert_eq!(
        op("A: poll [a,-1] timeout=-1 events=in|0x4"),
        Op::Poll {
            fds: vec![
                fd("a", 10),
                FdArg {
                    fd: FdKind::Num(-1),
                    col: 12
                }
            ],
            list: true,
            timeout: -1,
            events: POLLIN | POLLOUT
        }
    );
    assert_eq!(
        op("A: ioctl s atmark"),
        Op::Ioctl {
            fd: fd("s", 10),
            req: SIOCATMARK
        }
    );
    assert_eq!(op("A: pidof p"), Op::Pidof { fd: fd("p", 10) });
}

#[test]
fn errors_have_line_and_column() {
    let cases: &[(&str, usize, &str)] = &[
        ("A: frobnicate x", 4, "unknown call"),
        ("A: socket sideways", 11, "socket type"),
        ("A: bind s \"../x\"", 11, "leave the scenario's directory"),
        (
            "A: bind s \"d/../../x\"",
            11,
            "leave the scenario's directory",
        ),
        ("A: open \"/etc/passwd\" rdonly", 9, "absolute path"),
        ("A: open \"a\\0b\" rdonly", 9, "NUL"),
        ("A: chmod \"a\" 0o17777", 14, "mode"),
        ("A: recvmsg s len=1 iov=[1]", 20, "not both"),
        ("A: exec &", 4, "background"),
        ("A: getsockopt s raw=1", 21, "LEVEL,NAME"),
        ("A: setsockopt s rcvtimeo tv:1", 26, "tv:SEC,USEC"),
        ("A: bind s /tmp/x", 11, "bad address"),
        ("A: bind s \"/tmp/x\"", 11, "absolute path"),
        ("A: bind s", 10, "needs 2"),
        ("A: close s t", 12, "unexpected"),
        ("A: sendmsg s flags=bogus", 20, "unknown flag"),
        ("A: sendmsg s data=\"x", 19, "unterminated string"),
        ("A: sendmsg s data=\"\\q\"", 20, "unknown escape"),
        ("A: sendmsg s cmsg=hex:abc", 19, "even number"),
        ("A: sendmsg s whatever", 14, "unexpected"),
        ("A: setsockopt s attach_filter hex:0000", 31, "8 bytes"),
        ("A: setsockopt s nosuch 1", 17, "unknown socket option"),
        ("A: recvmsg s space=rights:x", 27, "integer"),
        ("A: recvmsg s len=-1", 18, "out of range"),
        ("A: recvmsg s &  = 1", 14, "background"),
        ("A: recvmsg s & -> x", 14, "`&` must end"),
        ("A: recvmsg s -> x &", 14, "wait"),
        ("A: socket dgram ->", 17, "at least one name"),
        ("A: socket dgram =", 17, "without a result"),
        ("bogus line", 1, "expected a directive"),
        ("1A: socket dgram", 1, "bad process name"),
        ("task", 1, "process name"),
        ("task A uid=x", 12, "integer"),
        ("task A foo=1", 8, "unknown task option"),
        ("sysctl other=1", 8, "unknown sysctl"),
        ("gc now", 4, "unexpected"),
        ("A: connect s @#0", 14, "autobound"),
        ("A: connect s @a/b", 14, "abstract name"),
        ("A: sendmsg s creds=1,2", 20, "PID,UID,GID"),
        ("A: write s 99999999999", 12, "out of range"),
        ("A: fcntl s dance", 12, "unknown fcntl"),
        ("A: socketpiar dgram", 4, "did you mean `socketpair`"),
        ("A: close s = EINVLA", 14, "did you mean `EINVAL`"),
        ("A: close s = two", 14, "not a result"),
        ("A: socketpair dgram = 0 fds=[3,4", 25, "expected a list"),
        (
            "A: recvmsg s name=5 = 1 namelen=x",
            25,
            "expected an integer",
        ),
        ("A: recvmsg s = 1 data=hi", 18, "expected a string"),
        ("A: recvmsg s = 1 dta=\"hi\"", 18, "did you mean `data`"),
        ("A: sendmsg s = EPIPE sigpip", 22, "did you mean `sigpipe`"),
        ("A: getsockopt s rcvtimo", 17, "did you mean `rcvtimeo`"),
        ("A: sendmsg s flags=dontwiat", 20, "did you mean `dontwait`"),
        ("A: sendmsg s dta=\"x\"", 14, "did you mean `data`"),
        ("A: recvmsg s spcae=0", 14, "did you mean `space`"),
        ("task A nofiel=3", 8, "did you mean `nofile`"),
        ("A:", 3, "missing call"),
        ("= 0", 1, "without a call"),
    ];
    for (src, col, what) in cases {
        let (line, c, msg) = error(src);
        assert_eq!((line, c), (1, *col), "{src:?}: {msg}");
        assert!(msg.contains(what), "{src:?}: {msg:?} lacks {what:?}");
    }
}

#[test]
fn one_error_per_bad_line() {
    let e = parse("task A\nA: nope\nA: socket dgram\nA: bind\n").unwrap_err();
    let lines: Vec<usize> = e.iter().map(|e| e.line).collect();
    assert_eq!(lines, [2, 4]);
    assert_eq!(e[0].to_string(), "2:4: unknown call `nope`");
}

#[test]
fn names_are_resolved_before_anything_runs() {
    let e = parse("task A\nA: socket dgram -> sock\nB: close sock\nA: close sok\nA: fork C\nC: close sock\nA: sendmsg sock creds=D,1,1\nA: recvmsg sock &\nA: wait -> f\nA: close f\n")
        .unwrap_err();
    let got: Vec<(usize, usize, &str)> =
        e.iter().map(|e| (e.line, e.col, e.msg.as_str())).collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!((got[0].0, got[0].1), (3, 1));
    assert!(got[0].2.contains("unknown process `B`"), "{got:?}");
    assert_eq!((got[1].0, got[1].1), (4, 10));
    assert!(got[1].2.contains("did you mean `sock`"), "{got:?}");
    assert_eq!((got[2].0, got[2].1), (7, 23));
    assert!(got[2].2.contains("unknown process `D`"), "{got:?}");
}

#[test]
fn shared_scenarios_parse_and_echo() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors");
    let rd = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "scn") {
            continue;
        }
        let src = std::fs::read_to_string(&p).unwrap();
        let sc = parse(&src).unwrap_or_else(|e| panic!("{}: {e:?}", p.display()));
        for l in &sc.lines {
            let raw = src.lines().nth(l.lineno - 1).unwrap();
            // The echo plus " = " plus the expectation is the line itself.
            let back = match &l.expect {
                Some(x) => format!("{} = {x}", l.echo),
                None => l.echo.clone(),
            };
            assert_eq!(back, raw, "{}:{}", p.display(), l.lineno);
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(s in "\\PC*") {
        let _ = parse(&s);
    }

    #[test]
    fn call_like_text_never_panics(
        words in proptest::collection::vec(
            "(A:|task|->|=|&|@#[0-9]{0,3}|\"[a-z\\\\\"#]{0,4}\"?|hex:[0-9a-f]{0,5}|[a-z_]{1,8}=[-a-z0-9|:+\\[\\],\"]{0,10}|[a-z]{1,10}|-?[0-9]{1,12}|#)",
            0..8,
        )
    ) {
        let line = words.join(" ");
        let _ = parse(&line);
        let _ = parse(&format!("A: {line}"));
    }
}

proptest! {
    /// What the trace prints as a string parses back to the same bytes.
    #[test]
    fn printed_strings_parse_back(b in proptest::collection::vec(any::<u8>(), 0..80)) {
        let s = afunix_cli::trace::fmt_string(&b);
        prop_assert!(s.bytes().all(|c| (0x20..0x7f).contains(&c)));
        prop_assert_eq!(parse_string(&s).map_err(|e| e.1), Ok(b.clone()));
        // And as a memfd argument in a scenario line.
        let sc = parse(&format!("task A\nA: memfd {s}")).map_err(|e| format!("{e:?}"));
        prop_assert!(sc.is_ok(), "{:?}", sc.err());
    }
}
