//! Image references: `[DOMAIN/]PATH[:TAG][@DIGEST]`, parsed, normalised and familiarised
//! exactly as the Docker ecosystem does (the `distribution/reference` Go package, which
//! Docker, containerd and BuildKit all use), including its error texts.
//!
//! # Model
//!
//! A [`Reference`] is a repository (an optional `domain` such as `docker.io` or
//! `localhost:5000`, and a `path` such as `library/nginx`) plus an optional tag and an
//! optional digest. Its [`Display`](std::fmt::Display) is the full string
//! (`name[:tag][@digest]`), and parsing that string gives the same value back.
//!
//! There are three ways in, matching the three things users type:
//! - [`Reference::parse`] is the bare grammar: nothing is added, `nginx` has no domain.
//! - [`Reference::parse_normalized`] applies Docker's defaults: `nginx` becomes
//!   `docker.io/library/nginx`, `index.docker.io/x/y` becomes `docker.io/x/y`; a first
//!   component counts as a domain only if it is `localhost`, contains `.` or `:`, or has
//!   uppercase letters. Add [`Reference::tag_name_only`] (or use
//!   [`Reference::parse_docker`]) to get the `:latest` default.
//! - [`AnyReference::parse`] also accepts an image ID (`sha256:…` or 64 bare hex digits),
//!   as `docker inspect`, `rmi` and `tag` do.
//!
//! [`Reference::familiar`] goes the other way, for display: `docker.io/library/nginx`
//! becomes `nginx`, `docker.io/foo/bar` becomes `foo/bar`.
//!
//! # Errors
//!
//! [`ReferenceError`] carries the input and a [`ReferenceErrorKind`] whose message is
//! Docker's text verbatim (`invalid reference format`, `invalid reference format:
//! repository name (library/Foo) must be lowercase`, …), because scripts match on them.
//! Digest failures use go-digest's texts (see [`crate::digest`]). Unlike the Go package's
//! test configuration, Strata registers `sha512` as well as `sha256`, so
//! `name@sha512:<128 hex>` parses.
//!
//! # Digests that are only grammatical
//!
//! References produced by the parsers always carry a verified-format [`Digest`]. Go's
//! `WithDigest` only checks the grammar (at least 32 hex digits), and
//! [`Reference::with_digest_str`] mirrors that; such a reference's [`Reference::digest`]
//! is `None` while [`Reference::digest_str`] still shows it.
//!
//! Written by hand: the grammar is a handful of regexes ([`grammar`]), and no crate
//! reproduces Docker's normalisation and error texts.

pub mod grammar;
mod pattern;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use pattern::{PatternError, path_match};

use crate::{Digest, DigestError};

/// Maximum length in bytes of a repository path (the name without its domain).
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;
/// Docker Hub's canonical domain.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// Docker Hub's legacy domain, normalised to [`DEFAULT_DOMAIN`].
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// Namespace of Docker Hub's official images.
pub const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag a name-only reference gets.
pub const DEFAULT_TAG: &str = "latest";

/// Why a reference was refused. The message is Docker's, verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceErrorKind {
    #[error("invalid reference format")]
    InvalidFormat,
    #[error("invalid tag format")]
    InvalidTag,
    #[error("invalid digest format")]
    InvalidDigestFormat,
    #[error("repository name must be lowercase")]
    NameContainsUppercase,
    #[error("repository name must have at least one component")]
    NameEmpty,
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    #[error("repository name must be canonical")]
    NameNotCanonical,
    /// From the normalising parsers, naming the offending repository path.
    #[error("invalid reference format: repository name ({repository}) must be lowercase")]
    RepositoryNotLowercase { repository: String },
    /// A bare 64-hex-digit string given where only a name is accepted.
    #[error("invalid repository name ({name}), cannot specify 64-byte hexadecimal strings")]
    HexIdentifier { name: String },
    /// The digest part is grammatical but not a valid digest (go-digest's texts).
    #[error(transparent)]
    Digest(DigestError),
}

/// A refused reference: the input and the reason. Displays as the reason alone (Docker's
/// text); callers add the input as context where Docker does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct ReferenceError {
    /// The string that was being parsed (or the tag/digest being attached).
    pub input: String,
    pub kind: ReferenceErrorKind,
}

impl ReferenceError {
    fn new(input: &str, kind: ReferenceErrorKind) -> ReferenceError {
        ReferenceError {
            input: input.to_string(),
            kind,
        }
    }
}

/// A named image reference: `[domain/]path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// Empty when the reference has no domain part.
    domain: String,
    path: String,
    tag: Option<String>,
    /// Always grammatical; a valid [`Digest`] unless attached with `with_digest_str`.
    digest: Option<String>,
}

