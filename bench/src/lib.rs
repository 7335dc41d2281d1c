//! ai-proxy loopback benchmark: a fast mock upstream, a keep-alive load
//! generator and an orchestrator that compares the direct path
//! (loadgen → mock) with the proxied path (loadgen → ai-proxy → mock).

pub mod client;
pub mod load;
pub mod mock;
pub mod orch;
pub mod payloads;
pub mod stats;
