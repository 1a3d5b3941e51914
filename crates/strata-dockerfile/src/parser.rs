//! The line-based Dockerfile parser.
//!
//! It follows BuildKit's `parser.Parse` step by step, because the exact treatment of comments,
//! blank lines, continuations and heredocs is observable in what gets built:
//!
//! 1. Physical lines are read one at a time (a line longer than 65,535 bytes is an error, as in
//!    BuildKit, whose line scanner has that limit). A UTF-8 byte-order mark on the first line is
//!    dropped.
//! 2. While at the top of the file, comment lines are offered to the directive scanner
//!    ([`crate::directives`]); `# escape=` changes the escape token from then on.
//! 3. The first line of an instruction is left-trimmed; comment lines are dropped. A line ending
//!    in the escape token (optionally followed by spaces or tabs, and not itself escaped)
//!    continues on the next line. Continuation lines keep their leading white space; comment
//!    lines inside a continuation are skipped, and blank ones are skipped with a warning.
//! 4. The joined logical line is split into keyword, `--flags` and the rest, and the rest is
//!    split by the instruction's own line parser ([`crate::line_parsers`]).
//! 5. For RUN, COPY and ADD (and ONBUILD wrapping one) in shell form, `<<WORD` heredocs are read
//!    from the following lines, one after the other, until a line equal to the delimiter
//!    (leading tabs ignored for `<<-`).
//!
//! The parser does not reject unknown instructions or bad flags: that is the typed layer's job
//! ([`crate::instructions`]), exactly as in BuildKit, so that a linter can still see the tree.
//!
//! Positions: the joined logical line remembers which source byte each of its pieces came from,
//! so flags and arguments get exact [`Span`]s even across continuation lines.

use crate::ast::{
    Arg, Directive, Dockerfile, Flag, Heredoc, Instruction, ParseWarning, WarningKind,
};
use crate::directives::DirectiveParser;
use crate::error::Error;
use crate::line_parsers::{self, LineArgs};
use crate::shell::{EnvList, Lex};
use crate::span::{LineIndex, Span};

/// BuildKit's longest accepted physical line (its scanner's buffer size minus one).
pub const MAX_LINE_LENGTH: usize = 65535;

/// The default escape token.
pub const DEFAULT_ESCAPE_TOKEN: char = '\\';

/// Parse Dockerfile text into a syntax tree.
pub fn parse(source: &str) -> Result<Dockerfile, Error> {
    Parser::new(source).run()
}

/// Maps offsets in a joined logical line back to source offsets.
#[derive(Debug, Default, Clone)]
pub(crate) struct SegmentMap {
    /// (logical start, source start) of each piece, in order.
    segs: Vec<(usize, usize)>,
}

impl SegmentMap {
    fn push(&mut self, logical: usize, source: usize) {
        self.segs.push((logical, source));
    }

    /// Source offset of the character starting at logical offset `l`.
    fn start(&self, l: usize) -> usize {
        let i = self.segs.partition_point(|&(ls, _)| ls <= l);
        match i.checked_sub(1).and_then(|i| self.segs.get(i)) {
            Some(&(ls, ss)) => ss + (l - ls),
            None => self.segs.first().map_or(0, |&(_, s)| s),
        }
    }

    /// Source offset just after the character ending at logical offset `l` (exclusive end):
    /// at a piece boundary this stays on the earlier piece.
    fn end(&self, l: usize) -> usize {
        let i = self.segs.partition_point(|&(ls, _)| ls < l);
        match i.checked_sub(1).and_then(|i| self.segs.get(i)) {
            Some(&(ls, ss)) => ss + (l - ls),
            None => self.segs.first().map_or(0, |&(_, s)| s),
        }
    }
}

/// Turns logical-line ranges into source spans.
pub(crate) struct Mapper<'a> {
    pub(crate) index: &'a LineIndex<'a>,
    pub(crate) map: &'a SegmentMap,
}

impl Mapper<'_> {
    pub(crate) fn span(&self, start: usize, end: usize) -> Span {
        if end <= start {
            let s = self.map.start(start);
            return self.index.span(s, s);
        }
        self.index.span(self.map.start(start), self.map.end(end))
    }
}

struct Parser<'a> {
    source: &'a str,
    index: LineIndex<'a>,
    /// Physical lines, each with its terminator.
    lines: Vec<&'a str>,
    /// Set when reading stopped at an over-long line.
    too_long: bool,
    next: usize,
    escape: char,
    directives: DirectiveParser,
}

