//! Reads the parts of `spin.toml` that `ai-proxy up` honours: the HTTP
//! component, its source and build, variables, key-value stores and
//! outbound allowlist.

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct RawManifest {
    spin_manifest_version: toml::Value,
    #[serde(default)]
    variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    trigger: RawTriggers,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Debug, Default, Deserialize)]
struct RawTriggers {
    #[serde(default)]
    http: Vec<RawHttpTrigger>,
}

#[derive(Debug, Deserialize)]
struct RawHttpTrigger {
    route: toml::Value,
    component: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawComponent {
    source: toml::Value,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    build: Option<RawBuild>,
}

#[derive(Debug, Deserialize)]
struct RawBuild {
    command: toml::Value,
    workdir: Option<String>,
    #[serde(default)]
    watch: Vec<String>,
}

/// An application variable declaration (`[variables]`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct VariableDecl {
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
}

/// The HTTP component to serve, with everything resolved relative to the
/// manifest's directory.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub dir: PathBuf,
    pub component_id: String,
    pub source: PathBuf,
    pub build_commands: Vec<String>,
    pub build_workdir: PathBuf,
    pub watch: Vec<String>,
    pub key_value_stores: Vec<String>,
    pub allowed_outbound_hosts: Vec<String>,
    pub app_variables: BTreeMap<String, VariableDecl>,
    /// Component variables: name -> template (may contain `{{ app_var }}`).
    pub component_variables: BTreeMap<String, String>,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, &dir).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str, dir: &Path) -> Result<Manifest> {
        let raw: RawManifest = toml::from_str(text)?;
        if raw.spin_manifest_version.as_integer() != Some(2) {
            bail!("only spin_manifest_version = 2 is supported");
        }
        let trigger = match raw.trigger.http.as_slice() {
            [] => bail!("no [[trigger.http]] in the manifest"),
            [one] => one,
            many => many
                .iter()
                .find(|t| t.route.as_str() == Some("/..."))
                .ok_or_else(|| anyhow!("several HTTP triggers and none with route \"/...\""))?,
        };
        let id = trigger
            .component
            .clone()
            .ok_or_else(|| anyhow!("the HTTP trigger must name its component with component = \"id\""))?;
        let comp = raw
            .component
            .get(&id)
            .ok_or_else(|| anyhow!("trigger names component {id:?}, which is not defined"))?;
        let source = comp
            .source
            .as_str()
            .ok_or_else(|| anyhow!("component {id}: only a local file `source` is supported"))?;
        let (build_commands, build_workdir, watch) = match &comp.build {
            None => (Vec::new(), dir.to_path_buf(), Vec::new()),
            Some(b) => {
                let cmds = match &b.command {
                    toml::Value::String(s) => vec![s.clone()],
                    toml::Value::Array(a) => a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
                    _ => bail!("component {id}: build.command must be a string or a list"),
                };
                let wd = b
                    .workdir
                    .as_ref()
                    .map(|w| dir.join(w))
                    .unwrap_or_else(|| dir.to_path_buf());
                (cmds, wd, b.watch.clone())
            }
        };
        for (name, decl) in &raw.variables {
            if decl.required == decl.default.is_some() {
                bail!("variable {name}: exactly one of `required = true` or `default` must be set");
            }
        }
        Ok(Manifest {
            dir: dir.to_path_buf(),
            component_id: id.clone(),
            source: dir.join(source),
            build_commands,
            build_workdir,
            watch,
            key_value_stores: comp.key_value_stores.clone(),
            allowed_outbound_hosts: comp.allowed_outbound_hosts.clone(),
            app_variables: raw.variables,
            component_variables: comp.variables.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
spin_manifest_version = 2
[application]
name = "x"
[variables]
token = { required = true, secret = true }
debug = { default = "false" }
[[trigger.http]]
route = "/..."
component = "app"
[component.app]
source = "target/app.wasm"
key_value_stores = ["default"]
allowed_outbound_hosts = ["https://api.example.com"]
[component.app.variables]
token = "{{ token }}"
[component.app.build]
command = "cargo build"
watch = ["src/**/*.rs"]
"#;

    #[test]
    fn reads_component_build_variables_and_hosts() {
        let m = Manifest::parse(SAMPLE, Path::new("/app")).unwrap();
        assert_eq!(m.component_id, "app");
        assert_eq!(m.source, Path::new("/app/target/app.wasm"));
        assert_eq!(m.build_commands, vec!["cargo build"]);
        assert_eq!(m.key_value_stores, vec!["default"]);
        assert_eq!(m.allowed_outbound_hosts, vec!["https://api.example.com"]);
        assert!(m.app_variables["token"].required);
        assert_eq!(m.component_variables["token"], "{{ token }}");
    }

    #[test]
    fn rejects_variable_with_both_required_and_default() {
        let bad = SAMPLE.replace(
            r#"debug = { default = "false" }"#,
            r#"debug = { default = "false", required = true }"#,
        );
        assert!(Manifest::parse(&bad, Path::new("/")).is_err());
    }
}
