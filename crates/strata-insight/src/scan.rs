//! Matching an SBOM against the local OSV database.
//!
//! Each package is looked up under its OSV ecosystem and name:
//!
//! | package | ecosystem | name and version matched | ordering |
//! |---|---|---|---|
//! | deb (Debian) | `Debian:12` (major of `VERSION_ID`) | the **source** package and its version | dpkg |
//! | deb (Ubuntu) | `Ubuntu:22.04`, `Ubuntu:22.04:LTS` | the source package | dpkg |
//! | apk | `Alpine:v3.19` | the origin (source) package | apk |
//! | python | `PyPI` | PEP 503-normalised name | PEP 440 |
//! | npm, cargo, go | `npm`, `crates.io`, `Go` | name (`stdlib` for Go's standard library) | SemVer |
//!
//! Debian's advisories name source packages (`openssl`, not `libssl3`), so binary packages
//! are matched through dpkg's `Source:` field, with the source version when dpkg records one
//! (binNMUs carry `+bN` in the binary version only).
//!
//! A package is affected when its version is listed in the advisory's `versions`, or when a
//! range says so. Range evaluation follows the OSV schema: events sorted by version
//! (`introduced: "0"` first); an `introduced` at or below the version turns "affected" on,
//! a `fixed` at or below it — or a `last_affected` below it — turns it off. `SEMVER` ranges
//! use SemVer whatever the ecosystem; `GIT` ranges are not evaluated. The fixed version
//! reported is the lowest `fixed` event above the installed version.

use std::cmp::Ordering;
use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::Result;
use crate::osv::{Advisory, Database, Event, RangeKind};
use crate::sbom::{Distro, Package, PackageType, Sbom, major_minor};
use crate::version::{Scheme, Version};

