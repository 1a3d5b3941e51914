//! Language-package catalogers: Python, Node, Rust (lockfiles and audit data) and Go.

use serde::Deserialize;
use serde_json::Value;

use super::control::{self, field};
use super::{Package, PackageType, purl};
use crate::layers::Inventory;

fn package(
    kind: PackageType,
    name: &str,
    version: &str,
    purl: String,
    layer: usize,
    location: &str,
    license: Option<String>,
) -> Package {
    Package {
        name: name.to_string(),
        version: version.to_string(),
        kind,
        purl,
        layer,
        locations: vec![location.to_string()],
        source_name: None,
        source_version: None,
        arch: None,
        license: license.filter(|l| !l.is_empty() && l != "UNKNOWN"),
    }
}

/// PEP 503 normalisation: lowercase, runs of `-`, `_`, `.` become one `-`.
pub fn normalize_python_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Installed Python distributions.
pub(super) fn python(inv: &Inventory) -> Vec<Package> {
    inv.visible_captured()
        .filter(|c| {
            c.path.ends_with(".dist-info/METADATA")
                || c.path.ends_with(".egg-info/PKG-INFO")
                || c.path.ends_with(".egg-info")
        })
        .filter_map(|c| {
            let m = control::core_metadata(&String::from_utf8_lossy(&c.data));
            let name = field(&m, "Name")?;
            let version = field(&m, "Version")?;
            let license = field(&m, "License-Expression")
                .or_else(|| field(&m, "License"))
                .map(|l| l.lines().next().unwrap_or("").to_string());
            Some(package(
                PackageType::Python,
                name,
                version,
                purl("pypi", None, &normalize_python_name(name), version, &[]),
                c.layer,
                &c.path,
                license,
            ))
        })
        .collect()
}

/// `@scope/name` → (`Some("@scope")`, `name`).
fn npm_split(name: &str) -> (Option<&str>, &str) {
    match name.strip_prefix('@').and_then(|_| name.split_once('/')) {
        Some((scope, n)) => (Some(scope), n),
        None => (None, name),
    }
}

fn npm_package(
    name: &str,
    version: &str,
    layer: usize,
    location: &str,
    license: Option<String>,
) -> Package {
    let (ns, n) = npm_split(name);
    package(
        PackageType::Npm,
        name,
        version,
        purl("npm", ns, n, version, &[]),
        layer,
        location,
        license,
    )
}

fn npm_license(v: &Value) -> Option<String> {
    match v.get("license")? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("type")?.as_str().map(str::to_string),
        _ => None,
    }
}

/// Installed Node packages and lockfile entries.
pub(super) fn npm(inv: &Inventory) -> Vec<Package> {
    let mut out = Vec::new();
    for c in inv.visible_captured() {
        let base = c.path.rsplit('/').next().unwrap_or("");
        match base {
            "package.json" => {
                let Ok(v) = serde_json::from_slice::<Value>(&c.data) else {
                    continue;
                };
                if let (Some(name), Some(version)) = (
                    v.get("name").and_then(Value::as_str),
                    v.get("version").and_then(Value::as_str),
                ) {
                    out.push(npm_package(
                        name,
                        version,
                        c.layer,
                        &c.path,
                        npm_license(&v),
                    ));
                }
            }
            "package-lock.json" => {
                let Ok(v) = serde_json::from_slice::<Value>(&c.data) else {
                    continue;
                };
                for (name, version) in package_lock(&v) {
                    out.push(npm_package(&name, &version, c.layer, &c.path, None));
                }
            }
            "yarn.lock" => {
                for (name, version) in yarn_lock(&String::from_utf8_lossy(&c.data)) {
                    out.push(npm_package(&name, &version, c.layer, &c.path, None));
                }
            }
            _ => {}
        }
    }
    out
}

/// `(name, version)` pairs of a `package-lock.json` (lockfile v1, v2 and v3).
pub fn package_lock(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(packages) = v.get("packages").and_then(Value::as_object) {
        for (path, p) in packages {
            if path.is_empty() || p.get("link").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let Some(idx) = path.rfind("node_modules/") else {
                continue;
            };
            let name = p
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&path[idx + "node_modules/".len()..]);
            if let Some(version) = p.get("version").and_then(Value::as_str) {
                out.push((name.to_string(), version.to_string()));
            }
        }
        return out;
    }
    fn walk(deps: &serde_json::Map<String, Value>, out: &mut Vec<(String, String)>) {
        for (name, d) in deps {
            if let Some(version) = d.get("version").and_then(Value::as_str)
                && !version.starts_with("file:")
            {
                out.push((name.clone(), version.to_string()));
            }
            if let Some(nested) = d.get("dependencies").and_then(Value::as_object) {
                walk(nested, out);
            }
        }
    }
    if let Some(deps) = v.get("dependencies").and_then(Value::as_object) {
        walk(deps, &mut out);
    }
    out
}

