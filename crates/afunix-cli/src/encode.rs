//! Arguments to raw ABI bytes (addresses, control buffer sizes) and the
//! option buffer sizes of getsockopt.

use crate::scenario::{Opt, OptArg, SpaceTerm};
use afunix::abi::cmsg::cmsg_space;
use afunix::abi::consts::*;
use afunix::abi::sockaddr::UnixAddr;

/// A pathname address: family + path + NUL (length `SUN_LEN + 1`).
pub fn path_addr(p: &[u8]) -> Vec<u8> {
    UnixAddr::Pathname(p.to_vec()).to_sockaddr()
}

/// An abstract address: family + NUL + name.
pub fn abstract_addr(n: &[u8]) -> Vec<u8> {
    UnixAddr::Abstract(n.to_vec()).to_sockaddr()
}

/// The family alone (`auto`): length 2.
pub fn family_only(family: u16) -> Vec<u8> {
    family.to_ne_bytes().to_vec()
}

/// The control buffer size of `space=` terms (saturating).
pub fn space_bytes(terms: &[SpaceTerm]) -> usize {
    terms.iter().fold(0usize, |acc, t| {
        let n = match t {
            SpaceTerm::Bytes(n) => *n,
            SpaceTerm::Rights(k) => cmsg_space(k.saturating_mul(4)),
            SpaceTerm::Creds => cmsg_space(12),
            SpaceTerm::Pidfd | SpaceTerm::Inq => cmsg_space(4),
        };
        acc.saturating_add(n)
    })
}

/// Largest classic BPF program (`BPF_MAXINSNS`).
pub const BPF_MAXINSNS: usize = 4096;

/// The msg_namelen / addrlen passed by default: a `sockaddr_storage`.
pub const NAME_BUF: usize = 128;

/// The getsockopt optlen passed when `optlen=` is not written: 4096 bytes
/// (room for 1024 groups), and 0 for `SO_GET_FILTER`, whose optlen counts
/// instructions (net/core/sock.c `sk_get_filter`: with 0 it only writes
/// the count back).
pub fn getsockopt_len(opt: OptArg) -> i32 {
    match opt {
        OptArg::Named(Opt::AttachFilter) => 0,
        _ => 4096,
    }
}

/// The poll events the scenario asks for: in, pri, out, rdhup.
pub const POLL_EVENTS: i16 = POLLIN | POLLPRI | POLLOUT | POLLRDHUP;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_matches_c() {
        assert_eq!(space_bytes(&[SpaceTerm::Rights(1)]), 24);
        assert_eq!(
            space_bytes(&[SpaceTerm::Rights(2), SpaceTerm::Creds]),
            24 + 32
        );
        assert_eq!(
            space_bytes(&crate::scenario::default_space()),
            1032 + 32 + 24 + 24
        );
        assert_eq!(space_bytes(&[SpaceTerm::Bytes(7)]), 7);
    }

    #[test]
    fn addresses_are_sun_len_plus_nul() {
        assert_eq!(path_addr(b"ab").len(), 2 + 2 + 1);
        assert_eq!(abstract_addr(b"ab"), [1, 0, 0, b'a', b'b']);
        assert_eq!(family_only(AF_UNIX), [1, 0]);
    }
}
