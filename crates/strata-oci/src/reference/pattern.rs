//! Shell-style pattern matching with the exact semantics of Go's `path.Match`, which
//! Docker uses for `--filter reference=PATTERN` (through `FamiliarMatch`).
//!
//! Written by hand because no crate reproduces it: `*` never crosses `/`, a character
//! class is `[…]` with `^` (not `!`) for negation, `\` escapes, and a malformed pattern is
//! an error even when the name already failed to match (Go checks the rest of the pattern
//! before answering `false`). Matching is byte-wise for literals and rune-wise for `?` and
//! classes, as in Go.

/// The pattern is malformed (Go's `path.ErrBadPattern`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("syntax error in pattern")]
pub struct PatternError;

/// Whether `name` matches the shell `pattern` as a whole.
pub fn path_match(pattern: &str, name: &str) -> Result<bool, PatternError> {
    let mut pattern = pattern.as_bytes();
    let mut name = name.as_bytes();
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing `*` matches the rest of the name unless it has a `/`.
            return Ok(!name.contains(&b'/'));
        }
        // Try to match at the current position.
        let (t, ok) = match_chunk(chunk, name)?;
        // On the last chunk the name must be exhausted; otherwise a star may still help.
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if star {
            // Try again after skipping i+1 bytes of the name; a star cannot skip `/`.
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                let (t, ok) = match_chunk(chunk, &name[i + 1..])?;
                if ok {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        // No match: still report a malformed remainder of the pattern.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Split off the next chunk: optional leading stars, then everything up to the next star
/// outside a character class.
fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while let [b'*', rest @ ..] = pattern {
        pattern = rest;
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            // Skip the escaped byte; a trailing backslash is reported by match_chunk.
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => return (star, &pattern[..i], &pattern[i..]),
            _ => {}
        }
        i += 1;
    }
    (star, pattern, &[])
}

/// Match a star-free chunk against the start of `s`; returns the rest of `s` and whether
/// it matched. After a mismatch the chunk is still parsed to its end, to report syntax
/// errors.
fn match_chunk<'a>(mut chunk: &[u8], mut s: &'a [u8]) -> Result<(&'a [u8], bool), PatternError> {
    let mut failed = false;
    while let Some(&c) = chunk.first() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match c {
            b'[' => {
                let mut r = None;
                if !failed {
                    let (rune, n) = decode_rune(s);
                    r = Some(rune);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if chunk.first() == Some(&b']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk.first() == Some(&b'-') {
                        let (h, rest) = get_esc(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if let Some(r) = r
                        && lo <= r
                        && r <= hi
                    {
                        matched = true;
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode_rune(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                if c == b'\\' {
                    chunk = &chunk[1..];
                    if chunk.is_empty() {
                        return Err(PatternError);
                    }
                }
                if !failed {
                    if chunk[0] != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    if failed {
        Ok((&[], false))
    } else {
        Ok((s, true))
    }
}

/// A possibly escaped character inside a class; the class must continue after it.
fn get_esc(mut chunk: &[u8]) -> Result<(u32, &[u8]), PatternError> {
    match chunk.first() {
        None | Some(b'-') | Some(b']') => return Err(PatternError),
        Some(b'\\') => {
            chunk = &chunk[1..];
            if chunk.is_empty() {
                return Err(PatternError);
            }
        }
        Some(_) => {}
    }
    let (r, n) = decode_rune(chunk);
    if r == REPLACEMENT && n == 1 {
        return Err(PatternError);
    }
    let rest = &chunk[n..];
    if rest.is_empty() {
        return Err(PatternError);
    }
    Ok((r, rest))
}

const REPLACEMENT: u32 = 0xFFFD;

/// Decode one UTF-8 scalar from a non-empty slice as Go's `utf8.DecodeRune` does: an
/// invalid or truncated sequence yields U+FFFD and a width of 1.
fn decode_rune(s: &[u8]) -> (u32, usize) {
    let width = match s.first() {
        None => return (REPLACEMENT, 0),
        Some(b) if *b < 0x80 => return (u32::from(*b), 1),
        Some(b) if b & 0xE0 == 0xC0 => 2,
        Some(b) if b & 0xF0 == 0xE0 => 3,
        Some(b) if b & 0xF8 == 0xF0 => 4,
        Some(_) => return (REPLACEMENT, 1),
    };
    match s.get(..width).and_then(|b| std::str::from_utf8(b).ok()) {
        Some(text) => match text.chars().next() {
            Some(c) => (u32::from(c), width),
            None => (REPLACEMENT, 1),
        },
        None => (REPLACEMENT, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_like_go_path_match() {
        // Cases from Go's own path.Match documentation and behaviour.
        let cases: &[(&str, &str, Result<bool, PatternError>)] = &[
            ("abc", "abc", Ok(true)),
            ("*", "abc", Ok(true)),
            ("*c", "abc", Ok(true)),
            ("a*", "a", Ok(true)),
            ("a*", "abc", Ok(true)),
            ("a*", "ab/c", Ok(false)),
            ("a*/b", "abc/b", Ok(true)),
            ("a*/b", "a/c/b", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", Ok(false)),
            ("a*b?c*x", "abxbbxdbxebxczzx", Ok(true)),
            ("a*b?c*x", "abxbbxdbxebxczzy", Ok(false)),
            ("ab[c]", "abc", Ok(true)),
            ("ab[b-d]", "abc", Ok(true)),
            ("ab[e-g]", "abc", Ok(false)),
            ("ab[^c]", "abc", Ok(false)),
            ("ab[^b-d]", "abc", Ok(false)),
            ("ab[^e-g]", "abc", Ok(true)),
            ("a\\*b", "a*b", Ok(true)),
            ("a\\*b", "ab", Ok(false)),
            ("a?b", "a☺b", Ok(true)),
            ("a[^a]b", "a☺b", Ok(true)),
            ("a???b", "a☺b", Ok(false)),
            ("a[^a][^a][^a]b", "a☺b", Ok(false)),
            ("[a-ζ]*", "α", Ok(true)),
            ("*[a-ζ]", "A", Ok(false)),
            ("a?b", "a/b", Ok(false)),
            ("a*b", "a/b", Ok(false)),
            ("[\\]a]", "]", Ok(true)),
            ("[\\-]", "-", Ok(true)),
            ("[x\\-]", "x", Ok(true)),
            ("[x\\-]", "-", Ok(true)),
            ("[x\\-]", "z", Ok(false)),
            ("[\\-x]", "x", Ok(true)),
            ("[\\-x]", "-", Ok(true)),
            ("[\\-x]", "a", Ok(false)),
            ("[]a]", "]", Err(PatternError)),
            ("[-]", "-", Err(PatternError)),
            ("[x-]", "x", Err(PatternError)),
            ("[x-]", "-", Err(PatternError)),
            ("[x-]", "z", Err(PatternError)),
            ("[-x]", "x", Err(PatternError)),
            ("[-x]", "-", Err(PatternError)),
            ("[-x]", "a", Err(PatternError)),
            ("\\", "a", Err(PatternError)),
            ("[a-b-c]", "a", Err(PatternError)),
            ("[", "a", Err(PatternError)),
            ("[^", "a", Err(PatternError)),
            ("[^bc", "a", Err(PatternError)),
            ("a[", "a", Err(PatternError)),
            ("a[", "ab", Err(PatternError)),
            ("a[", "x", Err(PatternError)),
            ("a/b[", "x", Err(PatternError)),
            ("*x", "xxx", Ok(true)),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(path_match(pattern, name), *want, "{pattern:?} vs {name:?}");
        }
    }
}
