//! Operating-system catalogers: the distribution (`os-release`), dpkg and apk databases.

use std::collections::HashMap;

use super::control::{self, field};
use super::{Distro, Package, PackageType, purl};
use crate::layers::{Captured, Inventory};

const DPKG_STATUS: &str = "var/lib/dpkg/status";
const DPKG_STATUS_D: &str = "var/lib/dpkg/status.d/";
const APK_DBS: [&str; 2] = ["lib/apk/db/installed", "usr/lib/apk/db/installed"];

/// The distribution named by `etc/os-release` (else `usr/lib/os-release`).
pub(super) fn distro(inv: &Inventory) -> Option<Distro> {
    let file = inv
        .visible_file("etc/os-release")
        .or_else(|| inv.visible_file("usr/lib/os-release"))?;
    let kv = control::os_release(&String::from_utf8_lossy(&file.data));
    let get = |k: &str| {
        kv.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let id = get("ID");
    if id.is_empty() {
        return None;
    }
    Some(Distro {
        id,
        version_id: get("VERSION_ID"),
        codename: get("VERSION_CODENAME"),
        pretty_name: get("PRETTY_NAME"),
    })
}

/// dpkg's view of whether a package is there: `dpkg-query -W` lists every package in the
/// database except purged (`not-installed`) ones; we also leave out `config-files` (only
/// conffiles remain, no code to be vulnerable).
fn dpkg_present(stanza: &control::Stanza) -> bool {
    match field(stanza, "Status") {
        None => true,
        Some(s) => !matches!(
            s.split_whitespace().nth(2),
            Some("not-installed" | "config-files")
        ),
    }
}

/// `Source: name` or `Source: name (version)`.
fn parse_source(s: &str) -> (String, Option<String>) {
    match s.split_once('(') {
        Some((n, v)) => (
            n.trim().to_string(),
            Some(v.trim_end_matches(')').trim().to_string()),
        ),
        None => (s.trim().to_string(), None),
    }
}

type Key = (String, String);

fn dpkg_versions(c: &Captured) -> HashMap<Key, String> {
    control::deb822(&String::from_utf8_lossy(&c.data))
        .iter()
        .filter(|s| dpkg_present(s))
        .filter_map(|s| {
            Some((
                (
                    field(s, "Package")?.to_string(),
                    field(s, "Architecture").unwrap_or("").to_string(),
                ),
                field(s, "Version")?.to_string(),
            ))
        })
        .collect()
}

/// For a shared database file: the layer from which every later version lists the package
/// with the same version (see the module doc of [`crate::sbom`]).
fn first_layer(
    history: &[(usize, HashMap<Key, String>)],
    top: usize,
    key: &Key,
    version: &str,
) -> usize {
    let mut layer = top;
    for (l, versions) in history.iter().rev().filter(|(l, _)| *l < top) {
        if versions.get(key).map(String::as_str) == Some(version) {
            layer = *l;
        } else {
            break;
        }
    }
    layer
}

fn deb_package(
    s: &control::Stanza,
    distro: Option<&Distro>,
    layer: usize,
    location: &str,
) -> Option<Package> {
    let name = field(s, "Package")?.to_string();
    let version = field(s, "Version")?.to_string();
    let arch = field(s, "Architecture").map(str::to_string);
    let (source_name, source_version) = match field(s, "Source") {
        Some(src) => {
            let (n, v) = parse_source(src);
            (Some(n).filter(|n| *n != name), v.filter(|v| *v != version))
        }
        None => (None, None),
    };
    let namespace = distro.map(|d| d.id.as_str()).unwrap_or("debian");
    let distro_q = distro.map(Distro::purl_qualifier).unwrap_or_default();
    let upstream = source_name.clone().unwrap_or_default();
    let purl = purl(
        "deb",
        Some(namespace),
        &name,
        &version,
        &[
            ("arch", arch.as_deref().unwrap_or("")),
            ("distro", &distro_q),
            ("upstream", &upstream),
        ],
    );
    Some(Package {
        name,
        version,
        kind: PackageType::Deb,
        purl,
        layer,
        locations: vec![location.to_string()],
        source_name,
        source_version,
        arch,
        license: None,
    })
}

/// Packages of the dpkg database and of distroless-style `status.d/` files.
pub(super) fn dpkg(inv: &Inventory, distro: Option<&Distro>) -> Vec<Package> {
    let mut out = Vec::new();
    if let Some(status) = inv.visible_file(DPKG_STATUS) {
        let history: Vec<(usize, HashMap<Key, String>)> = inv
            .captured
            .iter()
            .filter(|c| c.path == DPKG_STATUS && c.layer <= status.layer)
            .map(|c| (c.layer, dpkg_versions(c)))
            .collect();
        for s in control::deb822(&String::from_utf8_lossy(&status.data)) {
            if !dpkg_present(&s) {
                continue;
            }
            let Some(mut p) = deb_package(&s, distro, status.layer, DPKG_STATUS) else {
                continue;
            };
            let key = (p.name.clone(), p.arch.clone().unwrap_or_default());
            p.layer = first_layer(&history, status.layer, &key, &p.version);
            out.push(p);
        }
    }
    for c in inv
        .visible_captured()
        .filter(|c| c.path.starts_with(DPKG_STATUS_D))
    {
        for s in control::deb822(&String::from_utf8_lossy(&c.data)) {
            if dpkg_present(&s)
                && let Some(p) = deb_package(&s, distro, c.layer, &c.path)
            {
                out.push(p);
            }
        }
    }
    out
}

/// Packages of Alpine's apk database.
pub(super) fn apk(inv: &Inventory, distro: Option<&Distro>) -> Vec<Package> {
    let mut out = Vec::new();
    for db in APK_DBS {
        let Some(file) = inv.visible_file(db) else {
            continue;
        };
        let parse = |c: &Captured| -> HashMap<Key, String> {
            control::apk_db(&String::from_utf8_lossy(&c.data))
                .iter()
                .filter_map(|s| {
                    Some((
                        (
                            control::apk_field(s, "P")?.to_string(),
                            control::apk_field(s, "A").unwrap_or("").to_string(),
                        ),
                        control::apk_field(s, "V")?.to_string(),
                    ))
                })
                .collect()
        };
        let history: Vec<(usize, HashMap<Key, String>)> = inv
            .captured
            .iter()
            .filter(|c| c.path == db && c.layer <= file.layer)
            .map(|c| (c.layer, parse(c)))
            .collect();
        let distro_q = distro.map(Distro::purl_qualifier).unwrap_or_default();
        for s in control::apk_db(&String::from_utf8_lossy(&file.data)) {
            let (Some(name), Some(version)) =
                (control::apk_field(&s, "P"), control::apk_field(&s, "V"))
            else {
                continue;
            };
            let arch = control::apk_field(&s, "A").map(str::to_string);
            let origin = control::apk_field(&s, "o")
                .filter(|o| *o != name)
                .map(str::to_string);
            let key = (name.to_string(), arch.clone().unwrap_or_default());
            out.push(Package {
                name: name.to_string(),
                version: version.to_string(),
                kind: PackageType::Apk,
                purl: purl(
                    "apk",
                    Some("alpine"),
                    name,
                    version,
                    &[
                        ("arch", arch.as_deref().unwrap_or("")),
                        ("distro", &distro_q),
                        ("upstream", origin.as_deref().unwrap_or("")),
                    ],
                ),
                layer: first_layer(&history, file.layer, &key, version),
                locations: vec![db.to_string()],
                source_name: origin,
                source_version: None,
                arch,
                license: control::apk_field(&s, "L").map(str::to_string),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{Change, Entry, Kind, LayerContents};

    fn file_layer(path: &str) -> LayerContents {
        LayerContents {
            changes: vec![Change::Add(Entry {
                path: path.into(),
                kind: Kind::File,
                size: 1,
            })],
            ..Default::default()
        }
    }

    fn inventory(path: &str, versions: &[&str]) -> Inventory {
        let mut inv = Inventory::from_layers(versions.iter().map(|_| file_layer(path)).collect());
        inv.captured = versions
            .iter()
            .enumerate()
            .map(|(i, v)| Captured {
                layer: i,
                path: path.into(),
                data: v.as_bytes().to_vec(),
            })
            .collect();
        inv
    }

    const A1: &str =
        "Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\n\n";
    const A2: &str =
        "Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-2\n\n";
    const B: &str = "Package: b\nStatus: install ok installed\nArchitecture: all\nSource: bsrc (2.0-1)\nVersion: 2.0-1+b1\n\n";
    const GONE: &str = "Package: c\nStatus: deinstall ok config-files\nVersion: 3\n\nPackage: d\nStatus: purge ok not-installed\n\n";

    #[test]
    fn dpkg_layers_follow_the_version_history() {
        let v0 = A1.to_string();
        let v1 = format!("{A1}{B}");
        let v2 = format!("{A2}{B}{GONE}");
        let inv = inventory(DPKG_STATUS, &[&v0, &v1, &v2]);
        let pkgs = dpkg(&inv, None);
        let got: Vec<_> = pkgs
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.layer))
            .collect();
        assert_eq!(got, vec![("a", "1.0-2", 2), ("b", "2.0-1+b1", 1)]);
        assert_eq!(pkgs[1].source_name.as_deref(), Some("bsrc"));
        assert_eq!(pkgs[1].source_version.as_deref(), Some("2.0-1"));
        assert!(pkgs[1].purl.contains("upstream=bsrc"), "{}", pkgs[1].purl);
    }

    #[test]
    fn apk_database_packages() {
        let db = "P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\nL:MIT\n\nP:libcrypto3\nV:3.1.4-r5\nA:x86_64\no:openssl\n\n";
        let inv = inventory(APK_DBS[0], &[db]);
        let d = Distro {
            id: "alpine".into(),
            version_id: "3.19.1".into(),
            ..Default::default()
        };
        let pkgs = apk(&inv, Some(&d));
        assert_eq!(pkgs.len(), 2);
        assert_eq!(pkgs[1].source_name.as_deref(), Some("openssl"));
        assert_eq!(
            pkgs[0].purl,
            "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19"
        );
    }
}
