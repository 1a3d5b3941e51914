//! Reading `.dockerignore` text into a pattern list, as Docker's `ignorefile.ReadAll` does.
//!
//! Line by line (`\n`, with a trailing `\r` dropped): a UTF-8 byte-order mark is removed from
//! the first line; a line whose *first* character is `#` is a comment (an indented `#` is a
//! pattern); surrounding whitespace is trimmed and blank lines are skipped. A leading `!` marks
//! an exception and the text after it is trimmed again. The pattern is then cleaned like
//! `filepath.Clean` and one leading `/` is removed, because patterns are relative to the context
//! root. A bare `!` is kept so that [`crate::PatternMatcher::new`] reports it.

use crate::clean::clean_path;

/// Parses the contents of a `.dockerignore` (or `Dockerfile.dockerignore`) file into the
/// patterns to pass to [`crate::PatternMatcher::new`].
pub fn parse_ignore_file(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut patterns = Vec::new();
    for line in text.split_terminator('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let exclusion = match pattern.strip_prefix('!') {
            Some(rest) => {
                pattern = rest.trim();
                true
            }
            None => false,
        };
        let mut cleaned = String::new();
        if !pattern.is_empty() {
            cleaned = clean_path(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        if exclusion {
            cleaned.insert(0, '!');
        }
        patterns.push(cleaned);
    }
    patterns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_only_at_line_start() {
        assert_eq!(
            parse_ignore_file("# comment\n  # not a comment\n"),
            vec!["# not a comment"]
        );
    }

    #[test]
    fn bom_crlf_and_cleaning() {
        assert_eq!(
            parse_ignore_file("\u{feff}a/./b/\r\n/\r\n//x//\r\n!  /y/../z \r\n"),
            vec!["a/b", "/", "x", "!z"]
        );
    }

    #[test]
    fn empty_text() {
        assert!(parse_ignore_file("").is_empty());
        assert!(parse_ignore_file("\n\n   \n").is_empty());
    }
}
