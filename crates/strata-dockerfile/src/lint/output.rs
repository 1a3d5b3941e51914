//! The three output shapes of a [`Report`]: text, JSON and SARIF. All return values; the
//! binary decides where they go.
//!
//! * Text follows `docker build --check`: a `WARNING: Rule - URL` header per finding, then the
//!   finding as a diagnostic (`file:line:col`, the source line, a caret, the rule's
//!   description as a note), and a closing `Check complete, …` line.
//! * JSON is the stable contract scripts read:
//!   `{"warnings":[{"rule","description","detail","url","level","file","line","column"}]}`,
//!   in the report's order (line, then detail).
//! * SARIF 2.1.0 for code-scanning tools: one run whose driver lists every rule, one result
//!   per finding with a physical location; columns count Unicode code points.

use serde_json::{Value, json};

use super::rules::ALL_RULES;
use super::{Finding, Level, Report};
use crate::diagnostic::{Diagnostic, Severity};

fn diagnostic(report: &Report, f: &Finding) -> Diagnostic {
    let severity = match f.level {
        Level::Warning => Severity::Warning,
        Level::Error => Severity::Error,
    };
    Diagnostic::new(severity, report.file.as_str(), f.span, f.detail.as_str())
        .with_note(f.rule.description)
}

/// The findings as text (ANSI colours when `styled`), ending with Docker's summary line, and
/// with BuildKit's `lint violation` line when `# check=error=true` made the findings errors.
pub fn render_text(report: &Report, source: &str, styled: bool) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let header = match f.level {
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
        };
        out.push_str(&format!("{header}: {} - {}\n", f.rule.name, f.rule.url));
        let d = diagnostic(report, f);
        out.push_str(&if styled {
            d.render_styled(source)
        } else {
            d.render(source)
        });
        out.push_str("\n\n");
    }
    match report.findings.len() {
        0 => out.push_str("Check complete, no warnings found.\n"),
        1 => out.push_str("Check complete, 1 warning has been found!\n"),
        n => out.push_str(&format!("Check complete, {n} warnings have been found!\n")),
    }
    if report.error_on_findings && !report.findings.is_empty() {
        out.push_str(&format!(
            "ERROR: lint violation found for rules: {}\n",
            report.rule_names().join(", ")
        ));
    }
    out
}

/// The report as `{"warnings":[…]}`.
pub fn to_json(report: &Report) -> Value {
    let warnings: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            json!({
                "rule": f.rule.name,
                "description": f.rule.description,
                "detail": f.detail,
                "url": f.rule.url,
                "level": f.level.as_str(),
                "file": report.file,
                "line": f.span.start.line,
                "column": f.span.start.column,
            })
        })
        .collect();
    json!({ "warnings": warnings })
}

/// The SARIF schema the output declares.
pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The report as a SARIF 2.1.0 log.
pub fn to_sarif(report: &Report) -> Value {
    let rules: Vec<Value> = ALL_RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.name,
                "name": r.name,
                "shortDescription": { "text": r.description },
                "fullDescription": { "text": r.description },
                "helpUri": r.url,
                "defaultConfiguration": { "level": "warning", "enabled": !r.experimental },
                "properties": {
                    "tags": [match r.origin {
                        super::Origin::Docker => "docker-build-check",
                        super::Origin::Strata => "best-practice",
                    }],
                },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let index = ALL_RULES
                .iter()
                .position(|r| r.name == f.rule.name)
                .unwrap_or(0);
            json!({
                "ruleId": f.rule.name,
                "ruleIndex": index,
                "level": f.level.as_str(),
                "message": { "text": f.detail },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": report.file },
                        "region": {
                            "startLine": f.span.start.line,
                            "startColumn": f.span.start.column,
                            "endLine": f.span.end.line.max(f.span.start.line),
                            "endColumn": f.span.end.column.max(1),
                        },
                    },
                }],
            })
        })
        .collect();
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "strata",
                    "informationUri": super::rules::STRATA_RULE_URL_BASE,
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                },
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}
