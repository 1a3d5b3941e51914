//! Shell word expansion, as the Dockerfile frontend does it (not as a POSIX shell does).
//!
//! A [`Lex`] takes one word of Dockerfile text and an environment and produces the expanded
//! text and its whitespace-split words, handling quotes, the escape token (`\` or the backtick
//! chosen by `# escape=`), and these parameter forms:
//!
//! | form | value |
//! |---|---|
//! | `$V`, `${V}` | the value, or empty when unset |
//! | `${V:-w}` / `${V-w}` | `w` when `V` is unset or empty / unset |
//! | `${V:+w}` / `${V+w}` | `w` when `V` is set and non-empty / set |
//! | `${V:?m}` / `${V?m}` | an error `V: m` when `V` is unset or empty / unset |
//! | `${V#p}` / `${V##p}` | `V` without its shortest / longest prefix matching `p` |
//! | `${V%p}` / `${V%%p}` | `V` without its shortest / longest suffix matching `p` |
//! | `${V/p/r}` / `${V//p/r}` | the first / every match of `p` replaced by `r` |
//!
//! Patterns know `*`, `?` and escapes, and no bracket expressions. `$1`, `$@`, `$$`… are looked
//! up as variables of that name. Single quotes are literal; inside double quotes the escape
//! token escapes only `"`, `$` and itself; outside quotes it escapes any character.
//!
//! Word splitting happens after expansion: the text of an unquoted variable is split on white
//! space, quoted text and escaped characters are not. Every variable looked up is recorded as
//! matched or unmatched, which the linter's `UndefinedVar` rule and the build's ARG tracking use.
//!
//! This is hand-written because the semantics differ from POSIX shells in many small ways (no
//! command substitution, no field splitting on IFS, BuildKit-specific escapes inside
//! substitutions). Patterns are translated to a `regex` expression exactly as BuildKit does, so
//! shortest/longest matching follows the same leftmost-first rules. Two approximations remain:
//! variable names use Rust's `is_alphabetic`/`is_numeric` where Go uses the Unicode `L` and `Nd`
//! categories, which only differs for rare non-ASCII characters; and nesting of `${…}` deeper
//! than [`MAX_NESTING`] levels is rejected instead of exhausting the stack.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use regex::Regex;

use crate::quote::go_quote;

/// Deepest nesting of `${…}` substitutions accepted.
pub const MAX_NESTING: usize = 200;

/// Variables visible to an expansion.
pub trait Env {
    /// The value of `name`, or `None` when it is not set (empty values are set).
    fn lookup(&self, name: &str) -> Option<&str>;
}

impl Env for HashMap<String, String> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl Env for BTreeMap<String, String> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl<T: Env + ?Sized> Env for &T {
    fn lookup(&self, name: &str) -> Option<&str> {
        (**self).lookup(name)
    }
}

/// An environment built from `KEY=VALUE` strings; a later duplicate key wins and an entry
/// without `=` sets the key to the empty string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvList(pub HashMap<String, String>);

impl EnvList {
    pub fn from_pairs<S: AsRef<str>>(pairs: &[S]) -> Self {
        let mut map = HashMap::new();
        for p in pairs {
            let p = p.as_ref();
            match p.split_once('=') {
                Some((k, v)) => map.insert(k.to_string(), v.to_string()),
                None => map.insert(p.to_string(), String::new()),
            };
        }
        EnvList(map)
    }
}

impl Env for EnvList {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// The result of expanding one word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expansion {
    /// The expanded text, quotes removed, spacing kept.
    pub result: String,
    /// The expanded text split into words.
    pub words: Vec<String>,
    /// Variables that were looked up and found.
    pub matched: BTreeSet<String>,
    /// Variables that were looked up and not set.
    pub unmatched: BTreeSet<String>,
}

/// An expansion failure: `failed to process "<word>": <message>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to process {}: {message}", go_quote(.word))]
pub struct ShellError {
    /// The word that was being expanded.
    pub word: String,
    /// What went wrong, e.g. `syntax error: bad substitution` or `VAR: is not allowed to be unset`.
    pub message: String,
}

/// The word lexer. Options mirror BuildKit's: the parser uses the raw modes to find heredoc
/// delimiters without changing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lex {
    escape: char,
    /// Keep quote characters in the output.
    pub raw_quotes: bool,
    /// Keep escape tokens in the output.
    pub raw_escapes: bool,
    /// Treat quotes as ordinary characters.
    pub skip_process_quotes: bool,
    /// Leave references to unset variables as written instead of expanding them to nothing.
    pub skip_unset_env: bool,
}

