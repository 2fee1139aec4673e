//! The scenario interface of afunix: the calls of the scenario language as
//! data ([`backend::Call`], [`backend::Reply`]), the [`backend::Backend`]
//! trait that the model and the host kernel both implement, and the model
//! as a backend ([`sim::SimBackend`]).
//!
//! It is its own crate so that the model (`afunix`) does not know the
//! scenario language: the CLI (parser, runner, trace) and the host backend
//! (`afunix-host`, whose codec serialises the same [`backend::Call`] and
//! [`backend::Reply`] types with serde) depend on it, the model does not.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backend;
pub mod call;
pub mod sim;

pub use backend::{Backend, BackendError, Call, Out, ProcId, Progress, Reply};
pub use sim::SimBackend;
