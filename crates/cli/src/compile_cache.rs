//! Compiling a component takes seconds; the compiled form is cached in the
//! state dir, keyed by the wasm's hash and the engine's compatibility hash.

use anyhow::{Context, Result};
use std::hash::{Hash, Hasher};
use std::path::Path;
use wasmtime::component::Component;
use wasmtime::Engine;

pub fn load(engine: &Engine, wasm_path: &Path, cache_dir: &Path) -> Result<Component> {
    let wasm = std::fs::read(wasm_path).with_context(|| format!("reading {}", wasm_path.display()))?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    wasm.hash(&mut h);
    engine.precompile_compatibility_hash().hash(&mut h);
    let cached = cache_dir.join(format!("ai_proxy-{:016x}.cwasm", h.finish()));
    if cached.exists() {
        // SAFETY: the file was written by `Component::serialize` of this same
        // engine configuration (the compatibility hash is in its name) in our
        // own state dir.
        if let Ok(c) = unsafe { Component::deserialize_file(engine, &cached) } {
            return Ok(c);
        }
    }
    let component = Component::new(engine, &wasm)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("compiling {}", wasm_path.display()))?;
    if let Ok(bytes) = component.serialize() {
        let _ = std::fs::create_dir_all(cache_dir);
        // Drop stale compilations so the cache does not grow without bound.
        if let Ok(entries) = std::fs::read_dir(cache_dir) {
            for e in entries.flatten() {
                let name = e.file_name();
                if name.to_string_lossy().starts_with("ai_proxy-") && name.to_string_lossy().ends_with(".cwasm") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let tmp = cached.with_extension("tmp");
        if std::fs::write(&tmp, bytes).is_ok() {
            let _ = std::fs::rename(&tmp, &cached);
        }
    }
    Ok(component)
}
