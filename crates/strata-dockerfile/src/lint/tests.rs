//! Unit tests of the rules: each with a case that triggers it and one that does not.

use super::*;

fn run(src: &str) -> Report {
    lint(&LintInput::new(src, "Dockerfile"))
}

fn details(r: &Report, rule: &str) -> Vec<String> {
    r.findings
        .iter()
        .filter(|f| f.rule.name == rule)
        .map(|f| f.detail.clone())
        .collect()
}

#[test]
fn stage_name_casing() {
    let r = run("FROM alpine:3.20 AS Build\nUSER app\n");
    assert_eq!(
        details(&r, "StageNameCasing"),
        ["Stage name 'Build' should be lowercase"]
    );
    let r = run("FROM alpine:3.20 AS build\nUSER app\n");
    assert!(details(&r, "StageNameCasing").is_empty());
}
