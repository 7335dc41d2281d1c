//! Files compiled into every host: the vault UI and an optional fallback vault.
include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// The embedded UI file at `path` (relative to `/ui/`), with its content type.
pub fn ui_file(path: &str) -> Option<(&'static [u8], &'static str)> {
    let path = if path.is_empty() { "index.html" } else { path };
    UI_FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(p, bytes)| (*bytes, content_type(p)))
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}