impl Reference {
    /// Parse a reference with the bare grammar (Go's `reference.Parse`): no defaults are
    /// applied, so `nginx` stays `nginx`.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        let err = |kind| ReferenceError::new(s, kind);
        if s.is_empty() {
            return Err(err(ReferenceErrorKind::NameEmpty));
        }
        let Some(caps) = grammar::reference().and_then(|re| re.captures(s)) else {
            let lower = s.to_lowercase();
            if lower != s && grammar::matches(grammar::reference(), &lower) {
                return Err(err(ReferenceErrorKind::NameContainsUppercase));
            }
            return Err(err(ReferenceErrorKind::InvalidFormat));
        };
        let name = caps.get(1).map_or("", |m| m.as_str());
        let (domain, path) = split_domain(name);
        if path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(err(ReferenceErrorKind::NameTooLong));
        }
        let tag = caps.get(2).map(|m| m.as_str().to_string());
        let digest = match caps.get(3) {
            Some(m) => Some(
                Digest::parse(m.as_str())
                    .map_err(|e| err(ReferenceErrorKind::Digest(e)))?
                    .as_str()
                    .to_string(),
            ),
            None => None,
        };
        Ok(Reference {
            domain: domain.to_string(),
            path: path.to_string(),
            tag,
            digest,
        })
    }

    /// Parse what a user typed, applying Docker's defaults (Go's `ParseNormalizedNamed`):
    /// `nginx:1` → `docker.io/library/nginx:1`. No default tag is added; see
    /// [`Reference::tag_name_only`].
    pub fn parse_normalized(s: &str) -> Result<Reference, ReferenceError> {
        if grammar::matches(grammar::anchored_identifier(), s) {
            return Err(ReferenceError::new(
                s,
                ReferenceErrorKind::HexIdentifier {
                    name: s.to_string(),
                },
            ));
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote = match remainder.find(':') {
            Some(i) => &remainder[..i],
            None => remainder.as_str(),
        };
        if remote.to_lowercase() != remote {
            return Err(ReferenceError::new(
                s,
                ReferenceErrorKind::RepositoryNotLowercase {
                    repository: remote.to_string(),
                },
            ));
        }
        Reference::parse(&format!("{domain}/{remainder}")).map_err(|e| ReferenceError {
            input: s.to_string(),
            kind: e.kind,
        })
    }

    /// Parse a reference that must already be in canonical form (Go's `ParseNamed`):
    /// `docker.io/library/foo` is accepted, `foo` and `docker.io/foo` are not.
    pub fn parse_named(s: &str) -> Result<Reference, ReferenceError> {
        let named = Reference::parse_normalized(s)?;
        if named.to_string() != s {
            return Err(ReferenceError::new(s, ReferenceErrorKind::NameNotCanonical));
        }
        Ok(named)
    }

    /// Docker's image reference convention (Go's `ParseDockerRef`): normalise, add
    /// `:latest` to a bare name, and drop the tag when a digest is also given
    /// (`busybox:1@sha256:…` → `docker.io/library/busybox@sha256:…`).
    pub fn parse_docker(s: &str) -> Result<Reference, ReferenceError> {
        let mut named = Reference::parse_normalized(s)?;
        if named.digest.is_some() {
            named.tag = None;
            return Ok(named);
        }
        Ok(named.tag_name_only())
    }

    /// A name without tag or digest (Go's `WithName`); no defaults are applied.
    pub fn with_name(name: &str) -> Result<Reference, ReferenceError> {
        let Some(caps) = grammar::anchored_name().and_then(|re| re.captures(name)) else {
            return Err(ReferenceError::new(name, ReferenceErrorKind::InvalidFormat));
        };
        let domain = caps.get(1).map_or("", |m| m.as_str());
        let path = caps.get(2).map_or("", |m| m.as_str());
        if path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::new(name, ReferenceErrorKind::NameTooLong));
        }
        Ok(Reference {
            domain: domain.to_string(),
            path: path.to_string(),
            tag: None,
            digest: None,
        })
    }

    /// This reference with `tag` (replacing any tag; a digest is kept).
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        if !grammar::matches(grammar::anchored_tag(), tag) {
            return Err(ReferenceError::new(tag, ReferenceErrorKind::InvalidTag));
        }
        Ok(Reference {
            tag: Some(tag.to_string()),
            ..self.clone()
        })
    }

    /// This reference pinned to `digest` (replacing any digest; a tag is kept).
    pub fn with_digest(&self, digest: &Digest) -> Reference {
        Reference {
            digest: Some(digest.as_str().to_string()),
            ..self.clone()
        }
    }

    /// As [`Reference::with_digest`] from a string, checking only the reference grammar
    /// (`algorithm:` and at least 32 hex digits), as Go's `WithDigest` does.
    pub fn with_digest_str(&self, digest: &str) -> Result<Reference, ReferenceError> {
        if !grammar::matches(grammar::anchored_digest(), digest) {
            return Err(ReferenceError::new(
                digest,
                ReferenceErrorKind::InvalidDigestFormat,
            ));
        }
        Ok(Reference {
            digest: Some(digest.to_string()),
            ..self.clone()
        })
    }

    /// The repository alone, without tag or digest (Go's `TrimNamed`).
    pub fn trim(&self) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: None,
        }
    }

    /// Add the `latest` tag if the reference has neither tag nor digest (Go's
    /// `TagNameOnly`).
    pub fn tag_name_only(self) -> Reference {
        if self.is_name_only() {
            Reference {
                tag: Some(DEFAULT_TAG.to_string()),
                ..self
            }
        } else {
            self
        }
    }

    /// Whether the reference has neither tag nor digest.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// The domain (`docker.io`, `localhost:5000`, `[::1]:5000`), or `""` when there is none.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path without the domain (`library/nginx`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The repository name: `domain/path`, or just the path when there is no domain.
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if the reference has one in a registered algorithm and valid form
    /// (always the case for references from the parsers and [`Reference::with_digest`]).
    pub fn digest(&self) -> Option<Digest> {
        self.digest.as_deref().and_then(|d| Digest::parse(d).ok())
    }

    /// The digest part as written.
    pub fn digest_str(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The short form Docker shows: `docker.io/library/nginx:1` → `nginx:1`,
    /// `docker.io/foo/bar` → `foo/bar`; other domains are kept.
    pub fn familiar(&self) -> Reference {
        let mut r = self.clone();
        if r.domain == DEFAULT_DOMAIN {
            r.domain.clear();
            // Only single-component official names lose `library/`: Hub has no nested
            // namespaces under `library`, and `library/a/b` must stay distinguishable.
            if let Some(rest) = r.path.strip_prefix(OFFICIAL_REPO_PREFIX)
                && !rest.contains('/')
            {
                r.path = rest.to_string();
            }
        }
        r
    }

    /// The familiar repository name (`nginx`), as in `docker images`' REPOSITORY column.
    pub fn familiar_name(&self) -> String {
        self.familiar().name()
    }

    /// The familiar full string (`nginx:1`).
    pub fn familiar_string(&self) -> String {
        self.familiar().to_string()
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.domain.is_empty() {
            write!(f, "{}/", self.domain)?;
        }
        f.write_str(&self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Serialised as its full string; deserialised with [`Reference::parse`] (no defaults),
/// as Go's `reference.Field` does.
impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Reference::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What `docker inspect`, `rmi` or `tag` accept: a name or an image ID.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AnyReference {
    Named(Reference),
    /// A bare digest (`sha256:…`, or 64 hex digits taken as sha256).
    Digest(Digest),
}

impl AnyReference {
    /// Go's `ParseAnyReference`: 64 hex digits are an image ID, a valid digest is a
    /// digest, anything else goes through [`Reference::parse_normalized`].
    pub fn parse(s: &str) -> Result<AnyReference, ReferenceError> {
        if grammar::matches(grammar::anchored_identifier(), s)
            && let Ok(d) = Digest::parse(&format!("sha256:{s}"))
        {
            return Ok(AnyReference::Digest(d));
        }
        if let Ok(d) = Digest::parse(s) {
            return Ok(AnyReference::Digest(d));
        }
        Reference::parse_normalized(s).map(AnyReference::Named)
    }

    /// The named reference, if this is one.
    pub fn as_named(&self) -> Option<&Reference> {
        match self {
            AnyReference::Named(r) => Some(r),
            AnyReference::Digest(_) => None,
        }
    }

    /// The familiar string: a named reference's short form, or the digest.
    pub fn familiar_string(&self) -> String {
        match self {
            AnyReference::Named(r) => r.familiar_string(),
            AnyReference::Digest(d) => d.to_string(),
        }
    }
}

impl fmt::Display for AnyReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyReference::Named(r) => r.fmt(f),
            AnyReference::Digest(d) => d.fmt(f),
        }
    }
}