/// Severity levels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The CVSS qualitative rating of a base score (None, 0.0, counts as low).
    pub fn from_score(score: f64) -> Severity {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            _ => Severity::Low,
        }
    }

    /// A database's own label: GitHub's (`MODERATE` is medium) or Debian's urgency
    /// (`unimportant` is low; `not yet assigned` is unknown).
    pub fn from_label(label: &str) -> Severity {
        let l = label.trim().to_ascii_lowercase();
        let l = l.trim_end_matches('*').trim_end_matches(" (ssh)");
        match l {
            "critical" => Severity::Critical,
            "high" | "important" => Severity::High,
            "medium" | "moderate" => Severity::Medium,
            "low" | "unimportant" | "negligible" => Severity::Low,
            _ => Severity::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "UNKNOWN",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }

    /// Parse `LOW`, `medium`, … (as given on the command line).
    pub fn parse(s: &str) -> Option<Severity> {
        match s.trim().to_ascii_uppercase().as_str() {
            "UNKNOWN" => Some(Severity::Unknown),
            "LOW" => Some(Severity::Low),
            "MEDIUM" => Some(Severity::Medium),
            "HIGH" => Some(Severity::High),
            "CRITICAL" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// What to report.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Only these severities (all when empty).
    pub severities: Vec<Severity>,
    /// Leave out vulnerabilities without a fixed version.
    pub ignore_unfixed: bool,
}

/// One vulnerable package.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The advisory ID (`DSA-5532-1`, `GHSA-…`, `CVE-…`).
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: String,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<String>,
    /// The package as installed.
    pub package: String,
    #[serde(rename = "type")]
    pub kind: PackageType,
    pub purl: String,
    pub installed: String,
    /// The lowest fixed version above the installed one, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    /// The (source) package name the advisory is about, when it differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_name: Option<String>,
    /// The ecosystem the advisory was found under.
    pub ecosystem: String,
    pub layer: usize,
    pub location: String,
}

impl Finding {
    /// The CVE aliases (or the ID itself when it is one).
    pub fn cves(&self) -> Vec<&str> {
        let mut v: Vec<&str> = std::iter::once(self.id.as_str())
            .chain(self.aliases.iter().map(String::as_str))
            .filter(|a| a.starts_with("CVE-"))
            .collect();
        v.dedup();
        v
    }
}

/// The ecosystems, name, version and ordering to look a package up with.
pub fn lookup_keys(p: &Package, distro: Option<&Distro>) -> (Vec<String>, String, String, Scheme) {
    match p.kind {
        PackageType::Deb => {
            let name = p.source_name.clone().unwrap_or_else(|| p.name.clone());
            let version = p
                .source_version
                .clone()
                .unwrap_or_else(|| p.version.clone());
            let ecos = match distro {
                Some(d) if d.id == "ubuntu" => vec![
                    format!("Ubuntu:{}", d.version_id),
                    format!("Ubuntu:{}:LTS", d.version_id),
                ],
                Some(d) if !d.version_id.is_empty() => {
                    let major = d.version_id.split('.').next().unwrap_or("");
                    vec![format!("Debian:{major}")]
                }
                _ => vec!["Debian".to_string()],
            };
            (ecos, name, version, Scheme::Dpkg)
        }
        PackageType::Apk => {
            let name = p.source_name.clone().unwrap_or_else(|| p.name.clone());
            let ecos = match distro {
                Some(d) if !d.version_id.is_empty() => {
                    vec![format!("Alpine:v{}", major_minor(&d.version_id))]
                }
                _ => vec!["Alpine".to_string()],
            };
            (ecos, name, p.version.clone(), Scheme::Apk)
        }
        PackageType::Python => (
            vec!["PyPI".into()],
            p.name.clone(),
            p.version.clone(),
            Scheme::Pep440,
        ),
        PackageType::Npm => (
            vec!["npm".into()],
            p.name.clone(),
            p.version.clone(),
            Scheme::Semver,
        ),
        PackageType::Cargo => (
            vec!["crates.io".into()],
            p.name.clone(),
            p.version.clone(),
            Scheme::Semver,
        ),
        PackageType::Go => (
            vec!["Go".into()],
            p.name.clone(),
            p.version.clone(),
            Scheme::Semver,
        ),
    }
}

/// Whether `version` is affected by `adv`; `Some(fixed)` if so.
pub fn affected(adv: &Advisory, version: &str, scheme: Scheme) -> Option<Option<String>> {
    let listed = adv.versions.iter().any(|v| v == version);
    let mut hit = listed;
    let mut fixed: Option<(Version, String)> = None;
    for range in &adv.ranges {
        let scheme = match range.kind {
            RangeKind::Semver => Scheme::Semver,
            RangeKind::Ecosystem => scheme,
        };
        let Some(v) = Version::parse(scheme, version) else {
            continue;
        };
        // (version, order within equal versions, event); `None` version = introduced "0".
        let mut events: Vec<(Option<Version>, &Event)> = Vec::new();
        for e in &range.events {
            let text = match e {
                Event::Introduced(x) | Event::Fixed(x) | Event::LastAffected(x) => x,
            };
            if matches!(e, Event::Introduced(x) if x == "0") {
                events.push((None, e));
            } else if let Some(ev) = Version::parse(scheme, text) {
                events.push((Some(ev), e));
            }
        }
        events.sort_by(|(a, _), (b, _)| match (a, b) {
            (None, None) => Ordering::Equal,
            (None, _) => Ordering::Less,
            (_, None) => Ordering::Greater,
            (Some(a), Some(b)) => a.compare(b).unwrap_or(Ordering::Equal),
        });
        let mut on = false;
        for (ev, e) in &events {
            let cmp = ev.as_ref().and_then(|x| x.compare(&v)); // event vs installed
            match e {
                Event::Introduced(_) => {
                    if ev.is_none() || matches!(cmp, Some(Ordering::Less | Ordering::Equal)) {
                        on = true;
                    }
                }
                Event::Fixed(_) => {
                    if matches!(cmp, Some(Ordering::Less | Ordering::Equal)) {
                        on = false;
                    }
                }
                Event::LastAffected(_) => {
                    if cmp == Some(Ordering::Less) {
                        on = false;
                    }
                }
            }
        }
        if on {
            hit = true;
        }
        if on || listed {
            for (ev, e) in &events {
                if let (Event::Fixed(text), Some(ev)) = (e, ev)
                    && ev.compare(&v) == Some(Ordering::Greater)
                    && fixed
                        .as_ref()
                        .is_none_or(|(f, _)| ev.compare(f) == Some(Ordering::Less))
                {
                    fixed = Some((ev.clone(), text.clone()));
                }
            }
        }
    }
    hit.then(|| fixed.map(|(_, t)| t))
}

/// Match every package of `sbom` against `db`.
pub fn scan(sbom: &Sbom, db: &Database, options: &ScanOptions) -> Result<Vec<Finding>> {
    let mut out: Vec<Finding> = Vec::new();
    // (advisory, package URL) pairs already reported: one finding each, whichever of the
    // package's ecosystems listed it first.
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for p in &sbom.packages {
        let (ecosystems, name, version, scheme) = lookup_keys(p, sbom.distro.as_ref());
        for eco in &ecosystems {
            for adv in db.advisories(eco, &name)? {
                let Some(fixed) = affected(&adv, &version, scheme) else {
                    continue;
                };
                if options.ignore_unfixed && fixed.is_none() {
                    continue;
                }
                if !options.severities.is_empty() && !options.severities.contains(&adv.severity) {
                    continue;
                }
                if !seen.insert((adv.id.clone(), p.purl.clone())) {
                    continue;
                }
                out.push(Finding {
                    id: adv.id,
                    aliases: adv.aliases,
                    summary: adv.summary,
                    severity: adv.severity,
                    score: adv.score,
                    vector: adv.vector,
                    package: p.name.clone(),
                    kind: p.kind,
                    purl: p.purl.clone(),
                    installed: p.version.clone(),
                    fixed,
                    matched_name: (name != p.name).then(|| name.clone()),
                    ecosystem: eco.clone(),
                    layer: p.layer,
                    location: p.locations.first().cloned().unwrap_or_default(),
                });
            }
        }
    }
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.package.cmp(&b.package))
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(out)
}

