//! One `.dockerignore` pattern: syntax check, classification and compilation.
//!
//! Docker's matcher checks a pattern's syntax with Go's `filepath.Match` rules, then translates
//! it into a Go regular expression, classifying it on the way so that the common shapes skip the
//! regexp engine altogether:
//!
//! | shape                         | kind     | test                                         |
//! |-------------------------------|----------|----------------------------------------------|
//! | no wildcard, class or escape  | `Exact`  | `path == pattern`                            |
//! | plain text then a final `**`  | `Prefix` | `path.starts_with(pattern minus "**")`       |
//! | starts with `**`, rest plain  | `Suffix` | `path.ends_with(rest)`, or `**/x` equals `x` |
//! | anything else                 | `Regexp` | anchored regexp                              |
//!
//! The classification is observable (`abc/**` does not match `abc`, `**file` matches
//! `dir/myfile`), so it is mirrored exactly. The regexp translation is ours: it emits a pattern
//! for the Rust `regex` crate whose meaning equals the Go regexp Docker builds:
//!
//! * `*` → `[^/]*`, `?` → `[^/]`, `**` → `(?:.*/)?` (or `.*` at the end); `.+()|{}$` are literal.
//! * `\x` escapes `x`. Because Docker pastes `\x` into a regexp, an escaped letter keeps its
//!   regexp meaning there: `\d \D \s \S \w \W` (ASCII classes, as in Go), `\b \B \A \z`
//!   (assertions), `\a \f \t \n \r \v`, `\xHH` and one-letter Unicode classes `\pL`/`\PL`.
//!   Other escaped letters and digits are rejected; so are non-ASCII characters after `\`, which
//!   Go's regexp also rejects. (Go's octal escapes and `\Q…\E` are the only escapes Docker
//!   accepts that we reject — neither has a use in a file name pattern.)
//! * An unescaped `^` outside brackets stays a start-of-text anchor, as in Docker: `a^*` never
//!   matches, while the exact pattern `a^b` matches the file `a^b`.
//! * `[...]` classes follow Go regexp syntax (`^` negates, `[:alpha:]` POSIX classes, ranges,
//!   escapes). `[!a]` is the class of `!` and `a`, as in Docker — `!` does not negate. One
//!   deliberate difference: a `*` or `?` inside brackets is a literal member here, while
//!   Docker's translation pastes `[^/]*` into the class and produces an accidental regexp.
//!
//! All checks run when the matcher is built. Docker compiles lazily and reports a pattern whose
//! regexp is invalid although `filepath.Match` accepted it (a reversed range such as
//! `[Local-Only]`) only when a path reaches it; we reject it up front with the same
//! "syntax error in pattern" error, so matching itself is infallible.

use regex::Regex;

use crate::PatternError;

/// How a pattern is tested against a path (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// The path must equal the pattern.
    Exact,
    /// The path must start with the pattern without its trailing `**`.
    Prefix,
    /// The path must end with the pattern without its leading `**`.
    Suffix,
    /// The path must match the compiled regular expression.
    Regexp,
}

#[derive(Debug, Clone)]
enum Matcher {
    Exact,
    Prefix,
    Suffix,
    Regexp(Regex),
}

/// One cleaned pattern of a [`crate::PatternMatcher`].
#[derive(Debug, Clone)]
pub struct Pattern {
    cleaned: String,
    exclusion: bool,
    matcher: Matcher,
}

