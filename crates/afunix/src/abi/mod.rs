//! Linux wire formats as typed views over bytes (the smoltcp `wire` style):
//! a view that validates lengths and whose accessors cannot panic, and a
//! repr for the valid subset with `parse`/`emit`/`buffer_len`.

pub mod consts;
