//! Tokeniser for Go template text: text runs, `{{ }}` actions with their trim markers, and the
//! tokens inside actions.
//!
//! It follows the rules of Go's `text/template/parse` lexer: `{{- ` (dash then whitespace)
//! trims the whitespace before the action and ` -}}` the whitespace after it; `{{-3}}` is the
//! number -3. A comment `{{/* … */}}` must sit directly against its delimiters (trim markers
//! allowed). Actions may span lines.

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Text(String),
    LeftDelim,
    RightDelim,
    Space,
    /// A function name (identifier that is not a keyword or literal).
    Ident(String),
    Keyword(Keyword),
    Bool(bool),
    Nil,
    Dot,
    /// `.Name` (the name, without the dot).
    Field(String),
    /// `$` or `$name` (including the `$`).
    Variable(String),
    /// A number literal, as written.
    Number(String),
    /// A character constant, as written (with quotes).
    CharConst(String),
    /// A string literal: the decoded value and the text as written.
    Str(String, String),
    Pipe,
    LeftParen,
    RightParen,
    Declare,
    Assign,
    /// Any other printable ASCII character (`,` in range declarations).
    Char(char),
    Eof,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Range,
    Template,
    With,
}

impl Keyword {
    fn from_word(word: &str) -> Option<Keyword> {
        Some(match word {
            "block" => Keyword::Block,
            "break" => Keyword::Break,
            "continue" => Keyword::Continue,
            "define" => Keyword::Define,
            "else" => Keyword::Else,
            "end" => Keyword::End,
            "if" => Keyword::If,
            "range" => Keyword::Range,
            "template" => Keyword::Template,
            "with" => Keyword::With,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Keyword::Block => "block",
            Keyword::Break => "break",
            Keyword::Continue => "continue",
            Keyword::Define => "define",
            Keyword::Else => "else",
            Keyword::End => "end",
            Keyword::If => "if",
            Keyword::Range => "range",
            Keyword::Template => "template",
            Keyword::With => "with",
        }
    }
}

impl Tok {
    /// How Go's parser names a token in "unexpected …" messages.
    pub(crate) fn describe(&self) -> String {
        let quoted = |s: &str| {
            if s.chars().count() > 10 {
                let head: String = s.chars().take(10).collect();
                format!("{}...", go_quote(&head))
            } else {
                go_quote(s)
            }
        };
        match self {
            Tok::Eof => "EOF".to_string(),
            Tok::Keyword(k) => format!("<{}>", k.name()),
            Tok::Text(s) | Tok::Ident(s) | Tok::Variable(s) | Tok::Number(s) => quoted(s),
            Tok::CharConst(s) => quoted(s),
            Tok::Str(_, raw) => quoted(raw),
            Tok::Field(s) => quoted(&format!(".{s}")),
            Tok::LeftDelim => quoted("{{"),
            Tok::RightDelim => quoted("}}"),
            Tok::Space => quoted(" "),
            Tok::Bool(b) => quoted(if *b { "true" } else { "false" }),
            Tok::Nil => quoted("nil"),
            Tok::Dot => quoted("."),
            Tok::Pipe => quoted("|"),
            Tok::LeftParen => quoted("("),
            Tok::RightParen => quoted(")"),
            Tok::Declare => quoted(":="),
            Tok::Assign => quoted("="),
            Tok::Char(c) => quoted(&c.to_string()),
        }
    }
}

/// Go's `strconv.Quote`: double quotes, escapes for `"` `\` and non-printable characters.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0C' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0B' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7F' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() || c == '\u{FEFF}' => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

/// A lexing failure at a byte offset.
#[derive(Debug, Clone)]
pub(crate) struct LexError {
    pub pos: usize,
    pub message: String,
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Splits `src` into tokens.
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    let mut lexer = Lexer {
        src,
        pos: 0,
        tokens: Vec::new(),
        paren_depth: 0,
    };
    lexer.run()?;
    Ok(lexer.tokens)
}

struct Lexer<'s> {
    src: &'s str,
    pos: usize,
    tokens: Vec<Token>,
    paren_depth: usize,
}