/// `(name, version)` pairs of a `yarn.lock` (classic v1 and Berry's YAML form).
pub fn yarn_lock(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !line.starts_with(' ') {
            current = None;
            let Some(head) = line.strip_suffix(':') else {
                continue;
            };
            let first = head.split(", ").next().unwrap_or("").trim_matches('"');
            if first.starts_with("__metadata")
                || first.contains("@workspace:")
                || first.contains("@patch:")
            {
                continue;
            }
            // The name ends at the last '@' that is not the scope's leading '@'.
            if let Some(at) = first[1.min(first.len())..].find('@') {
                current = Some(first[..at + 1].to_string());
            }
            continue;
        }
        let trimmed = line.trim();
        let version = trimmed
            .strip_prefix("version ")
            .or_else(|| trimmed.strip_prefix("version: "));
        if let Some(v) = version
            && let Some(name) = current.take()
        {
            out.push((name, v.trim().trim_matches('"').to_string()));
        }
    }
    out
}

#[derive(Deserialize)]
struct CargoLock {
    #[serde(default)]
    package: Vec<CargoLockPackage>,
}

#[derive(Deserialize)]
struct CargoLockPackage {
    name: String,
    version: String,
    source: Option<String>,
}

/// `(name, version)` of the registry and git packages of a `Cargo.lock` (workspace
/// members have no `source`: they are the program itself, not dependencies).
pub fn cargo_lock(text: &str) -> Vec<(String, String)> {
    toml::from_str::<CargoLock>(text)
        .map(|l| {
            l.package
                .into_iter()
                .filter(|p| p.source.is_some())
                .map(|p| (p.name, p.version))
                .collect()
        })
        .unwrap_or_default()
}

/// Rust crates from `Cargo.lock` files.
pub(super) fn cargo(inv: &Inventory) -> Vec<Package> {
    inv.visible_captured()
        .filter(|c| c.path.ends_with("Cargo.lock"))
        .flat_map(|c| {
            cargo_lock(&String::from_utf8_lossy(&c.data))
                .into_iter()
                .map(move |(name, version)| {
                    let purl = purl("cargo", None, &name, &version, &[]);
                    package(
                        PackageType::Cargo,
                        &name,
                        &version,
                        purl,
                        c.layer,
                        &c.path,
                        None,
                    )
                })
        })
        .collect()
}

/// A Go module path as a purl namespace and name (`golang.org/x/net` → `golang.org/x`, `net`).
fn go_purl(module: &str, version: &str) -> String {
    match module.rsplit_once('/') {
        Some((ns, name)) => purl("golang", Some(ns), name, version, &[]),
        None => purl("golang", None, module, version, &[]),
    }
}

/// `go1.22.1` → `1.22.1`, `go1.21` → `1.21.0`, `go1.21rc2` → `1.21.0-rc.2` (the versions
/// OSV's Go ecosystem uses for the `stdlib` package).
pub fn go_toolchain_version(v: &str) -> Option<String> {
    let v = v.split_whitespace().next()?.strip_prefix("go")?;
    let (core, pre) = match v.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&v[..i], Some(&v[i..])),
        None => (v, None),
    };
    let mut parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty()
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    while parts.len() < 3 {
        parts.push("0");
    }
    let mut out = parts.join(".");
    if let Some(pre) = pre {
        let (tag, num) = pre.split_at(pre.find(|c: char| c.is_ascii_digit()).unwrap_or(pre.len()));
        out.push('-');
        out.push_str(tag);
        if !num.is_empty() {
            out.push('.');
            out.push_str(num);
        }
    }
    Some(out)
}

