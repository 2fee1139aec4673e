//! Linux errno values (x86_64), and the error a model call returns.
//!
//! [`Errno`] is the bare number, as rustix's and nix's are: derived
//! equality, usable in patterns (`Err(e) if e.errno == Errno::EBADF`,
//! `Error { errno: Errno::EBADF, .. }`). [`Error`] is what every model call
//! returns: the errno plus the [`Rule`] that produced it (for `--explain`),
//! a `&'static str` so that carrying it costs nothing on the fast path.
//! Equality of an [`Error`] is its errno's; the rule is explanation only.

use core::fmt;

/// An errno number (`EINVAL` is 22), nothing else.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Errno(i32);

/// The kernel rule behind an error, as data: the kernel function that
/// applies it and what decided it, or a model gap (the model knowingly
/// answers differently, listed in `tests/known-divergences.txt`) — never a
/// fake kernel answer. Written with [`rule!`](crate::rule) or
/// [`gap!`](crate::gap), which make it a `&'static Rule`, so that carrying
/// one costs a pointer on the fast path.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rule {
    /// The kernel function that applies it (`"unix_dgram_sendmsg"`); `""`
    /// for a gap or when no rule was recorded.
    pub function: &'static str,
    /// What decided it (`"len > sk_sndbuf - 32"`), or for a gap what the
    /// model does not implement.
    pub text: &'static str,
    /// Kernel rule, model gap, or none.
    pub kind: RuleKind,
}

/// What kind of rule produced an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// A rule of the kernel, named after the function that applies it.
    Kernel,
    /// Something the model does not implement; the answer is the model's,
    /// not Linux's.
    ModelGap,
    /// No rule was recorded (an errno from the host kernel, or converted
    /// from a bare [`Errno`]).
    Unexplained,
}

/// `rule!(unix_dgram_sendmsg, "len > sk_sndbuf - 32")`: a `&'static`
/// [`Rule`] of the kernel function named (an identifier, so that every rule
/// names one).
#[macro_export]
macro_rules! rule {
    ($function:ident, $text:expr $(,)?) => {
        &$crate::Rule {
            function: stringify!($function),
            text: $text,
            kind: $crate::RuleKind::Kernel,
        }
    };
}

/// `gap!("what the model does not implement")`: a `&'static` [`Rule`] of
/// kind [`RuleKind::ModelGap`]. Shown as `model gap: …`.
#[macro_export]
macro_rules! gap {
    ($text:expr $(,)?) => {
        &$crate::Rule {
            function: "",
            text: $text,
            kind: $crate::RuleKind::ModelGap,
        }
    };
}

impl Rule {
    /// No rule recorded.
    pub const NONE: &'static Rule = &Rule {
        function: "",
        text: "",
        kind: RuleKind::Unexplained,
    };

    /// Which kind of rule this is.
    pub const fn kind(&self) -> RuleKind {
        self.kind
    }

    /// The kernel function that applies the rule (`"unix_dgram_sendmsg"`),
    /// or `None` for a gap or an unexplained error.
    pub fn function(&self) -> Option<&'static str> {
        (self.kind == RuleKind::Kernel).then_some(self.function)
    }

    /// What decided it, without the function's name.
    pub const fn text(&self) -> &'static str {
        self.text
    }

    /// Whether a rule was recorded at all.
    pub fn is_none(&self) -> bool {
        self.kind == RuleKind::Unexplained
    }
}

/// `function: text`, `model gap: text`, or nothing.
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            RuleKind::Kernel => write!(f, "{}: {}", self.function, self.text),
            RuleKind::ModelGap => write!(f, "model gap: {}", self.text),
            RuleKind::Unexplained => Ok(()),
        }
    }
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// The error of a model call: the errno Linux returns, and the rule that
/// produced it. Compares equal to another `Error` or to an [`Errno`] by the
/// errno alone.
#[derive(Clone, Copy)]
pub struct Error {
    /// The errno, as the system call returns it.
    pub errno: Errno,
    /// Why: the kernel rule (or the model gap) that decided it.
    pub rule: &'static Rule,
}