fn is_go_space(c: char) -> bool {
    c.is_whitespace()
}

fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

fn is_comment(line: &str) -> bool {
    trim_newline(line)
        .trim_start_matches(is_go_space)
        .starts_with('#')
}

impl<'a> Parser<'a> {
    fn new(source: &'a str) -> Self {
        let mut lines = Vec::new();
        let mut too_long = false;
        for line in source.split_inclusive('\n') {
            let content = line.strip_suffix('\n').unwrap_or(line);
            if content.len() > MAX_LINE_LENGTH {
                too_long = true;
                break;
            }
            lines.push(line);
        }
        Parser {
            source,
            index: LineIndex::new(source),
            lines,
            too_long,
            next: 0,
            escape: DEFAULT_ESCAPE_TOKEN,
            directives: DirectiveParser::new("#"),
        }
    }

    fn offset_of(&self, s: &str) -> usize {
        (s.as_ptr() as usize).saturating_sub(self.source.as_ptr() as usize)
    }

    fn scan(&mut self) -> Option<&'a str> {
        let l = self.lines.get(self.next).copied();
        if l.is_some() {
            self.next += 1;
        }
        l
    }

    fn syntax_error(&self, message: impl Into<String>, first: usize, last: usize) -> Error {
        let first = first.max(1);
        Error::Syntax {
            message: message.into(),
            span: self.index.lines_span(first, last.max(first)),
        }
    }

    /// Strip the newline (and, for the first line of an instruction, leading white space), run
    /// the directive scanner, and blank out comment lines.
    fn process_line(
        &mut self,
        raw: &'a str,
        strip_left: bool,
        line_no: usize,
        directives: &mut Vec<Directive>,
    ) -> Result<&'a str, Error> {
        let mut token = trim_newline(raw);
        if strip_left {
            token = token.trim_start_matches(is_go_space);
        }
        match self.directives.parse_line(token) {
            Ok(Some((name, as_written, value))) => {
                if name == "escape" {
                    self.escape = match value.as_str() {
                        "`" => '`',
                        "\\" => '\\',
                        _ => {
                            return Err(self.syntax_error(
                                format!("invalid escape token '{value}' does not match ` or \\"),
                                line_no,
                                line_no,
                            ));
                        }
                    };
                }
                directives.push(Directive {
                    name,
                    name_as_written: as_written,
                    value,
                    span: self.index.lines_span(line_no, line_no),
                });
            }
            Ok(None) => {}
            Err(message) => return Err(self.syntax_error(message, line_no, line_no)),
        }
        if is_comment(token) {
            return Ok(&token[..0]);
        }
        Ok(token)
    }

    /// Remove a trailing line-continuation token; `true` means the logical line ends here.
    fn trim_continuation(&self, line: &'a str) -> (&'a str, bool) {
        let trimmed = line.trim_end_matches([' ', '\t']);
        let Some(body) = trimmed.strip_suffix(self.escape) else {
            return (line, true);
        };
        // An escaped escape token (`\\`) at the end is not a continuation.
        if body.ends_with(self.escape) {
            return (line, true);
        }
        (body, false)
    }

    fn run(mut self) -> Result<Dockerfile, Error> {
        let mut directives = Vec::new();
        let mut instructions: Vec<Instruction> = Vec::new();
        let mut warnings = Vec::new();
        let mut comments: Vec<String> = Vec::new();
        let mut current_line = 0usize;

        while let Some(raw) = self.scan() {
            let mut bytes = raw;
            if current_line == 0 {
                bytes = bytes.strip_prefix('\u{feff}').unwrap_or(bytes);
            }
            if is_comment(bytes) {
                let body = trim_newline(bytes).trim_start_matches(is_go_space);
                let comment = body[1..].trim_matches(is_go_space).to_string();
                if comment.is_empty() {
                    comments.clear();
                } else {
                    comments.push(comment);
                }
            }
            let processed = self.process_line(bytes, true, current_line + 1, &mut directives)?;
            current_line += 1;
            let start_line = current_line;
            let (first, mut end_of_line) = self.trim_continuation(processed);
            if end_of_line && first.is_empty() {
                continue;
            }

            let mut line = String::from(first);
            let mut map = SegmentMap::default();
            map.push(0, self.offset_of(first));
            let mut empty_lines = Vec::new();
            while !end_of_line {
                let Some(raw) = self.scan() else { break };
                let processed = self.process_line(raw, false, current_line + 1, &mut directives)?;
                current_line += 1;
                if is_comment(raw) {
                    continue;
                }
                if processed.trim_start_matches(is_go_space).is_empty() {
                    empty_lines.push(current_line);
                    continue;
                }
                let (piece, eol) = self.trim_continuation(processed);
                end_of_line = eol;
                map.push(line.len(), self.offset_of(piece));
                line.push_str(piece);
            }

            let mut node = {
                let mapper = Mapper {
                    index: &self.index,
                    map: &map,
                };
                node_from_line(&line, 0, self.escape, &mapper, &comments)
                    .map_err(|m| self.syntax_error(m, start_line, current_line))?
            };

            let warning_line = current_line;

            if can_contain_heredoc(&node) && line.contains("<<") {
                let heredocs = heredocs_from_line(&line)
                    .map_err(|m| self.syntax_error(m, start_line, current_line))?;
                for mut heredoc in heredocs {
                    let body_start = self.lines.get(self.next).map(|l| self.offset_of(l));
                    let mut terminated = false;
                    let mut content = String::new();
                    while let Some(raw) = self.scan() {
                        current_line += 1;
                        let mut term = trim_newline(raw);
                        if heredoc.chomp {
                            term = term.trim_start_matches('\t');
                        }
                        if term == heredoc.name {
                            terminated = true;
                            break;
                        }
                        content.push_str(raw);
                    }
                    if !terminated {
                        return Err(self.syntax_error(
                            "unterminated heredoc",
                            start_line,
                            current_line,
                        ));
                    }
                    heredoc.content = content;
                    let start = body_start.unwrap_or(self.source.len());
                    heredoc.span = self.index.span(start, self.index.line_end(current_line));
                    node.heredocs.push(heredoc);
                }
            }

            let start = node.keyword_span.start.offset;
            node.span = self.index.span(start, self.index.line_end(current_line));
            if !empty_lines.is_empty() {
                warnings.push(ParseWarning {
                    kind: WarningKind::EmptyContinuationLine,
                    message: format!("Empty continuation line found in: {line}"),
                    detail: "Empty continuation lines will become errors in a future release"
                        .to_string(),
                    url: "https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/"
                        .to_string(),
                    line: warning_line,
                    empty_lines,
                    span: node.span,
                });
            }
            instructions.push(node);
            comments.clear();
        }

        if instructions.is_empty() {
            return Err(self.syntax_error("file with no instructions", current_line, current_line));
        }
        if self.too_long {
            return Err(self.syntax_error(
                format!("dockerfile line greater than max allowed size of {MAX_LINE_LENGTH}"),
                current_line + 1,
                current_line + 1,
            ));
        }
        Ok(Dockerfile {
            directives,
            escape_token: self.escape,
            instructions,
            warnings,
        })
    }
}