/// Findings as a SARIF 2.1.0 log (one rule per advisory, one result per finding), the
/// format code-scanning dashboards ingest.
pub fn sarif(image: &str, findings: &[Finding], tool_version: &str) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut rule_ids: Vec<&str> = Vec::new();
    for f in findings {
        if !rule_ids.contains(&f.id.as_str()) {
            rule_ids.push(&f.id);
            let rule = json!({
                "id": f.id,
                "shortDescription": {"text": if f.summary.is_empty() { f.id.clone() } else { f.summary.clone() }},
                "properties": {"security-severity": format!("{:.1}", f.score.unwrap_or(match f.severity {
                    Severity::Critical => 9.0,
                    Severity::High => 7.0,
                    Severity::Medium => 4.0,
                    Severity::Low => 0.1,
                    Severity::Unknown => 0.0,
                })), "tags": ["security", "vulnerability", f.severity.as_str()]},
                "helpUri": format!("https://osv.dev/vulnerability/{}", f.id),
            });
            rules.push(rule);
        }
    }
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let level = match f.severity {
                Severity::Critical | Severity::High => "error",
                Severity::Medium => "warning",
                Severity::Low | Severity::Unknown => "note",
            };
            json!({
                "ruleId": f.id,
                "ruleIndex": rule_ids.iter().position(|r| *r == f.id).unwrap_or(0),
                "level": level,
                "message": {"text": format!(
                    "{} {} is affected by {} ({}); fixed in {}",
                    f.package,
                    f.installed,
                    f.id,
                    f.severity.as_str(),
                    f.fixed.as_deref().unwrap_or("no release yet")
                )},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": f.location}},
                    "message": {"text": format!("{image}: layer {}", f.layer)},
                }],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "strata",
                "version": tool_version,
                "informationUri": "https://github.com/strata",
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osv::Range;

    fn adv(ranges: Vec<Range>, versions: &[&str]) -> Advisory {
        Advisory {
            id: "X".into(),
            aliases: vec![],
            summary: String::new(),
            severity: Severity::High,
            score: None,
            vector: None,
            modified: String::new(),
            ranges,
            versions: versions.iter().map(|s| s.to_string()).collect(),
        }
    }
    fn range(kind: RangeKind, events: &[(&str, &str)]) -> Range {
        Range {
            kind,
            events: events
                .iter()
                .map(|(k, v)| match *k {
                    "i" => Event::Introduced(v.to_string()),
                    "f" => Event::Fixed(v.to_string()),
                    _ => Event::LastAffected(v.to_string()),
                })
                .collect(),
        }
    }

    #[test]
    fn ranges_with_fixed_and_last_affected() {
        let a = adv(
            vec![range(
                RangeKind::Ecosystem,
                &[("f", "1.5"), ("i", "0"), ("i", "2.0"), ("f", "2.3")],
            )],
            &[],
        );
        let s = Scheme::Pep440;
        assert_eq!(affected(&a, "1.0", s), Some(Some("1.5".into())));
        assert_eq!(affected(&a, "1.5", s), None);
        assert_eq!(affected(&a, "1.7", s), None);
        assert_eq!(affected(&a, "2.1", s), Some(Some("2.3".into())));
        assert_eq!(affected(&a, "2.3.post1", s), None);

        let b = adv(
            vec![range(RangeKind::Semver, &[("i", "1.0.0"), ("l", "1.2.0")])],
            &[],
        );
        assert_eq!(affected(&b, "0.9.0", Scheme::Semver), None);
        assert_eq!(affected(&b, "1.2.0", Scheme::Semver), Some(None));
        assert_eq!(affected(&b, "1.2.1", Scheme::Semver), None);
        assert_eq!(affected(&b, "1.1.0-rc.1", Scheme::Semver), Some(None));
    }

    #[test]
    fn dpkg_ranges_use_epochs_and_tilde() {
        let a = adv(
            vec![range(
                RangeKind::Ecosystem,
                &[("i", "0"), ("f", "1:1.2~rc1-1")],
            )],
            &[],
        );
        assert!(
            affected(&a, "2.0-1", Scheme::Dpkg).is_some(),
            "no epoch < epoch 1"
        );
        assert!(affected(&a, "1:1.2~beta-1", Scheme::Dpkg).is_some());
        assert!(affected(&a, "1:1.2-1", Scheme::Dpkg).is_none());
    }

    #[test]
    fn listed_versions_match_exactly() {
        let a = adv(vec![], &["1.0.0", "1.0.1"]);
        assert_eq!(affected(&a, "1.0.1", Scheme::Semver), Some(None));
        assert_eq!(affected(&a, "1.0.2", Scheme::Semver), None);
    }

    #[test]
    fn severity_labels_and_scores() {
        assert_eq!(Severity::from_score(9.8), Severity::Critical);
        assert_eq!(Severity::from_score(7.5), Severity::High);
        assert_eq!(Severity::from_score(5.3), Severity::Medium);
        assert_eq!(Severity::from_score(3.1), Severity::Low);
        assert_eq!(Severity::from_label("MODERATE"), Severity::Medium);
        assert_eq!(Severity::from_label("unimportant"), Severity::Low);
        assert_eq!(Severity::from_label("not yet assigned"), Severity::Unknown);
        assert!(Severity::Critical > Severity::High);
    }
}