impl Pattern {
    /// Checks and compiles `cleaned` (already trimmed, cleaned and stripped of its `!`).
    pub(crate) fn compile(cleaned: String, exclusion: bool) -> Result<Self, PatternError> {
        let bad = |reason: &'static str| PatternError::BadPattern {
            pattern: cleaned.clone(),
            reason,
        };
        check_glob_syntax(&cleaned).map_err(bad)?;
        let (kind, source) = translate(&cleaned).map_err(bad)?;
        let matcher = match kind {
            MatchKind::Exact => Matcher::Exact,
            MatchKind::Prefix => Matcher::Prefix,
            MatchKind::Suffix => Matcher::Suffix,
            MatchKind::Regexp => {
                Matcher::Regexp(Regex::new(&source).map_err(|_| bad("invalid regular expression"))?)
            }
        };
        Ok(Pattern {
            cleaned,
            exclusion,
            matcher,
        })
    }

    /// The cleaned pattern text, without the leading `!` of an exclusion.
    pub fn as_str(&self) -> &str {
        &self.cleaned
    }

    /// Whether this is a `!` pattern that re-includes paths matched by earlier patterns.
    pub fn is_exclusion(&self) -> bool {
        self.exclusion
    }

    /// How this pattern is tested.
    pub fn kind(&self) -> MatchKind {
        match self.matcher {
            Matcher::Exact => MatchKind::Exact,
            Matcher::Prefix => MatchKind::Prefix,
            Matcher::Suffix => MatchKind::Suffix,
            Matcher::Regexp(_) => MatchKind::Regexp,
        }
    }

    /// The regular expression source for [`MatchKind::Regexp`] patterns (for diagnostics).
    pub fn regex_source(&self) -> Option<&str> {
        match &self.matcher {
            Matcher::Regexp(re) => Some(re.as_str()),
            _ => None,
        }
    }

    /// Whether `path` itself (no parent directories) matches this pattern.
    pub fn matches_path(&self, path: &str) -> bool {
        match &self.matcher {
            Matcher::Exact => path == self.cleaned,
            // Both prefix and suffix kinds are only produced for patterns that end, resp. start,
            // with the two ASCII bytes "**", so these slices are on char boundaries.
            Matcher::Prefix => path.starts_with(&self.cleaned[..self.cleaned.len() - 2]),
            Matcher::Suffix => {
                let suffix = &self.cleaned[2..];
                // `**/foo` also matches `foo` itself, with no directory before it.
                path.ends_with(suffix) || suffix.strip_prefix('/').is_some_and(|s| path == s)
            }
            Matcher::Regexp(re) => re.is_match(path),
        }
    }
}

/// Rejects what Go's `filepath.Match` rejects (Unix rules, where `\` escapes).
///
/// Docker runs `filepath.Match(pattern, ".")` only for its error. That call validates the whole
/// pattern: it splits it into chunks at unbracketed `*` runs and checks every chunk's escapes
/// and bracket expressions, whatever the match outcome.
fn check_glob_syntax(pattern: &str) -> Result<(), &'static str> {
    let mut rest = pattern.as_bytes();
    while !rest.is_empty() {
        while let [b'*', tail @ ..] = rest {
            rest = tail;
        }
        let end = chunk_end(rest);
        check_chunk(&rest[..end])?;
        rest = &rest[end..];
    }
    Ok(())
}

/// Length of the chunk at the start of `pattern`: up to the next `*` outside brackets.
fn chunk_end(pattern: &[u8]) -> usize {
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => return i,
            _ => {}
        }
        i += 1;
    }
    pattern.len()
}