impl Lex {
    /// A lexer using `escape` (`\` or `` ` ``) as the escape token.
    pub fn new(escape: char) -> Self {
        Lex {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_process_quotes: false,
            skip_unset_env: false,
        }
    }

    /// The escape token.
    pub fn escape_token(&self) -> char {
        self.escape
    }

    /// Expand `word`, returning the text, the words and the variables it referenced.
    pub fn expand(&self, word: &str, env: &dyn Env) -> Result<Expansion, ShellError> {
        let mut sw = ShellWord::new(self, word, env);
        match sw.process_stop_on(None, self.raw_escapes) {
            Ok((result, words)) => Ok(Expansion {
                result,
                words,
                matched: sw.matched,
                unmatched: sw.unmatched,
            }),
            Err(message) => Err(ShellError {
                word: word.to_string(),
                message,
            }),
        }
    }

    /// Expand `word` into a single string (BuildKit's `ProcessWord`).
    pub fn process_word(&self, word: &str, env: &dyn Env) -> Result<String, ShellError> {
        self.expand(word, env).map(|e| e.result)
    }

    /// Expand `word` and split it into words (BuildKit's `ProcessWords`).
    pub fn process_words(&self, word: &str, env: &dyn Env) -> Result<Vec<String>, ShellError> {
        self.expand(word, env).map(|e| e.words)
    }
}

/// Go's `unicode.IsSpace` (the Unicode White_Space property, like Rust's `is_whitespace`).
fn is_space(c: char) -> bool {
    c.is_whitespace()
}

#[derive(Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if is_space(ch) {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }

    fn add_raw_char(&mut self, ch: char) {
        self.word.push(ch);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        for ch in s.chars() {
            self.add_char(ch);
        }
    }

    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(std::mem::take(&mut self.word));
        }
        self.words
    }
}

struct ShellWord<'a> {
    lex: &'a Lex,
    chars: Vec<char>,
    pos: usize,
    env: &'a dyn Env,
    raw_escapes: bool,
    depth: usize,
    matched: BTreeSet<String>,
    unmatched: BTreeSet<String>,
}

type Res<T> = Result<T, String>;

/// Go's `string(rune)` of the character the scanner returned, where end of input is `-1`,
/// which Go renders as U+FFFD.
fn rune_str(c: Option<char>) -> String {
    c.unwrap_or('\u{FFFD}').to_string()
}

impl<'a> ShellWord<'a> {
    fn new(lex: &'a Lex, word: &str, env: &'a dyn Env) -> Self {
        let mut chars: Vec<char> = word.chars().collect();
        // Go's text/scanner skips a byte-order mark at the very start of its input.
        if chars.first() == Some(&'\u{FEFF}') {
            chars.remove(0);
        }
        ShellWord {
            lex,
            chars,
            pos: 0,
            env,
            raw_escapes: lex.raw_escapes,
            depth: 0,
            matched: BTreeSet::new(),
            unmatched: BTreeSet::new(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Res<(String, Vec<String>)> {
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let r = self.process_stop_on_inner(stop);
        self.raw_escapes = saved;
        r
    }

    fn process_stop_on_inner(&mut self, stop: Option<char>) -> Res<(String, Vec<String>)> {
        let mut result = String::new();
        let mut words = Words::default();
        let escape = self.lex.escape;
        while let Some(ch) = self.peek() {
            if stop == Some(ch) {
                self.next();
                return Ok((result, words.finish()));
            }
            if ch == '$' {
                let tmp = self.process_dollar()?;
                result.push_str(&tmp);
                words.add_string(&tmp);
            } else if ch == '<' {
                let tmp = self.process_possible_heredoc();
                result.push_str(&tmp);
                words.add_raw_string(&tmp);
            } else if !self.lex.skip_process_quotes && (ch == '\'' || ch == '"') {
                let tmp = if ch == '\'' {
                    self.process_single_quote()?
                } else {
                    self.process_double_quote()?
                };
                result.push_str(&tmp);
                words.add_raw_string(&tmp);
            } else {
                self.next();
                if ch == escape {
                    if self.raw_escapes {
                        words.add_raw_char(ch);
                        result.push(ch);
                    }
                    match self.next() {
                        None => break,
                        Some(c) => {
                            words.add_raw_char(c);
                            result.push(c);
                        }
                    }
                } else {
                    words.add_char(ch);
                    result.push(ch);
                }
            }
        }
        if let Some(stop) = stop {
            return Err(format!(
                "unexpected end of statement while looking for matching {stop}"
            ));
        }
        Ok((result, words.finish()))
    }

    /// `<<` keeps the blanks that follow it in the same word, so that `<< EOF` stays one word
    /// the heredoc detector can recognise.
    fn process_possible_heredoc(&mut self) -> String {
        self.next();
        if self.peek() != Some('<') {
            return "<".to_string();
        }
        self.next();
        let mut result = String::from("<<");
        while let Some(c @ (' ' | '\t')) = self.peek() {
            result.push(c);
            self.next();
        }
        result
    }

    fn process_single_quote(&mut self) -> Res<String> {
        let mut result = String::new();
        let open = self.next();
        if self.lex.raw_quotes {
            result.push_str(&rune_str(open));
        }
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .to_string(),
                    );
                }
                Some('\'') => {
                    if self.lex.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(c) => result.push(c),
            }
        }
    }

