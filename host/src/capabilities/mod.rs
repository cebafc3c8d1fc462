//! Host capabilities offered to plugins beyond tracing itself, each traced:
//! the calls a plugin makes through them appear as spans in its trace.

pub mod cache;
