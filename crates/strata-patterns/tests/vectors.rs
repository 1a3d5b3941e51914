//! Runs every case of the moby patternmatcher vectors
//! (`/work/shared/vectors/moby-patternmatcher`, see its README): all sections, every case,
//! failing on sections or case shapes this test does not know, and on count mismatches.

use std::path::PathBuf;

use serde_json::Value;
use strata_patterns::{
    MatchInfo, MatchKind, PatternError, PatternMatcher, clean_path, parse_ignore_file,
};

fn vectors() -> Value {
    let path = std::env::var_os("STRATA_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/vectors"))
        .join("moby-patternmatcher/patternmatcher-vectors.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a string array, got {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn s<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("case {case} lacks string field {key}"))
}

fn b(case: &Value, key: &str) -> bool {
    case[key]
        .as_bool()
        .unwrap_or_else(|| panic!("case {case} lacks bool field {key}"))
}

/// Docker's package-level `Matches(file, patterns)`: clean the path, never exclude `"."`.
fn package_matches(path: &str, patterns: &[String]) -> Result<bool, PatternError> {
    let matcher = PatternMatcher::new(patterns)?;
    let path = clean_path(path);
    Ok(path != "." && matcher.matches(&path))
}

/// Docker's test walk: call `matches_using_parent_results` on each prefix of `Dir(path)`.
fn walk_with_parent_results(m: &PatternMatcher, path: &str) -> bool {
    let mut info = MatchInfo::default();
    let parent = match path.rfind('/') {
        Some(i) => clean_path(&path[..=i]),
        None => ".".to_string(),
    };
    if parent != "." {
        let parts: Vec<&str> = parent.split('/').collect();
        for depth in 1..=parts.len() {
            info = m
                .matches_using_parent_results(&parts[..depth].join("/"), &info)
                .1;
        }
    }
    m.matches_using_parent_results(path, &info).0
}

fn check_matcher(case: &Value) {
    let patterns = strings(&case["patterns"]);
    let path = s(case, "path");
    let expected = b(case, "expected");
    assert!(matches!(s(case, "platform"), "all" | "unix"), "{case}");
    let m = PatternMatcher::new(&patterns).unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(m.matches(path), expected, "matches: {case}");
    assert_eq!(
        walk_with_parent_results(&m, path),
        expected,
        "matches_using_parent_results (walk): {case}"
    );
    assert_eq!(
        m.matches_using_parent_results(path, &MatchInfo::default())
            .0,
        expected,
        "matches_using_parent_results (no context): {case}"
    );
}

fn check_filepath_match(case: &Value) {
    let pattern = s(case, "pattern").to_string();
    let path = s(case, "path");
    let expected = b(case, "expected");
    // skip_on_windows only concerns Windows; these run on Unix.
    b(case, "skip_on_windows");
    match (&case["error"], package_matches(path, &[pattern])) {
        (Value::Null, Ok(got)) => assert_eq!(got, expected, "{case}"),
        (Value::String(e), Err(err)) if e == "ErrBadPattern" => {
            assert!(!expected, "{case}");
            assert!(
                matches!(err, PatternError::BadPattern { .. }),
                "{case}: {err:?}"
            );
            assert!(
                err.to_string().starts_with("syntax error in pattern"),
                "{case}: {err}"
            );
        }
        (want, got) => panic!("{case}: expected error {want}, got {got:?}"),
    }
}

fn check_compile(case: &Value) {
    let pattern = s(case, "pattern");
    let m = PatternMatcher::new(&[pattern]).unwrap();
    let p = &m.patterns()[0];
    let kind = match s(case, "matchType") {
        "exactMatch" => MatchKind::Exact,
        "prefixMatch" => MatchKind::Prefix,
        "suffixMatch" => MatchKind::Suffix,
        "regexpMatch" => MatchKind::Regexp,
        other => panic!("unknown matchType {other}"),
    };
    assert_eq!(p.kind(), kind, "{case}");
    match &case["regexp"] {
        Value::Null => assert_eq!(p.regex_source(), None, "{case}"),
        // Same regexp as Docker's, written with a non-capturing group.
        Value::String(go) => assert_eq!(
            p.regex_source(),
            Some(go.replace("(.*/)?", "(?:.*/)?").as_str()),
            "{case}"
        ),
        other => panic!("bad regexp field {other}"),
    }
    assert!(case["windowsRegexp"].is_null() || case["windowsRegexp"].is_string());
}

