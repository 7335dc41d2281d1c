//! Embeds the vault UI (`ui/`) and, when present, a fallback vault
//! (`config/ai.json.enc`) into the core, so every host serves them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());

    let ui_dir = root.join("ui");
    println!("cargo:rerun-if-changed={}", ui_dir.display());
    let mut files = Vec::new();
    collect(&ui_dir, &ui_dir, &mut files);
    files.sort();
    let mut code =
        String::from("/// Embedded UI files: (path under /ui/, bytes).\npub static UI_FILES: &[(&str, &[u8])] = &[\n");
    for (rel, abs) in &files {
        println!("cargo:rerun-if-changed={}", abs.display());
        writeln!(code, "    ({rel:?}, include_bytes!({:?})),", abs.display().to_string()).unwrap();
    }
    code.push_str("];\n");

    let config_dir = root.join("config");
    let vault = config_dir.join("ai.json.enc");
    // Watching the directory notices the vault being added or removed. The
    // file itself only when it exists: cargo treats a missing watched path as
    // always changed and would rerun this script (and rebuild the core) on
    // every build.
    println!("cargo:rerun-if-changed={}", config_dir.display());
    if vault.is_file() {
        println!("cargo:rerun-if-changed={}", vault.display());
        writeln!(code, "/// Fallback vault embedded at build time.\npub static EMBEDDED_VAULT: Option<&str> = Some(include_str!({:?}));", vault.display().to_string()).unwrap();
    } else {
        code.push_str("/// No config/ai.json.enc at build time.\npub static EMBEDDED_VAULT: Option<&str> = None;\n");
    }
    std::fs::write(out.join("embedded.rs"), code).unwrap();
}

fn collect(base: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(base, &p, out);
        } else if let Ok(rel) = p.strip_prefix(base) {
            let name = rel.to_string_lossy().replace('\\', "/");
            // Editor droppings and hidden files are not part of the UI.
            if !name.starts_with('.') && !name.ends_with('~') {
                out.push((name, p.canonicalize().unwrap_or(p)));
            }
        }
    }
}