    fn process_double_quote(&mut self) -> Res<String> {
        let mut result = String::new();
        let open = self.next();
        if self.lex.raw_quotes {
            result.push_str(&rune_str(open));
        }
        let escape = self.lex.escape;
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .to_string(),
                    );
                }
                Some('"') => {
                    self.next();
                    if self.lex.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => {
                    let value = self.process_dollar()?;
                    result.push_str(&value);
                }
                Some(mut ch) => {
                    self.next();
                    if ch == escape {
                        if self.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            // An escape at the very end is dropped; the loop then reports
                            // the missing closing quote.
                            None => continue,
                            Some(c) if c == '"' || c == '$' || c == escape => {
                                self.next();
                                ch = c;
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(ch);
                }
            }
        }
    }

    fn process_dollar(&mut self) -> Res<String> {
        self.depth += 1;
        let r = if self.depth > MAX_NESTING {
            Err("syntax error: substitutions nested too deeply".to_string())
        } else {
            self.process_dollar_inner()
        };
        self.depth -= 1;
        r
    }

    fn process_dollar_inner(&mut self) -> Res<String> {
        self.next(); // the '$'
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            let value = self.get_env(&name);
            return Ok(match value {
                None if self.lex.skip_unset_env => format!("${name}"),
                None => String::new(),
                Some(v) => v,
            });
        }
        self.next(); // the '{'
        match self.peek() {
            None => return Err("syntax error: missing '}'".to_string()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".to_string()),
            Some(_) => {}
        }
        let name = self.process_name();
        let first = self.next();
        let mut chs = rune_str(first);
        match first {
            Some('}') => {
                let value = self.get_env(&name);
                Ok(match value {
                    None if self.lex.skip_unset_env => format!("${{{name}}}"),
                    None => String::new(),
                    Some(v) => v,
                })
            }
            Some(':' | '+' | '-' | '?' | '#' | '%') => {
                let mut ch = first;
                let mut null_is_unset = false;
                if ch == Some(':') {
                    null_is_unset = true;
                    ch = self.next();
                    chs.push_str(&rune_str(ch));
                }
                // Patterns keep their escapes: they are interpreted by the pattern matcher.
                let raw = matches!(ch, Some('#' | '%'));
                // `:` only combines with `-`, `+` and `?`.
                if null_is_unset && raw {
                    return Err(format!("unsupported modifier ({chs}) in substitution"));
                }
                let word = match self.process_stop_on(Some('}'), raw) {
                    Ok((w, _)) => w,
                    Err(e) => {
                        if self.peek().is_none() {
                            return Err("syntax error: missing '}'".to_string());
                        }
                        return Err(e);
                    }
                };
                let value = self.get_env(&name);
                if self.lex.skip_unset_env && value.is_none() {
                    return Ok(format!("${{{name}{chs}{word}}}"));
                }
                let set = value.is_some();
                let value = value.unwrap_or_default();
                let unset_or_null = !set || (null_is_unset && value.is_empty());
                match ch {
                    Some('-') => Ok(if unset_or_null { word } else { value }),
                    Some('+') => Ok(if unset_or_null { String::new() } else { word }),
                    Some('?') => {
                        if !set {
                            let message = if word.is_empty() {
                                "is not allowed to be unset".to_string()
                            } else {
                                word
                            };
                            return Err(format!("{name}: {message}"));
                        }
                        if null_is_unset && value.is_empty() {
                            let message = if word.is_empty() {
                                "is not allowed to be empty".to_string()
                            } else {
                                word
                            };
                            return Err(format!("{name}: {message}"));
                        }
                        Ok(value)
                    }
                    Some(c @ ('%' | '#')) => {
                        let (pattern, greedy) = match word.strip_prefix(c) {
                            Some(rest) => (rest.to_string(), true),
                            None => (word, false),
                        };
                        if c == '%' {
                            trim_suffix(&pattern, &value, greedy)
                        } else {
                            trim_prefix(&pattern, &value, greedy)
                        }
                    }
                    _ => Err(format!("unsupported modifier ({chs}) in substitution")),
                }
            }
            Some('/') => {
                let replace_all = self.peek() == Some('/');
                if replace_all {
                    self.next();
                }
                let pattern = match self.process_stop_on(Some('/'), true) {
                    Ok((p, _)) => p,
                    Err(e) => {
                        if self.peek().is_none() {
                            return Err("syntax error: missing '/' in ${}".to_string());
                        }
                        return Err(e);
                    }
                };
                let replacement = match self.process_stop_on(Some('}'), true) {
                    Ok((r, _)) => r,
                    Err(e) => {
                        if self.peek().is_none() {
                            return Err("syntax error: missing '}'".to_string());
                        }
                        return Err(e);
                    }
                };
                let value = self.get_env(&name);
                let Some(value) = value else {
                    if self.lex.skip_unset_env {
                        return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
                    }
                    return replace(&pattern, "", &replacement, replace_all);
                };
                replace(&pattern, &value, &replacement, replace_all)
            }
            _ => Err(format!("unsupported modifier ({chs}) in substitution")),
        }
    }

    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && is_digit(ch) {
                while let Some(c) = self.peek() {
                    if !is_digit(c) {
                        break;
                    }
                    self.next();
                    name.push(c);
                }
                return name;
            }
            if name.is_empty() && is_special_param(ch) {
                self.next();
                return ch.to_string();
            }
            if !ch.is_alphabetic() && !is_digit(ch) && ch != '_' {
                break;
            }
            self.next();
            name.push(ch);
        }
        name
    }

    fn get_env(&mut self, name: &str) -> Option<String> {
        match self.env.lookup(name) {
            Some(v) => {
                self.matched.insert(name.to_string());
                Some(v.to_string())
            }
            None => {
                self.unmatched.insert(name.to_string());
                None
            }
        }
    }
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

