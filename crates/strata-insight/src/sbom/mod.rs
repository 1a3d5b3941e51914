//! The software bill of materials of an image: which packages it contains, where each was
//! found, and which layer added it.
//!
//! Catalogers read the metadata files the layer walk kept ([`crate::layers`]):
//!
//! | ecosystem | source | purl |
//! |---|---|---|
//! | Debian/Ubuntu | `var/lib/dpkg/status`, `var/lib/dpkg/status.d/*` | `pkg:deb/debian/NAME@V?arch=…&distro=debian-12` |
//! | Alpine | `lib/apk/db/installed` | `pkg:apk/alpine/NAME@V?arch=…&distro=alpine-3.19` |
//! | Python | `*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, `*.egg-info` | `pkg:pypi/name@V` |
//! | Node | `node_modules/**/package.json`, `package-lock.json`, `yarn.lock` | `pkg:npm/%40scope/name@V` |
//! | Rust | `Cargo.lock`, `cargo auditable` data in executables | `pkg:cargo/NAME@V` |
//! | Go | build info in executables (modules and the standard library) | `pkg:golang/MODULE@V` |
//!
//! **Which layer added a package.** Per-package files (a `METADATA`, a `package.json`) are
//! attributed to the layer whose version of the file the image shows. Shared databases
//! (dpkg `status`, apk `installed`) are rewritten by every layer that installs anything, so
//! a package is attributed to the lowest layer from which every later version of the
//! database lists it with the same version — an upgrade in layer 3 attributes the new
//! version to layer 3.
//!
//! The same package found in several places (an installed `package.json` and a lockfile)
//! is listed once, with all locations and the lowest layer.

pub mod binary;
pub mod control;
pub mod cyclonedx;
mod lang;
mod os;
pub mod spdx;

pub use lang::{cargo_lock, go_toolchain_version, normalize_python_name, package_lock, yarn_lock};

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::image::Image;
use crate::layers::Inventory;

/// The kind of package, which decides its purl type and vulnerability ecosystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageType {
    Deb,
    Apk,
    Python,
    Npm,
    Cargo,
    Go,
}

impl PackageType {
    pub fn as_str(self) -> &'static str {
        match self {
            PackageType::Deb => "deb",
            PackageType::Apk => "apk",
            PackageType::Python => "python",
            PackageType::Npm => "npm",
            PackageType::Cargo => "cargo",
            PackageType::Go => "go",
        }
    }

    /// Packages of the operating system (as opposed to language packages).
    pub fn is_os(self) -> bool {
        matches!(self, PackageType::Deb | PackageType::Apk)
    }
}

/// One package found in the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    #[serde(rename = "type")]
    pub kind: PackageType,
    pub purl: String,
    /// Index of the layer that added the package (0 = bottom).
    pub layer: usize,
    /// Paths (relative to the root) of the files that list the package.
    pub locations: Vec<String>,
    /// Source package (dpkg `Source`, apk origin), when it differs from the name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Version of the source package, when dpkg records one that differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// License as the package declares it (free text, not necessarily SPDX).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
}

/// The operating system of the image, from `/etc/os-release`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distro {
    /// `ID` (`debian`, `ubuntu`, `alpine`).
    pub id: String,
    /// `VERSION_ID` (`12`, `22.04`, `3.19.1`), empty for rolling releases.
    pub version_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub codename: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pretty_name: String,
}

impl Distro {
    /// The `distro` purl qualifier: `debian-12`, `alpine-3.19`.
    pub fn purl_qualifier(&self) -> String {
        let v = if self.id == "alpine" {
            major_minor(&self.version_id)
        } else {
            self.version_id.clone()
        };
        if v.is_empty() {
            self.id.clone()
        } else {
            format!("{}-{v}", self.id)
        }
    }
}

pub(crate) fn major_minor(v: &str) -> String {
    v.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// One layer as the SBOM records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRef {
    pub digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff_id: Option<String>,
    pub created_by: String,
}

/// The bill of materials of one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sbom {
    pub image: String,
    pub manifest_digest: String,
    pub config_digest: String,
    pub layers: Vec<LayerRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distro: Option<Distro>,
    /// Sorted by type, name, version.
    pub packages: Vec<Package>,
}

