//! BuildKit's parser test vectors (`shared/vectors/moby-buildkit/parser`), every case.
//!
//! Each test walks a whole directory or JSON section and counts the cases it checked, so a
//! missing or renamed vector file fails loudly instead of being skipped.

use std::fs;
use std::path::PathBuf;

use serde_json::Value;
use strata_dockerfile::ast::Instruction;
use strata_dockerfile::directives::{detect_syntax, parse_directive};
use strata_dockerfile::parser::{heredocs_from_line, parse_heredoc};
use strata_dockerfile::{Dockerfile, parse};

fn vectors() -> PathBuf {
    match std::env::var_os("STRATA_VECTORS") {
        Some(p) => PathBuf::from(p).join("moby-buildkit/parser"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/vectors/moby-buildkit/parser"),
    }
}

fn read_json(name: &str) -> Value {
    let path = vectors().join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn sorted_dirs(dir: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(vectors().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn testfiles_dump_matches_result() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for dir in sorted_dirs("testfiles") {
        let src = fs::read_to_string(dir.join("Dockerfile")).unwrap();
        let expected = fs::read_to_string(dir.join("result")).unwrap();
        match parse(&src) {
            Ok(df) => {
                let got = df.dump() + "\n";
                if got != expected {
                    failures.push(format!(
                        "{}:\n--- expected\n{expected}--- got\n{got}",
                        dir.display()
                    ));
                }
            }
            Err(e) => failures.push(format!("{}: {e}", dir.display())),
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(checked, 33);
}

#[test]
fn negative_testfiles_fail_with_buildkit_message() {
    let ast = read_json("testfiles.ast.json");
    let mut checked = 0;
    for dir in sorted_dirs("testfiles-negative") {
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        let src = fs::read_to_string(dir.join("Dockerfile")).unwrap();
        let err = parse(&src).expect_err(&name);
        let expected = ast["negative"][&name]["error"].as_str().unwrap();
        assert_eq!(err.message(), expected, "{name}");
        checked += 1;
    }
    assert_eq!(checked, 4);
    assert_eq!(ast["negative"].as_object().unwrap().len(), 4);
}

fn check_instruction(name: &str, got: &Instruction, exp: &Value, top_level: bool) {
    assert_eq!(got.keyword, exp["cmd"].as_str().unwrap(), "{name}: cmd");
    let flags: Vec<String> = exp["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    assert_eq!(got.flag_texts(), flags, "{name}: flags");
    assert_eq!(
        got.json_form,
        exp["json_form"].as_bool().unwrap(),
        "{name}: json"
    );
    let args = exp["args"].as_array().unwrap();
    match &got.trigger {
        Some(t) => {
            assert_eq!(args.len(), 1, "{name}: onbuild args");
            check_instruction(name, t, &args[0]["instruction"], false);
        }
        None => {
            let want: Vec<&str> = args.iter().map(|a| a.as_str().unwrap()).collect();
            assert_eq!(got.arg_values(), want, "{name}: args");
        }
    }
    if top_level {
        assert_eq!(
            got.start_line(),
            exp["start_line"].as_u64().unwrap() as usize,
            "{name}: start_line"
        );
        assert_eq!(
            got.end_line(),
            exp["end_line"].as_u64().unwrap() as usize,
            "{name}: end_line"
        );
        assert_eq!(
            got.original,
            exp["original"].as_str().unwrap(),
            "{name}: original"
        );
        let heredocs = exp.get("heredocs").and_then(Value::as_array);
        assert_eq!(
            got.heredocs.len(),
            heredocs.map_or(0, Vec::len),
            "{name}: heredocs"
        );
    }
}

#[test]
fn testfiles_ast_json_holds() {
    let ast = read_json("testfiles.ast.json");
    let positive = ast["positive"].as_object().unwrap();
    let mut checked = 0;
    for (name, case) in positive {
        let src =
            fs::read_to_string(vectors().join("testfiles").join(name).join("Dockerfile")).unwrap();
        let df: Dockerfile = parse(&src).unwrap_or_else(|e| panic!("{name}: {e}"));
        let exp = case["instructions"].as_array().unwrap();
        assert_eq!(df.instructions.len(), exp.len(), "{name}: count");
        for (got, exp) in df.instructions.iter().zip(exp) {
            check_instruction(name, got, exp, true);
        }
        let warnings: Vec<&str> = case["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        let got: Vec<&str> = df.warnings.iter().map(|w| w.message.as_str()).collect();
        assert_eq!(got, warnings, "{name}: warnings");
        let esc = case["escape_token"].as_str().unwrap();
        assert_eq!(df.escape_token.to_string(), esc, "{name}: escape");
        assert_eq!(case["dump_matches_result_file"], Value::Bool(true));
        checked += 1;
    }
    assert_eq!(checked, 33);
}

#[test]
fn testfile_line_numbers() {
    let v = read_json("parser-vectors.json");
    let exp = &v["line_numbers"]["expected"];
    let src = fs::read_to_string(vectors().join("testfile-line/Dockerfile")).unwrap();
    let df = parse(&src).unwrap();
    let first = df.instructions.first().unwrap().start_line();
    let last = df.instructions.last().unwrap().end_line();
    assert_eq!(first as u64, exp["ast_start_line"].as_u64().unwrap());
    assert_eq!(last as u64, exp["ast_end_line"].as_u64().unwrap());
    let children = exp["children"].as_array().unwrap();
    assert_eq!(df.instructions.len(), children.len());
    for (i, c) in df.instructions.iter().zip(children) {
        assert_eq!(i.start_line() as u64, c[0].as_u64().unwrap());
        assert_eq!(i.end_line() as u64, c[1].as_u64().unwrap());
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn json_arrays() {
    let v = &read_json("parser-vectors.json")["json_arrays"];
    let mut checked = 0;
    for case in v["valid"].as_array().unwrap() {
        let input = case["input"].as_str().unwrap();
        let df = parse(&format!("CMD {input}")).unwrap();
        let cmd = &df.instructions[0];
        assert!(cmd.json_form, "{input}");
        let want = strings(&case["expected"]);
        assert_eq!(cmd.arg_values(), want, "{input}");
        checked += 1;
    }
    for case in v["invalid"].as_array().unwrap() {
        let input = case.as_str().unwrap();
        let err = parse(&format!("CMD {input}")).unwrap_err();
        assert_eq!(
            err.message(),
            "when using JSON array syntax, arrays must be comprised of strings only"
        );
        checked += 1;
    }
    assert_eq!(checked, 16);
}

#[test]
fn parse_words_and_name_val() {
    let v = read_json("parser-vectors.json");
    let mut checked = 0;
    for case in v["parse_words"]["cases"].as_array().unwrap() {
        let input = case["input"].as_str().unwrap();
        // ARG uses the word splitter unchanged.
        let df = parse(&format!("ARG {input}")).unwrap();
        assert_eq!(
            df.instructions[0].arg_values(),
            strings(&case["expected"]),
            "{input}"
        );
        checked += 1;
    }
    for case in v["name_val"]["cases"].as_array().unwrap() {
        let input = case["input"].as_str().unwrap();
        let cmd = case["cmd"].as_str().unwrap();
        let res = parse(&format!("{cmd} {input}"));
        if case.get("error").is_some() {
            assert_eq!(
                res.unwrap_err().message(),
                format!("{cmd} must have two arguments")
            );
        } else {
            assert_eq!(
                res.unwrap().instructions[0].arg_values(),
                strings(&case["expected"])
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 11);
}

#[test]
fn heredoc_extraction() {
    let v = &read_json("parser-vectors.json")["heredoc_extraction"];
    let df = parse(v["dockerfile"].as_str().unwrap()).unwrap();
    let expected = v["expected_by_instruction"].as_array().unwrap();
    assert_eq!(df.instructions.len(), expected.len() + 1);
    for (i, exp) in expected.iter().enumerate() {
        let got = &df.instructions[i + 1].heredocs;
        let want = exp.as_array().map(Vec::as_slice).unwrap_or(&[]);
        assert_eq!(got.len(), want.len(), "instruction {}", i + 1);
        for (h, w) in got.iter().zip(want) {
            assert_eq!(h.name, w["Name"].as_str().unwrap());
            assert_eq!(h.file_descriptor, w["FileDescriptor"].as_u64().unwrap());
            assert_eq!(h.expand, w["Expand"].as_bool().unwrap(), "{}", h.name);
            assert_eq!(h.chomp, w["Chomp"].as_bool().unwrap());
            assert_eq!(h.content, w["Content"].as_str().unwrap());
        }
    }
}

#[test]
fn heredoc_json_form_and_chomp() {
    let v = read_json("parser-vectors.json");
    let df = parse(v["heredoc_json_form"]["dockerfile"].as_str().unwrap()).unwrap();
    assert_eq!(df.instructions.len(), 4);
    for i in &df.instructions[1..] {
        assert!(i.heredocs.is_empty());
    }
    let c = &v["heredoc_chomp"];
    assert_eq!(
        strata_dockerfile::ast::chomp_heredoc_content(c["input"].as_str().unwrap()),
        c["expected"].as_str().unwrap()
    );
}

#[test]
fn parse_heredoc_words() {
    let v = &read_json("parser-vectors.json")["parse_heredoc_word"];
    let mut checked = 0;
    for w in v["valid"].as_array().unwrap() {
        let w = w.as_str().unwrap();
        let h = parse_heredoc(w).unwrap().unwrap_or_else(|| panic!("{w}"));
        assert_eq!(h.name, "EOF", "{w}");
        checked += 1;
    }
    for w in v["invalid"].as_array().unwrap() {
        let w = w.as_str().unwrap();
        assert!(parse_heredoc(w).is_err(), "{w}");
        checked += 1;
    }
    for w in v["not_heredoc"].as_array().unwrap() {
        let w = w.as_str().unwrap();
        assert_eq!(parse_heredoc(w), Ok(None), "{w}");
        checked += 1;
    }
    assert_eq!(checked, 20);

    let cases = read_json("parser-vectors.json")["heredocs_from_line"]["cases"].clone();
    let mut checked = 0;
    for case in cases.as_array().unwrap() {
        let line = case["line"].as_str().unwrap();
        let got = heredocs_from_line(line).unwrap();
        match case["names"].as_array() {
            // Upstream compares only the entries it returned, in order.
            Some(names) => {
                for (h, n) in got.iter().zip(names) {
                    assert_eq!(h.name, n.as_str().unwrap(), "{line}");
                }
            }
            None => assert!(got.is_empty(), "{line}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 10);
}

#[test]
fn empty_continuation_warnings() {
    let v = &read_json("parser-vectors.json")["empty_continuation_warnings"];
    let df = parse(v["dockerfile"].as_str().unwrap()).unwrap();
    let exp = &v["expected"];
    assert_eq!(
        df.warnings.len() as u64,
        exp["warning_count"].as_u64().unwrap()
    );
    for s in exp["warning0_contains"].as_array().unwrap() {
        assert!(df.warnings[0].message.contains(s.as_str().unwrap()));
    }
    for s in exp["warning1_contains"].as_array().unwrap() {
        assert!(df.warnings[1].message.contains(s.as_str().unwrap()));
    }
    assert!(
        df.warnings[0]
            .detail
            .contains(exp["warning0_detail0_contains"].as_str().unwrap())
    );
    // Strata also records which lines were blank.
    assert_eq!(df.warnings[0].empty_lines, vec![8, 10]);
    assert_eq!(df.warnings[0].line, 11);
}

#[test]
fn line_too_long() {
    let v = &read_json("parser-vectors.json")["line_too_long"];
    let template = v["dockerfile_template"].as_str().unwrap();
    let src = template.replace("%s", &"a".repeat(65536));
    let err = parse(&src).unwrap_err();
    assert_eq!(err.message(), v["expected_error"].as_str().unwrap());
}

#[test]
fn directives() {
    let v = &read_json("parser-vectors.json")["directives"];
    let mut checked = 0;
    for case in v["parse_all"].as_array().unwrap() {
        let src = format!("{}FROM x\n", case["input"].as_str().unwrap());
        let df = parse(&src).unwrap();
        let got: Vec<(String, String)> = df
            .directives
            .iter()
            .map(|d| (d.name.clone(), d.value.clone()))
            .collect();
        let want: Vec<(String, String)> = case["expected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["name"].as_str().unwrap().to_string(),
                    d["value"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(got, want);
        checked += 1;
    }
    for (section, key) in [
        ("detect_syntax", "syntax"),
        ("parse_directive_check", "check"),
    ] {
        for case in v[section].as_array().unwrap() {
            let mut input = case["input"].as_str().unwrap().to_string();
            if case.get("input_hex_prefix").is_some() {
                input.insert(0, '\u{feff}');
            }
            let got = if key == "syntax" {
                detect_syntax(&input)
            } else {
                parse_directive(key, &input)
            };
            let ok = case["ok"].as_bool().unwrap();
            assert_eq!(got.is_some(), ok, "{input:?}");
            if let Some(got) = got {
                let field = if key == "syntax" { "ref" } else { "value" };
                if let Some(r) = case.get(field) {
                    let want = r.as_str().unwrap();
                    let have = if key == "syntax" {
                        got.reference.as_str()
                    } else {
                        got.cmdline.split(' ').next().unwrap()
                    };
                    assert_eq!(have, want, "{input:?}");
                }
                if let Some(c) = case.get("cmdline") {
                    assert_eq!(got.cmdline, c.as_str().unwrap());
                }
                if let Some(l) = case.get("line") {
                    assert_eq!(got.line as u64, l.as_u64().unwrap(), "{input:?}");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 17);
}
