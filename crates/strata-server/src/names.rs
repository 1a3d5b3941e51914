//! Repository names, tags and references, validated with the distribution spec's own
//! grammar (<https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests>):
//!
//! - name: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`
//! - tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`
//!
//! The grammar is also what keeps request paths from escaping the storage layout: no
//! component can be empty, `.`/`..`, or start with `_` (the prefix of our own layout
//! directories), so a validated name can be joined into a storage key as it is.
//! Image-reference parsing for clients (registry hosts, `docker.io` defaults) lives in
//! `strata-oci`; the registry only needs the wire grammar, so it is kept here.

use std::sync::LazyLock;

use regex::Regex;
use strata_oci::Digest;

// The patterns are constants covered by the tests below; `Option` keeps product code
// free of panics (a pattern that failed to compile would reject every input).
static NAME: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$",
    )
    .ok()
});

static TAG: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$").ok());

/// Longest repository name accepted (distribution's limit).
pub const MAX_NAME_LEN: usize = 255;

/// Whether `name` is a valid repository name.
pub fn valid_name(name: &str) -> bool {
    name.len() <= MAX_NAME_LEN && NAME.as_ref().is_some_and(|r| r.is_match(name))
}

/// Whether `tag` is a valid tag.
pub fn valid_tag(tag: &str) -> bool {
    TAG.as_ref().is_some_and(|r| r.is_match(tag))
}

/// A manifest reference: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

impl Reference {
    /// Parse a reference from a URL path segment. Anything with a `:` is taken as a
    /// digest (tags cannot contain one).
    pub fn parse(s: &str) -> Option<Reference> {
        if s.contains(':') {
            Digest::parse(s).ok().map(Reference::Digest)
        } else if valid_tag(s) {
            Some(Reference::Tag(s.to_string()))
        } else {
            None
        }
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reference::Tag(t) => f.write_str(t),
            Reference::Digest(d) => f.write_str(d.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "a",
            "library/ubuntu",
            "a.b_c__d---e/f0",
            "conformance/repo1",
        ] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "", "A", "a/", "/a", "a//b", "a/../b", "..", "a/.b", "a/_x", "a___b", "a-", "a:b",
            "a/b/", ".a",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(!valid_name(&"a".repeat(256)));
    }

    #[test]
    fn tags_and_references() {
        assert!(valid_tag("latest"));
        assert!(valid_tag("_x.Y-1"));
        assert!(!valid_tag(".x"));
        assert!(!valid_tag(&"a".repeat(129)));
        assert_eq!(Reference::parse("v1"), Some(Reference::Tag("v1".into())));
        assert!(matches!(
            Reference::parse(
                "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            ),
            Some(Reference::Digest(_))
        ));
        assert_eq!(Reference::parse("sha256:baddigeststring"), None);
        assert_eq!(Reference::parse("../x"), None);
    }
}