/// Catalog the packages of an image whose files were read with
/// [`crate::layers::ReadOptions::sbom`].
pub fn catalog(image: &Image, inv: &Inventory) -> Sbom {
    let distro = os::distro(inv);
    let mut found = Vec::new();
    found.extend(os::dpkg(inv, distro.as_ref()));
    found.extend(os::apk(inv, distro.as_ref()));
    found.extend(lang::python(inv));
    found.extend(lang::npm(inv));
    found.extend(lang::cargo(inv));
    found.extend(lang::binaries(inv));
    Sbom {
        image: image.name.clone(),
        manifest_digest: image.manifest_digest.to_string(),
        config_digest: image.config_digest.to_string(),
        layers: image
            .layers
            .iter()
            .map(|l| LayerRef {
                digest: l.digest.to_string(),
                diff_id: l.diff_id.as_ref().map(|d| d.to_string()),
                created_by: l.created_by.clone(),
            })
            .collect(),
        distro,
        packages: merge(found),
    }
}

/// Merge packages with the same purl (same package, several locations).
fn merge(found: Vec<Package>) -> Vec<Package> {
    let mut by_purl: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<Package> = Vec::new();
    for p in found {
        match by_purl.get(&p.purl) {
            Some(&i) => {
                let q = &mut out[i];
                q.layer = q.layer.min(p.layer);
                for l in p.locations {
                    if !q.locations.contains(&l) {
                        q.locations.push(l);
                    }
                }
                if q.license.is_none() {
                    q.license = p.license;
                }
            }
            None => {
                by_purl.insert(p.purl.clone(), out.len());
                out.push(p);
            }
        }
    }
    out.sort_by(|a, b| {
        (a.kind, &a.name, &a.version, &a.purl).cmp(&(b.kind, &b.name, &b.version, &b.purl))
    });
    out
}

/// Build a purl; falls back to a minimally escaped form if the crate refuses a component
/// (it validates types and names strictly).
pub(crate) fn purl(
    ty: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let build = || -> Result<String, packageurl::Error> {
        let mut p = packageurl::PackageUrl::new(ty, name)?;
        if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
            p.with_namespace(ns)?;
        }
        if !version.is_empty() {
            p.with_version(version)?;
        }
        for (k, v) in qualifiers {
            if !v.is_empty() {
                p.add_qualifier(*k, *v)?;
            }
        }
        Ok(p.to_string())
    };
    build().unwrap_or_else(|_| {
        let esc = percent_encode;
        let ns = namespace
            .map(|n| format!("{}/", n.split('/').map(esc).collect::<Vec<_>>().join("/")))
            .unwrap_or_default();
        format!("pkg:{ty}/{ns}{}@{}", esc(name), esc(version))
    })
}

/// Percent-encode every byte of the UTF-8 form except RFC 3986's unreserved characters.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_escaping_encodes_utf8_bytes() {
        assert_eq!(percent_encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(percent_encode("1.0+b1 é"), "1.0%2Bb1%20%C3%A9");
    }

    #[test]
    fn purls_follow_the_spec_examples() {
        assert_eq!(
            purl(
                "deb",
                Some("debian"),
                "curl",
                "7.50.3-1",
                &[("distro", "debian-12"), ("arch", "i386")]
            ),
            "pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=debian-12"
        );
        assert_eq!(
            purl("npm", Some("@angular"), "animation", "12.3.1", &[]),
            "pkg:npm/%40angular/animation@12.3.1"
        );
        assert_eq!(
            purl("golang", Some("golang.org/x"), "net", "v0.17.0", &[]),
            "pkg:golang/golang.org/x/net@v0.17.0"
        );
        assert_eq!(
            purl("deb", Some("debian"), "libc6", "2.36-9+deb12u4", &[]),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4"
        );
    }

    #[test]
    fn merge_keeps_one_entry_per_purl_with_the_lowest_layer() {
        let p = |layer: usize, loc: &str| Package {
            name: "a".into(),
            version: "1".into(),
            kind: PackageType::Npm,
            purl: "pkg:npm/a@1".into(),
            layer,
            locations: vec![loc.into()],
            source_name: None,
            source_version: None,
            arch: None,
            license: None,
        };
        let merged = merge(vec![p(2, "x/package.json"), p(1, "package-lock.json")]);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].layer, 1);
        assert_eq!(merged[0].locations.len(), 2);
    }

    #[test]
    fn distro_qualifiers() {
        let d = Distro {
            id: "alpine".into(),
            version_id: "3.19.1".into(),
            ..Default::default()
        };
        assert_eq!(d.purl_qualifier(), "alpine-3.19");
        let d = Distro {
            id: "debian".into(),
            version_id: "12".into(),
            ..Default::default()
        };
        assert_eq!(d.purl_qualifier(), "debian-12");
    }
}