/// Docker's `--filter reference=PATTERN` (Go's `FamiliarMatch`): the shell pattern (Go
/// `path.Match` syntax) is matched against the familiar string (`nginx:1`) and, for named
/// references, also against the familiar name (`nginx`).
pub fn familiar_match(pattern: &str, reference: &AnyReference) -> Result<bool, PatternError> {
    let matched = path_match(pattern, &reference.familiar_string());
    if let AnyReference::Named(named) = reference
        && !matches!(matched, Ok(true))
    {
        // Go keeps the first call's error, and ignores the second's.
        let by_name = path_match(pattern, &named.familiar_name()).unwrap_or(false);
        return matched.map(|_| by_name);
    }
    matched
}

/// Split a name into domain and path with the grammar alone (Go's `SplitHostname`):
/// `localhost:5000/a/b` → (`localhost:5000`, `a/b`), `a/b` → (`a`, `b`),
/// `a` → (``, `a`). A string that is not a valid name is returned whole as the path.
pub fn split_domain(name: &str) -> (&str, &str) {
    match grammar::anchored_name().and_then(|re| re.captures(name)) {
        Some(caps) => (
            caps.get(1).map_or("", |m| m.as_str()),
            caps.get(2).map_or(name, |m| m.as_str()),
        ),
        None => ("", name),
    }
}

