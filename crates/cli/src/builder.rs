//! Builds the component when its .wasm is missing or older than any file its
//! `build.watch` globs name (or when `--build` asks for it).

use crate::manifest::Manifest;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::time::SystemTime;

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Newest modification time among files matching `pattern` (`dir/**/*.ext`,
/// `dir/**`, or a plain path), relative to `base`.
fn newest(base: &Path, pattern: &str) -> Option<SystemTime> {
    let Some(star) = pattern.find('*') else {
        return mtime(&base.join(pattern));
    };
    let dir = base.join(pattern[..star].trim_end_matches('/'));
    let suffix = pattern.rsplit('*').next().unwrap_or("").to_owned();
    let mut best = None;
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(&suffix) {
                best = best.max(mtime(&p));
            }
        }
    }
    best
}

pub fn is_stale(m: &Manifest) -> bool {
    let Some(built) = mtime(&m.source) else { return true };
    m.watch
        .iter()
        .filter_map(|w| newest(&m.build_workdir, w))
        .any(|t| t > built)
}

pub fn build(m: &Manifest) -> Result<()> {
    if m.build_commands.is_empty() {
        bail!(
            "{} is missing and the manifest has no [component.{}.build] command",
            m.source.display(),
            m.component_id
        );
    }
    for cmd in &m.build_commands {
        eprintln!("ai-proxy: building: {cmd}");
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(&m.build_workdir)
            .status()
            .with_context(|| format!("running {cmd}"))?;
        if !status.success() {
            bail!("build command failed ({status}): {cmd}");
        }
    }
    if !m.source.exists() {
        bail!("the build finished but {} does not exist", m.source.display());
    }
    // Cargo leaves the .wasm untouched when a watched file changed without
    // changing the output (a comment in Cargo.toml): mark it fresh so the
    // next start does not rebuild again.
    if let Ok(f) = std::fs::File::options().append(true).open(&m.source) {
        let _ = f.set_modified(SystemTime::now());
    }
    Ok(())
}
