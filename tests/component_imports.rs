//! Portability contract: the built component imports only interfaces that
//! the world in `wit/` declares.

use std::collections::BTreeSet;
use std::path::Path;

fn component_imports(wasm: &[u8]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.expect("component parses") {
            wasmparser::Payload::ModuleSection { .. } | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(s) if depth == 0 => {
                for import in s {
                    out.insert(import.expect("import").name.0.to_string());
                }
            }
            _ => {}
        }
    }
    out
}

fn world_imports(wit_dir: &Path) -> BTreeSet<String> {
    let mut resolve = wit_parser::Resolve::default();
    let (pkg, _) = resolve.push_dir(wit_dir).expect("wit/ parses");
    let world = resolve.select_world(&[pkg], Some("ai-proxy")).expect("world ai-proxy");
    resolve.worlds[world]
        .imports
        .keys()
        .map(|k| resolve.name_world_key(k))
        .collect()
}

/// `wasi:io/poll@0.2.6` is satisfied by `wasi:io/poll@0.2.12` (same 0.2 line,
/// not newer), as hosts link it; other versions must match exactly.
fn compatible(import: &str, declared: &str) -> bool {
    let (Some((iname, iver)), Some((dname, dver))) = (import.split_once('@'), declared.split_once('@')) else {
        return import == declared;
    };
    if iname != dname {
        return false;
    }
    let parse = |v: &str| -> Option<(u64, u64, u64)> {
        let mut it = v.split('.').map(|p| p.parse::<u64>().ok());
        Some((it.next()??, it.next()??, it.next()??))
    };
    match (parse(iver), parse(dver)) {
        (Some(i), Some(d)) if i.0 == 0 && d.0 == 0 => i.1 == d.1 && i.2 <= d.2,
        _ => iver == dver,
    }
}

#[test]
fn compatible_versions_follow_host_linking() {
    assert!(compatible("wasi:io/poll@0.2.6", "wasi:io/poll@0.2.12"));
    assert!(!compatible("wasi:io/poll@0.2.13", "wasi:io/poll@0.2.12"));
    assert!(!compatible("wasi:io/poll@0.3.0", "wasi:io/poll@0.2.12"));
    assert!(!compatible("wasi:io/streams@0.2.6", "wasi:io/poll@0.2.12"));
    assert!(compatible(
        "spin:variables/variables@3.0.0",
        "spin:variables/variables@3.0.0"
    ));
    assert!(!compatible(
        "spin:variables/variables@3.1.0",
        "spin:variables/variables@3.0.0"
    ));
}

#[test]
fn component_imports_only_what_wit_declares() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let wasm_path = root.join("target/wasm32-wasip2/release/ai_proxy.wasm");
    let wasm = std::fs::read(&wasm_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} — build it first: cargo build --target wasm32-wasip2 --release -p ai-proxy",
            wasm_path.display()
        )
    });
    let actual = component_imports(&wasm);
    let allowed = world_imports(&root.join("wit"));
    eprintln!("component imports: {actual:#?}");
    let extra: Vec<_> = actual
        .iter()
        .filter(|i| !allowed.iter().any(|a| compatible(i, a)))
        .collect();
    assert!(extra.is_empty(), "imports not declared in wit/: {extra:?}");
    // The contract must be live, not vacuous.
    for needed in ["wasi:http/types@0.3.0", "spin:variables/variables@3.0.0"] {
        assert!(actual.contains(needed), "expected the component to import {needed}");
    }
}
