//! Formatting results for the trace: strings, flags, addresses.

use afunix::abi::consts::*;
use std::fmt::Write as _;

/// A result as printed after ` = `: the result token and its fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    /// `0`, `5`, `EINVAL`, `BLOCKED`.
    pub result: String,
    /// `key=value` or bare words, in the documented order.
    pub fields: Vec<String>,
}

impl Rendered {
    /// A result without fields.
    pub fn plain(result: impl Into<String>) -> Rendered {
        Rendered {
            result: result.into(),
            fields: Vec::new(),
        }
    }
    /// The value of field `key` (`Some("")` for a bare word `key`).
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields.iter().find_map(|f| match f.split_once('=') {
            Some((k, v)) if k == key => Some(v),
            None if f == key => Some(""),
            _ => None,
        })
    }
}

impl std::fmt::Display for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.result)?;
        for x in &self.fields {
            write!(f, " {x}")?;
        }
        Ok(())
    }
}

/// Print bytes as a scenario string: `"..."` where only 0x20–0x7e stand as
/// themselves, `\` and `"` are escaped, every other byte is `\xHH`.
pub fn fmt_string(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s.push('"');
    s
}

/// Data: a string when at most 64 bytes, else its length.
pub fn fmt_data(b: &[u8]) -> String {
    if b.len() <= 64 {
        fmt_string(b)
    } else {
        b.len().to_string()
    }
}

/// Message flag names in increasing bit order, as printed.
pub const MSG_PRINT: &[(&str, i32)] = &[
    ("oob", MSG_OOB),
    ("peek", MSG_PEEK),
    ("ctrunc", MSG_CTRUNC),
    ("trunc", MSG_TRUNC),
    ("dontwait", MSG_DONTWAIT),
    ("eor", MSG_EOR),
    ("waitall", MSG_WAITALL),
    ("nosignal", MSG_NOSIGNAL),
    ("cmsg_cloexec", MSG_CMSG_CLOEXEC),
];

/// Poll event names in increasing bit order.
pub const POLL_PRINT: &[(&str, i16)] = &[
    ("in", POLLIN),
    ("pri", POLLPRI),
    ("out", POLLOUT),
    ("err", POLLERR),
    ("hup", POLLHUP),
    ("nval", POLLNVAL),
    ("rdnorm", POLLRDNORM),
    ("rdband", POLLRDBAND),
    ("wrnorm", POLLWRNORM),
    ("wrband", POLLWRBAND),
    ("rdhup", POLLRDHUP),
];

