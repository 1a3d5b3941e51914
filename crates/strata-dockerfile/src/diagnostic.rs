//! Rendering errors and warnings against the source text.
//!
//! A [`Diagnostic`] is a message tied to a file and a [`Span`]. [`Diagnostic::render`] returns
//! (never prints) the `rustc`-style report `annotate-snippets` produces:
//!
//! ```text
//! error: dockerfile parse error on line 2: unknown flag: --form (did you mean from?)
//!  --> Dockerfile:2:6
//!   |
//! 2 | COPY --form=build /a /b
//!   |      ^^^^^^^^^^^^
//! ```
//!
//! Parser errors, instruction errors and parser warnings convert into diagnostics; the linter
//! builds its own with a rule name (`id`) and documentation URL.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use crate::ast::ParseWarning;
use crate::error::Error;
use crate::span::Span;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    Info,
}

/// A message about a place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The headline.
    pub message: String,
    /// A short identifier shown as `error[ID]`, e.g. a lint rule name.
    pub id: Option<String>,
    /// The file name shown in the `-->` line.
    pub file: String,
    pub span: Span,
    /// Text next to the caret.
    pub label: Option<String>,
    /// Extra lines shown below the snippet (`= help: …`).
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn new(
        severity: Severity,
        file: impl Into<String>,
        span: Span,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            message: message.into(),
            id: None,
            file: file.into(),
            span,
            label: None,
            notes: Vec::new(),
        }
    }

    /// A diagnostic for a parse or instruction error.
    pub fn from_error(file: impl Into<String>, err: &Error) -> Self {
        Diagnostic::new(Severity::Error, file, err.span(), err.to_string())
    }

    /// A diagnostic for a parser warning (empty continuation lines), pointing at the instruction
    /// and listing the blank lines.
    pub fn from_warning(file: impl Into<String>, w: &ParseWarning) -> Self {
        let mut d = Diagnostic::new(Severity::Warning, file, w.span, w.message.clone());
        d.id = Some("NoEmptyContinuation".to_string());
        let lines: Vec<String> = w.empty_lines.iter().map(usize::to_string).collect();
        if !lines.is_empty() {
            d.label = Some(format!("empty continuation line(s): {}", lines.join(", ")));
        }
        d.notes.push(w.detail.clone());
        d.notes.push(w.url.clone());
        d
    }

    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// `file:line:col` of the start of the span.
    pub fn location(&self) -> String {
        format!(
            "{}:{}:{}",
            self.file, self.span.start.line, self.span.start.column
        )
    }

    /// The report as plain text (no colours).
    pub fn render(&self, source: &str) -> String {
        self.render_with(source, Renderer::plain())
    }

    /// The report with ANSI colours, for terminals.
    pub fn render_styled(&self, source: &str) -> String {
        self.render_with(source, Renderer::styled())
    }

    fn render_with(&self, source: &str, renderer: Renderer) -> String {
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
            Severity::Info => Level::INFO,
        };
        let mut start = self.span.start.offset.min(source.len());
        while !source.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = self.span.end.offset.clamp(start, source.len());
        while !source.is_char_boundary(end) {
            end += 1;
        }
        let mut annotation = AnnotationKind::Primary.span(start..end);
        if let Some(label) = &self.label {
            annotation = annotation.label(label.as_str());
        }
        let mut title = level.primary_title(self.message.as_str());
        if let Some(id) = &self.id {
            title = title.id(id.as_str());
        }
        let mut groups = vec![
            title.element(
                Snippet::source(source)
                    .path(self.file.as_str())
                    .annotation(annotation),
            ),
        ];
        for note in &self.notes {
            groups.push(Group::with_title(
                Level::NOTE.secondary_title(note.as_str()),
            ));
        }
        renderer.render(&groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_line_and_caret() {
        let src = "FROM alpine\nRUNN echo hi\n";
        let df = crate::parse(src).unwrap();
        let err = crate::instructions::parse_instructions(&df).unwrap_err();
        let d = Diagnostic::from_error("Dockerfile", &err);
        assert_eq!(d.location(), "Dockerfile:2:1");
        let out = d.render(src);
        assert!(out.contains("Dockerfile:2:1"), "{out}");
        assert!(out.contains("RUNN echo hi"), "{out}");
        assert!(out.contains("^^^^"), "{out}");
        assert!(
            out.contains("unknown instruction: RUNN (did you mean RUN?)"),
            "{out}"
        );
    }
}
