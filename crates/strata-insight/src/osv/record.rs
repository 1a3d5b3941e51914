//! The parts of the OSV schema (<https://ossf.github.io/osv-schema/>) the matcher uses, and
//! the compact per-package form the local index stores.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::scan::Severity;

/// An OSV record as published (fields we do not use are ignored).
#[derive(Debug, Deserialize)]
pub struct OsvRecord {
    pub id: String,
    #[serde(default)]
    pub modified: String,
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub details: String,
    #[serde(default)]
    pub severity: Vec<OsvSeverity>,
    #[serde(default)]
    pub affected: Vec<OsvAffected>,
    #[serde(default)]
    pub database_specific: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OsvSeverity {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Debug, Deserialize)]
pub struct OsvAffected {
    #[serde(default)]
    pub package: Option<OsvPackage>,
    #[serde(default)]
    pub severity: Vec<OsvSeverity>,
    #[serde(default)]
    pub ranges: Vec<OsvRange>,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub ecosystem_specific: Option<Value>,
    #[serde(default)]
    pub database_specific: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct OsvPackage {
    pub ecosystem: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct OsvRange {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Value>,
}

/// How a range's versions are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RangeKind {
    /// The ecosystem's own ordering.
    #[serde(rename = "E")]
    Ecosystem,
    /// SemVer 2.0 precedence.
    #[serde(rename = "S")]
    Semver,
}

/// One range event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    #[serde(rename = "i")]
    Introduced(String),
    #[serde(rename = "f")]
    Fixed(String),
    #[serde(rename = "l")]
    LastAffected(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    #[serde(rename = "t")]
    pub kind: RangeKind,
    #[serde(rename = "e")]
    pub events: Vec<Event>,
}

/// What the index keeps of one record for one affected package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub modified: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
}

/// Severity of a record for one package: a CVSS vector's base score where given
/// (per-package severity first, then the record's; v3 before v4 before v2), else the
/// database's own label (GitHub's `database_specific.severity`, Debian's `urgency`).
fn severity_of(rec: &OsvRecord, aff: &OsvAffected) -> (Severity, Option<f64>, Option<String>) {
    let all: Vec<&OsvSeverity> = aff.severity.iter().chain(rec.severity.iter()).collect();
    for kind in ["CVSS_V3", "CVSS_V4", "CVSS_V2"] {
        for s in all.iter().filter(|s| s.kind == kind) {
            if let Ok(c) = s.score.parse::<cvss::Cvss>() {
                let score = c.score();
                return (
                    Severity::from_score(score),
                    Some(score),
                    Some(s.score.clone()),
                );
            }
        }
    }
    let label = |v: &Option<Value>, key: &str| {
        v.as_ref()
            .and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let text = label(&aff.database_specific, "severity")
        .or_else(|| label(&aff.ecosystem_specific, "severity"))
        .or_else(|| label(&aff.ecosystem_specific, "urgency"))
        .or_else(|| label(&rec.database_specific, "severity"));
    (
        text.map(|t| Severity::from_label(&t))
            .unwrap_or(Severity::Unknown),
        None,
        None,
    )
}

fn event(v: &Value) -> Option<Event> {
    let obj = v.as_object()?;
    let get = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    if let Some(x) = get("introduced") {
        return Some(Event::Introduced(x));
    }
    if let Some(x) = get("fixed") {
        return Some(Event::Fixed(x));
    }
    get("last_affected").map(Event::LastAffected)
}

/// Split a record into `(ecosystem, package name, advisory)` entries, one per affected
/// package. Withdrawn records and `GIT` ranges (commit hashes cannot be ordered offline)
/// are dropped.
pub fn advisories(rec: &OsvRecord) -> Vec<(String, String, Advisory)> {
    if rec.withdrawn.is_some() {
        return Vec::new();
    }
    let summary = if rec.summary.is_empty() {
        rec.details
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect()
    } else {
        rec.summary.clone()
    };
    rec.affected
        .iter()
        .filter_map(|aff| {
            let pkg = aff.package.as_ref()?;
            let (severity, score, vector) = severity_of(rec, aff);
            let ranges = aff
                .ranges
                .iter()
                .filter_map(|r| {
                    let kind = match r.kind.as_str() {
                        "ECOSYSTEM" => RangeKind::Ecosystem,
                        "SEMVER" => RangeKind::Semver,
                        _ => return None,
                    };
                    Some(Range {
                        kind,
                        events: r.events.iter().filter_map(event).collect(),
                    })
                })
                .collect::<Vec<_>>();
            if ranges.is_empty() && aff.versions.is_empty() {
                return None;
            }
            Some((
                pkg.ecosystem.trim().to_string(),
                pkg.name.trim().to_string(),
                Advisory {
                    id: rec.id.clone(),
                    aliases: rec.aliases.clone(),
                    summary: summary.clone(),
                    severity,
                    score,
                    vector,
                    modified: rec.modified.clone(),
                    ranges,
                    versions: aff.versions.clone(),
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(v: serde_json::Value) -> OsvRecord {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn severity_prefers_cvss_vectors_then_database_labels() {
        let r = rec(serde_json::json!({
            "id": "X",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            "affected": [{"package": {"ecosystem": "npm", "name": "a"}, "versions": ["1"]}]
        }));
        let a = &advisories(&r)[0].2;
        assert_eq!(a.severity, Severity::Critical);
        assert_eq!(a.score, Some(9.8));

        let r = rec(serde_json::json!({
            "id": "Y", "database_specific": {"severity": "MODERATE"},
            "affected": [
                {"package": {"ecosystem": "npm", "name": "a"}, "versions": ["1"]},
                {"package": {"ecosystem": "Debian:12", "name": "b"}, "versions": ["1"],
                 "ecosystem_specific": {"urgency": "unimportant"}}
            ]
        }));
        let all = advisories(&r);
        assert_eq!(all[0].2.severity, Severity::Medium);
        assert_eq!(
            all[1].2.severity,
            Severity::Low,
            "per-package urgency first"
        );
        assert_eq!(all[1].2.score, None);
    }

    #[test]
    fn summary_falls_back_to_the_first_line_of_details() {
        let r = rec(serde_json::json!({
            "id": "Z", "details": "First line.\nSecond line.",
            "affected": [{"package": {"ecosystem": "Go", "name": "m"},
                          "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"last_affected": "1.2.0"}]}]}]
        }));
        let (eco, name, a) = &advisories(&r)[0];
        assert_eq!((eco.as_str(), name.as_str()), ("Go", "m"));
        assert_eq!(a.summary, "First line.");
        assert_eq!(
            a.ranges[0].events,
            vec![
                Event::Introduced("0".into()),
                Event::LastAffected("1.2.0".into())
            ]
        );
    }
}