impl Error {
    /// The errno.
    pub const fn errno(self) -> Errno {
        self.errno
    }

    /// The errno number.
    pub const fn raw(self) -> i32 {
        self.errno.0
    }

    /// Whether this answer is a model gap rather than a kernel answer.
    pub fn is_model_gap(self) -> bool {
        self.rule.kind() == RuleKind::ModelGap
    }

    /// The symbolic name of the errno (`"EINVAL"`).
    pub fn name(self) -> Option<&'static str> {
        self.errno.name()
    }
}

impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.errno == other.errno
    }
}
impl Eq for Error {}

impl PartialEq<Errno> for Error {
    fn eq(&self, other: &Errno) -> bool {
        self.errno == *other
    }
}

impl PartialEq<Error> for Errno {
    fn eq(&self, other: &Error) -> bool {
        *self == other.errno
    }
}

impl From<Errno> for Error {
    fn from(errno: Errno) -> Error {
        Error {
            errno,
            rule: Rule::NONE,
        }
    }
}

impl From<Error> for Errno {
    fn from(e: Error) -> Errno {
        e.errno
    }
}

impl From<Errno> for std::io::Error {
    fn from(e: Errno) -> std::io::Error {
        std::io::Error::from_raw_os_error(e.0)
    }
}

/// As the standard library reports a failed system call: the raw OS
/// error (`raw_os_error()` is the errno); the rule is not carried.
impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        e.errno.into()
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.errno)?;
        if !self.rule.is_none() {
            write!(f, " ({})", self.rule)?;
        }
        Ok(())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.errno)?;
        if !self.rule.is_none() {
            write!(f, ": {}", self.rule)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Result type of every model call.
pub type SysResult<T> = Result<T, Error>;

/// `result.errno()`: the bare errno of a model call's result, for
/// comparisons (`assert_eq!(w.close(p, fd).errno(), Err(Errno::EBADF.into()))`).
pub trait ResultExt<T> {
    /// The result with its error reduced to the errno.
    fn errno(self) -> Result<T, Errno>;
}

impl<T> ResultExt<T> for SysResult<T> {
    fn errno(self) -> Result<T, Errno> {
        self.map_err(|e| e.errno)
    }
}

macro_rules! errnos {
    ($($name:ident = $code:expr, $desc:expr;)*) => {
        impl Errno {
            $(
                #[doc = $desc]
                pub const $name: Errno = Errno($code);
            )*

            /// Every errno the model knows, in number order.
            pub const ALL: &'static [Errno] = &[$(Errno::$name,)*];

            /// The symbolic name (`"EINVAL"`), or `None` for a number we do not know.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($code => Some(stringify!($name)),)*
                    _ => None,
                }
            }

            /// Look an errno up by its symbolic name.
            pub fn from_name(name: &str) -> Option<Errno> {
                match name {
                    $(stringify!($name) => Some(Errno::$name),)*
                    "EWOULDBLOCK" => Some(Errno::EAGAIN),
                    _ => None,
                }
            }

            /// The C library's description (`strerror`).
            pub fn description(self) -> &'static str {
                match self.0 {
                    $($code => $desc,)*
                    _ => "unknown error",
                }
            }
        }
    };
}

