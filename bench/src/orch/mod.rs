//! Orchestrator (see bin/bench.rs).
