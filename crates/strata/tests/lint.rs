//! `strata lint` through the binary: exit statuses, the three output formats, standard input,
//! the ignore file in effect, context facts, and error messages (snapshots).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint")
}

/// `strata lint ARGS…` run inside the fixtures directory.
fn lint(args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("strata").expect("the strata binary");
    cmd.current_dir(fixtures()).arg("lint").args(args);
    cmd.env("STRATA_ROOT", fixtures().join("no-store"));
    cmd
}

fn stdout_of(cmd: &mut Command, code: i32) -> String {
    let out = cmd.assert().code(code).get_output().clone();
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn snapshot(name: &str, value: &str) {
    insta::with_settings!({
        snapshot_path => fixtures().join("snapshots"),
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(name, value);
    });
}

#[test]
fn clean_dockerfile_exits_zero() {
    let out = stdout_of(&mut lint(&["-f", "clean.Dockerfile"]), 0);
    assert_eq!(out, "Check complete, no warnings found.\n");
    lint(&["-f", "clean.Dockerfile", "--strict"])
        .assert()
        .code(0);
}

#[test]
fn warnings_exit_zero_unless_strict() {
    let out = stdout_of(&mut lint(&["-f", "warnings.Dockerfile"]), 0);
    snapshot("warnings_text", &out);
    lint(&["-f", "warnings.Dockerfile", "--strict"])
        .assert()
        .code(1)
        .stderr("");
}

#[test]
fn check_error_true_exits_one() {
    let out = stdout_of(&mut lint(&["-f", "error-true.Dockerfile"]), 1);
    assert!(out.starts_with(
        "ERROR: JSONArgsRecommended - https://docs.docker.com/go/dockerfile/rule/json-args-recommended/\n"
    ));
    assert!(out.ends_with(
        "Check complete, 1 warning has been found!\nERROR: lint violation found for rules: JSONArgsRecommended\n"
    ));
    // The build argument replaces the directive, as in BuildKit.
    lint(&[
        "-f",
        "error-true.Dockerfile",
        "--build-arg",
        "BUILDKIT_DOCKERFILE_CHECK=skip=JSONArgsRecommended",
    ])
    .assert()
    .code(0)
    .stdout("Check complete, no warnings found.\n");
}

#[test]
fn parse_errors_render_as_diagnostics() {
    let out = lint(&["-f", "parse-error.Dockerfile"])
        .assert()
        .code(1)
        .stdout("")
        .get_output()
        .clone();
    snapshot(
        "parse_error_stderr",
        &String::from_utf8(out.stderr).expect("utf-8"),
    );
    // The JSON and SARIF outputs stay well-formed; the error goes to stderr.
    let out = lint(&["-f", "parse-error.Dockerfile", "--format", "json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "unknown flag: --form (did you mean from?)",
        ))
        .get_output()
        .clone();
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v, serde_json::json!({ "warnings": [] }));
}

#[test]
fn json_output_is_sorted_and_complete() {
    let out = stdout_of(
        &mut lint(&["-f", "warnings.Dockerfile", "--format", "json"]),
        0,
    );
    let v: Value = serde_json::from_str(&out).expect("json");
    let warnings = v["warnings"].as_array().expect("an array");
    assert!(warnings.len() >= 7, "{out}");
    let keys: Vec<(u64, String)> = warnings
        .iter()
        .map(|w| {
            let fields: Vec<&str> = w
                .as_object()
                .expect("object")
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                fields,
                [
                    "rule",
                    "description",
                    "detail",
                    "url",
                    "level",
                    "file",
                    "line",
                    "column"
                ]
            );
            assert_eq!(w["file"], "warnings.Dockerfile");
            assert_eq!(w["level"], "warning");
            (
                w["line"].as_u64().expect("line"),
                w["detail"].as_str().expect("detail").to_string(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let rules: Vec<&str> = warnings
        .iter()
        .map(|w| w["rule"].as_str().unwrap_or(""))
        .collect();
    for expected in [
        "FromAsCasing",
        "StageNameCasing",
        "WorkdirRelativePath",
        "JSONArgsRecommended",
        "BaseImageNotPinned",
        "CopyAllBeforeInstall",
        "RootUser",
    ] {
        assert!(
            rules.contains(&expected),
            "{expected} missing from {rules:?}"
        );
    }
}

#[test]
fn sarif_output_has_the_sarif_shape() {
    let out = stdout_of(
        &mut lint(&["-f", "warnings.Dockerfile", "--format", "sarif"]),
        0,
    );
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["version"], "2.1.0");
    assert!(
        v["$schema"]
            .as_str()
            .expect("schema")
            .contains("sarif-2.1.0")
    );
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "strata");
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    let results = run["results"].as_array().expect("results");
    assert!(!results.is_empty());
    for r in results {
        let id = r["ruleId"].as_str().expect("ruleId");
        let index = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], id);
        assert!(matches!(r["level"].as_str(), Some("warning" | "error")));
        assert!(r["message"]["text"].is_string());
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "warnings.Dockerfile");
        assert!(loc["region"]["startLine"].as_u64().expect("startLine") >= 1);
        assert!(loc["region"]["startColumn"].as_u64().expect("startColumn") >= 1);
    }
}

#[test]
fn dockerfile_from_standard_input() {
    lint(&["-f", "-"])
        .write_stdin("FROM alpine:3.20\nUSER app\nMAINTAINER me\n")
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "WARNING: MaintainerDeprecated - https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/\n",
        ))
        .stdout(predicate::str::contains(" --> Dockerfile:3:1"));
}

#[test]
fn ignore_file_beside_the_dockerfile_wins() {
    let out = stdout_of(&mut lint(&["--format", "json", "ignore"]), 0);
    let v: Value = serde_json::from_str(&out).expect("json");
    let details: Vec<&str> = v["warnings"]
        .as_array()
        .expect("array")
        .iter()
        .filter(|w| w["rule"] == "CopyIgnoredFile")
        .map(|w| w["detail"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        details,
        ["Attempting to Copy file \"b.txt\" that is excluded by .dockerignore"]
    );
    assert_eq!(v["warnings"][0]["file"], "ignore/Dockerfile");
}

#[test]
fn context_without_dockerignore_but_with_git() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join(".git")).expect("mkdir");
    std::fs::create_dir(dir.path().join("node_modules")).expect("mkdir");
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM alpine:3.20\nUSER app\n",
    )
    .expect("write");
    let out = stdout_of(
        &mut lint(&["--format", "json", dir.path().to_str().expect("utf-8")]),
        0,
    );
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["warnings"][0]["rule"], "MissingDockerignore");
    assert_eq!(
        v["warnings"][0]["detail"],
        "The build context has no .dockerignore but contains .git and node_modules; a .dockerignore keeps such content out of every build"
    );
    std::fs::write(dir.path().join(".dockerignore"), ".git\nnode_modules\n").expect("write");
    let out = stdout_of(&mut lint(&[dir.path().to_str().expect("utf-8")]), 0);
    assert_eq!(out, "Check complete, no warnings found.\n");
}

#[test]
fn usage_errors() {
    lint(&["no-such-dir"])
        .assert()
        .code(1)
        .stderr("Error: unable to prepare context: path \"no-such-dir\" not found\n");
    lint(&["-f", "missing.Dockerfile"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "Error: failed to read dockerfile missing.Dockerfile: ",
        ));
    lint(&["--format", "xml"]).assert().code(2);
}