/// Go modules and Rust crates recorded in executables.
pub(super) fn binaries(inv: &Inventory) -> Vec<Package> {
    let mut out = Vec::new();
    for b in inv
        .binaries
        .iter()
        .filter(|b| inv.is_visible(b.layer, &b.path))
    {
        if let Some(go) = &b.facts.go {
            if let Some(v) = go_toolchain_version(&go.go_version) {
                out.push(package(
                    PackageType::Go,
                    "stdlib",
                    &v,
                    purl("golang", None, "stdlib", &v, &[]),
                    b.layer,
                    &b.path,
                    None,
                ));
            }
            let main = go
                .main
                .iter()
                .filter(|(_, v)| v != "(devel)" && !v.is_empty());
            for (module, version) in main.chain(go.deps.iter()) {
                out.push(package(
                    PackageType::Go,
                    module,
                    version,
                    go_purl(module, version),
                    b.layer,
                    &b.path,
                    None,
                ));
            }
        }
        for c in &b.facts.rust {
            out.push(package(
                PackageType::Cargo,
                &c.name,
                &c.version,
                purl("cargo", None, &c.name, &c.version, &[]),
                b.layer,
                &b.path,
                None,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_names_normalise() {
        assert_eq!(normalize_python_name("Django"), "django");
        assert_eq!(normalize_python_name("zope.interface"), "zope-interface");
        assert_eq!(
            normalize_python_name("typing__Extensions"),
            "typing-extensions"
        );
    }

    #[test]
    fn package_lock_v1_and_v3() {
        let v3: Value = serde_json::from_str(
            r#"{"lockfileVersion":3,"packages":{"":{"name":"app"},
            "node_modules/lodash":{"version":"4.17.20"},
            "node_modules/@babel/core":{"version":"7.0.0"},
            "node_modules/a/node_modules/b":{"version":"1.0.0"},
            "node_modules/linked":{"link":true}}}"#,
        )
        .unwrap();
        let mut got = package_lock(&v3);
        got.sort();
        assert_eq!(
            got,
            vec![
                ("@babel/core".to_string(), "7.0.0".to_string()),
                ("b".into(), "1.0.0".into()),
                ("lodash".into(), "4.17.20".into())
            ]
        );
        let v1: Value = serde_json::from_str(
            r#"{"lockfileVersion":1,"dependencies":{"x":{"version":"1.0.0","dependencies":{"y":{"version":"2.0.0"}}},"local":{"version":"file:../local"}}}"#,
        )
        .unwrap();
        assert_eq!(
            package_lock(&v1),
            vec![
                ("x".to_string(), "1.0.0".to_string()),
                ("y".into(), "2.0.0".into())
            ]
        );
    }

    #[test]
    fn yarn_lock_classic_and_berry() {
        let classic = "# yarn lockfile v1\n\n\"@babel/code-frame@^7.0.0\", \"@babel/code-frame@^7.10.4\":\n  version \"7.12.13\"\n  resolved \"https://x\"\n\nlodash@^4.17.0:\n  version \"4.17.21\"\n";
        assert_eq!(
            yarn_lock(classic),
            vec![
                ("@babel/code-frame".to_string(), "7.12.13".to_string()),
                ("lodash".into(), "4.17.21".into())
            ]
        );
        let berry = "__metadata:\n  version: 6\n\n\"lodash@npm:^4.17.0\":\n  version: 4.17.21\n  resolution: \"lodash@npm:4.17.21\"\n\n\"app@workspace:.\":\n  version: 0.0.0-use.local\n";
        assert_eq!(
            yarn_lock(berry),
            vec![("lodash".to_string(), "4.17.21".to_string())]
        );
    }

    #[test]
    fn cargo_lock_skips_workspace_members() {
        let lock = "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
        assert_eq!(
            cargo_lock(lock),
            vec![("smallvec".to_string(), "1.6.0".to_string())]
        );
        assert!(cargo_lock("not toml [[").is_empty());
    }

    #[test]
    fn go_toolchain_versions() {
        assert_eq!(go_toolchain_version("go1.22.1").as_deref(), Some("1.22.1"));
        assert_eq!(go_toolchain_version("go1.20").as_deref(), Some("1.20.0"));
        assert_eq!(
            go_toolchain_version("go1.21rc2").as_deref(),
            Some("1.21.0-rc.2")
        );
        assert_eq!(
            go_toolchain_version("go1.22.1 X:boringcrypto").as_deref(),
            Some("1.22.1")
        );
        assert_eq!(go_toolchain_version("devel +abc"), None);
    }
}