fn check_misc(case: &Value) {
    let patterns = strings(&case["patterns"]);
    let path = s(case, "path");
    let expected = b(case, "expected");
    let wants_error = b(case, "error");
    match s(case, "api") {
        "Matches" => match package_matches(path, &patterns) {
            Ok(got) => {
                assert!(!wants_error, "{case}: expected an error");
                assert_eq!(got, expected, "{case}");
            }
            Err(err) => {
                assert!(wants_error, "{case}: unexpected error {err}");
                let text = err.to_string();
                assert!(
                    text == "illegal exclusion pattern: \"!\""
                        || text.starts_with("syntax error in pattern"),
                    "{case}: {text}"
                );
            }
        },
        // Docker accepts `[Local-Only]/` in New and fails on every match call; Strata checks
        // the compiled form up front, so the same error is reported by `new`, and no call can
        // panic because there is no matcher to call.
        "New then MatchesOrParentMatches twice" => {
            assert!(wants_error && !expected, "{case}");
            let err = PatternMatcher::new(&patterns).unwrap_err();
            assert!(
                err.to_string().starts_with("syntax error in pattern"),
                "{case}: {err}"
            );
        }
        other => panic!("unknown misc api {other}"),
    }
}

fn check_new_patterns(case: &Value) {
    let patterns = strings(&case["patterns"]);
    let result = PatternMatcher::new(&patterns);
    if case.get("error").is_some() {
        assert!(b(case, "error"), "{case}");
        assert_eq!(
            result.unwrap_err(),
            PatternError::IllegalExclusion,
            "{case}"
        );
        return;
    }
    let m = result.unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(
        m.patterns().len() as u64,
        case["cleanedCount"].as_u64().unwrap(),
        "{case}"
    );
    assert_eq!(m.exclusions(), b(case, "exclusions"), "{case}");
}

fn check_ignorefile(case: &Value) {
    let expected = strings(&case["expected"]);
    let got = match &case["content"] {
        // A nil reader in Docker: nothing to read.
        Value::Null => parse_ignore_file(""),
        Value::String(text) => parse_ignore_file(text),
        other => panic!("bad content {other}"),
    };
    assert_eq!(got, expected, "{case}");
}

#[test]
fn all_moby_patternmatcher_vectors() {
    let root = vectors();
    let sections = root.as_object().unwrap();
    let mut total = 0;
    for (name, section) in sections {
        let cases = section["cases"].as_array().unwrap();
        assert_eq!(
            cases.len() as u64,
            section["count"].as_u64().unwrap(),
            "section {name}: count field disagrees with the cases"
        );
        let check: fn(&Value) = match name.as_str() {
            "matcher" => check_matcher,
            "filepath_match" => check_filepath_match,
            "compile" => check_compile,
            "misc" => check_misc,
            "new_patterns" => check_new_patterns,
            "ignorefile_readall" => check_ignorefile,
            other => panic!("unknown vector section {other}: teach this test about it"),
        };
        for case in cases {
            check(case);
            total += 1;
        }
    }
    assert_eq!(total, 72 + 54 + 21 + 12 + 6 + 2, "every case ran");
}

#[test]
fn ignore_file_then_matcher_end_to_end() {
    let text = "# build outputs\n/target\n**/*.log\n!keep.log\nnode_modules/\n";
    let m = PatternMatcher::new(&parse_ignore_file(text)).unwrap();
    assert!(m.matches("target/debug/x"));
    assert!(m.matches("a/b/c.log"));
    assert!(!m.matches("keep.log"));
    assert!(m.matches("node_modules/pkg/index.js"));
    assert!(!m.matches("src/main.rs"));
    // `*.go` is anchored at the root.
    let m = PatternMatcher::new(&["*.go"]).unwrap();
    assert!(m.matches("main.go"));
    assert!(!m.matches("cmd/main.go"));
}
