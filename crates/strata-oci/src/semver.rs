//! Semantic versions in image tags: `1.2.3`, `v1.2`, `1.2.3-rc1`, `2`.
//!
//! Tags are read leniently, because that is how people write them: an optional `v`/`V`
//! prefix, one to three numeric components (leading zeros allowed), then an optional
//! `-pre.release` and `+build`. The value is a [`semver::Version`] (missing components are
//! zero), so ordering is SemVer's: a pre-release sorts before its release
//! (`1.2.3-rc1 < 1.2.3`). Note that suffixes such as `1.25-alpine` therefore read as
//! pre-releases of `1.25.0`; that is the only consistent reading without guessing.
//!
//! [`sort_tags`] puts semantic versions first in ascending order and every other tag
//! (`latest`, `stable`, `bookworm`) after them, lexically. [`bump`] computes the next
//! version for `tag --bump`, keeping the tag's shape: its `v` prefix and its number of
//! components (`v1.2` → minor → `v1.3`), growing only when the bumped part needs it
//! (`1` → minor → `1.1`).

use std::cmp::Ordering;
use std::fmt;

use semver::{BuildMetadata, Prerelease, Version};

/// Which part of a version to increment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bump {
    Major,
    Minor,
    Patch,
}

/// A tag that reads as a semantic version, with enough of its spelling kept to write the
/// next one in the same style.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TagVersion {
    pub version: Version,
    /// The tag started with `v` or `V` (kept as written).
    pub prefix: Option<char>,
    /// How many numeric components the tag spelled out (1 to 3).
    pub components: u8,
}

/// Why a tag cannot be bumped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SemverError {
    #[error("tag {tag:?} is not a semantic version")]
    NotSemver { tag: String },
    #[error("version component overflows in tag {tag:?}")]
    Overflow { tag: String },
}

impl TagVersion {
    /// Read a tag as a version; `None` if it is not one.
    pub fn parse(tag: &str) -> Option<TagVersion> {
        let (prefix, rest) = match tag.chars().next() {
            Some(c @ ('v' | 'V')) => (Some(c), &tag[1..]),
            _ => (None, tag),
        };
        let (rest, build) = match rest.split_once('+') {
            Some((r, b)) => (r, Some(b)),
            None => (rest, None),
        };
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (rest, None),
        };
        let mut numbers = [0u64; 3];
        let mut components = 0u8;
        for part in core.split('.') {
            if components == 3 || part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            numbers[usize::from(components)] = part.parse().ok()?;
            components += 1;
        }
        let mut version = Version::new(numbers[0], numbers[1], numbers[2]);
        if let Some(pre) = pre {
            version.pre = Prerelease::new(pre).ok().filter(|p| !p.is_empty())?;
        }
        if let Some(build) = build {
            version.build = BuildMetadata::new(build).ok().filter(|b| !b.is_empty())?;
        }
        Some(TagVersion {
            version,
            prefix,
            components,
        })
    }

    /// The next version. As with `npm version`, bumping a pre-release to the release it
    /// precedes finishes it (`1.2.0-rc1` → minor → `1.2.0`); otherwise the bumped part is
    /// incremented and lower parts reset. Pre-release and build metadata are dropped.
    pub fn bump(&self, part: Bump) -> Option<TagVersion> {
        let v = &self.version;
        let pre = !v.pre.is_empty();
        let next = match part {
            Bump::Major if pre && v.minor == 0 && v.patch == 0 => Version::new(v.major, 0, 0),
            Bump::Major => Version::new(v.major.checked_add(1)?, 0, 0),
            Bump::Minor if pre && v.patch == 0 => Version::new(v.major, v.minor, 0),
            Bump::Minor => Version::new(v.major, v.minor.checked_add(1)?, 0),
            Bump::Patch if pre => Version::new(v.major, v.minor, v.patch),
            Bump::Patch => Version::new(v.major, v.minor, v.patch.checked_add(1)?),
        };
        let needed = match part {
            Bump::Major => 1,
            Bump::Minor => 2,
            Bump::Patch => 3,
        };
        Some(TagVersion {
            version: next,
            prefix: self.prefix,
            components: self.components.max(needed),
        })
    }
}

/// Written in the tag's own style: prefix, as many components as it had, then any
/// pre-release and build metadata.
impl fmt::Display for TagVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.prefix {
            write!(f, "{p}")?;
        }
        let v = &self.version;
        match self.components {
            1 => write!(f, "{}", v.major)?,
            2 => write!(f, "{}.{}", v.major, v.minor)?,
            _ => write!(f, "{}.{}.{}", v.major, v.minor, v.patch)?,
        }
        if !v.pre.is_empty() {
            write!(f, "-{}", v.pre)?;
        }
        if !v.build.is_empty() {
            write!(f, "+{}", v.build)?;
        }
        Ok(())
    }
}