errnos! {
    EPERM = 1, "Operation not permitted";
    ENOENT = 2, "No such file or directory";
    ESRCH = 3, "No such process";
    EINTR = 4, "Interrupted system call";
    EIO = 5, "Input/output error";
    ENXIO = 6, "No such device or address";
    E2BIG = 7, "Argument list too long";
    ENOEXEC = 8, "Exec format error";
    EBADF = 9, "Bad file descriptor";
    ECHILD = 10, "No child processes";
    EAGAIN = 11, "Resource temporarily unavailable";
    ENOMEM = 12, "Cannot allocate memory";
    EACCES = 13, "Permission denied";
    EFAULT = 14, "Bad address";
    ENOTBLK = 15, "Block device required";
    EBUSY = 16, "Device or resource busy";
    EEXIST = 17, "File exists";
    EXDEV = 18, "Invalid cross-device link";
    ENODEV = 19, "No such device";
    ENOTDIR = 20, "Not a directory";
    EISDIR = 21, "Is a directory";
    EINVAL = 22, "Invalid argument";
    ENFILE = 23, "Too many open files in system";
    EMFILE = 24, "Too many open files";
    ENOTTY = 25, "Inappropriate ioctl for device";
    ETXTBSY = 26, "Text file busy";
    EFBIG = 27, "File too large";
    ENOSPC = 28, "No space left on device";
    ESPIPE = 29, "Illegal seek";
    EROFS = 30, "Read-only file system";
    EMLINK = 31, "Too many links";
    EPIPE = 32, "Broken pipe";
    EDOM = 33, "Numerical argument out of domain";
    ERANGE = 34, "Numerical result out of range";
    EDEADLK = 35, "Resource deadlock avoided";
    ENAMETOOLONG = 36, "File name too long";
    ENOLCK = 37, "No locks available";
    ENOSYS = 38, "Function not implemented";
    ENOTEMPTY = 39, "Directory not empty";
    ELOOP = 40, "Too many levels of symbolic links";
    ENOMSG = 42, "No message of desired type";
    EIDRM = 43, "Identifier removed";
    ENOSTR = 60, "Device not a stream";
    ENODATA = 61, "No data available";
    ETIME = 62, "Timer expired";
    ENOSR = 63, "Out of streams resources";
    ENOLINK = 67, "Link has been severed";
    EPROTO = 71, "Protocol error";
    EBADMSG = 74, "Bad message";
    EOVERFLOW = 75, "Value too large for defined data type";
    EILSEQ = 84, "Invalid or incomplete multibyte or wide character";
    EUSERS = 87, "Too many users";
    ENOTSOCK = 88, "Socket operation on non-socket";
    EDESTADDRREQ = 89, "Destination address required";
    EMSGSIZE = 90, "Message too long";
    EPROTOTYPE = 91, "Protocol wrong type for socket";
    ENOPROTOOPT = 92, "Protocol not available";
    EPROTONOSUPPORT = 93, "Protocol not supported";
    ESOCKTNOSUPPORT = 94, "Socket type not supported";
    EOPNOTSUPP = 95, "Operation not supported";
    EPFNOSUPPORT = 96, "Protocol family not supported";
    EAFNOSUPPORT = 97, "Address family not supported by protocol";
    EADDRINUSE = 98, "Address already in use";
    EADDRNOTAVAIL = 99, "Cannot assign requested address";
    ENETDOWN = 100, "Network is down";
    ENETUNREACH = 101, "Network is unreachable";
    ENETRESET = 102, "Network dropped connection on reset";
    ECONNABORTED = 103, "Software caused connection abort";
    ECONNRESET = 104, "Connection reset by peer";
    ENOBUFS = 105, "No buffer space available";
    EISCONN = 106, "Transport endpoint is already connected";
    ENOTCONN = 107, "Transport endpoint is not connected";
    ESHUTDOWN = 108, "Cannot send after transport endpoint shutdown";
    ETOOMANYREFS = 109, "Too many references: cannot splice";
    ETIMEDOUT = 110, "Connection timed out";
    ECONNREFUSED = 111, "Connection refused";
    EHOSTDOWN = 112, "Host is down";
    EHOSTUNREACH = 113, "No route to host";
    EALREADY = 114, "Operation already in progress";
    EINPROGRESS = 115, "Operation now in progress";
    ESTALE = 116, "Stale file handle";
    EDQUOT = 122, "Disk quota exceeded";
    ECANCELED = 125, "Operation canceled";
    EOWNERDEAD = 130, "Owner died";
    ENOTRECOVERABLE = 131, "State not recoverable";
    ERESTARTSYS = 512, "Interrupted; restart the call if SA_RESTART (kernel-internal, never seen by a program)";
    ERESTARTNOINTR = 513, "Interrupted; restart the call (kernel-internal)";
    ERESTARTNOHAND = 514, "Interrupted; restart the call if no handler ran (kernel-internal)";
    ERESTART_RESTARTBLOCK = 516, "Interrupted; restart with restart_syscall (kernel-internal)";
}

