//! Errors of the parser and of the typed-instruction layer.
//!
//! Messages reproduce BuildKit's wording exactly (`unknown flag: --foo`, `FROM requires either
//! one or three arguments`, …) because users and scripts match on them; that is why some start
//! with a capital letter. Every error carries the [`Span`] it is about, so the binary can render
//! it with [`crate::diagnostic`].

use crate::span::Span;

/// A parse or validation failure, with the source range it refers to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text could not be turned into instructions (unterminated heredoc, bad directive…).
    #[error("{message}")]
    Syntax { message: String, span: Span },
    /// One instruction is malformed: BuildKit prefixes these with the instruction's first line.
    /// `span` points at the offending part (a flag, an argument) or the whole instruction.
    #[error("dockerfile parse error on line {line}: {message}")]
    Instruction {
        message: String,
        line: usize,
        span: Span,
    },
    /// The sequence of instructions is invalid (e.g. a command before the first FROM).
    #[error("{message}")]
    Stage { message: String, span: Span },
}

impl Error {
    /// The bare message, without the line prefix.
    pub fn message(&self) -> &str {
        match self {
            Error::Syntax { message, .. }
            | Error::Instruction { message, .. }
            | Error::Stage { message, .. } => message,
        }
    }

    /// The source range the error is about.
    pub fn span(&self) -> Span {
        match self {
            Error::Syntax { span, .. }
            | Error::Instruction { span, .. }
            | Error::Stage { span, .. } => *span,
        }
    }
}
