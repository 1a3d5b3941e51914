//! Alpine's version ordering, following apk-tools' token comparison.
//!
//! A version is read as tokens: digits (`1`, `.2`), one letter (`1.0a`), suffixes
//! (`_alpha`, `_beta`, `_pre`, `_rc` sort before the release; `_cvs`, `_svn`, `_git`,
//! `_hg`, `_p` after it) each with an optional number, and a revision (`-r3`). Tokens of
//! the same type compare by value; when the types differ, a pre-release suffix sorts
//! lowest, otherwise the version whose token type comes later in the order
//! digit < letter < suffix < suffix number < revision < end is the *smaller* one — which is
//! how `1.0 < 1.0.1`, `1.0 < 1.0-r1` and `1.0a < 1.0.1` all fall out. Digit components
//! after the first with a leading zero compare as strings (as decimal fractions).

use std::cmp::Ordering;

const SUFFIXES: [&str; 9] = ["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"];
/// Index in [`SUFFIXES`] of the first suffix that sorts after the release.
const FIRST_POST: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    /// A digit component; `first` is the leading one (never compared as a fraction).
    Digit {
        text: &'a str,
        first: bool,
    },
    Letter(u8),
    Suffix(usize),
    SuffixNo(&'a str),
    Revision(&'a str),
    End,
}

impl Token<'_> {
    fn rank(&self) -> u8 {
        match self {
            Token::Digit { .. } => 1,
            Token::Letter(_) => 2,
            Token::Suffix(_) => 3,
            Token::SuffixNo(_) => 4,
            Token::Revision(_) => 5,
            Token::End => 6,
        }
    }
}

/// Where the tokenizer is: what may come next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    AfterDigit,
    AfterLetter,
    AfterSuffix,
    AfterSuffixNo,
    AfterRevision,
}

struct Tokens<'a> {
    s: &'a str,
    state: State,
}

fn digits(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

impl<'a> Tokens<'a> {
    fn new(s: &'a str) -> Self {
        Tokens {
            s,
            state: State::Start,
        }
    }

    /// The next token; `None` on text apk would reject.
    fn next(&mut self) -> Option<Token<'a>> {
        let s = self.s;
        if s.is_empty() {
            return Some(Token::End);
        }
        let b = s.as_bytes()[0];
        match self.state {
            State::Start => {
                let n = digits(s);
                if n == 0 {
                    return None;
                }
                self.s = &s[n..];
                self.state = State::AfterDigit;
                Some(Token::Digit {
                    text: &s[..n],
                    first: true,
                })
            }
            State::AfterDigit if b == b'.' => {
                let n = digits(&s[1..]);
                if n == 0 {
                    return None;
                }
                self.s = &s[1 + n..];
                Some(Token::Digit {
                    text: &s[1..1 + n],
                    first: false,
                })
            }
            State::AfterDigit if b.is_ascii_lowercase() => {
                self.s = &s[1..];
                self.state = State::AfterLetter;
                Some(Token::Letter(b))
            }
            State::AfterDigit | State::AfterLetter | State::AfterSuffix | State::AfterSuffixNo
                if b == b'_' =>
            {
                let rest = &s[1..];
                let (i, name) = SUFFIXES
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| rest.starts_with(**n))
                    .max_by_key(|(_, n)| n.len())?;
                self.s = &rest[name.len()..];
                self.state = State::AfterSuffix;
                Some(Token::Suffix(i))
            }
            State::AfterSuffix if b.is_ascii_digit() => {
                let n = digits(s);
                self.s = &s[n..];
                self.state = State::AfterSuffixNo;
                Some(Token::SuffixNo(&s[..n]))
            }
            State::AfterDigit | State::AfterLetter | State::AfterSuffix | State::AfterSuffixNo
                if s.starts_with("-r") =>
            {
                let n = digits(&s[2..]);
                if n == 0 {
                    return None;
                }
                self.s = &s[2 + n..];
                self.state = State::AfterRevision;
                Some(Token::Revision(&s[2..2 + n]))
            }
            // A `~hash` commit suffix carries no order information.
            _ if b == b'~' && self.state != State::Start => {
                let end = s.find("-r").unwrap_or(s.len());
                if s[1..end].bytes().all(|c| c.is_ascii_hexdigit()) {
                    self.s = &s[end..];
                    self.next()
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

/// Numeric comparison of digit strings of any length.
fn cmp_num(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Whether apk would accept `s` as a version.
pub fn valid(s: &str) -> bool {
    let mut t = Tokens::new(s);
    loop {
        match t.next() {
            None => return false,
            Some(Token::End) => return true,
            Some(_) => {}
        }
    }
}

/// Compare two Alpine versions. Invalid tails compare as the end of the version.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (mut ta, mut tb) = (Tokens::new(a), Tokens::new(b));
    loop {
        let x = ta.next().unwrap_or(Token::End);
        let y = tb.next().unwrap_or(Token::End);
        let ord = match (&x, &y) {
            (Token::End, Token::End) => return Ordering::Equal,
            (Token::Digit { text: p, first: pf }, Token::Digit { text: q, first: qf }) => {
                if !pf && !qf && (p.starts_with('0') || q.starts_with('0')) {
                    p.cmp(q)
                } else {
                    cmp_num(p, q)
                }
            }
            (Token::Letter(p), Token::Letter(q)) => p.cmp(q),
            (Token::Suffix(p), Token::Suffix(q)) => p.cmp(q),
            (Token::SuffixNo(p), Token::SuffixNo(q)) | (Token::Revision(p), Token::Revision(q)) => {
                cmp_num(p, q)
            }
            _ => {
                if let Token::Suffix(i) = x
                    && i < FIRST_POST
                {
                    return Ordering::Less;
                }
                if let Token::Suffix(i) = y
                    && i < FIRST_POST
                {
                    return Ordering::Greater;
                }
                return y.rank().cmp(&x.rank());
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
}
