//! The seccomp filter: which system calls the supervisor serves.
//!
//! A classic BPF program over `struct seccomp_data` (`nr` at 0, `arch` at
//! 4, `args[i]` at 16 + 8i), built with the model's own typed cBPF view
//! ([`afunix::abi::SockFilter`]). Every call that can touch a unix socket
//! is sent to the supervisor (`SECCOMP_RET_USER_NOTIF`); `socket` and
//! `socketpair` only for `AF_UNIX`; `io_uring_setup` fails with `ENOSYS`
//! (its operations would bypass the model); everything else runs on the
//! kernel. A call on an fd that turns out not to be a model socket is
//! handed back to the kernel (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`).

use afunix::abi::filter::{BPF_ABS, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
use afunix::abi::SockFilter;

/// `AUDIT_ARCH_X86_64`.
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// Syscall numbers at and above this are the x32 ABI.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;

/// The calls served on any fd (x86_64 numbers).
pub const SERVED: &[(i64, &str)] = &[
    (libc::SYS_read, "read"),
    (libc::SYS_write, "write"),
    (libc::SYS_readv, "readv"),
    (libc::SYS_writev, "writev"),
    (libc::SYS_close, "close"),
    (libc::SYS_ioctl, "ioctl"),
    (libc::SYS_connect, "connect"),
    (libc::SYS_accept, "accept"),
    (libc::SYS_accept4, "accept4"),
    (libc::SYS_sendto, "sendto"),
    (libc::SYS_recvfrom, "recvfrom"),
    (libc::SYS_sendmsg, "sendmsg"),
    (libc::SYS_recvmsg, "recvmsg"),
    (libc::SYS_sendmmsg, "sendmmsg"),
    (libc::SYS_recvmmsg, "recvmmsg"),
    (libc::SYS_shutdown, "shutdown"),
    (libc::SYS_bind, "bind"),
    (libc::SYS_listen, "listen"),
    (libc::SYS_getsockname, "getsockname"),
    (libc::SYS_getpeername, "getpeername"),
    (libc::SYS_setsockopt, "setsockopt"),
    (libc::SYS_getsockopt, "getsockopt"),
    (libc::SYS_preadv2, "preadv2"),
    (libc::SYS_pwritev2, "pwritev2"),
    // Refused (EINVAL) on a model socket: the data would bypass the model.
    (libc::SYS_sendfile, "sendfile"),
    (libc::SYS_splice, "splice"),
    // Served only for socket inodes the run made (the model's tree follows).
    (libc::SYS_unlink, "unlink"),
    (libc::SYS_unlinkat, "unlinkat"),
];

/// The calls served only for `AF_UNIX` (their first argument).
pub const SERVED_UNIX: &[(i64, &str)] = &[
    (libc::SYS_socket, "socket"),
    (libc::SYS_socketpair, "socketpair"),
];

/// Calls refused outright, with the errno.
pub const REFUSED: &[(i64, i32)] = &[(libc::SYS_io_uring_setup, libc::ENOSYS)];

fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jeq(k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter {
        code: BPF_JMP | BPF_JEQ | BPF_K,
        jt,
        jf,
        k,
    }
}

/// The program, instruction by instruction.
pub fn program() -> Vec<SockFilter> {
    let ld_w = |off| stmt(BPF_LD | BPF_W | BPF_ABS, off);
    let ret = |k| stmt(BPF_RET | BPF_K, k);
    let mut p = vec![
        ld_w(4),
        // Another architecture (e.g. an i386 int 0x80): not served.
        jeq(AUDIT_ARCH_X86_64, 1, 0),
        ret(SECCOMP_RET_ALLOW),
        ld_w(0),
        SockFilter {
            code: BPF_JMP | BPF_JGE | BPF_K,
            jt: 0,
            jf: 1,
            k: X32_SYSCALL_BIT,
        },
        ret(SECCOMP_RET_ALLOW),
    ];
    // Each refused call: jeq nr → ret errno.
    for &(nr, errno) in REFUSED {
        p.push(jeq(nr as u32, 0, 1));
        p.push(ret(SECCOMP_RET_ERRNO | errno as u32));
    }
    // socket/socketpair: to the AF_UNIX check, which follows the list.
    let n = SERVED.len() + SERVED_UNIX.len();
    for (i, &(nr, _)) in SERVED_UNIX.iter().chain(SERVED).enumerate() {
        let left = (n - i - 1) as u8; // jeqs after this one
        let to_allow = left; // the ALLOW right after the list
        if i < SERVED_UNIX.len() {
            // Jump over the rest of the list, ALLOW and NOTIFY, to the check.
            p.push(jeq(nr as u32, left + 2, 0));
        } else {
            p.push(jeq(nr as u32, to_allow + 1, 0));
        }
    }
    p.push(ret(SECCOMP_RET_ALLOW));
    p.push(ret(SECCOMP_RET_USER_NOTIF));
    // The AF_UNIX check: args[0]'s low 32 bits (the ABI's int).
    p.push(ld_w(16));
    p.push(jeq(libc::AF_UNIX as u32, 0, 1));
    p.push(ret(SECCOMP_RET_USER_NOTIF));
    p.push(ret(SECCOMP_RET_ALLOW));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run the program on a `seccomp_data` with the model's own cBPF
    /// interpreter: its checker accepts the program, and each call gets
    /// the verdict it should. (A socket filter's word loads are big-endian,
    /// seccomp's native: the words are laid out big-endian here, so that
    /// each load reads the value seccomp's would.)
    fn verdict(nr: i64, arch: u32, arg0: u64) -> u32 {
        let prog = afunix::abi::Program::from_instructions(program()).expect("a valid program");
        let mut data = vec![0u8; 64];
        data[0..4].copy_from_slice(&(nr as u32).to_be_bytes());
        data[4..8].copy_from_slice(&arch.to_be_bytes());
        // args[0]: the low word first (x86_64 is little-endian).
        data[16..20].copy_from_slice(&(arg0 as u32).to_be_bytes());
        data[20..24].copy_from_slice(&((arg0 >> 32) as u32).to_be_bytes());
        prog.run(&data)
    }

    #[test]
    fn unix_socket_calls_go_to_the_supervisor_and_the_rest_to_the_kernel() {
        let x86 = AUDIT_ARCH_X86_64;
        assert_eq!(verdict(libc::SYS_socket, x86, 1), SECCOMP_RET_USER_NOTIF);
        assert_eq!(
            verdict(libc::SYS_socketpair, x86, 1),
            SECCOMP_RET_USER_NOTIF
        );
        assert_eq!(
            verdict(libc::SYS_socket, x86, 2),
            SECCOMP_RET_ALLOW,
            "AF_INET"
        );
        // The high half of the argument is not part of the int.
        assert_eq!(
            verdict(libc::SYS_socket, x86, 1 | 1 << 32),
            SECCOMP_RET_USER_NOTIF
        );
        for &(nr, name) in SERVED {
            assert_eq!(verdict(nr, x86, 7), SECCOMP_RET_USER_NOTIF, "{name}");
        }
        assert_eq!(verdict(libc::SYS_openat, x86, 0), SECCOMP_RET_ALLOW);
        assert_eq!(verdict(libc::SYS_execve, x86, 0), SECCOMP_RET_ALLOW);
        assert_eq!(
            verdict(libc::SYS_io_uring_setup, x86, 0),
            SECCOMP_RET_ERRNO | libc::ENOSYS as u32
        );
        assert_eq!(
            verdict(libc::SYS_read, 0x4000_0003, 0),
            SECCOMP_RET_ALLOW,
            "i386"
        );
        assert_eq!(
            verdict(libc::SYS_read | 0x4000_0000, x86, 0),
            SECCOMP_RET_ALLOW,
            "x32"
        );
    }
}