/// The tag after `tag` for the given part: `bump("v1.2", Bump::Minor)` is `v1.3`.
pub fn bump(tag: &str, part: Bump) -> Result<String, SemverError> {
    let v = TagVersion::parse(tag).ok_or_else(|| SemverError::NotSemver {
        tag: tag.to_string(),
    })?;
    v.bump(part)
        .map(|n| n.to_string())
        .ok_or_else(|| SemverError::Overflow {
            tag: tag.to_string(),
        })
}

/// Order two tags: semantic versions first, ascending; ties between equal versions and
/// all other tags compare lexically.
pub fn compare_tags(a: &str, b: &str) -> Ordering {
    match (TagVersion::parse(a), TagVersion::parse(b)) {
        (Some(x), Some(y)) => x.version.cmp(&y.version).then_with(|| a.cmp(b)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// Sort tags by [`compare_tags`]: `["latest", "1.10", "1.9", "v1.2.3-rc1", "1.2.3"]` →
/// `["v1.2.3-rc1", "1.2.3", "1.9", "1.10", "latest"]`.
pub fn sort_tags<S: AsRef<str>>(tags: &mut [S]) {
    tags.sort_by_cached_key(|t| {
        let t = t.as_ref();
        let version = TagVersion::parse(t).map(|v| v.version);
        (version.is_none(), version, t.to_string())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_leniently() {
        let v = TagVersion::parse("v1.2").unwrap();
        assert_eq!(v.version, Version::new(1, 2, 0));
        assert_eq!((v.prefix, v.components), (Some('v'), 2));
        assert_eq!(
            TagVersion::parse("1.2.3-rc1").unwrap().version,
            Version::parse("1.2.3-rc1").unwrap()
        );
        assert_eq!(
            TagVersion::parse("01.002").unwrap().version,
            Version::new(1, 2, 0)
        );
        assert_eq!(
            TagVersion::parse("1.2.3+build.5").unwrap().to_string(),
            "1.2.3+build.5"
        );
        for bad in [
            "latest", "", "v", "1.", ".1", "1.2.3.4", "1.2-", "1..2", "1.2.3+", "x1",
        ] {
            assert!(TagVersion::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn bumps_keep_the_shape() {
        let cases = [
            ("1.2", Bump::Minor, "1.3"),
            ("1.2", Bump::Major, "2.0"),
            ("1.2", Bump::Patch, "1.2.1"),
            ("v1.2.3", Bump::Patch, "v1.2.4"),
            ("v1.2.3", Bump::Minor, "v1.3.0"),
            ("V1.9.3", Bump::Major, "V2.0.0"),
            ("1", Bump::Major, "2"),
            ("1", Bump::Minor, "1.1"),
            ("1", Bump::Patch, "1.0.1"),
            ("1.2.3-rc1", Bump::Patch, "1.2.3"),
            ("1.2.0-rc1", Bump::Minor, "1.2.0"),
            ("1.2.3-rc1", Bump::Minor, "1.3.0"),
            ("2.0.0-beta", Bump::Major, "2.0.0"),
            ("1.2.3+meta", Bump::Patch, "1.2.4"),
        ];
        for (tag, part, want) in cases {
            assert_eq!(bump(tag, part).unwrap(), want, "{tag} {part:?}");
        }
        assert_eq!(
            bump("latest", Bump::Patch),
            Err(SemverError::NotSemver {
                tag: "latest".into()
            })
        );
        assert!(matches!(
            bump(&format!("{}", u64::MAX), Bump::Major),
            Err(SemverError::Overflow { .. })
        ));
    }

    #[test]
    fn sorts_semver_then_lexical() {
        let mut tags = vec![
            "latest",
            "1.10",
            "1.9",
            "v1.2.3-rc1",
            "1.2.3",
            "alpine",
            "1.2.3-alpha",
        ];
        sort_tags(&mut tags);
        assert_eq!(
            tags,
            [
                "1.2.3-alpha",
                "v1.2.3-rc1",
                "1.2.3",
                "1.9",
                "1.10",
                "alpine",
                "latest"
            ]
        );
        assert_eq!(compare_tags("1.2", "v1.2.0"), "1.2".cmp("v1.2.0"));
        assert_eq!(compare_tags("2", "10"), Ordering::Less);
    }
}