impl<'s> Lexer<'s> {
    fn rest(&self) -> &'s str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn emit(&mut self, tok: Tok, pos: usize) {
        self.tokens.push(Token { tok, pos });
    }

    fn err<T>(&self, pos: usize, message: impl Into<String>) -> Result<T, LexError> {
        Err(LexError {
            pos,
            message: message.into(),
        })
    }

    fn run(&mut self) -> Result<(), LexError> {
        let mut trim_next_text = false;
        loop {
            let start = self.pos;
            let (text_end, found) = match self.rest().find(LEFT) {
                Some(i) => (self.pos + i, true),
                None => (self.src.len(), false),
            };
            let mut text = &self.src[start..text_end];
            if trim_next_text {
                text = text.trim_start_matches(is_space);
            }
            let after = &self.src[text_end..];
            let left_trim = found && has_left_trim_marker(&after[LEFT.len()..]);
            if left_trim {
                text = text.trim_end_matches(is_space);
            }
            if !text.is_empty() {
                // Offset of the (possibly trimmed) text within the source.
                let text_pos = text.as_ptr() as usize - self.src.as_ptr() as usize;
                self.emit(Tok::Text(text.to_string()), text_pos);
            }
            if !found {
                self.emit(Tok::Eof, self.src.len());
                return Ok(());
            }
            self.pos = text_end;
            trim_next_text = self.lex_action(left_trim)?;
        }
    }

    /// Lexes one action starting at `{{`; returns whether it ended with a right trim marker.
    fn lex_action(&mut self, left_trim: bool) -> Result<bool, LexError> {
        let delim_pos = self.pos;
        self.pos += LEFT.len();
        if left_trim {
            self.pos += 2;
        }
        if self.rest().starts_with("/*") {
            return self.lex_comment(delim_pos);
        }
        self.emit(Tok::LeftDelim, delim_pos);
        self.paren_depth = 0;
        loop {
            if let Some(trim) = self.at_right_delim() {
                if self.paren_depth > 0 {
                    return self.err(self.pos, "unclosed left paren");
                }
                let pos = self.pos;
                self.pos += if trim { 4 } else { 2 };
                self.emit(Tok::RightDelim, pos);
                return Ok(trim);
            }
            let pos = self.pos;
            let Some(c) = self.peek() else {
                return self.err(pos, "unclosed action");
            };
            if is_space(c) {
                while let Some(c) = self.peek() {
                    if !is_space(c) || self.at_right_delim() == Some(true) {
                        break;
                    }
                    self.pos += c.len_utf8();
                }
                self.emit(Tok::Space, pos);
                continue;
            }
            match c {
                '=' => {
                    self.pos += 1;
                    self.emit(Tok::Assign, pos);
                }
                ':' => {
                    if !self.rest().starts_with(":=") {
                        return self.err(pos, "expected :=");
                    }
                    self.pos += 2;
                    self.emit(Tok::Declare, pos);
                }
                '|' => {
                    self.pos += 1;
                    self.emit(Tok::Pipe, pos);
                }
                '"' => self.lex_quote(pos)?,
                '`' => self.lex_raw_quote(pos)?,
                '\'' => self.lex_char(pos)?,
                '$' => {
                    self.pos += 1;
                    let name_end = self.scan_alnum();
                    let name = self.src[pos..name_end].to_string();
                    self.pos = name_end;
                    self.check_terminator(pos)?;
                    self.emit(Tok::Variable(name), pos);
                }
                '.' => {
                    if self.rest()[1..].starts_with(|d: char| d.is_ascii_digit()) {
                        self.lex_number(pos)?;
                    } else {
                        self.pos += 1;
                        let name_end = self.scan_alnum();
                        if name_end == self.pos {
                            self.check_terminator(pos)?;
                            self.emit(Tok::Dot, pos);
                        } else {
                            let name = self.src[self.pos..name_end].to_string();
                            self.pos = name_end;
                            self.check_terminator(pos)?;
                            self.emit(Tok::Field(name), pos);
                        }
                    }
                }
                '+' | '-' | '0'..='9' => self.lex_number(pos)?,
                '(' => {
                    self.pos += 1;
                    self.paren_depth += 1;
                    self.emit(Tok::LeftParen, pos);
                }
                ')' => {
                    self.pos += 1;
                    if self.paren_depth == 0 {
                        return self.err(pos, "unexpected right paren");
                    }
                    self.paren_depth -= 1;
                    self.emit(Tok::RightParen, pos);
                }
                c if is_alnum(c) => {
                    let end = self.scan_alnum();
                    let word = self.src[pos..end].to_string();
                    self.pos = end;
                    self.check_terminator(pos)?;
                    let tok = match word.as_str() {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        "nil" => Tok::Nil,
                        w => match Keyword::from_word(w) {
                            Some(k) => Tok::Keyword(k),
                            None => Tok::Ident(word),
                        },
                    };
                    self.emit(tok, pos);
                }
                c if c.is_ascii() && !c.is_ascii_control() => {
                    self.pos += 1;
                    self.emit(Tok::Char(c), pos);
                }
                c => {
                    return self.err(
                        pos,
                        format!("unrecognized character in action: {}", go_unicode(c)),
                    );
                }
            }
        }
    }

    /// At a right delimiter (`}}` or ` -}}`)? Returns whether it carries a trim marker.
    fn at_right_delim(&self) -> Option<bool> {
        let rest = self.rest();
        if rest.starts_with(RIGHT) {
            return Some(false);
        }
        let mut chars = rest.chars();
        match (chars.next(), chars.next()) {
            (Some(c), Some('-')) if is_space(c) && rest[2..].starts_with(RIGHT) => Some(true),
            _ => None,
        }
    }

    fn lex_comment(&mut self, delim_pos: usize) -> Result<bool, LexError> {
        let body_start = self.pos + 2;
        let Some(end) = self.src[body_start..].find("*/") else {
            return self.err(delim_pos, "unclosed comment");
        };
        self.pos = body_start + end + 2;
        match self.at_right_delim() {
            Some(trim) => {
                self.pos += if trim { 4 } else { 2 };
                Ok(trim)
            }
            None => self.err(delim_pos, "comment ends before closing delimiter"),
        }
    }

    fn scan_alnum(&self) -> usize {
        let rest = self.rest();
        self.pos
            + rest
                .char_indices()
                .find(|(_, c)| !is_alnum(*c))
                .map_or(rest.len(), |(i, _)| i)
    }

    /// Go requires a word to be followed by a separator, an operator or the delimiter.
    fn check_terminator(&self, start: usize) -> Result<(), LexError> {
        match self.peek() {
            None => Ok(()),
            Some(c) if is_space(c) || matches!(c, '.' | ',' | '|' | ':' | ')' | '(' | '=') => {
                Ok(())
            }
            Some(_) if self.at_right_delim().is_some() => Ok(()),
            Some(c) => self.err(start, format!("bad character {}", go_unicode(c))),
        }
    }

    fn lex_number(&mut self, pos: usize) -> Result<(), LexError> {
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let mut i = 0;
        if matches!(bytes.first(), Some(b'+') | Some(b'-')) {
            i += 1;
        }
        let mut digits = "0123456789_";
        let mut exp = "eE";
        if bytes.get(i) == Some(&b'0') {
            match bytes.get(i + 1) {
                Some(b'x') | Some(b'X') => {
                    i += 2;
                    digits = "0123456789abcdefABCDEF_";
                    exp = "pP";
                }
                Some(b'o') | Some(b'O') => {
                    i += 2;
                    digits = "01234567_";
                    exp = "";
                }
                Some(b'b') | Some(b'B') => {
                    i += 2;
                    digits = "01_";
                    exp = "";
                }
                _ => {}
            }
        }
        let accept = |i: &mut usize, set: &str| {
            while bytes.get(*i).is_some_and(|b| set.as_bytes().contains(b)) {
                *i += 1;
            }
        };
        accept(&mut i, digits);
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            accept(&mut i, digits);
        }
        if !exp.is_empty() && bytes.get(i).is_some_and(|b| exp.as_bytes().contains(b)) {
            i += 1;
            if matches!(bytes.get(i), Some(b'+') | Some(b'-')) {
                i += 1;
            }
            accept(&mut i, "0123456789_");
        }
        let text = &rest[..i];
        let next = rest[i..].chars().next();
        if text.is_empty() || next.is_some_and(is_alnum) || next == Some('.') {
            let end = i + next.map_or(0, char::len_utf8);
            return self.err(
                pos,
                format!("bad number syntax: {}", go_quote(&rest[..end])),
            );
        }
        self.pos += i;
        self.emit(Tok::Number(text.to_string()), pos);
        Ok(())
    }

    fn lex_quote(&mut self, pos: usize) -> Result<(), LexError> {
        let rest = self.rest();
        let mut escaped = false;
        for (i, c) in rest.char_indices().skip(1) {
            match c {
                '\n' => break,
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    let raw = &rest[..=i];
                    let value = unquote(&raw[1..raw.len() - 1], '"').ok_or_else(|| LexError {
                        pos,
                        message: format!("invalid syntax in string {raw}"),
                    })?;
                    self.pos += i + 1;
                    self.emit(Tok::Str(value, raw.to_string()), pos);
                    return Ok(());
                }
                _ => escaped = false,
            }
        }
        self.err(pos, "unterminated quoted string")
    }

    fn lex_raw_quote(&mut self, pos: usize) -> Result<(), LexError> {
        let rest = self.rest();
        match rest[1..].find('`') {
            Some(end) => {
                let raw = &rest[..end + 2];
                // Go drops carriage returns from raw strings.
                let value = raw[1..raw.len() - 1].replace('\r', "");
                self.pos += raw.len();
                self.emit(Tok::Str(value, raw.to_string()), pos);
                Ok(())
            }
            None => self.err(pos, "unterminated raw quoted string"),
        }
    }

    fn lex_char(&mut self, pos: usize) -> Result<(), LexError> {
        let rest = self.rest();
        let mut escaped = false;
        for (i, c) in rest.char_indices().skip(1) {
            match c {
                '\n' => break,
                '\\' if !escaped => escaped = true,
                '\'' if !escaped => {
                    let raw = &rest[..=i];
                    self.pos += i + 1;
                    self.check_terminator(pos)?;
                    self.emit(Tok::CharConst(raw.to_string()), pos);
                    return Ok(());
                }
                _ => escaped = false,
            }
        }
        self.err(pos, "unterminated character constant")
    }
}

