//! An ordered list of patterns with `!` exceptions.
//!
//! Patterns apply in order and the last one that matches decides: an ordinary pattern excludes a
//! path from the build context, a later `!` pattern re-includes it, a still later ordinary
//! pattern can exclude it again. A pattern also matches every path *below* a directory it
//! matches (`docs` excludes `docs/README.md`), which is why the matcher tests the parent
//! directories of a path too.
//!
//! Two strategies are offered:
//!
//! * [`PatternMatcher::matches`] tests a path on its own, re-testing each parent prefix as needed
//!   (Docker's `MatchesOrParentMatches`).
//! * [`PatternMatcher::matches_using_parent_results`] is for a walker that visits directories
//!   before their contents: it carries one bit per pattern from the parent directory, so each
//!   entry costs one test per pattern instead of one per pattern and ancestor (Docker's
//!   `MatchesUsingParentResults`, which BuildKit's context walker uses).
//!
//! They agree whenever there are no `!` patterns. With exceptions they can differ, exactly as in
//! Docker: a pattern skipped at a directory (because its verdict could not change there) records
//! no bit, so it is not re-applied to that directory's entries. With `a`, `!a/b`, `a` the path
//! `a/b` is excluded by `matches` but included by a walk. A build-context walker should walk
//! with the parent-results form to send exactly the files Docker sends.

use crate::clean::{clean_path, parent_dir};
use crate::{Pattern, PatternError};

/// The compiled patterns of a `.dockerignore` file or of `--exclude` options.
#[derive(Debug, Clone, Default)]
pub struct PatternMatcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

/// Per-pattern results for a directory, handed to the matching of its entries by
/// [`PatternMatcher::matches_using_parent_results`].
///
/// `MatchInfo::default()` means "no information about the parent", which makes the call test
/// parent prefixes itself. Only pass values produced by the same matcher; a value with the
/// wrong number of entries is treated as "no information".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchInfo {
    parent_matched: Vec<bool>,
}

impl PatternMatcher {
    /// Builds a matcher from patterns as Docker's `patternmatcher.New` does: each pattern is
    /// trimmed, empty ones are dropped, the rest are cleaned like `filepath.Clean`, and a leading
    /// `!` marks an exception. Every pattern's syntax is checked here, so matching cannot fail.
    ///
    /// Patterns are relative to the context root and slash-separated; use
    /// [`crate::parse_ignore_file`] to read a `.dockerignore`, which also strips leading `/`.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        let mut matcher = PatternMatcher {
            patterns: Vec::with_capacity(patterns.len()),
            exclusions: false,
        };
        for raw in patterns {
            let trimmed = raw.as_ref().trim();
            if trimmed.is_empty() {
                continue;
            }
            let cleaned = clean_path(trimmed);
            let (text, exclusion) = match cleaned.strip_prefix('!') {
                Some("") => return Err(PatternError::IllegalExclusion),
                // Like Docker, the text after `!` is not cleaned again (ignore files are
                // normalised beforehand by `parse_ignore_file`).
                Some(rest) => (rest.to_string(), true),
                None => (cleaned, false),
            };
            matcher.exclusions |= exclusion;
            matcher.patterns.push(Pattern::compile(text, exclusion)?);
        }
        Ok(matcher)
    }

    /// Whether any `!` pattern exists. When there is none, a walker may skip a whole excluded
    /// directory; otherwise an exception could re-include something below it.
    pub fn exclusions(&self) -> bool {
        self.exclusions
    }

    /// The active patterns, in order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Whether there are no patterns (nothing is ever excluded).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `path` (slash-separated, relative to the context root) is excluded: it or one of
    /// its parent directories matches a pattern, and no later `!` pattern re-includes it.
    ///
    /// The path is used as given, like Docker's `MatchesOrParentMatches`; clean it first with
    /// [`crate::clean_path`] if it may contain `.`, `..` or doubled slashes.
    pub fn matches(&self, path: &str) -> bool {
        let parent = parent_dir(path);
        let mut matched = false;
        for pattern in &self.patterns {
            // An ordinary pattern cannot change an already excluded path and an exception
            // cannot change a path that is not excluded, so skip the work.
            if pattern.is_exclusion() != matched {
                continue;
            }
            if pattern.matches_path(path) || parent_prefix_matches(pattern, &parent) {
                matched = !pattern.is_exclusion();
            }
        }
        matched
    }

    /// Whether `path` itself matches, ignoring parent directories (Docker's `MatchesExact`).
    pub fn matches_exact(&self, path: &str) -> bool {
        let mut matched = false;
        for pattern in &self.patterns {
            if pattern.is_exclusion() != matched {
                continue;
            }
            if pattern.matches_path(path) {
                matched = !pattern.is_exclusion();
            }
        }
        matched
    }

    /// Same result as [`matches`](Self::matches), using the [`MatchInfo`] returned for the
    /// parent directory of `path` (or `MatchInfo::default()` for entries of the context root,
    /// or when the parent was not visited). Returns the result and the info to pass for the
    /// entries of `path` if it is a directory.
    pub fn matches_using_parent_results(
        &self,
        path: &str,
        parent: &MatchInfo,
    ) -> (bool, MatchInfo) {
        let inherited = (parent.parent_matched.len() == self.patterns.len()
            && !self.patterns.is_empty())
        .then_some(parent.parent_matched.as_slice());
        let mut info = MatchInfo {
            parent_matched: vec![false; self.patterns.len()],
        };
        let mut matched = false;
        let mut parent_path: Option<String> = None;
        for (i, pattern) in self.patterns.iter().enumerate() {
            // A pattern that matched the parent directory matches everything below it.
            let mut hit = inherited.is_some_and(|bits| bits[i]);
            if !hit {
                if pattern.is_exclusion() != matched {
                    continue;
                }
                hit = pattern.matches_path(path);
                if !hit && inherited.is_none() {
                    let parent = parent_path.get_or_insert_with(|| parent_dir(path));
                    hit = parent_prefix_matches(pattern, parent);
                }
            }
            info.parent_matched[i] = hit;
            if hit {
                matched = !pattern.is_exclusion();
            }
        }
        (matched, info)
    }
}