fn check_chunk(chunk: &[u8]) -> Result<(), &'static str> {
    let mut i = 0;
    while i < chunk.len() {
        match chunk[i] {
            b'[' => {
                i += 1;
                if chunk.get(i) == Some(&b'^') {
                    i += 1;
                }
                let mut ranges = 0;
                loop {
                    if chunk.get(i) == Some(&b']') && ranges > 0 {
                        i += 1;
                        break;
                    }
                    i = class_char_end(chunk, i)?;
                    if chunk.get(i) == Some(&b'-') {
                        i = class_char_end(chunk, i + 1)?;
                    }
                    ranges += 1;
                }
            }
            b'\\' => {
                if i + 1 >= chunk.len() {
                    return Err("trailing backslash");
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Go's `getEsc`: one (possibly escaped) character of a bracket expression starting at `i`;
/// returns the index after it. Like Go, the expression must continue after it.
fn class_char_end(chunk: &[u8], mut i: usize) -> Result<usize, &'static str> {
    match chunk.get(i) {
        None => return Err("unterminated character class"),
        Some(b'-') | Some(b']') => return Err("misplaced '-' or ']' in character class"),
        Some(b'\\') => {
            i += 1;
            if i >= chunk.len() {
                return Err("unterminated character class");
            }
        }
        Some(_) => {}
    }
    i += utf8_width(chunk[i]);
    if i >= chunk.len() {
        return Err("unterminated character class");
    }
    Ok(i)
}

fn utf8_width(lead: u8) -> usize {
    match lead {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Characters with a meaning in `regex` syntax; escaping them is always allowed.
fn is_regex_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
    )
}

fn push_literal(out: &mut String, c: char) {
    if is_regex_meta(c) {
        out.push('\\');
    }
    out.push(c);
}

/// What a backslash escape stands for in Docker's generated Go regexp.
enum Escape {
    Char(char),
    /// A complete bracketed class (`[0-9]`) or Unicode class (`\pL`), usable both on its own
    /// and nested inside another class.
    Class(String),
    /// A zero-width assertion; not allowed inside brackets.
    Assertion(&'static str),
}

/// Decodes the escape whose backslash is at `chars[*pos - 1]`, advancing `*pos` past it.
fn parse_escape(chars: &[char], pos: &mut usize) -> Result<Escape, &'static str> {
    let Some(&c) = chars.get(*pos) else {
        return Err("trailing backslash");
    };
    *pos += 1;
    if c.is_ascii() && !c.is_ascii_alphanumeric() {
        return Ok(Escape::Char(c));
    }
    // Go's \d, \s and \w are ASCII-only, unlike Rust's defaults: spell them out.
    let class = |s: &str| Ok(Escape::Class(s.to_string()));
    match c {
        'd' => class("[0-9]"),
        'D' => class("[^0-9]"),
        's' => class("[\\t\\n\\x0C\\r ]"),
        'S' => class("[^\\t\\n\\x0C\\r ]"),
        'w' => class("[0-9A-Za-z_]"),
        'W' => class("[^0-9A-Za-z_]"),
        'b' => Ok(Escape::Assertion("(?-u:\\b)")),
        'B' => Ok(Escape::Assertion("(?-u:\\B)")),
        'A' => Ok(Escape::Assertion("\\A")),
        'z' => Ok(Escape::Assertion("\\z")),
        'a' => Ok(Escape::Char('\x07')),
        'f' => Ok(Escape::Char('\x0C')),
        't' => Ok(Escape::Char('\t')),
        'n' => Ok(Escape::Char('\n')),
        'r' => Ok(Escape::Char('\r')),
        'v' => Ok(Escape::Char('\x0B')),
        'p' | 'P' => match chars.get(*pos) {
            Some(&name) if name.is_ascii_alphabetic() => {
                *pos += 1;
                class(&format!("\\{c}{name}"))
            }
            _ => Err("invalid unicode class escape"),
        },
        'x' => {
            let hex: String = chars.iter().skip(*pos).take(2).collect();
            match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                Some(ch) if hex.len() == 2 && hex.chars().all(|h| h.is_ascii_hexdigit()) => {
                    *pos += 2;
                    Ok(Escape::Char(ch))
                }
                _ => Err("invalid hexadecimal escape"),
            }
        }
        _ => Err("invalid escape sequence"),
    }
}

const POSIX_CLASSES: [&str; 14] = [
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// Translates the bracket expression whose `[` is at `chars[*pos - 1]`, advancing `*pos` past
/// its closing `]`.
fn translate_class(chars: &[char], pos: &mut usize, out: &mut String) -> Result<(), &'static str> {
    out.push('[');
    if chars.get(*pos) == Some(&'^') {
        out.push('^');
        *pos += 1;
    }
    let mut first = true;
    loop {
        let Some(&c) = chars.get(*pos) else {
            return Err("unterminated character class");
        };
        // As in Go's regexp, a `]` right after `[` or `[^` is a member, not the end.
        if c == ']' && !first {
            *pos += 1;
            out.push(']');
            return Ok(());
        }
        first = false;
        if c == '['
            && chars.get(*pos + 1) == Some(&':')
            && let Some(len) = posix_class_len(&chars[*pos..])?
        {
            out.extend(&chars[*pos..*pos + len]);
            *pos += len;
            continue;
        }
        let lo = class_atom(chars, pos)?;
        let is_range =
            chars.get(*pos) == Some(&'-') && chars.get(*pos + 1).is_some_and(|next| *next != ']');
        if is_range {
            *pos += 1;
            let hi = class_atom(chars, pos)?;
            match (lo, hi) {
                (Escape::Char(lo), Escape::Char(hi)) if lo <= hi => {
                    push_literal(out, lo);
                    out.push('-');
                    push_literal(out, hi);
                }
                (Escape::Char(_), Escape::Char(_)) => return Err("reversed range in class"),
                _ => return Err("invalid range in character class"),
            }
        } else {
            match lo {
                Escape::Char(c) => push_literal(out, c),
                Escape::Class(class) => out.push_str(&class),
                Escape::Assertion(_) => return Err("assertion in character class"),
            }
        }
    }
}

/// Length of a `[:name:]` or `[:^name:]` POSIX class at the start of `chars`, if it is one.
/// As in Go's regexp, a `[:` with no later `:]` is a literal `[`, and a `[:…:]` with an unknown
/// name is an error.
fn posix_class_len(chars: &[char]) -> Result<Option<usize>, &'static str> {
    let body: String = chars.iter().collect();
    let Some(close) = body[2..].find(":]").map(|i| i + 2) else {
        return Ok(None);
    };
    let name = &body[2..close];
    let name = name.strip_prefix('^').unwrap_or(name);
    if POSIX_CLASSES.contains(&name) {
        Ok(Some(body[..close + 2].chars().count()))
    } else {
        Err("unknown POSIX character class")
    }
}

fn class_atom(chars: &[char], pos: &mut usize) -> Result<Escape, &'static str> {
    let Some(&c) = chars.get(*pos) else {
        return Err("unterminated character class");
    };
    *pos += 1;
    if c == '\\' {
        parse_escape(chars, pos)
    } else {
        Ok(Escape::Char(c))
    }
}

