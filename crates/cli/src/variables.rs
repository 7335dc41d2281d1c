//! Variable resolution as Spin does it: `SPIN_VARIABLE_<NAME>` from the
//! environment, then a `.env` file next to spin.toml, then the default.
//! Component variables are templates over application variables.

use crate::manifest::Manifest;
use anyhow::{bail, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

pub fn env_name(var: &str) -> String {
    format!("SPIN_VARIABLE_{}", var.to_ascii_uppercase())
}

/// Parses `.env` lines `KEY=VALUE` (optional `export `, quotes, comments).
pub fn parse_dotenv(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
                .unwrap_or(v);
            out.insert(k.trim().to_owned(), v.to_owned());
        }
    }
    out
}

/// Resolves application variables. `env` is the process environment.
pub fn resolve_app(manifest: &Manifest, env: &HashMap<String, String>) -> Result<BTreeMap<String, String>> {
    let dotenv = std::fs::read_to_string(manifest.dir.join(".env"))
        .map(|t| parse_dotenv(&t))
        .unwrap_or_default();
    let mut out = BTreeMap::new();
    let mut missing = Vec::new();
    for (name, decl) in &manifest.app_variables {
        let key = env_name(name);
        let value = env
            .get(&key)
            .or_else(|| dotenv.get(&key))
            .cloned()
            .or_else(|| decl.default.clone());
        match value {
            Some(v) => {
                out.insert(name.clone(), v);
            }
            None if decl.required => missing.push(name.clone()),
            None => {}
        }
    }
    if !missing.is_empty() {
        let how: Vec<String> = missing
            .iter()
            .map(|n| {
                format!(
                    "  {n}: set {} in the environment or in {}",
                    env_name(n),
                    dotenv_path(&manifest.dir)
                )
            })
            .collect();
        bail!(
            "required variable(s) not set: {}\n{}",
            missing.join(", "),
            how.join("\n")
        );
    }
    Ok(out)
}

fn dotenv_path(dir: &Path) -> String {
    dir.join(".env").display().to_string()
}

/// Expands `{{ name }}` templates against application variables.
pub fn expand(template: &str, app: &BTreeMap<String, String>) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            bail!("unterminated '{{{{' in {template:?}");
        };
        let name = after[..end].trim();
        match app.get(name) {
            Some(v) => out.push_str(v),
            None => bail!("template {template:?} uses unknown or unset variable {name:?}"),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The component's variables: its templates expanded.
pub fn resolve_component(manifest: &Manifest, app: &BTreeMap<String, String>) -> Result<HashMap<String, String>> {
    manifest
        .component_variables
        .iter()
        .map(|(k, t)| Ok((k.clone(), expand(t, app)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Manifest;

    fn manifest(dir: &Path) -> Manifest {
        Manifest::parse(
            r#"
spin_manifest_version = 2
[variables]
token = { required = true, secret = true }
debug = { default = "false" }
[[trigger.http]]
route = "/..."
component = "app"
[component.app]
source = "app.wasm"
[component.app.variables]
token = "{{ token }}"
mode = "debug={{debug}}"
"#,
            dir,
        )
        .unwrap()
    }

    #[test]
    fn env_wins_over_dotenv_which_wins_over_default() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "SPIN_VARIABLE_TOKEN=fromfile\nSPIN_VARIABLE_DEBUG='true'\n",
        )
        .unwrap();
        let m = manifest(dir.path());
        let app = resolve_app(&m, &HashMap::new()).unwrap();
        assert_eq!(app["token"], "fromfile");
        assert_eq!(app["debug"], "true");
        let env = HashMap::from([("SPIN_VARIABLE_TOKEN".to_string(), "fromenv".to_string())]);
        let app = resolve_app(&m, &env).unwrap();
        assert_eq!(app["token"], "fromenv");
        let comp = resolve_component(&m, &app).unwrap();
        assert_eq!(comp["mode"], "debug=true");
    }

    #[test]
    fn missing_required_variable_names_it_and_how_to_set_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = resolve_app(&manifest(dir.path()), &HashMap::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("token"), "{err}");
        assert!(err.contains("SPIN_VARIABLE_TOKEN"), "{err}");
    }

    #[test]
    fn templates_reject_unknown_names_and_unterminated_braces() {
        let app = BTreeMap::from([("a".to_string(), "1".to_string())]);
        assert_eq!(expand("x{{ a }}y", &app).unwrap(), "x1y");
        assert!(expand("{{ b }}", &app).is_err());
        assert!(expand("{{ a", &app).is_err());
    }
}
