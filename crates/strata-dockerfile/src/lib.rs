//! Dockerfile front end: parser, shell word expansion, typed instructions and diagnostics.
//!
//! The pipeline, each stage usable on its own:
//!
//! 1. [`parse`] turns text into a [`Dockerfile`] syntax tree ([`ast`]): parser directives,
//!    instructions with their flags, arguments, heredocs and exact source [`Span`]s, and the
//!    parser's warnings. It follows BuildKit's line-based parser rule for rule (see [`parser`]).
//! 2. [`instructions::parse_instructions`] checks every instruction and flag and produces typed
//!    [`instructions::Command`]s grouped into [`instructions::Stage`]s, plus the meta ARGs
//!    declared before the first FROM. Errors use BuildKit's exact wording.
//! 3. [`shell::Lex`] expands variables in words the way the Dockerfile frontend does and reports
//!    which variables a word referenced.
//! 4. [`diagnostic`] renders an error or warning as `file:line:col` with the source line and a
//!    caret, returning a `String`.
//!
//! The crate does no I/O and never prints. Everything here is hand-written: no Rust crate parses
//! Dockerfiles with BuildKit's semantics (several heredocs per instruction, the escape
//! directive, every flag), so we follow BuildKit's parser and lexer behaviour closely and test
//! against its own test vectors.

pub mod ast;
pub mod diagnostic;
pub mod directives;
pub mod error;
pub mod instructions;
pub mod lint;
pub mod parser;
pub mod quote;
pub mod shell;
pub mod span;

mod line_parsers;

pub use ast::{Arg, Directive, Dockerfile, Flag, Heredoc, Instruction, ParseWarning, WarningKind};
pub use diagnostic::{Diagnostic, Severity};
pub use error::Error;
pub use instructions::{
    Command, CommandKind, Instructions, Stage, parse_command, parse_instructions,
};
pub use lint::{ContextFacts, LintInput, Report, lint};
pub use parser::parse;
pub use shell::{Env, EnvList, Expansion, Lex, ShellError};
pub use span::{LineIndex, Position, Span};
