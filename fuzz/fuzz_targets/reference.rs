//! Fuzz every image-reference parser with arbitrary UTF-8.
//!
//! Invariants: no parser panics; a parsed reference's `Display` re-parses, with the same
//! parser and with the bare grammar, to an equal value; a normalised reference's familiar
//! form normalises back to it (except in Docker's two ambiguous corners, see
//! `familiar_is_unambiguous`); `familiar_match` and `path_match` never panic. The same
//! invariants are property-tested in `crates/strata-oci/tests/reference_props.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_oci::reference::{Reference, familiar_match, grammar, path_match};
use strata_oci::{AnyReference, ReferenceError};

type Parser = fn(&str) -> Result<Reference, ReferenceError>;

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

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    for (name, parse) in PARSERS {
        let Ok(r) = parse(input) else { continue };
        let shown = r.to_string();
        assert_eq!(
            parse(&shown),
            Ok(r.clone()),
            "{name} of {input:?} shown as {shown:?}"
        );
        assert_eq!(
            Reference::parse(&shown),
            Ok(r.clone()),
            "{name} of {input:?}"
        );
        let familiar = r.familiar_string();
        if !matches!(name, "parse" | "with_name") && familiar_is_unambiguous(&r) {
            let again = Reference::parse_normalized(&familiar);
            assert_eq!(
                again,
                Ok(r.clone()),
                "{name} of {input:?}, familiar {familiar:?}"
            );
        }
        let _ = r.with_tag(input);
        let _ = r.with_digest_str(input);
        let _ = familiar_match(input, &AnyReference::Named(r));
    }
    if let Ok(any) = AnyReference::parse(input) {
        assert_eq!(
            AnyReference::parse(&any.to_string()),
            Ok(any.clone()),
            "any of {input:?}"
        );
        let _ = familiar_match(input, &any);
    }
    // The input split into a pattern and a name, and matched against itself.
    let mid = (0..=input.len() / 2)
        .rev()
        .find(|&i| input.is_char_boundary(i))
        .unwrap_or(0);
    let (pattern, name) = input.split_at(mid);
    let _ = path_match(pattern, name);
    let _ = path_match(input, input);
});
