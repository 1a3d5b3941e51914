//! The syntax tree the parser produces.
//!
//! It has the shape of BuildKit's `parser.Node` tree, flattened into plain structs: a
//! [`Dockerfile`] holds the parser directives, the instructions in order, and the parser's
//! warnings. An [`Instruction`] keeps what a linter needs to point at the exact text: the keyword
//! as written (for casing rules), each flag with its own span, each argument with its span where
//! it is a contiguous piece of the source, heredoc bodies, and the comment lines just above it.
//!
//! Arguments are *not* yet expanded or unquoted: ENV/LABEL values keep their quotes and escapes,
//! exactly as BuildKit's AST does. The typed layer ([`crate::instructions`]) and the shell lexer
//! ([`crate::shell`]) do the rest.

use crate::quote::{go_quote, go_quote_list};
use crate::span::Span;

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// Parser directives found before the first instruction (`syntax`, `escape`, `check`).
    pub directives: Vec<Directive>,
    /// The escape token in effect (`\` unless `# escape=` chose the backtick).
    pub escape_token: char,
    /// The instructions, in source order.
    pub instructions: Vec<Instruction>,
    /// Warnings the parser noticed (empty continuation lines).
    pub warnings: Vec<ParseWarning>,
}

impl Dockerfile {
    /// The directive `name` (lower case), if present.
    pub fn directive(&self, name: &str) -> Option<&Directive> {
        self.directives.iter().find(|d| d.name == name)
    }

    /// BuildKit's `Node.Dump()` of the whole file: one `(instruction …)` line per instruction.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        for i in &self.instructions {
            out.push('(');
            out.push_str(&i.dump());
            out.push_str(")\n");
        }
        out.trim().to_string()
    }
}

/// A parser directive such as `# syntax=docker/dockerfile:1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The directive name, lower-cased (`syntax`, `escape` or `check`).
    pub name: String,
    /// The name as written (`ESCAPE`, `Syntax`…).
    pub name_as_written: String,
    /// The value, surrounding white space removed.
    pub value: String,
    /// The whole directive line.
    pub span: Span,
}

/// A `--name=value` flag written before an instruction's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The flag as the parser returns it: quotes and backslash escapes removed, e.g.
    /// `--from=build` (this is the text BuildKit's AST stores).
    pub text: String,
    /// The name without the leading dashes, e.g. `from`.
    pub name: String,
    /// The value after the first `=`, or `None` for a bare `--link`.
    pub value: Option<String>,
    /// Where the flag is written.
    pub span: Span,
}

impl Flag {
    pub(crate) fn new(text: String, span: Span) -> Self {
        let body = text.strip_prefix("--").unwrap_or(&text);
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (body.to_string(), None),
        };
        Flag {
            text,
            name,
            value,
            span,
        }
    }
}

/// One argument of an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// The argument text (for ENV/LABEL/ARG: quotes and escapes kept).
    pub value: String,
    /// Where it is written. For JSON-form elements and ENV/LABEL separators this is the span of
    /// the whole argument text, since those values are not contiguous pieces of the source.
    pub span: Span,
}

/// A heredoc attached to an instruction (`RUN <<EOF` … `EOF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word with quotes removed, e.g. `EOF`.
    pub name: String,
    /// The file descriptor written before `<<` (`3<<EOF`), else 0.
    pub file_descriptor: u64,
    /// False when any part of the delimiter was quoted: the body is then used verbatim.
    pub expand: bool,
    /// True for `<<-`: leading tabs are stripped from the body when it is used.
    pub chomp: bool,
    /// The body exactly as written, line terminators included, tabs not yet stripped.
    pub content: String,
    /// The body and the terminator line.
    pub span: Span,
}

impl Heredoc {
    /// The body as it is used: with leading tabs removed from every line when `chomp` is set.
    pub fn chomped_content(&self) -> String {
        if self.chomp {
            chomp_heredoc_content(&self.content)
        } else {
            self.content.clone()
        }
    }
}

/// Remove leading tabs from every line (what `<<-` means).
pub fn chomp_heredoc_content(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    for line in src.split_inclusive('\n') {
        out.push_str(line.trim_start_matches('\t'));
    }
    out
}

/// One instruction: a node of the syntax tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The keyword exactly as written (`RUN`, `run`, `Run`…).
    pub keyword: String,
    /// Where the keyword is written.
    pub keyword_span: Span,
    /// Flags written before the arguments, in order.
    pub flags: Vec<Flag>,
    /// The arguments, as BuildKit's line parser for this instruction splits them. Empty for
    /// ONBUILD (see `trigger`) and for unknown instructions.
    pub args: Vec<Arg>,
    /// For ONBUILD: the instruction it registers.
    pub trigger: Option<Box<Instruction>>,
    /// True when the arguments were written in JSON (exec) form.
    pub json_form: bool,
    /// Heredocs, in the order their bodies follow the instruction.
    pub heredocs: Vec<Heredoc>,
    /// The logical line after joining continuations and dropping comment lines.
    pub original: String,
    /// The text after the keyword and flags (empty span when there is none).
    pub args_span: Span,
    /// The whole instruction, from the keyword to the end of its last line (continuations and
    /// heredoc bodies included).
    pub span: Span,
    /// Comment lines directly above the instruction, `#` and surrounding blanks removed.
    pub comments: Vec<String>,
}

impl Instruction {
    /// The keyword in lower case, which is how instructions are matched.
    pub fn name(&self) -> String {
        self.keyword.to_lowercase()
    }

    /// First physical line (1-based).
    pub fn start_line(&self) -> usize {
        self.span.start.line
    }

    /// Last physical line (1-based), including continuation lines and heredoc bodies.
    pub fn end_line(&self) -> usize {
        self.span.end.line
    }

    /// The argument values.
    pub fn arg_values(&self) -> Vec<&str> {
        self.args.iter().map(|a| a.value.as_str()).collect()
    }

    /// The flag texts (`--from=x`), as BuildKit's `Node.Flags`.
    pub fn flag_texts(&self) -> Vec<String> {
        self.flags.iter().map(|f| f.text.clone()).collect()
    }

    /// BuildKit's `Node.Dump()` of this instruction.
    pub fn dump(&self) -> String {
        let mut s = self.keyword.to_lowercase();
        if !self.flags.is_empty() {
            s.push(' ');
            s.push_str(&go_quote_list(&self.flag_texts()));
        }
        if let Some(t) = &self.trigger {
            s.push_str(" (");
            s.push_str(&t.dump());
            s.push(')');
        }
        for a in &self.args {
            s.push(' ');
            s.push_str(&go_quote(&a.value));
        }
        s.trim().to_string()
    }
}

/// What a parser warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WarningKind {
    /// A blank line inside a line continuation (BuildKit's `NoEmptyContinuation`).
    EmptyContinuationLine,
}

/// A warning from the parser. The linter reports it under its rule name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseWarning {
    pub kind: WarningKind,
    /// BuildKit's short text, e.g. `Empty continuation line found in: RUN a     b`.
    pub message: String,
    /// BuildKit's detail text.
    pub detail: String,
    /// Documentation URL.
    pub url: String,
    /// The line BuildKit reports: the last line of the instruction.
    pub line: usize,
    /// The blank lines themselves (1-based).
    pub empty_lines: Vec<usize>,
    /// The whole instruction.
    pub span: Span,
}
