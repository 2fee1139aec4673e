//! The socket layer: the generic syscall face (`net/socket.c`), ancillary
//! data (`net/core/scm.c`) and the unix protocol (`net/unix/`).

pub mod scm;
pub mod socket;
pub mod sockopt;
pub mod unix;
