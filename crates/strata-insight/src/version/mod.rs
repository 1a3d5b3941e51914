//! Version ordering per ecosystem, as each package manager defines it.
//!
//! | scheme | used for | implementation |
//! |---|---|---|
//! | dpkg | Debian, Ubuntu | `debversion` (epochs, `~` sorting before everything, revisions) |
//! | apk | Alpine | ours, following apk-tools' token comparison (no crate implements it) |
//! | PEP 440 | PyPI | `pep440_rs` (pre/post/dev releases, epochs, local versions) |
//! | SemVer | npm, crates.io, Go, OSV `SEMVER` ranges | `semver`, compared by precedence (build metadata ignored), with a leading `v` and missing minor/patch tolerated |
//!
//! A version that does not parse in its scheme compares as unknown (`None`): the matcher
//! then only trusts exact string equality with OSV's `versions` lists.

mod apk;

use std::cmp::Ordering;
use std::str::FromStr;

pub use apk::compare as compare_apk;

/// A version ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Dpkg,
    Apk,
    Pep440,
    Semver,
}

/// A version parsed in its scheme, for repeated comparisons.
#[derive(Debug, Clone)]
pub enum Version {
    Dpkg(debversion::Version),
    Apk(String),
    Pep440(pep440_rs::Version),
    Semver(semver::Version),
}

impl Version {
    /// Parse `s` in `scheme`.
    pub fn parse(scheme: Scheme, s: &str) -> Option<Version> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        match scheme {
            Scheme::Dpkg => debversion::Version::from_str(s).ok().map(Version::Dpkg),
            Scheme::Apk => apk::valid(s).then(|| Version::Apk(s.to_string())),
            Scheme::Pep440 => pep440_rs::Version::from_str(s).ok().map(Version::Pep440),
            Scheme::Semver => parse_semver(s).map(Version::Semver),
        }
    }

    /// Compare with another version of the same scheme (`None` across schemes).
    pub fn compare(&self, other: &Version) -> Option<Ordering> {
        match (self, other) {
            (Version::Dpkg(a), Version::Dpkg(b)) => Some(a.cmp(b)),
            (Version::Apk(a), Version::Apk(b)) => Some(apk::compare(a, b)),
            (Version::Pep440(a), Version::Pep440(b)) => Some(a.cmp(b)),
            (Version::Semver(a), Version::Semver(b)) => Some(a.cmp_precedence(b)),
            _ => None,
        }
    }
}

/// Compare two version strings in `scheme`; `None` if either does not parse.
pub fn compare(scheme: Scheme, a: &str, b: &str) -> Option<Ordering> {
    Version::parse(scheme, a)?.compare(&Version::parse(scheme, b)?)
}

