//! `struct sockaddr_un { sa_family_t sun_family; char sun_path[108]; }` and
//! the kernel's rules for unix addresses (`unix_validate_addr`,
//! `unix_mkname_bsd`, `unix_getname` in `net/unix/af_unix.c`).

use super::consts::{AF_UNIX, SA_FAMILY_SIZE, SOCKADDR_UN_SIZE};
use super::u16_at;
use crate::Errno;

/// A unix socket address, as the kernel stores it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum UnixAddr {
    /// No address (never bound, or a socketpair end).
    Unnamed,
    /// A filesystem path, without the trailing NUL (never empty, never contains NUL).
    Pathname(Vec<u8>),
    /// An abstract name, without the leading NUL (may contain NULs, may be empty).
    Abstract(Vec<u8>),
}

/// `@name` for an abstract name (non-printable bytes as `\xNN`), the path
/// for a pathname, `unnamed` otherwise.
impl core::fmt::Display for UnixAddr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let show = |f: &mut core::fmt::Formatter<'_>, b: &[u8]| {
            b.iter().try_for_each(|&c| {
                if c.is_ascii_graphic() || c == b' ' {
                    write!(f, "{}", c as char)
                } else {
                    write!(f, "\\x{c:02x}")
                }
            })
        };
        match self {
            UnixAddr::Unnamed => f.write_str("unnamed"),
            UnixAddr::Pathname(p) => show(f, p),
            UnixAddr::Abstract(n) => {
                f.write_str("@")?;
                show(f, n)
            }
        }
    }
}

impl UnixAddr {
    /// The bytes a C program passes to `bind`/`connect`/`sendto`:
    /// `Pathname`: family + path + NUL (`SUN_LEN + 1`); `Abstract`: family +
    /// NUL + name; `Unnamed`: the family alone (2 bytes, which asks for autobind).
    pub fn to_sockaddr(&self) -> Vec<u8> {
        let mut out = AF_UNIX.to_le_bytes().to_vec();
        match self {
            UnixAddr::Unnamed => {}
            UnixAddr::Pathname(p) => {
                out.extend_from_slice(p);
                out.push(0);
            }
            UnixAddr::Abstract(n) => {
                out.push(0);
                out.extend_from_slice(n);
            }
        }
        out
    }

    /// The length the kernel stores for this address (`unix_address.len`,
    /// what `getsockname` reports): 2 for unnamed, `2 + len + 1` for a path
    /// (so 111 for a 108-byte path), `2 + 1 + len` for an abstract name.
    pub fn kernel_len(&self) -> usize {
        match self {
            UnixAddr::Unnamed => SA_FAMILY_SIZE,
            UnixAddr::Pathname(p) => SA_FAMILY_SIZE.saturating_add(p.len()).saturating_add(1),
            UnixAddr::Abstract(n) => SA_FAMILY_SIZE.saturating_add(1).saturating_add(n.len()),
        }
    }

    // unix_getname / unix_copy_addr
    /// The bytes the kernel returns from `getsockname`/`getpeername`/`recvmsg`
    /// for this address (`kernel_len` bytes: family, then the stored name;
    /// a path keeps its terminating NUL).
    pub fn to_kernel_bytes(&self) -> Vec<u8> {
        // The stored form is exactly what a C program passes.
        self.to_sockaddr()
    }

    /// Decode what `getsockname`/`getpeername`/`recvmsg` returned (the first
    /// `len` bytes, `len` = the returned address length): `len <= 2` is
    /// `Unnamed`; `sun_path[0] != 0` is a `Pathname` up to the first NUL;
    /// otherwise `Abstract` with every byte after the leading NUL.
    pub fn from_sockaddr(b: &[u8]) -> UnixAddr {
        let path = b.get(SA_FAMILY_SIZE..).unwrap_or(&[]);
        match path.split_first() {
            None => UnixAddr::Unnamed,
            Some((0, name)) => UnixAddr::Abstract(name.to_vec()),
            Some(_) => {
                let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
                UnixAddr::Pathname(path.get(..end).unwrap_or(path).to_vec())
            }
        }
    }

    /// Whether this is a filesystem path.
    pub fn is_pathname(&self) -> bool {
        matches!(self, UnixAddr::Pathname(_))
    }

    /// Whether this is an abstract name.
    pub fn is_abstract(&self) -> bool {
        matches!(self, UnixAddr::Abstract(_))
    }
}

// unix_validate_addr + unix_mkname_bsd
/// The kernel's validation of an address a caller passed (`b` is exactly
/// `addrlen` bytes): `len <= 2` or `len > 110` gives `EINVAL`; a family
/// other than `AF_UNIX` gives `EINVAL`; a pathname is cut at its first NUL
/// (a 108-byte path with no NUL is accepted: the kernel terminates it in its
/// `sockaddr_storage` copy); an abstract name is every byte after the leading
/// NUL, trailing NULs included. The autobind case (`len == 2`, `AF_UNIX`)
/// and `AF_UNSPEC` (dgram disconnect) are the caller's to handle first.
///
/// # Errors
/// `EINVAL`, with `unix_validate_addr`'s rule.
pub fn parse_user_addr(b: &[u8]) -> Result<UnixAddr, crate::errno::Error> {
    if b.len() <= SA_FAMILY_SIZE || b.len() > SOCKADDR_UN_SIZE {
        crate::path::note(|| {
            format!(
                "addr_len {}, sizeof(sockaddr_un) {SOCKADDR_UN_SIZE}",
                b.len()
            )
        });
        return Err(Errno::EINVAL.why(rule!(
            unix_validate_addr,
            "addr_len <= offsetof(sun_path) or > sizeof(sockaddr_un)"
        )));
    }
    if family(b) != Some(AF_UNIX) {
        crate::path::note(|| format!("sun_family {:?}", family(b)));
        return Err(Errno::EINVAL.why(rule!(unix_validate_addr, "sun_family != AF_UNIX")));
    }
    Ok(UnixAddr::from_sockaddr(b))
}