/// POSIX special parameters, looked up like ordinary names.
fn is_special_param(c: char) -> bool {
    matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0')
}

/// Translate a substitution pattern (`*`, `?`, `\` escapes) into a regular expression.
fn shell_pattern_to_regex(pattern: &str, greedy: bool, anchored: bool) -> Result<Regex, String> {
    let mut out = String::with_capacity(pattern.len() + 4);
    if anchored {
        out.push('^');
    }
    let star = if greedy { ".*" } else { ".*?" };
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let mut tok = chars[i];
        i += 1;
        match tok {
            '*' => {
                out.push_str(star);
                continue;
            }
            '?' => {
                out.push('.');
                continue;
            }
            '\\' => {
                // `}` and `/` needed escaping inside `${}`; the escape is not part of the pattern.
                if matches!(chars.get(i), Some('}' | '/')) {
                    continue;
                }
                out.push('\\');
                let next = chars.get(i).copied();
                i += 1;
                match next {
                    Some(c @ ('*' | '?' | '\\')) => tok = c,
                    other => return Err(format!("invalid escape '\\{}'", rune_str(other))),
                }
            }
            '[' | ']' | '{' | '}' | '.' | '+' | '(' | ')' | '|' | '^' | '$' => out.push('\\'),
            _ => {}
        }
        out.push(tok);
    }
    Regex::new(&out).map_err(|e| e.to_string())
}

fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Res<String> {
    let re = shell_pattern_to_regex(pattern, greedy, true)
        .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
    Ok(match re.find(value) {
        Some(m) => value[m.end()..].to_string(),
        None => value.to_string(),
    })
}

/// Reverse a pattern, keeping each escape in front of the character it escapes.
fn reverse_pattern(pattern: &str) -> String {
    let runes: Vec<char> = pattern.chars().collect();
    let n = runes.len();
    let mut out = vec!['\0'; n];
    let mut i = 0;
    while i < n {
        let tok = runes[i];
        let out_idx = n - 1 - i;
        if tok == '\\' && i != n - 1 {
            out[out_idx - 1] = tok;
            out[out_idx] = runes[i + 1];
            i += 2;
        } else {
            out[out_idx] = tok;
            i += 1;
        }
    }
    out.into_iter().collect()
}

fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Res<String> {
    // Regular expressions find leftmost matches; reversing both sides turns the rightmost
    // suffix search into a leftmost prefix search.
    let reversed: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&reverse_pattern(pattern), &reversed, greedy)?;
    Ok(trimmed.chars().rev().collect())
}

