//! `.dockerignore` and `--exclude` pattern matching with Docker's semantics.
//!
//! Docker (BuildKit, the classic builder and `docker build`'s context upload) decides which
//! files of a build context to send with the `moby/patternmatcher` package. Its rules differ
//! from `.gitignore` and from shell globs in ways that change which files land in an image, so
//! Strata reproduces them exactly instead of using `globset`, `ignore` or `glob`, which disagree
//! on `**` (Docker: any number of directories, and a leading `**` is a plain suffix test),
//! `[!a]` (Docker: `!` is a literal member; `[^a]` negates), anchoring (Docker: every pattern is
//! anchored at the context root; `*.go` does not match `dir/x.go`) and parent matching (a
//! pattern matching a directory excludes everything below it).
//!
//! The model:
//!
//! * [`parse_ignore_file`] turns `.dockerignore` text into patterns (comments, trimming,
//!   cleaning, leading `/` removal).
//! * [`PatternMatcher::new`] cleans and compiles them; a leading `!` makes an exception that
//!   re-includes paths excluded by earlier patterns. All syntax errors surface here.
//! * [`PatternMatcher::matches`] answers "is this path excluded?" for a slash-separated path
//!   relative to the context root; [`PatternMatcher::matches_using_parent_results`] gives the
//!   same answer in one test per pattern for a walker that visits directories first, and
//!   [`PatternMatcher::exclusions`] tells the walker whether an excluded directory may be
//!   skipped whole.
//!
//! Paths are `&str`: callers with non-UTF-8 file names pass `to_string_lossy()`, which matches
//! Docker's treatment of invalid bytes as U+FFFD in its regexps. Only Unix rules are
//! implemented (`\` escapes the next character; it is never a separator).
//!
//! Behaviour is pinned by the full moby patternmatcher test-vector set
//! (`tests/vectors.rs`); deliberate differences are listed in the [`Pattern`] module docs.

mod clean;
mod ignorefile;
mod matcher;
mod pattern;

pub use clean::clean_path;
pub use ignorefile::parse_ignore_file;
pub use matcher::{MatchInfo, PatternMatcher};
pub use pattern::{MatchKind, Pattern};

/// Errors building a [`PatternMatcher`]. The texts start with Docker's own messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A pattern consisting of `!` alone.
    #[error("illegal exclusion pattern: \"!\"")]
    IllegalExclusion,
    /// A malformed pattern (unterminated `[`, trailing `\`, misplaced `-` or `]` in a class,
    /// reversed range, unsupported escape).
    #[error("syntax error in pattern {pattern:?}: {reason}")]
    BadPattern {
        /// The cleaned pattern, without its `!`.
        pattern: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}
