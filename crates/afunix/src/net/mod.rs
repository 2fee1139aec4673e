//! The socket layer: the generic syscall face (`net/socket.c`), ancillary
//! data (`net/core/scm.c`) and the unix protocol (`net/unix/`).

pub(crate) mod filter;
mod objects;
pub(crate) mod scm;
pub(crate) mod skbuff;
pub mod socket;
pub(crate) mod sockopt;
pub(crate) mod unix;

pub use objects::{FileIo, FromOwnedFd, OwnedFd, UnixDatagram, UnixListener, UnixStream};