/// Split a logical line into an instruction node (BuildKit's `newNodeFromLine`). `base` is the
/// offset of `line` inside the mapped logical line (non-zero for an ONBUILD trigger).
pub(crate) fn node_from_line(
    line: &str,
    base: usize,
    escape: char,
    mapper: &Mapper<'_>,
    comments: &[String],
) -> Result<Instruction, String> {
    let split = line_parsers::split_command(line);
    let keyword_span = mapper.span(base + split.cmd.0, base + split.cmd.1);
    let keyword = line[split.cmd.0..split.cmd.1].to_string();
    let flags = split
        .flags
        .iter()
        .map(|(text, s, e)| Flag::new(text.clone(), mapper.span(base + s, base + e)))
        .collect();
    let (rs, re) = split.rest;
    let rest = &line[rs..re];
    let args_span = mapper.span(base + rs, base + re);
    let parsed = line_parsers::dispatch(&keyword.to_lowercase(), rest, escape)?;
    let mut node = Instruction {
        keyword,
        keyword_span,
        flags,
        args: Vec::new(),
        trigger: None,
        json_form: false,
        heredocs: Vec::new(),
        original: line.to_string(),
        args_span,
        span: keyword_span,
        comments: comments.to_vec(),
    };
    match parsed {
        LineArgs::Args { args, json } => {
            node.json_form = json;
            node.args = args
                .into_iter()
                .map(|a| Arg {
                    span: match a.range {
                        Some((s, e)) => mapper.span(base + rs + s, base + rs + e),
                        None => args_span,
                    },
                    value: a.value,
                })
                .collect();
        }
        LineArgs::SubCommand => {
            let sub = node_from_line(rest, base + rs, escape, mapper, &[])?;
            node.trigger = Some(Box::new(sub));
        }
    }
    Ok(node)
}

