//! Property: no template text and no data makes parsing or execution panic.

use proptest::prelude::*;
use serde_json::{Value, json};
use strata_template::Template;

/// Fragments that form plausible (and implausible) templates.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "{{", "}}", "{{-", " -}}", ".", ".A", ".B.C", "$", "$x", ":=", "=", "|", "(", ")", " ",
            "\"s\"", "`r`", "'c'", "1", "-2", "3.5", "0x1f", "1e6", "true", "nil", "if", "else",
            "end", "range", "with", "break", "continue", "define", "template", "block", "\"t\"",
            "len", "index", "slice", "printf", "\"%d %s %v %q %x %-5s %.2f %*d\"", "print",
            "println", "eq", "ne", "lt", "ge", "and", "or", "not", "json", "split", "join",
            "title", "upper", "lower", "pad", "truncate", "html", "js", "urlquery", "call",
            "{{/*", "*/}}", ",", "\n", "text",
        ]).prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

fn template_text() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..24).prop_map(|parts| parts.concat())
}

fn data() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-z%.:]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (prop::sample::select(vec!["A", "B", "C", "x"]), inner),
                0..4
            )
            .prop_map(|entries| {
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                )
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn arbitrary_templates_never_panic(src in template_text(), data in data()) {
        if let Ok(t) = Template::parse(&src) {
            let _ = t.execute(&data);
            let _ = t.execute_header(&data);
        }
        if let Ok(f) = Template::parse_docker(&src) {
            let _ = f.render(&data);
        }
    }

    #[test]
    fn well_formed_actions_execute_or_fail_cleanly(
        func in prop::sample::select(vec!["len", "index", "slice", "printf", "print", "eq", "lt",
            "json", "split", "join", "title", "upper", "pad", "truncate", "html", "js", "not"]),
        args in prop::collection::vec(prop::sample::select(vec![".A", ".B", "1", "-1", "\"s\"",
            "\"%v\"", ".", "nil", "$", "3.5", "(.C)"]), 0..4),
        data in data(),
    ) {
        let src = format!("{{{{{func} {}}}}}", args.join(" "));
        let t = Template::parse(&src);
        prop_assert!(t.is_ok(), "{src}: {t:?}");
        if let Ok(t) = t {
            match t.execute(&data) {
                Ok(_) => {}
                Err(e) => prop_assert!(e.to_string().starts_with("template: :1:"), "{e}"),
            }
        }
    }
}