impl Errno {
    /// This errno, produced by the kernel rule `why` (written with
    /// [`rule!`](crate::rule), or [`gap!`](crate::gap) for a model gap).
    pub const fn why(self, why: &'static Rule) -> Error {
        Error {
            errno: self,
            rule: why,
        }
    }

    /// An errno from its number (as returned by the host kernel).
    pub const fn from_raw(code: i32) -> Errno {
        Errno(code)
    }

    /// The errno number.
    pub const fn raw(self) -> i32 {
        self.0
    }

    /// The closest [`std::io::ErrorKind`].
    pub fn kind(self) -> std::io::ErrorKind {
        std::io::Error::from_raw_os_error(self.0).kind()
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "errno {}", self.0),
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}

impl std::error::Error for Errno {}

#[cfg(feature = "serde")]
impl serde::Serialize for Errno {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(self.0)
    }
}

/// On the wire an error is its errno; the rule stays on its side.
#[cfg(feature = "serde")]
impl serde::Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.errno.serialize(s)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Error {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Errno::deserialize(d).map(Error::from)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Errno {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = i32::deserialize(d)?;
        Ok(Errno::from_raw(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(Errno::EINVAL.name(), Some("EINVAL"));
        assert_eq!(Errno::from_name("EAGAIN"), Some(Errno::EAGAIN));
        assert_eq!(Errno::from_name("EWOULDBLOCK"), Some(Errno::EAGAIN));
        assert_eq!(Errno::from_raw(22), Errno::EINVAL);
        assert_eq!(Errno::from_raw(9999).name(), None);
    }

    #[test]
    fn why_does_not_change_identity() {
        let e = Errno::EMSGSIZE.why(rule!(unix_dgram_sendmsg, "len > sk_sndbuf - 32"));
        assert_eq!(e, Errno::EMSGSIZE);
        assert_eq!(
            e.rule.to_string(),
            "unix_dgram_sendmsg: len > sk_sndbuf - 32"
        );
        assert_eq!(e.rule.function(), Some("unix_dgram_sendmsg"));
        assert_eq!(e.rule.text(), "len > sk_sndbuf - 32");
        assert_eq!(
            format!("{e:?}"),
            "EMSGSIZE (unix_dgram_sendmsg: len > sk_sndbuf - 32)"
        );
    }

    #[test]
    fn an_error_is_two_words_at_most() {
        // A `SysResult<usize>` is returned by every call of the fast path.
        assert!(std::mem::size_of::<Error>() <= 16);
    }

    #[test]
    fn errno_is_matchable_and_converts() {
        let r: SysResult<()> = Err(Errno::EBADF.why(rule!(fdget, "fd is not open")));
        assert!(matches!(
            r,
            Err(Error {
                errno: Errno::EBADF,
                ..
            })
        ));
        assert!(matches!(r, Err(e) if e.errno == Errno::EBADF));
        assert_eq!(r.errno(), Err(Errno::EBADF));
        let io: std::io::Error = Errno::EBADF.why(rule!(fdget, "fd is not open")).into();
        assert_eq!(io.raw_os_error(), Some(9));
        assert_eq!(std::io::Error::from(Errno::EBADF).raw_os_error(), Some(9));
        let g = Errno::ENOPROTOOPT.why(gap!("not modelled"));
        assert!(g.is_model_gap());
        assert_eq!(g.rule.function(), None);
        assert_eq!(
            Error::from(Errno::EAGAIN).rule.kind(),
            RuleKind::Unexplained
        );
    }
}
