//! BuildKit's shell-lexer vectors (`shared/vectors/moby-buildkit/shell`), every non-Windows case.
//!
//! Both the verbatim text files and the JSON transcription are read; each test counts the cases
//! it ran so a missing file or section cannot pass silently.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

use serde_json::Value;
use strata_dockerfile::shell::{EnvList, Lex};

fn vectors() -> PathBuf {
    match std::env::var_os("STRATA_VECTORS") {
        Some(p) => PathBuf::from(p).join("moby-buildkit/shell"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/vectors/moby-buildkit/shell"),
    }
}

fn read(name: &str) -> String {
    let path = vectors().join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixed_env() -> EnvList {
    EnvList::from_pairs(&["PWD=/home", "SHELL=bash", "KOREAN=한국어", "NULL="])
}

#[test]
fn env_var_test_file() {
    let lex = Lex::new('\\');
    let env = fixed_env();
    let (mut run, mut windows) = (0, 0);
    let mut failures = Vec::new();
    for (n, line) in read("envVarTest").lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('|').map(str::trim).collect();
        assert_eq!(fields.len(), 3, "line {}: {line}", n + 1);
        match fields[0] {
            "W" => {
                windows += 1;
                continue;
            }
            "A" | "U" => {}
            other => panic!("line {}: platform {other}", n + 1),
        }
        let got = lex.process_word(fields[1], &env);
        let ok = match (fields[2], &got) {
            ("error", r) => r.is_err(),
            (want, Ok(g)) => g == want,
            (_, Err(_)) => false,
        };
        if !ok {
            failures.push(format!(
                "line {}: {:?} -> {got:?}, want {:?}",
                n + 1,
                fields[1],
                fields[2]
            ));
        }
        run += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(run, 228);
    assert_eq!(windows, 2);
}

#[test]
fn words_test_file() {
    let lex = Lex::new('\\');
    let mut env: Vec<String> = Vec::new();
    let mut run = 0;
    for (n, line) in read("wordsTest").lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("ENV ") {
            env.push(rest.trim_start().to_string());
            continue;
        }
        let (input, expected) = line
            .split_once('|')
            .unwrap_or_else(|| panic!("line {}", n + 1));
        let input = input.trim();
        let expected = expected.trim_start();
        let got = lex.process_words(input, &EnvList::from_pairs(&env));
        if expected == "error" {
            assert!(got.is_err(), "line {}: {input:?} -> {got:?}", n + 1);
        } else {
            let want: Vec<&str> = expected.split(',').collect();
            assert_eq!(got.unwrap(), want, "line {}: {input:?}", n + 1);
        }
        run += 1;
    }
    assert_eq!(run, 24);
}

fn json() -> Value {
    serde_json::from_str(&read("shell-vectors.json")).unwrap()
}

fn string_list(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn json_env_var_test() {
    let v = json();
    let section = &v["env_var_test"];
    let lex = Lex::new('\\');
    let env: HashMap<String, String> = section["env"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let mut run = 0;
    for case in section["cases"].as_array().unwrap() {
        if case["platform"] == "windows" {
            continue;
        }
        let input = case["input"].as_str().unwrap();
        let got = lex.process_word(input, &env);
        if case.get("error").is_some() {
            assert!(got.is_err(), "{input:?} -> {got:?}");
        } else {
            assert_eq!(
                got.unwrap(),
                case["expected"].as_str().unwrap(),
                "{input:?}"
            );
        }
        run += 1;
    }
    assert_eq!(run, 228);
}

#[test]
fn json_words_test() {
    let v = json();
    let lex = Lex::new('\\');
    let mut run = 0;
    for case in v["words_test"]["cases"].as_array().unwrap() {
        let input = case["input"].as_str().unwrap();
        let env = EnvList::from_pairs(&string_list(&case["env"]));
        let got = lex.process_words(input, &env);
        if case.get("error").is_some() {
            assert!(got.is_err(), "{input:?}");
        } else {
            assert_eq!(got.unwrap(), string_list(&case["expected"]), "{input:?}");
        }
        run += 1;
    }
    assert_eq!(run, 24);
}

#[test]
fn json_process_with_matches() {
    let v = json();
    let lex = Lex::new('\\');
    let mut run = 0;
    for case in v["process_with_matches"]["cases"].as_array().unwrap() {
        let input = case["input"].as_str().unwrap();
        let env: HashMap<String, String> = case["env"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let got = lex.expand(input, &env);
        if case.get("error").is_some() {
            assert!(got.is_err(), "{input:?} -> {got:?}");
            run += 1;
            continue;
        }
        let got = got.unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(got.result, case["expected"].as_str().unwrap(), "{input:?}");
        if let Some(m) = case.get("matched") {
            let got_m: Vec<String> = got.matched.iter().cloned().collect();
            let mut want = string_list(m);
            want.sort();
            assert_eq!(got_m, want, "{input:?} matched");
        }
        if let Some(u) = case.get("unmatched") {
            let got_u: Vec<String> = got.unmatched.iter().cloned().collect();
            let mut want = string_list(u);
            want.sort();
            assert_eq!(got_u, want, "{input:?} unmatched");
        }
        run += 1;
    }
    assert_eq!(run, 50);
}

#[test]
fn json_mandatory_env_vars() {
    let v = json();
    let lex = Lex::new('\\');
    let mut run = 0;
    for case in v["mandatory_env_vars"]["cases"].as_array().unwrap() {
        let input = case["input"].as_str().unwrap();
        let env = EnvList::from_pairs(&string_list(&case["env_list"]));
        let got = lex.process_word(input, &env);
        if let Some(c) = case.get("error_contains") {
            let err = got.unwrap_err();
            assert!(err.to_string().contains(c.as_str().unwrap()), "{err}");
        } else {
            assert_eq!(got.unwrap(), case["expected"].as_str().unwrap());
        }
        run += 1;
    }
    assert_eq!(run, 6);
}