/// SemVer with the leniencies real ecosystems need: a leading `v` (Go) or `=`, and
/// missing minor/patch numbers (`1.2` is `1.2.0`).
fn parse_semver(s: &str) -> Option<semver::Version> {
    let s = s
        .strip_prefix('v')
        .or_else(|| s.strip_prefix('='))
        .unwrap_or(s);
    if let Ok(v) = semver::Version::parse(s) {
        return Some(v);
    }
    let end = s.find(['-', '+']).unwrap_or(s.len());
    let (core, rest) = s.split_at(end);
    let parts = core.split('.').count();
    if parts == 0 || parts >= 3 {
        return None;
    }
    let padded = format!("{core}{}{rest}", ".0".repeat(3 - parts));
    semver::Version::parse(&padded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    fn check(scheme: Scheme, table: &[(&str, &str, Ordering)]) {
        for (a, b, want) in table {
            assert_eq!(compare(scheme, a, b), Some(*want), "{scheme:?}: {a} vs {b}");
            assert_eq!(
                compare(scheme, b, a),
                Some(want.reverse()),
                "{scheme:?}: {b} vs {a}"
            );
        }
    }

    #[test]
    fn dpkg_order() {
        check(
            Scheme::Dpkg,
            &[
                ("1:1.0", "2.0", Greater),
                ("0:2.0", "2.0", Equal),
                ("1.0~rc1", "1.0", Less),
                ("1.0~rc1", "1.0~rc2", Less),
                ("1.0~~", "1.0~", Less),
                ("1.0-1", "1.0-2", Less),
                ("1.0-1", "1.0-1+b1", Less),
                ("1.0-1+deb12u1", "1.0-1", Greater),
                ("2.36-9+deb12u4", "2.36-9+deb12u7", Less),
                ("1.10", "1.9", Greater),
                ("1.0a", "1.0", Greater),
                ("1.0+dfsg", "1.0", Greater),
                ("1.0", "1.0.0", Less),
                ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12", Less),
                ("1:9.2p1-2", "1:10.0p1-1", Less),
            ],
        );
    }

    #[test]
    fn pep440_order() {
        check(
            Scheme::Pep440,
            &[
                ("1.0.post1", "1.0", Greater),
                ("1.0.dev1", "1.0", Less),
                ("1.0.dev1", "1.0a1", Less),
                ("1.0a1", "1.0b1", Less),
                ("1.0rc1", "1.0", Less),
                ("1.0.post1.dev1", "1.0.post1", Less),
                ("1.0.post1.dev1", "1.0", Greater),
                ("1!1.0", "2.0", Greater),
                ("1.0+local", "1.0", Greater),
                ("2.0", "2.0.0", Equal),
                ("1.0-1", "1.0.post1", Equal),
                ("1.10", "1.9", Greater),
            ],
        );
    }

    #[test]
    fn semver_order() {
        check(
            Scheme::Semver,
            &[
                ("1.0.0-alpha", "1.0.0", Less),
                ("1.0.0-alpha", "1.0.0-alpha.1", Less),
                ("1.0.0-alpha.1", "1.0.0-alpha.beta", Less),
                ("1.0.0-beta.2", "1.0.0-beta.11", Less),
                ("1.0.0-rc.1", "1.0.0", Less),
                ("1.0.0+build", "1.0.0", Equal),
                ("v1.2.3", "1.2.3", Equal),
                ("1.2", "1.2.0", Equal),
                ("v0.0.0-20210101000000-abcdef123456", "0.0.1", Less),
                ("1.10.0", "1.9.0", Greater),
                ("2.0.0+incompatible", "2.0.0", Equal),
            ],
        );
        assert_eq!(compare(Scheme::Semver, "not-a-version", "1.0.0"), None);
    }

    #[test]
    fn apk_order() {
        check(
            Scheme::Apk,
            &[
                ("1.0_rc1", "1.0", Less),
                ("1.0", "1.0-r1", Less),
                ("1.0-r1", "1.0-r2", Less),
                ("1.0-r9", "1.0-r10", Less),
                ("1.0", "1.0.1", Less),
                ("1.0_alpha1", "1.0_beta1", Less),
                ("1.0_beta2", "1.0_pre1", Less),
                ("1.0_pre1", "1.0_rc1", Less),
                ("1.0_p1", "1.0", Greater),
                ("1.0_p1", "1.0-r5", Greater),
                ("1.10", "1.9", Greater),
                ("1.0a", "1.0", Greater),
                ("1.0a", "1.0b", Less),
                ("1.0a", "1.0.1", Less),
                ("3.1.4-r5", "3.1.4-r6", Less),
                ("1.2.3_git20230101-r0", "1.2.3-r0", Greater),
                ("1.36.1-r5", "1.36.1-r5", Equal),
            ],
        );
    }

    #[test]
    fn unparsable_versions_compare_as_unknown() {
        assert_eq!(compare(Scheme::Dpkg, "", "1.0"), None);
        assert_eq!(compare(Scheme::Pep440, "not a version", "1.0"), None);
        assert_eq!(compare(Scheme::Apk, "1.0 beta", "1.0"), None);
    }
}