fn has_left_trim_marker(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next() == Some('-') && chars.next().is_some_and(is_space)
}

/// Go's `%#U` rendering of a character, e.g. `U+00E9 'é'`.
pub(crate) fn go_unicode(c: char) -> String {
    if c.is_control() {
        format!("U+{:04X}", c as u32)
    } else {
        format!("U+{:04X} '{c}'", c as u32)
    }
}

/// Decodes the body of a Go double-quoted string or character literal (`strconv.Unquote`).
pub(crate) fn unquote(body: &str, quote: char) -> Option<String> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c == quote {
            return None;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next()?;
        let hex = |chars: &mut std::iter::Peekable<std::str::Chars>, n: usize| {
            let digits: String = chars.by_ref().take(n).collect();
            if digits.len() != n {
                return None;
            }
            u32::from_str_radix(&digits, 16).ok()
        };
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0C'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0B'),
            '\\' => out.push('\\'),
            '\'' if quote == '\'' => out.push('\''),
            '"' if quote == '"' => out.push('"'),
            'x' => out.push(char::from_u32(hex(&mut chars, 2)?)?),
            'u' => out.push(char::from_u32(hex(&mut chars, 4)?)?),
            'U' => out.push(char::from_u32(hex(&mut chars, 8)?)?),
            '0'..='7' => {
                let mut value = e.to_digit(8)?;
                for _ in 0..2 {
                    value = value * 8 + chars.next()?.to_digit(8)?;
                }
                if value > 255 {
                    return None;
                }
                out.push(char::from_u32(value)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        lex(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn trim_markers() {
        assert_eq!(
            toks("a  {{- 3 -}}  b"),
            vec![
                Tok::Text("a".into()),
                Tok::LeftDelim,
                Tok::Number("3".into()),
                Tok::RightDelim,
                Tok::Text("b".into()),
                Tok::Eof
            ]
        );
        // `{{-3}}` is a negative number, not a trim marker.
        assert_eq!(
            toks("a {{-3}}"),
            vec![
                Tok::Text("a ".into()),
                Tok::LeftDelim,
                Tok::Number("-3".into()),
                Tok::RightDelim,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn comments() {
        assert_eq!(
            toks("x{{/* c */}}y"),
            vec![Tok::Text("x".into()), Tok::Text("y".into()), Tok::Eof]
        );
        assert_eq!(
            toks("x {{- /* c */ -}} y"),
            vec![Tok::Text("x".into()), Tok::Text("y".into()), Tok::Eof]
        );
        assert_eq!(
            lex("{{/* c */ }}").unwrap_err().message,
            "comment ends before closing delimiter"
        );
        assert_eq!(lex("{{/* c").unwrap_err().message, "unclosed comment");
    }

    #[test]
    fn action_tokens() {
        assert_eq!(
            toks("{{$x := .A.B | printf \"%s\\n\" `r`}}"),
            vec![
                Tok::LeftDelim,
                Tok::Variable("$x".into()),
                Tok::Space,
                Tok::Declare,
                Tok::Space,
                Tok::Field("A".into()),
                Tok::Field("B".into()),
                Tok::Space,
                Tok::Pipe,
                Tok::Space,
                Tok::Ident("printf".into()),
                Tok::Space,
                Tok::Str("%s\n".into(), "\"%s\\n\"".into()),
                Tok::Space,
                Tok::Str("r".into(), "`r`".into()),
                Tok::RightDelim,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn lex_errors() {
        assert_eq!(lex("{{.A").unwrap_err().message, "unclosed action");
        assert_eq!(
            lex("{{\"abc}}").unwrap_err().message,
            "unterminated quoted string"
        );
        assert_eq!(lex("{{)}}").unwrap_err().message, "unexpected right paren");
        assert_eq!(lex("{{(.A}}").unwrap_err().message, "unclosed left paren");
        assert_eq!(
            lex("{{3x}}").unwrap_err().message,
            "bad number syntax: \"3x\""
        );
    }

    #[test]
    fn unquote_escapes() {
        assert_eq!(unquote(r"a\tb\x41\u00e9\101\\", '"').unwrap(), "a\tbAéA\\");
        assert!(unquote(r"\q", '"').is_none());
    }
}