/// Bits by the names of `table`, the rest as one hex number: `in|0x400`,
/// `0` for none (the form the parser reads back).
pub fn fmt_bits(v: u32, table: &[(&str, u32)]) -> String {
    if v == 0 {
        return "0".into();
    }
    let mut parts: Vec<String> = Vec::new();
    let mut rest = v;
    for (n, b) in table {
        if v & b != 0 {
            parts.push((*n).to_string());
            rest &= !b;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    parts.join("|")
}

/// `msg_flags` as printed: `oob|ctrunc|0x10000`, `0` when none.
pub fn fmt_msg_flags(f: i32) -> String {
    let t: Vec<(&str, u32)> = MSG_PRINT.iter().map(|(n, b)| (*n, *b as u32)).collect();
    fmt_bits(f as u32, &t)
}

/// poll `revents` as printed: `in|out`, `0` when none.
pub fn fmt_revents(r: i16) -> String {
    let t: Vec<(&str, u32)> = POLL_PRINT
        .iter()
        .map(|(n, b)| (*n, *b as u16 as u32))
        .collect();
    fmt_bits(r as u16 as u32, &t)
}

/// Hex bytes as `hex:...`.
pub fn fmt_hex(b: &[u8]) -> String {
    let mut s = String::from("hex:");
    for c in b {
        let _ = write!(s, "{c:02x}");
    }
    s
}

/// An abstract name as printed: `@name` for plain bytes, else `@"..."`.
pub fn fmt_abstract(name: &[u8]) -> String {
    if !name.is_empty() && name.iter().all(|&b| crate::scenario::plain_name_byte(b)) {
        format!("@{}", String::from_utf8_lossy(name))
    } else {
        format!("@{}", fmt_string(name))
    }
}

/// Whether an abstract name looks autobound: exactly 5 lower-case hex digits.
pub fn looks_autobound(name: &[u8]) -> bool {
    name.len() == 5
        && name
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// How a raw sockaddr reads, before autobound names are numbered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddrView {
    /// Length 2, AF_UNIX: an unbound socket.
    Unnamed,
    /// A pathname (up to the first NUL).
    Path(Vec<u8>),
    /// An abstract name (the bytes after the leading NUL).
    Abstract(Vec<u8>),
    /// Anything else: printed as raw hex.
    Raw(Vec<u8>),
}

/// Classify raw sockaddr bytes (as `getsockname` or `msg_name` return them).
pub fn view_addr(b: &[u8]) -> AddrView {
    if b.len() < 2 || u16::from_ne_bytes([b[0], b[1]]) != AF_UNIX {
        return AddrView::Raw(b.to_vec());
    }
    let path = &b[2..];
    match path.first() {
        None => AddrView::Unnamed,
        Some(0) => AddrView::Abstract(path[1..].to_vec()),
        Some(_) => {
            let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
            AddrView::Path(path[..end].to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `afunix exec`'s trace quotes data as this printer does, every byte.
    #[test]
    fn exec_traces_quote_data_as_the_printer_does() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(afunix_exec::serve::quote(&all), fmt_string(&all));
        assert_eq!(fmt_string(b"a\n\"\\"), "\"a\\x0a\\\"\\\\\"");
    }

    #[test]
    fn strings_escape() {
        assert_eq!(fmt_string(b"a\\b\"c"), r#""a\\b\"c""#);
        assert_eq!(fmt_string(b"x\ny\0\x7f~ "), r#""x\x0ay\x00\x7f~ ""#);
        assert_eq!(fmt_string(&[0xff]), r#""\xff""#);
    }

    #[test]
    fn data_long_prints_length() {
        assert_eq!(fmt_data(&[b'x'; 64]), format!("\"{}\"", "x".repeat(64)));
        assert_eq!(fmt_data(&[b'x'; 65]), "65");
    }

    #[test]
    fn flags_in_bit_order_unknown_last() {
        assert_eq!(fmt_msg_flags(0), "0");
        assert_eq!(
            fmt_msg_flags(MSG_TRUNC | MSG_OOB | MSG_CTRUNC),
            "oob|ctrunc|trunc"
        );
        assert_eq!(
            fmt_msg_flags(MSG_CMSG_CLOEXEC | 0x10000 | 0x4),
            "cmsg_cloexec|0x10004"
        );
        assert_eq!(fmt_revents(POLLIN | POLLPRI | POLLOUT), "in|pri|out");
        assert_eq!(fmt_revents(POLLRDHUP | POLLHUP), "hup|rdhup");
        assert_eq!(fmt_revents(0x4000), "0x4000");
    }

    #[test]
    fn addresses() {
        let fam = AF_UNIX.to_ne_bytes();
        assert_eq!(view_addr(&fam), AddrView::Unnamed);
        let mut p = fam.to_vec();
        p.extend_from_slice(b"srv\0");
        assert_eq!(view_addr(&p), AddrView::Path(b"srv".to_vec()));
        let mut a = fam.to_vec();
        a.extend_from_slice(b"\0ab c");
        assert_eq!(view_addr(&a), AddrView::Abstract(b"ab c".to_vec()));
        assert_eq!(fmt_abstract(b"ab c"), "@\"ab c\"");
        assert_eq!(fmt_abstract(b"a.b-c_1"), "@a.b-c_1");
        assert_eq!(fmt_abstract(b""), "@\"\"");
        assert!(looks_autobound(b"0a1f3"));
        assert!(!looks_autobound(b"0A1F3"));
        assert!(!looks_autobound(b"0a1f"));
        assert_eq!(view_addr(&[0, 0]), AddrView::Raw(vec![0, 0]));
        assert_eq!(fmt_hex(&[0, 0xab]), "hex:00ab");
    }
}