/// Split a name (possibly with `:tag`/`@digest` still attached) the way Docker decides
/// what is a registry: the first component is a domain only if it is `localhost`,
/// contains `.` or `:`, or is not lowercase; otherwise the domain is `docker.io`.
/// `index.docker.io` becomes `docker.io`, and single-component Hub names get `library/`.
pub fn split_docker_domain(name: &str) -> (String, String) {
    let Some((maybe_domain, maybe_remote)) = name.split_once('/') else {
        // A single element is always a Hub name, even `localhost:5000` (then a tag).
        return (
            DEFAULT_DOMAIN.to_string(),
            format!("{OFFICIAL_REPO_PREFIX}{name}"),
        );
    };
    let (domain, mut remote) = if maybe_domain == "localhost" {
        (maybe_domain, maybe_remote.to_string())
    } else if maybe_domain == LEGACY_DEFAULT_DOMAIN {
        (DEFAULT_DOMAIN, maybe_remote.to_string())
    } else if maybe_domain.contains(['.', ':']) || maybe_domain.to_lowercase() != maybe_domain {
        (maybe_domain, maybe_remote.to_string())
    } else {
        (DEFAULT_DOMAIN, name.to_string())
    };
    if domain == DEFAULT_DOMAIN && !remote.contains('/') {
        remote = format!("{OFFICIAL_REPO_PREFIX}{remote}");
    }
    (domain.to_string(), remote)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_familiarises() {
        let r = Reference::parse_normalized("nginx").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/nginx");
        assert_eq!(
            r.clone().tag_name_only().to_string(),
            "docker.io/library/nginx:latest"
        );
        assert_eq!(r.familiar_string(), "nginx");
        let r = Reference::parse_normalized("localhost:5000/a/b:1").unwrap();
        assert_eq!(
            (r.domain(), r.path(), r.tag()),
            ("localhost:5000", "a/b", Some("1"))
        );
        assert_eq!(r.familiar_string(), "localhost:5000/a/b:1");
    }

    #[test]
    fn error_texts_are_dockers() {
        let e = Reference::parse_normalized("Foo").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid reference format: repository name (library/Foo) must be lowercase"
        );
        assert_eq!(e.input, "Foo");
        let e = Reference::parse_normalized("a b").unwrap_err();
        assert_eq!(e.to_string(), "invalid reference format");
        let hex = "a".repeat(64);
        assert_eq!(
            Reference::parse_normalized(&hex).unwrap_err().to_string(),
            format!("invalid repository name ({hex}), cannot specify 64-byte hexadecimal strings")
        );
    }

    #[test]
    fn digest_accessors() {
        let d = Digest::sha256(b"");
        let r = Reference::parse("foo").unwrap().with_digest(&d);
        assert_eq!(r.digest(), Some(d.clone()));
        assert_eq!(r.to_string(), format!("foo@{d}"));
        let short = r
            .with_digest_str("sha256:0123456789abcdef0123456789abcdef")
            .unwrap();
        assert_eq!(short.digest(), None);
        assert_eq!(
            short.digest_str(),
            Some("sha256:0123456789abcdef0123456789abcdef")
        );
        assert_eq!(
            r.with_digest_str("sha256:abc").unwrap_err().kind,
            ReferenceErrorKind::InvalidDigestFormat
        );
    }

    #[test]
    fn any_reference_accepts_ids() {
        let hex = "b".repeat(64);
        assert_eq!(
            AnyReference::parse(&hex).unwrap().to_string(),
            format!("sha256:{hex}")
        );
        assert!(matches!(
            AnyReference::parse("busybox").unwrap(),
            AnyReference::Named(_)
        ));
    }
}