/// Whether `pattern` matches one of the leading directory prefixes of `parent` (`a`, `a/b`, …),
/// where `parent` is `filepath.Dir` of the path; `"."` means the path has no parent.
fn parent_prefix_matches(pattern: &Pattern, parent: &str) -> bool {
    if parent == "." {
        return false;
    }
    parent
        .match_indices('/')
        .map(|(slash, _)| &parent[..slash])
        .chain(std::iter::once(parent))
        .any(|prefix| pattern.matches_path(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(patterns: &[&str]) -> PatternMatcher {
        PatternMatcher::new(patterns).unwrap()
    }

    /// Walks `path`'s ancestors with `matches_using_parent_results`, as a walker would.
    fn walk(m: &PatternMatcher, path: &str) -> bool {
        let mut info = MatchInfo::default();
        let parts: Vec<&str> = path.split('/').collect();
        let mut result = false;
        for depth in 1..=parts.len() {
            let (hit, next) = m.matches_using_parent_results(&parts[..depth].join("/"), &info);
            result = hit;
            info = next;
        }
        result
    }

    #[test]
    fn exceptions_reinclude_below_excluded_directory() {
        let m = matcher(&["docs", "!docs/README.md"]);
        assert!(m.exclusions());
        assert!(m.matches("docs"));
        assert!(m.matches("docs/other.md"));
        assert!(!m.matches("docs/README.md"));
        assert!(!walk(&m, "docs/README.md"));
        assert!(walk(&m, "docs/other.md"));
    }

    #[test]
    fn exclude_again_after_exception() {
        let m = matcher(&["*.md", "!README*.md", "README-secret.md"]);
        assert!(m.matches("CHANGES.md"));
        assert!(!m.matches("README.md"));
        assert!(m.matches("README-secret.md"));
        assert!(!m.exclusions() || m.patterns()[1].is_exclusion());
    }

    #[test]
    fn parent_results_equal_full_matching() {
        let m = matcher(&["node_modules", "**/*.log", "!keep/**/*.log", "build/*/out"]);
        for path in [
            "node_modules/x/y.js",
            "src/a.log",
            "keep/deep/a.log",
            "keep/a.txt",
            "build/x/out/file",
            "build/x/y/out",
            "src/main.rs",
        ] {
            assert_eq!(walk(&m, path), m.matches(path), "{path}");
            assert_eq!(
                m.matches_using_parent_results(path, &MatchInfo::default())
                    .0,
                m.matches(path),
                "{path}"
            );
        }
    }

    #[test]
    fn strategies_differ_like_docker_with_exceptions() {
        // Docker's MatchesOrParentMatches excludes `a/b`; its walk with parent results does not.
        let m = matcher(&["a", "!a/b", "a"]);
        assert!(m.matches("a/b"));
        assert!(!walk(&m, "a/b"));
    }

    #[test]
    fn foreign_match_info_is_ignored() {
        let m = matcher(&["a"]);
        let other = matcher(&["x", "y", "z"]);
        let (_, info) = other.matches_using_parent_results("x", &MatchInfo::default());
        assert!(m.matches_using_parent_results("a/b", &info).0);
    }

    #[test]
    fn exact_ignores_parents() {
        let m = matcher(&["docs"]);
        assert!(m.matches_exact("docs"));
        assert!(!m.matches_exact("docs/a"));
        assert!(m.matches("docs/a"));
    }

    #[test]
    fn empty_and_blank_patterns() {
        let m = matcher(&["", "   "]);
        assert!(m.is_empty());
        assert!(!m.matches("anything"));
    }

    #[test]
    fn bare_bang_is_illegal() {
        let err = PatternMatcher::new(&["!"]).unwrap_err();
        assert_eq!(err.to_string(), "illegal exclusion pattern: \"!\"");
        let err = PatternMatcher::new(&["ok", " !/ "]).unwrap_err();
        assert_eq!(err, PatternError::IllegalExclusion);
    }
}
