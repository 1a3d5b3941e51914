//! Property tests for the reference parsers, with the same invariants as the
//! `fuzz/fuzz_targets/reference.rs` fuzzer: no parser panics on any input, and a parsed
//! reference's `Display` re-parses (with the same parser) to an equal value.

use proptest::prelude::*;
use strata_oci::AnyReference;
use strata_oci::reference::{Reference, familiar_match, grammar};

type Parser = fn(&str) -> Result<Reference, strata_oci::ReferenceError>;

const PARSERS: [(&str, Parser); 5] = [
    ("parse", Reference::parse),
    ("parse_normalized", Reference::parse_normalized),
    ("parse_named", Reference::parse_named),
    ("parse_docker", Reference::parse_docker),
    ("with_name", Reference::with_name),
];

/// Docker's familiar form is lossy in two corners, both faithful to Docker: a Hub path
/// whose first component looks like a registry (`docker.io/example.com/x` shows as
/// `example.com/x`, which names another registry), and a Hub name that is 64 hex digits
/// (shown bare, which reads as an image ID).
fn familiar_is_unambiguous(r: &Reference) -> bool {
    let familiar = r.familiar_name();
    if grammar::anchored_identifier().unwrap().is_match(&familiar) {
        return false;
    }
    match familiar.split_once('/') {
        Some((first, _)) if r.domain() == "docker.io" => {
            !(first == "localhost" || first.contains(['.', ':']) || first.to_lowercase() != first)
        }
        _ => true,
    }
}

fn check(input: &str) -> Result<(), TestCaseError> {
    for (name, parse) in PARSERS {
        if let Ok(r) = parse(input) {
            let shown = r.to_string();
            prop_assert_eq!(
                parse(&shown),
                Ok(r.clone()),
                "{} of {:?} shown as {:?}",
                name,
                input,
                shown
            );
            // Every reference is also valid under the bare grammar.
            prop_assert_eq!(
                Reference::parse(&shown),
                Ok(r.clone()),
                "{} of {:?}",
                name,
                input
            );
            // A normalised reference's familiar form normalises back to it, unless the
            // familiar form is ambiguous (see `familiar_is_unambiguous`).
            let familiar = r.familiar_string();
            if !matches!(name, "parse" | "with_name") && familiar_is_unambiguous(&r) {
                let again = Reference::parse_normalized(&familiar);
                prop_assert_eq!(
                    again,
                    Ok(r.clone()),
                    "{} of {:?}, familiar {:?}",
                    name,
                    input,
                    familiar
                );
            }
            // Matching a reference against its own familiar string always succeeds.
            let any = AnyReference::Named(r.clone());
            prop_assert_eq!(
                familiar_match(&familiar.replace(['*', '?', '[', '\\'], "?"), &any),
                Ok(true)
            );
        }
    }
    if let Ok(any) = AnyReference::parse(input) {
        prop_assert_eq!(
            AnyReference::parse(&any.to_string()),
            Ok(any.clone()),
            "any of {:?}",
            input
        );
    }
    Ok(())
}

fn structured() -> impl Strategy<Value = String> {
    let domain = prop::option::of(prop::sample::select(vec![
        "localhost",
        "localhost:5000",
        "example.com",
        "example.com:443",
        "[::1]:5000",
        "[2001:db8::1]",
        "docker.io",
        "index.docker.io",
        "Registry.Example",
        "192.168.0.1:80",
    ]));
    let path = prop::collection::vec("[a-z0-9]{1,6}([._]|__|-{1,2})?[a-z0-9]{1,4}", 1..4);
    let tag = prop::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}");
    let digest = prop::option::of("[a-f0-9]{64}");
    (domain, path, tag, digest).prop_map(|(d, p, t, h)| {
        let mut s = String::new();
        if let Some(d) = d {
            s.push_str(d);
            s.push('/');
        }
        s.push_str(&p.join("/"));
        if let Some(t) = t {
            s.push(':');
            s.push_str(&t);
        }
        if let Some(h) = h {
            s.push_str("@sha256:");
            s.push_str(&h);
        }
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        // Shrunk failures are reported in the test output; keep the source tree clean.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_strings_never_break_invariants(s in any::<String>()) {
        check(&s)?;
    }

    #[test]
    fn reference_alphabet_never_breaks_invariants(s in r"[a-zA-Z0-9._:/@\[\]-]{0,60}") {
        check(&s)?;
    }

    #[test]
    fn well_formed_references_round_trip_exactly(s in structured()) {
        let r = Reference::parse(&s);
        prop_assert!(r.is_ok(), "{:?}: {:?}", s, r);
        prop_assert_eq!(r.map(|r| r.to_string()), Ok(s.clone()));
        check(&s)?;
    }
}
