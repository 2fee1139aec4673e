//! The host backend: scenario calls on the real Linux kernel.