/// Classifies `pattern` and builds its regexp source (meaningful for [`MatchKind::Regexp`]).
fn translate(pattern: &str) -> Result<(MatchKind, String), &'static str> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::from("^");
    let mut kind = MatchKind::Exact;
    let mut pos = 0;
    let mut token = 0;
    while pos < chars.len() {
        let c = chars[pos];
        pos += 1;
        match c {
            '*' if chars.get(pos) == Some(&'*') => {
                pos += 1;
                // `**/` is treated as `**`.
                if chars.get(pos) == Some(&'/') {
                    pos += 1;
                }
                if pos == chars.len() {
                    // A final `**` accepts everything below, like .gitignore.
                    if kind == MatchKind::Exact {
                        kind = MatchKind::Prefix;
                    } else {
                        out.push_str(".*");
                        kind = MatchKind::Regexp;
                    }
                } else {
                    // Any number of directories, including none.
                    out.push_str("(?:.*/)?");
                    kind = MatchKind::Regexp;
                }
                if token == 0 {
                    kind = MatchKind::Suffix;
                }
            }
            '*' => {
                out.push_str("[^/]*");
                kind = MatchKind::Regexp;
            }
            '?' => {
                out.push_str("[^/]");
                kind = MatchKind::Regexp;
            }
            '\\' => {
                match parse_escape(&chars, &mut pos)? {
                    Escape::Char(c) => push_literal(&mut out, c),
                    Escape::Class(class) => out.push_str(&class),
                    Escape::Assertion(a) => out.push_str(a),
                }
                kind = MatchKind::Regexp;
            }
            '[' => {
                translate_class(&chars, &mut pos, &mut out)?;
                kind = MatchKind::Regexp;
            }
            ']' => {
                out.push_str("\\]");
                kind = MatchKind::Regexp;
            }
            // Docker leaves `^` unescaped in its regexp, where it anchors; see module doc.
            '^' => out.push('^'),
            c => push_literal(&mut out, c),
        }
        token += 1;
    }
    out.push('$');
    Ok((kind, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(p: &str) -> Pattern {
        Pattern::compile(p.to_string(), false).unwrap()
    }

    #[test]
    fn escaped_letters_keep_go_regexp_meaning() {
        let p = compiled("file\\d.txt");
        assert!(p.matches_path("file7.txt"));
        assert!(!p.matches_path("filed.txt"));
        // Go's \d is ASCII only.
        assert!(!p.matches_path("file\u{0663}.txt"));
        let p = compiled("a\\sb");
        assert!(p.matches_path("a b"));
        assert!(compiled("\\x41*").matches_path("ABC"));
        assert!(compiled("\\pL?").matches_path("éx"));
        assert!(compiled("x\\bx").regex_source().is_some());
    }

    #[test]
    fn rejected_escapes() {
        for p in ["a\\y", "a\\1", "a\\é", "a\\p{Greek}", "a\\xZZ", "[\\b]"] {
            let err = Pattern::compile(p.to_string(), false).unwrap_err();
            assert!(
                err.to_string().starts_with("syntax error in pattern"),
                "{p}: {err}"
            );
        }
    }

    #[test]
    fn bang_in_class_is_literal_and_caret_negates() {
        let p = compiled("a[!b]c");
        assert!(p.matches_path("a!c"));
        assert!(p.matches_path("abc"));
        assert!(!p.matches_path("axc"));
        let p = compiled("a[^b]c");
        assert!(p.matches_path("axc"));
        assert!(!p.matches_path("abc"));
    }

    #[test]
    fn posix_and_nested_classes() {
        let p = compiled("[[:digit:]]*");
        assert!(p.matches_path("1abc"));
        assert!(!p.matches_path("abc"));
        let p = compiled("[a\\d]");
        assert!(p.matches_path("5"));
        assert!(p.matches_path("a"));
        // A `[` inside brackets is a plain member, and set-operator characters stay literal.
        let p = compiled("[[a]");
        assert!(p.matches_path("["));
        let p = compiled("[a&&b]");
        assert!(p.matches_path("&"));
        assert!(p.matches_path("a"));
        let p = compiled("[a~~b]");
        assert!(p.matches_path("~"));
    }

    #[test]
    fn caret_outside_brackets_anchors_like_docker() {
        assert!(compiled("a^b").matches_path("a^b"));
        assert_eq!(compiled("a^b").kind(), MatchKind::Exact);
        assert!(!compiled("a^*").matches_path("a^x"));
    }

    #[test]
    fn stars_inside_brackets_are_literal() {
        let p = compiled("a[*?]");
        assert!(p.matches_path("a*"));
        assert!(p.matches_path("a?"));
        assert!(!p.matches_path("ab"));
    }

    #[test]
    fn reversed_range_is_rejected_up_front() {
        let err = Pattern::compile("[Local-Only]".to_string(), false).unwrap_err();
        assert!(err.to_string().starts_with("syntax error in pattern"));
        let err = Pattern::compile("[[:nope:]]".to_string(), false).unwrap_err();
        assert!(err.to_string().starts_with("syntax error in pattern"));
    }
}
