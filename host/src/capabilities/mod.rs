//! Host capabilities offered to plugins beyond telemetry itself, each
//! traced: the calls a plugin makes through them appear as spans in its
//! trace, admitted by its span table like its own.

pub mod cache;
pub(crate) mod calls;