fn replace(pattern: &str, value: &str, replacement: &str, all: bool) -> Res<String> {
    let re = shell_pattern_to_regex(pattern, true, false)
        .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
    if !all {
        return Ok(match re.find(value) {
            Some(m) => format!(
                "{}{}{}",
                &value[..m.start()],
                replacement,
                &value[m.end()..]
            ),
            None => value.to_string(),
        });
    }
    // Go's Regexp.ReplaceAllString, including its `$` template expansion of the replacement
    // and its rule for empty matches right after a previous match.
    let mut out = String::new();
    let mut last_end = 0;
    let mut search = 0;
    while search <= value.len() {
        let Some(m) = re.find_at(value, search) else {
            break;
        };
        out.push_str(&value[last_end..m.start()]);
        if m.end() > last_end || m.start() == 0 {
            go_expand(&mut out, replacement, m.as_str());
        }
        last_end = m.end();
        let width = value[search..].chars().next().map_or(1, char::len_utf8);
        if search + width > m.end() {
            search += width;
        } else if search + 1 > m.end() {
            search += 1;
        } else {
            search = m.end();
        }
    }
    out.push_str(&value[last_end.min(value.len())..]);
    Ok(out)
}

/// Go's `Regexp.Expand` for a pattern without capture groups: `$$` is a dollar, `$0`/`${0}`
/// the match, any other well-formed reference empty, and a malformed one literal.
fn go_expand(out: &mut String, template: &str, matched: &str) {
    let mut rest = template;
    while let Some(idx) = rest.find('$') {
        out.push_str(&rest[..idx]);
        rest = &rest[idx + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let (brace, body) = match rest.strip_prefix('{') {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let name_len: usize = body
            .chars()
            .take_while(|c| c.is_alphabetic() || is_digit(*c) || *c == '_')
            .map(char::len_utf8)
            .sum();
        let name = &body[..name_len];
        let after = &body[name_len..];
        let ok = !name.is_empty() && (!brace || after.starts_with('}'));
        if !ok {
            out.push('$');
            continue;
        }
        rest = if brace { &after[1..] } else { after };
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            let is_zero = name.bytes().all(|b| b == b'0') && name.len() < 9;
            if is_zero {
                out.push_str(matched);
            }
        }
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[&str]) -> EnvList {
        EnvList::from_pairs(pairs)
    }

    #[test]
    fn expands_and_records_matches() {
        let lex = Lex::new('\\');
        let e = lex.expand("a $X ${Y:-d} $Z", &env(&["X=1", "Z="])).unwrap();
        assert_eq!(e.result, "a 1 d ");
        assert_eq!(e.words, vec!["a", "1", "d"]);
        assert_eq!(e.matched.into_iter().collect::<Vec<_>>(), vec!["X", "Z"]);
        assert_eq!(e.unmatched.into_iter().collect::<Vec<_>>(), vec!["Y"]);
    }

    #[test]
    fn patterns_and_replacement_templates() {
        let lex = Lex::new('\\');
        let e = env(&["V=abcabc"]);
        assert_eq!(lex.process_word("${V#*b}", &e).unwrap(), "cabc");
        assert_eq!(lex.process_word("${V##*b}", &e).unwrap(), "c");
        assert_eq!(lex.process_word("${V%b*}", &e).unwrap(), "abca");
        assert_eq!(lex.process_word("${V%%b*}", &e).unwrap(), "a");
        assert_eq!(lex.process_word("${V/b/X}", &e).unwrap(), "aXcabc");
        assert_eq!(lex.process_word("${V//b/X}", &e).unwrap(), "aXcaXc");
        // `$` in the replacement is expanded by the lexer first, so only an escaped `$`
        // reaches Go's template expansion.
        assert_eq!(lex.process_word("${V//b/<$$0>}", &e).unwrap(), "a<0>ca<0>c");
        assert_eq!(
            replace("b", "abcabc", "<$0$$>", true).unwrap(),
            "a<b$>ca<b$>c"
        );
        assert_eq!(replace("b", "abc", "$x${1}$", true).unwrap(), "a$c");
        assert_eq!(reverse_pattern("a\\*c"), "c\\*a");
    }

    #[test]
    fn errors_are_wrapped_with_the_word() {
        let lex = Lex::new('\\');
        let err = lex.process_word("${}", &env(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to process \"${}\": syntax error: bad substitution"
        );
        let err = lex.process_word("${X:?}", &env(&["X="])).unwrap_err();
        assert_eq!(err.message, "X: is not allowed to be empty");
        let err = lex.process_word("${X=1}", &env(&[])).unwrap_err();
        assert_eq!(err.message, "unsupported modifier (=) in substitution");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let lex = Lex::new('\\');
        let word = "${a:-".repeat(5000);
        assert!(lex.process_word(&word, &env(&[])).is_err());
    }
}
