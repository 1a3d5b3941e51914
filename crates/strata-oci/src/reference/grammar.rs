//! The reference grammar as regular expressions, composed exactly as the Docker ecosystem
//! composes them (distribution/reference), so that what matches here matches there:
//!
//! ```text
//! reference        := name [ ":" tag ] [ "@" digest ]
//! name             := [domain '/'] remote-name
//! domain           := host [':' port-number]
//! host             := domain-name | IPv4address | \[ IPv6address \]
//! domain-name      := domain-component ['.' domain-component]*
//! domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//! port-number      := /[0-9]+/
//! path-component   := alpha-numeric [separator alpha-numeric]*
//! remote-name      := path-component ['/' path-component]*
//! alpha-numeric    := /[a-z0-9]+/
//! separator        := /[_.]|__|[-]+/
//! tag              := /[\w][\w.-]{0,127}/
//! digest           := algorithm ":" hex   (algorithm: [A-Za-z][A-Za-z0-9]* joined by [-_+.];
//!                                         hex: at least 32 hex digits)
//! identifier       := /[a-f0-9]{64}/
//! ```
//!
//! Two details matter for fidelity with Go's `regexp` package: `\w` is ASCII-only there
//! (so the tag class is spelled out here; Rust's `\w` is Unicode), and both engines pick
//! the leftmost-first ("backtracking preference") match, so capture groups agree — e.g.
//! `localhost:8080@sha256:…` is the name `localhost` with tag `8080`.

use std::sync::LazyLock;

use regex::Regex;

/// Lowercase letters and digits: the atom of a path component.
pub const ALPHANUMERIC: &str = "[a-z0-9]+";
/// Separators inside a path component: one period, one or two underscores, or dashes.
pub const SEPARATOR: &str = "(?:[._]|__|[-]+)";
/// One label of a domain name.
pub const DOMAIN_NAME_COMPONENT: &str = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
/// An optional `:port` (any number of digits: the grammar does not range-check ports).
pub const OPTIONAL_PORT: &str = "(?::[0-9]+)?";
/// A tag: a word character followed by up to 127 word characters, dots or dashes.
pub const TAG: &str = "[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}";
/// A digest as the reference grammar sees it (looser than content digests: any algorithm
/// name, at least 32 hex digits). Content validation happens afterwards, in [`crate::Digest`].
pub const DIGEST: &str = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}";
/// A bare image ID: 64 lowercase hex digits (a sha256 digest without its algorithm).
pub const IDENTIFIER: &str = "([a-f0-9]{64})";
/// An IPv6 address in brackets (no zone identifiers, no IPv4-mapped forms).
pub const IPV6_ADDRESS: &str = r"\[(?:[a-fA-F0-9:]+)\]";

fn domain_name() -> String {
    format!(r"{DOMAIN_NAME_COMPONENT}(?:\.{DOMAIN_NAME_COMPONENT})*")
}

fn host() -> String {
    format!("(?:{}|{IPV6_ADDRESS})", domain_name())
}

/// `host[:port]`, unanchored.
pub fn domain_and_port_pattern() -> String {
    format!("{}{OPTIONAL_PORT}", host())
}

fn path_component() -> String {
    format!("{ALPHANUMERIC}(?:{SEPARATOR}{ALPHANUMERIC})*")
}

/// The remote name (path): slash-separated path components.
pub fn remote_name_pattern() -> String {
    let pc = path_component();
    format!("{pc}(?:/{pc})*")
}

/// A full name (optional domain, then path), unanchored and without groups.
pub fn name_pattern() -> String {
    format!(
        "(?:{}/)?{}",
        domain_and_port_pattern(),
        remote_name_pattern()
    )
}

// The patterns are constants of this module, so they always compile (the tests exercise
// every one); a failure would surface as `None`, which every caller treats as "no match",
// rather than as a panic in product code.
static REFERENCE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(&format!(
        "^({})(?::({TAG}))?(?:@({DIGEST}))?$",
        name_pattern()
    ))
    .ok()
});
static ANCHORED_NAME: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(&format!(
        "^(?:({})/)?({})$",
        domain_and_port_pattern(),
        remote_name_pattern()
    ))
    .ok()
});
static ANCHORED_DOMAIN: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(&format!("^{}$", domain_and_port_pattern())).ok());
static ANCHORED_TAG: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(&format!("^{TAG}$")).ok());
static ANCHORED_DIGEST: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(&format!("^{DIGEST}$")).ok());
static ANCHORED_IDENTIFIER: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(&format!("^{IDENTIFIER}$")).ok());

/// `^(name)(?::(tag))?(?:@(digest))?$` — groups 1, 2, 3 are name, tag and digest.
pub fn reference() -> Option<&'static Regex> {
    REFERENCE.as_ref()
}

/// `^(?:(domain)/)?(remote-name)$` — groups 1 and 2 are domain and path.
pub fn anchored_name() -> Option<&'static Regex> {
    ANCHORED_NAME.as_ref()
}

/// `^host[:port]$`.
pub fn anchored_domain() -> Option<&'static Regex> {
    ANCHORED_DOMAIN.as_ref()
}

/// `^tag$`.
pub fn anchored_tag() -> Option<&'static Regex> {
    ANCHORED_TAG.as_ref()
}

/// `^digest$` (the reference grammar's notion of a digest).
pub fn anchored_digest() -> Option<&'static Regex> {
    ANCHORED_DIGEST.as_ref()
}

/// `^[a-f0-9]{64}$`: a bare image ID.
pub fn anchored_identifier() -> Option<&'static Regex> {
    ANCHORED_IDENTIFIER.as_ref()
}

/// Whether `re` exists and matches `s` in full (the patterns are anchored).
pub(crate) fn matches(re: Option<&Regex>, s: &str) -> bool {
    re.is_some_and(|re| re.is_match(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for re in [
            reference(),
            anchored_name(),
            anchored_domain(),
            anchored_tag(),
            anchored_digest(),
            anchored_identifier(),
        ] {
            assert!(re.is_some());
        }
    }
}