/// RUN, COPY and ADD in shell form, directly or as an ONBUILD trigger, may carry heredocs.
fn can_contain_heredoc(node: &Instruction) -> bool {
    let node = match &node.trigger {
        Some(t) if node.name() == "onbuild" => t,
        _ => node,
    };
    matches!(node.name().as_str(), "run" | "copy" | "add") && !node.json_form
}

/// Find the heredoc delimiters of a logical line, in order.
pub fn heredocs_from_line(line: &str) -> Result<Vec<Heredoc>, String> {
    let mut lex = Lex::new('\\');
    lex.raw_quotes = true;
    lex.raw_escapes = true;
    lex.skip_unset_env = true;
    let words = lex
        .process_words(line, &EnvList::default())
        .unwrap_or_default();
    let mut docs = Vec::new();
    for word in words {
        if let Some(h) = parse_heredoc(&word)? {
            docs.push(h);
        }
    }
    Ok(docs)
}

/// RE2's `\s`.
fn is_re_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{c}' | '\r')
}

/// Interpret one word as a heredoc start (`<<EOF`, `<<-"EOF"`, `3<<EOF`…): `Ok(None)` when it
/// is not one, an error when its quotes do not balance.
pub fn parse_heredoc(word: &str) -> Result<Option<Heredoc>, String> {
    // ^(\d*)<<(-?)\s*([^<]*)$
    let digits_end = word
        .char_indices()
        .find(|&(_, c)| !c.is_ascii_digit())
        .map_or(word.len(), |(i, _)| i);
    let digits = &word[..digits_end];
    let Some(after) = word[digits_end..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, after) = match after.strip_prefix('-') {
        Some(a) => (true, a),
        None => (false, after),
    };
    let rest = after.trim_start_matches(is_re_space);
    if rest.contains('<') || rest.is_empty() {
        return Ok(None);
    }
    let file_descriptor = if digits.is_empty() {
        0
    } else {
        digits.parse::<u64>().unwrap_or(u64::MAX)
    };

    // Lex the delimiter with and without quote removal: if the quote counts differ, some part
    // of it was quoted, and a quoted delimiter turns expansion of the body off.
    let mut lex = Lex::new('\\');
    lex.skip_unset_env = true;
    let words = lex
        .process_words(rest, &EnvList::default())
        .map_err(|e| e.to_string())?;
    if words.len() != 1 {
        return Ok(None);
    }
    lex.raw_quotes = true;
    let raw_words = lex
        .process_words(rest, &EnvList::default())
        .map_err(|e| e.to_string())?;
    if raw_words.len() != words.len() {
        return Err(format!(
            "internal lexing of heredoc produced inconsistent results: {rest}"
        ));
    }
    let quotes = |s: &str| s.chars().filter(|&c| c == '\'' || c == '"').count();
    let expand = quotes(&words[0]) == quotes(&raw_words[0]);
    Ok(Some(Heredoc {
        name: words[0].clone(),
        file_descriptor,
        expand,
        chomp,
        content: String::new(),
        span: Span::default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_continuations() {
        let src = "FROM a\nRUN --mount=type=cache,target=/x \\\n    echo hi\n";
        let df = parse(src).unwrap();
        let run = &df.instructions[1];
        assert_eq!(run.keyword_span.start.line, 2);
        assert_eq!(run.flags[0].span.start.column, 5);
        assert_eq!(run.args[0].value, "echo hi");
        assert_eq!(run.args[0].span.start.line, 3);
        assert_eq!(run.args[0].span.start.column, 5);
        assert_eq!(run.span.end.line, 3);
        assert_eq!(&src[run.args[0].span.byte_range()], "echo hi");
    }

    #[test]
    fn heredoc_bodies_are_read_in_order() {
        let df = parse("FROM a\nCOPY <<X <<Y /d\nY\nX\nX\nY\n").unwrap();
        let copy = &df.instructions[1];
        assert_eq!(copy.heredocs[0].content, "Y\n");
        assert_eq!(copy.heredocs[1].content, "X\n");
        assert_eq!(copy.end_line(), 6);
    }
}