/// The family field (`sa_family_t`, little-endian) of raw sockaddr bytes,
/// if there are at least 2 bytes.
pub fn family(b: &[u8]) -> Option<u16> {
    u16_at(b, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn raw(path: &[u8]) -> Vec<u8> {
        let mut v = vec![1u8, 0];
        v.extend_from_slice(path);
        v
    }

    #[test]
    fn length_limits() {
        assert_eq!(parse_user_addr(&[1, 0]), Err(Errno::EINVAL.into()));
        assert_eq!(parse_user_addr(&[1]), Err(Errno::EINVAL.into()));
        assert_eq!(parse_user_addr(&[]), Err(Errno::EINVAL.into()));
        assert_eq!(
            parse_user_addr(&raw(&[b'a'; 109])),
            Err(Errno::EINVAL.into())
        );
        // A 108-byte path with no NUL is accepted.
        assert_eq!(
            parse_user_addr(&raw(&[b'a'; 108])),
            Ok(UnixAddr::Pathname(vec![b'a'; 108]))
        );
    }

    #[test]
    fn wrong_family() {
        assert_eq!(parse_user_addr(&[2, 0, b'x']), Err(Errno::EINVAL.into()));
        assert_eq!(parse_user_addr(&[0, 0, b'x']), Err(Errno::EINVAL.into()));
        assert_eq!(family(&[2, 0]), Some(2));
        assert_eq!(family(&[2]), None);
    }

    #[test]
    fn pathname_cut_at_first_nul() {
        assert_eq!(
            parse_user_addr(&raw(b"/tmp/s\0junk")),
            Ok(UnixAddr::Pathname(b"/tmp/s".to_vec()))
        );
        assert_eq!(
            parse_user_addr(&raw(b"/x")),
            Ok(UnixAddr::Pathname(b"/x".to_vec()))
        );
    }

    #[test]
    fn abstract_keeps_every_byte() {
        assert_eq!(parse_user_addr(&raw(b"\0")), Ok(UnixAddr::Abstract(vec![])));
        assert_eq!(
            parse_user_addr(&raw(b"\0ab\0\0")),
            Ok(UnixAddr::Abstract(b"ab\0\0".to_vec()))
        );
    }

    #[test]
    fn kernel_lengths() {
        // Autobind: "\0" + 5 hex digits gives addrlen 8 (reference doc).
        let auto = UnixAddr::Abstract(b"00a1f".to_vec());
        assert_eq!(auto.kernel_len(), 8);
        assert_eq!(auto.to_kernel_bytes(), b"\x01\x00\x0000a1f".to_vec());
        assert_eq!(UnixAddr::Unnamed.kernel_len(), 2);
        assert_eq!(UnixAddr::Unnamed.to_kernel_bytes(), vec![1, 0]);
        let p = UnixAddr::Pathname(vec![b'a'; 108]);
        assert_eq!(p.kernel_len(), 111);
        assert_eq!(p.to_kernel_bytes().len(), 111);
        assert_eq!(
            UnixAddr::Pathname(b"/s".to_vec()).to_sockaddr(),
            b"\x01\x00/s\0".to_vec()
        );
    }

    #[test]
    fn decode_returned_bytes() {
        assert_eq!(UnixAddr::from_sockaddr(&[1, 0]), UnixAddr::Unnamed);
        assert_eq!(UnixAddr::from_sockaddr(&[]), UnixAddr::Unnamed);
        assert_eq!(
            UnixAddr::from_sockaddr(&raw(b"/s\0")),
            UnixAddr::Pathname(b"/s".to_vec())
        );
        assert_eq!(
            UnixAddr::from_sockaddr(&raw(b"\0x\0")),
            UnixAddr::Abstract(b"x\0".to_vec())
        );
    }

    fn addr() -> impl Strategy<Value = UnixAddr> {
        prop_oneof![
            Just(UnixAddr::Unnamed),
            proptest::collection::vec(1u8..=255, 1..=107).prop_map(UnixAddr::Pathname),
            proptest::collection::vec(any::<u8>(), 0..=107).prop_map(UnixAddr::Abstract),
        ]
    }

    proptest! {
        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..130)) {
            if let Ok(a) = parse_user_addr(&b) {
                prop_assert!(a.kernel_len() <= 111);
                prop_assert!(a != UnixAddr::Unnamed);
            }
            let _ = UnixAddr::from_sockaddr(&b);
        }

        #[test]
        fn kernel_bytes_round_trip(a in addr()) {
            let k = a.to_kernel_bytes();
            prop_assert_eq!(k.len(), a.kernel_len());
            prop_assert_eq!(UnixAddr::from_sockaddr(&k), a.clone());
            if a != UnixAddr::Unnamed {
                prop_assert_eq!(parse_user_addr(&a.to_sockaddr()), Ok(a));
            }
        }
    }
}
