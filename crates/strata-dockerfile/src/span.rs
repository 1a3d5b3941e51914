//! Source positions and ranges.
//!
//! Every node of the syntax tree carries a [`Span`]: a start and an end [`Position`] with a
//! 1-based line, a 1-based column counted in Unicode scalar values (what an editor shows), and
//! the byte offset into the source (what a renderer slices with). The end is exclusive. Lines
//! are the physical lines of the file, so a span may cover several lines when an instruction
//! uses line continuations or heredocs.

/// A point in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    /// 1-based physical line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Byte offset from the start of the source.
    pub offset: usize,
}

/// A half-open range `[start, end)` of the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub start: Position,
    pub end: Position,
}

impl Span {
    /// The byte range of this span, for slicing the source it came from.
    pub fn byte_range(&self) -> std::ops::Range<usize> {
        self.start.offset..self.end.offset
    }

    /// The smallest span covering both `self` and `other`.
    pub fn join(&self, other: &Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// Maps byte offsets to line/column positions for one source text.
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    source: &'a str,
    /// Byte offset at which each physical line starts.
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(source: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            source
                .bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { source, starts }
    }

    /// Number of physical lines (a trailing newline does not start a new line).
    pub fn line_count(&self) -> usize {
        if self.source.ends_with('\n') {
            self.starts.len() - 1
        } else {
            self.starts.len()
        }
    }

    /// Byte offset where 1-based `line` starts (clamped to the source length).
    pub fn line_start(&self, line: usize) -> usize {
        match line.checked_sub(1).and_then(|i| self.starts.get(i)) {
            Some(&s) => s,
            None => self.source.len(),
        }
    }

    /// Byte offset where 1-based `line` ends, excluding its line terminator.
    pub fn line_end(&self, line: usize) -> usize {
        let start = self.line_start(line);
        let rest = &self.source[start..];
        let len = rest.find('\n').unwrap_or(rest.len());
        let mut end = start + len;
        while end > start && self.source.as_bytes()[end - 1] == b'\r' {
            end -= 1;
        }
        end
    }

    /// The position of byte `offset` (clamped to the source and to a character boundary).
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.source.len());
        while !self.source.is_char_boundary(offset) {
            offset -= 1;
        }
        let line_idx = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.starts[line_idx];
        let column = self.source[start..offset].chars().count() + 1;
        Position {
            line: line_idx + 1,
            column,
            offset,
        }
    }

    /// The span of the byte range `start..end`.
    pub fn span(&self, start: usize, end: usize) -> Span {
        Span {
            start: self.position(start),
            end: self.position(end.max(start)),
        }
    }

    /// The span of whole lines `first..=last` (1-based), without the final line terminator.
    pub fn lines_span(&self, first: usize, last: usize) -> Span {
        self.span(self.line_start(first), self.line_end(last.max(first)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_and_lines() {
        let idx = LineIndex::new("ab\nçd\r\nx");
        assert_eq!(idx.line_count(), 3);
        let p = idx.position(5);
        assert_eq!((p.line, p.column, p.offset), (2, 2, 5));
        assert_eq!(idx.line_end(2), 6);
        let s = idx.lines_span(1, 3);
        assert_eq!(s.byte_range(), 0..9);
        assert_eq!(idx.position(100).offset, 9);
    }
}
