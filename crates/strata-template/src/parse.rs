//! Parser: tokens → syntax tree, following the grammar and checks of Go's `text/template/parse`.
//!
//! Like Go, the parser rejects calls of unknown functions and uses of undeclared variables, and
//! keeps each `{{define}}` / `{{block}}` body as a separate named template.

use std::collections::HashMap;
use std::fmt;

use crate::lex::{Keyword, LexError, Tok, Token, go_quote, lex, unquote};

/// A node of a template body.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    /// `{{pipeline}}`: prints the value unless the pipeline declares variables.
    Action(Pipe),
    If(Branch),
    With(Branch),
    Range(Branch),
    /// `{{template "name" pipeline}}`.
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

/// The common shape of `if`, `with` and `range`.
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

/// A pipeline, with its optional variable declaration.
#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    pub pos: usize,
    pub decl: Vec<String>,
    pub is_assign: bool,
    pub cmds: Vec<Cmd>,
}

/// One stage of a pipeline: a function call or a single operand.
#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// A number literal with Go's untyped-constant interpretation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Num {
    Int(i128),
    Float(f64),
}

/// An operand.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Dot(usize),
    Nil(usize),
    Bool(usize, bool),
    Number(usize, Num, String),
    /// Decoded value and the literal as written.
    Str(usize, String, String),
    /// `.A.B`
    Field(usize, Vec<String>),
    /// `$x.A.B` (`$x` first).
    Variable(usize, String, Vec<String>),
    /// `(pipeline).A.B`
    Chain(usize, Box<Arg>, Vec<String>),
    /// `(pipeline)`
    Pipe(usize, Box<Pipe>),
    /// A function name.
    Ident(usize, String),
}

impl Arg {
    pub(crate) fn pos(&self) -> usize {
        match self {
            Arg::Dot(p)
            | Arg::Nil(p)
            | Arg::Bool(p, _)
            | Arg::Number(p, ..)
            | Arg::Str(p, ..)
            | Arg::Field(p, _)
            | Arg::Variable(p, ..)
            | Arg::Chain(p, ..)
            | Arg::Pipe(p, _)
            | Arg::Ident(p, _) => *p,
        }
    }
}

// The Display impls print nodes the way Go's `Node.String` does; exec errors quote them.
impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Number(_, _, text) => f.write_str(text),
            Arg::Str(_, _, raw) => f.write_str(raw),
            Arg::Field(_, idents) => {
                for ident in idents {
                    write!(f, ".{ident}")?;
                }
                Ok(())
            }
            Arg::Variable(_, name, idents) => {
                f.write_str(name)?;
                for ident in idents {
                    write!(f, ".{ident}")?;
                }
                Ok(())
            }
            Arg::Chain(_, base, idents) => {
                match base.as_ref() {
                    Arg::Pipe(_, pipe) => write!(f, "({pipe})")?,
                    other => write!(f, "{other}")?,
                }
                for ident in idents {
                    write!(f, ".{ident}")?;
                }
                Ok(())
            }
            Arg::Pipe(_, pipe) => write!(f, "{pipe}"),
            Arg::Ident(_, name) => f.write_str(name),
        }
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match arg {
                Arg::Pipe(_, pipe) => write!(f, "({pipe})")?,
                other => write!(f, "{other}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, cmd) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{cmd}")?;
        }
        Ok(())
    }
}

/// A parse failure: byte offset and Go's message.
#[derive(Debug, Clone)]
pub(crate) struct ParseFailure {
    pub pos: usize,
    pub message: String,
}

impl From<LexError> for ParseFailure {
    fn from(e: LexError) -> Self {
        ParseFailure {
            pos: e.pos,
            message: e.message,
        }
    }
}

/// A parsed template source: the main body and the named templates it defines.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tree {
    pub root: Vec<Node>,
    pub defines: HashMap<String, Vec<Node>>,
}

type PResult<T> = Result<T, ParseFailure>;

/// Limit on nested `if`/`with`/`range` and parentheses.
const MAX_NESTING: usize = 200;

/// Parses `src`; `is_func` says which function names exist.
pub(crate) fn parse(src: &str, is_func: &dyn Fn(&str) -> bool) -> PResult<Tree> {
    let tokens = lex(src)?;
    let mut parser = Parser {
        tokens,
        idx: 0,
        vars: vec!["$".to_string()],
        range_depth: 0,
        nesting: 0,
        is_func,
        tree: Tree::default(),
    };
    let root = parser.parse_top()?;
    parser.tree.root = root;
    Ok(parser.tree)
}

/// How an item list ended.
enum ListEnd {
    End,
    Else {
        pos: usize,
        chained: Option<Keyword>,
    },
}

struct Parser<'f> {
    tokens: Vec<Token>,
    idx: usize,
    vars: Vec<String>,
    range_depth: usize,
    /// Depth of nested control structures and parentheses, bounded so that a pathological
    /// format string fails with an error instead of exhausting the stack.
    nesting: usize,
    is_func: &'f dyn Fn(&str) -> bool,
    tree: Tree,
}

impl Parser<'_> {
    fn next(&mut self) -> Token {
        let t = self.tokens[self.idx.min(self.tokens.len() - 1)].clone();
        if self.idx < self.tokens.len() {
            self.idx += 1;
        }
        t
    }

    fn backup(&mut self) {
        self.idx = self.idx.saturating_sub(1);
    }

    fn peek(&self) -> &Token {
        &self.tokens[self.idx.min(self.tokens.len() - 1)]
    }

    fn next_non_space(&mut self) -> Token {
        loop {
            let t = self.next();
            if t.tok != Tok::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Token {
        let t = self.next_non_space();
        self.backup();
        t
    }

    fn fail<T>(&self, pos: usize, message: impl Into<String>) -> PResult<T> {
        Err(ParseFailure {
            pos,
            message: message.into(),
        })
    }

    fn unexpected<T>(&self, token: &Token, context: &str) -> PResult<T> {
        self.fail(
            token.pos,
            format!("unexpected {} in {context}", token.tok.describe()),
        )
    }

    fn expect_right_delim(&mut self, context: &str) -> PResult<()> {
        let t = self.next_non_space();
        if t.tok != Tok::RightDelim {
            return self.unexpected(&t, context);
        }
        Ok(())
    }

    fn parse_top(&mut self) -> PResult<Vec<Node>> {
        let mut list = Vec::new();
        loop {
            let t = self.peek().clone();
            match t.tok {
                Tok::Eof => return Ok(list),
                Tok::LeftDelim => {
                    self.next();
                    let kw = self.peek_non_space();
                    if kw.tok == Tok::Keyword(Keyword::Define) {
                        self.next_non_space();
                        self.parse_define()?;
                        continue;
                    }
                    self.backup_to_delim(t.pos);
                }
                _ => {}
            }
            match self.text_or_action()? {
                Item::Node(node) => list.push(node),
                Item::End(pos) => return self.fail(pos, "unexpected {{end}}"),
                Item::Else(pos, _) => return self.fail(pos, "unexpected {{else}}"),
            }
        }
    }

    /// Rewinds to the `{{` token at byte `pos`.
    fn backup_to_delim(&mut self, pos: usize) {
        while self.idx > 0 {
            self.idx -= 1;
            let t = &self.tokens[self.idx];
            if t.tok == Tok::LeftDelim && t.pos == pos {
                return;
            }
        }
    }

    fn parse_define(&mut self) -> PResult<()> {
        let context = "define clause";
        let name_tok = self.next_non_space();
        let name = match name_tok.tok {
            Tok::Str(ref value, _) => value.clone(),
            _ => return self.unexpected(&name_tok, context),
        };
        self.expect_right_delim(context)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        if let ListEnd::Else { pos, .. } = end {
            return self.fail(pos, format!("unexpected {{{{else}}}} in {context}"));
        }
        self.tree.defines.insert(name, list);
        Ok(())
    }

    /// Parses nodes until `{{end}}` or `{{else}}`.
    fn item_list(&mut self) -> PResult<(Vec<Node>, ListEnd)> {
        let mut list = Vec::new();
        loop {
            if self.peek_non_space().tok == Tok::Eof {
                let pos = self.peek().pos;
                return self.fail(pos, "unexpected EOF");
            }
            match self.text_or_action()? {
                Item::Node(node) => list.push(node),
                Item::End(_) => return Ok((list, ListEnd::End)),
                Item::Else(pos, chained) => return Ok((list, ListEnd::Else { pos, chained })),
            }
        }
    }

    fn text_or_action(&mut self) -> PResult<Item> {
        let t = self.next_non_space();
        match t.tok {
            Tok::Text(text) => Ok(Item::Node(Node::Text(text))),
            Tok::LeftDelim => self.action(),
            _ => self.unexpected(&t, "input"),
        }
    }

    fn action(&mut self) -> PResult<Item> {
        let t = self.next_non_space();
        if let Tok::Keyword(k) = t.tok {
            return match k {
                Keyword::Block => self.block(t.pos).map(Item::Node),
                Keyword::Break | Keyword::Continue => {
                    let name = k.name();
                    if self.range_depth == 0 {
                        return self.fail(t.pos, format!("{{{{{name}}}}} outside {{{{range}}}}"));
                    }
                    self.expect_right_delim(&format!("{{{{{name}}}}}"))?;
                    Ok(Item::Node(if k == Keyword::Break {
                        Node::Break
                    } else {
                        Node::Continue
                    }))
                }
                Keyword::Define => self.fail(t.pos, "unexpected <define> in command"),
                Keyword::Else => {
                    let peek = self.peek_non_space();
                    match peek.tok {
                        // `{{else if …}}` / `{{else with …}}`: the chained keyword is parsed
                        // by the enclosing control structure.
                        Tok::Keyword(kw @ (Keyword::If | Keyword::With)) => {
                            self.next_non_space();
                            Ok(Item::Else(t.pos, Some(kw)))
                        }
                        _ => {
                            self.expect_right_delim("else")?;
                            Ok(Item::Else(t.pos, None))
                        }
                    }
                }
                Keyword::End => {
                    self.expect_right_delim("end")?;
                    Ok(Item::End(t.pos))
                }
                Keyword::If => self.control(Keyword::If).map(Item::Node),
                Keyword::Range => self.control(Keyword::Range).map(Item::Node),
                Keyword::With => self.control(Keyword::With).map(Item::Node),
                Keyword::Template => self.template(t.pos).map(Item::Node),
            };
        }
        self.backup();
        let pipe = self.pipeline("command", Tok::RightDelim)?;
        Ok(Item::Node(Node::Action(pipe)))
    }

    fn enter(&mut self, pos: usize) -> PResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return self.fail(
                pos,
                format!("exceeded maximum nesting depth ({MAX_NESTING})"),
            );
        }
        Ok(())
    }

    fn control(&mut self, kind: Keyword) -> PResult<Node> {
        let pos = self.peek().pos;
        self.enter(pos)?;
        let node = self.control_inner(kind);
        self.nesting -= 1;
        node
    }

    fn control_inner(&mut self, kind: Keyword) -> PResult<Node> {
        let mark = self.vars.len();
        let pipe = self.pipeline(kind.name(), Tok::RightDelim)?;
        if kind == Keyword::Range {
            self.range_depth += 1;
        }
        let (list, end) = self.item_list()?;
        if kind == Keyword::Range {
            self.range_depth -= 1;
        }
        let else_list = match end {
            ListEnd::End => None,
            ListEnd::Else { chained: None, .. } => {
                let (list, end) = self.item_list()?;
                if let ListEnd::Else { pos, .. } = end {
                    return self.fail(pos, "expected end; found {{else}}");
                }
                Some(list)
            }
            ListEnd::Else {
                pos,
                chained: Some(chained),
            } => {
                // Go chains `else if` only inside `if` and `else with` only inside `with`;
                // otherwise the keyword is left over as stray input.
                if chained != kind {
                    return self.fail(pos, format!("unexpected <{}> in input", chained.name()));
                }
                // `{{else if x}}…{{end}}` is `{{else}}{{if x}}…{{end}}{{end}}` sharing one end.
                Some(vec![self.control(chained)?])
            }
        };
        self.vars.truncate(mark);
        let branch = Branch {
            pipe,
            list,
            else_list,
        };
        Ok(match kind {
            Keyword::If => Node::If(branch),
            Keyword::With => Node::With(branch),
            _ => Node::Range(branch),
        })
    }

    fn template_name(&mut self, context: &str) -> PResult<String> {
        let t = self.next_non_space();
        match t.tok {
            Tok::Str(value, _) => Ok(value),
            _ => self.unexpected(&t, context),
        }
    }

    fn template(&mut self, pos: usize) -> PResult<Node> {
        let context = "template clause";
        let name = self.template_name(context)?;
        let pipe = if self.next_non_space().tok == Tok::RightDelim {
            None
        } else {
            self.backup();
            Some(self.pipeline(context, Tok::RightDelim)?)
        };
        Ok(Node::Template { pos, name, pipe })
    }

    fn block(&mut self, pos: usize) -> PResult<Node> {
        let context = "block clause";
        let name = self.template_name(context)?;
        let pipe = self.pipeline(context, Tok::RightDelim)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let saved_depth = std::mem::replace(&mut self.range_depth, 0);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        self.range_depth = saved_depth;
        if let ListEnd::Else { pos, .. } = end {
            return self.fail(pos, format!("unexpected {{{{else}}}} in {context}"));
        }
        self.tree.defines.insert(name.clone(), list);
        Ok(Node::Template {
            pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn pipeline(&mut self, context: &str, end: Tok) -> PResult<Pipe> {
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            pos: start.pos,
            decl: Vec::new(),
            is_assign: false,
            cmds: Vec::new(),
        };
        self.declarations(&mut pipe, context)?;
        loop {
            let t = self.next_non_space();
            if t.tok == end {
                self.check_pipeline(&pipe, context, t.pos)?;
                return Ok(pipe);
            }
            match t.tok {
                Tok::Bool(_)
                | Tok::CharConst(_)
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Ident(_)
                | Tok::Number(_)
                | Tok::Nil
                | Tok::Str(..)
                | Tok::Variable(_)
                | Tok::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&t, context),
            }
        }
    }

    fn declarations(&mut self, pipe: &mut Pipe, context: &str) -> PResult<()> {
        let save = self.idx;
        let first = self.next_non_space();
        let Tok::Variable(name) = first.tok else {
            self.idx = save;
            return Ok(());
        };
        // A variable directly followed by a field (`$x.A`) is an operand, not a declaration.
        if matches!(self.peek().tok, Tok::Field(_)) {
            self.idx = save;
            return Ok(());
        }
        let after = self.next_non_space();
        match after.tok {
            Tok::Assign | Tok::Declare => {
                pipe.is_assign = after.tok == Tok::Assign;
                if pipe.is_assign {
                    self.use_var(first.pos, &name)?;
                } else {
                    self.vars.push(name.clone());
                }
                pipe.decl.push(name);
                Ok(())
            }
            Tok::Char(',') => {
                if context != "range" {
                    return self.fail(after.pos, format!("too many declarations in {context}"));
                }
                let second = self.next_non_space();
                let Tok::Variable(second_name) = second.tok else {
                    return self.fail(second.pos, "range can only initialize variables");
                };
                let op = self.next_non_space();
                match op.tok {
                    Tok::Assign | Tok::Declare => {
                        pipe.is_assign = op.tok == Tok::Assign;
                        for (pos, n) in [(first.pos, &name), (second.pos, &second_name)] {
                            if pipe.is_assign {
                                self.use_var(pos, n)?;
                            } else {
                                self.vars.push(n.clone());
                            }
                        }
                        pipe.decl.push(name);
                        pipe.decl.push(second_name);
                        Ok(())
                    }
                    _ => self.unexpected(&op, context),
                }
            }
            _ => {
                self.idx = save;
                Ok(())
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str, pos: usize) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return self.fail(pos, format!("missing value for {context}"));
        }
        for (i, cmd) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                cmd.args[0],
                Arg::Bool(..) | Arg::Dot(_) | Arg::Nil(_) | Arg::Number(..) | Arg::Str(..)
            ) {
                return self.fail(
                    cmd.pos,
                    format!("non executable command in pipeline stage {}", i + 1),
                );
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Cmd> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Cmd {
            pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(operand) = self.operand()? {
                cmd.args.push(operand);
            }
            let t = self.next();
            match t.tok {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RightParen => self.backup(),
                Tok::Pipe => {}
                _ => return self.unexpected(&t, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return self.fail(pos, "empty command");
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        if !matches!(self.peek().tok, Tok::Field(_)) {
            return Ok(Some(term));
        }
        // Go positions a chain at its first trailing field (`.B` of `.A.B`), and so do its
        // execution errors.
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while let Tok::Field(name) = &self.peek().tok {
            fields.push(name.clone());
            self.next();
        }
        Ok(Some(match term {
            Arg::Field(_, mut idents) => {
                idents.extend(fields);
                Arg::Field(pos, idents)
            }
            Arg::Variable(_, name, mut idents) => {
                idents.extend(fields);
                Arg::Variable(pos, name, idents)
            }
            Arg::Bool(pos, _)
            | Arg::Str(pos, ..)
            | Arg::Number(pos, ..)
            | Arg::Nil(pos)
            | Arg::Dot(pos) => {
                return self.fail(
                    pos,
                    format!("unexpected . after term {}", go_quote(&term.to_string())),
                );
            }
            other => Arg::Chain(pos, Box::new(other), fields),
        }))
    }

    fn use_var(&self, pos: usize, name: &str) -> PResult<()> {
        if self.vars.iter().any(|v| v == name) {
            Ok(())
        } else {
            self.fail(pos, format!("undefined variable {}", go_quote(name)))
        }
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let t = self.next_non_space();
        Ok(Some(match t.tok {
            Tok::Ident(name) => {
                if !(self.is_func)(&name) {
                    return self.fail(t.pos, format!("function {} not defined", go_quote(&name)));
                }
                Arg::Ident(t.pos, name)
            }
            Tok::Dot => Arg::Dot(t.pos),
            Tok::Nil => Arg::Nil(t.pos),
            Tok::Variable(name) => {
                self.use_var(t.pos, &name)?;
                Arg::Variable(t.pos, name, Vec::new())
            }
            Tok::Field(name) => Arg::Field(t.pos, vec![name]),
            Tok::Bool(b) => Arg::Bool(t.pos, b),
            Tok::Number(text) => match parse_number(&text) {
                Some(num) => Arg::Number(t.pos, num, text),
                None => {
                    return self.fail(t.pos, format!("illegal number syntax: {}", go_quote(&text)));
                }
            },
            Tok::CharConst(text) => {
                let decoded = unquote(&text[1..text.len() - 1], '\'');
                match decoded.as_deref().map(|s| {
                    let mut chars = s.chars();
                    (chars.next(), chars.next())
                }) {
                    Some((Some(c), None)) => Arg::Number(t.pos, Num::Int(c as i128), text),
                    _ => return self.fail(t.pos, format!("malformed character constant: {text}")),
                }
            }
            Tok::LeftParen => {
                self.enter(t.pos)?;
                let pipe = self.pipeline("parenthesized pipeline", Tok::RightParen);
                self.nesting -= 1;
                Arg::Pipe(t.pos, Box::new(pipe?))
            }
            Tok::Str(value, raw) => Arg::Str(t.pos, value, raw),
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

enum Item {
    Node(Node),
    End(usize),
    Else(usize, Option<Keyword>),
}

/// Interprets a number literal as Go's template parser does: text with `.`, `e` or `p` (outside
/// hex digits) is a float, everything else an integer in its base.
pub(crate) fn parse_number(text: &str) -> Option<Num> {
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let (negative, body) = match clean.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let lower = body.to_ascii_lowercase();
    let int = if let Some(hex) = lower.strip_prefix("0x") {
        if hex.contains(['.', 'p']) {
            return hex_float(hex).map(|f| Num::Float(if negative { -f } else { f }));
        }
        i128::from_str_radix(hex, 16).ok()
    } else if let Some(oct) = lower.strip_prefix("0o") {
        i128::from_str_radix(oct, 8).ok()
    } else if let Some(bin) = lower.strip_prefix("0b") {
        i128::from_str_radix(bin, 2).ok()
    } else if lower.contains(['.', 'e']) {
        let f: f64 = lower.parse().ok()?;
        if !f.is_finite() {
            return None;
        }
        return Some(Num::Float(if negative { -f } else { f }));
    } else if lower.len() > 1 && lower.starts_with('0') {
        i128::from_str_radix(&lower[1..], 8).ok()
    } else {
        lower.parse::<i128>().ok()
    };
    let value = int?;
    Some(Num::Int(if negative { -value } else { value }))
}

fn hex_float(hex: &str) -> Option<f64> {
    let (mantissa, exp) = match hex.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => return None,
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut value = 0f64;
    for d in int_part.chars() {
        value = value * 16.0 + f64::from(d.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for d in frac_part.chars() {
        value += f64::from(d.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    Some(value * 2f64.powi(exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn funcs(name: &str) -> bool {
        matches!(name, "printf" | "len" | "index")
    }

    fn err(src: &str) -> String {
        parse(src, &funcs).unwrap_err().message
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("42"), Some(Num::Int(42)));
        assert_eq!(parse_number("-0x1F"), Some(Num::Int(-31)));
        assert_eq!(parse_number("0o17"), Some(Num::Int(15)));
        assert_eq!(parse_number("017"), Some(Num::Int(15)));
        assert_eq!(parse_number("0b101"), Some(Num::Int(5)));
        assert_eq!(parse_number("1_000"), Some(Num::Int(1000)));
        assert_eq!(parse_number("1.5"), Some(Num::Float(1.5)));
        assert_eq!(parse_number("1e6"), Some(Num::Float(1e6)));
        assert_eq!(parse_number("0x1p4"), Some(Num::Float(16.0)));
        assert_eq!(parse_number("1e400"), None);
    }

    #[test]
    fn node_strings_like_go() {
        let tree = parse(
            "{{$x := index .A 1 | printf \"%d\" | len}}{{(.B).C}}",
            &funcs,
        )
        .unwrap();
        let Node::Action(pipe) = &tree.root[0] else {
            panic!()
        };
        assert_eq!(pipe.to_string(), "$x := index .A 1 | printf \"%d\" | len");
        let Node::Action(pipe) = &tree.root[1] else {
            panic!()
        };
        assert_eq!(pipe.to_string(), "(.B).C");
    }

    #[test]
    fn parse_errors_match_go() {
        assert_eq!(err("{{foo}}"), "function \"foo\" not defined");
        assert_eq!(err("{{$x}}"), "undefined variable \"$x\"");
        assert_eq!(err("{{end}}"), "unexpected {{end}}");
        assert_eq!(err("{{else}}"), "unexpected {{else}}");
        assert_eq!(err("{{if .A}}"), "unexpected EOF");
        assert_eq!(err("{{}}"), "missing value for command");
        assert_eq!(err("{{if}}{{end}}"), "missing value for if");
        assert_eq!(err("{{break}}"), "{{break}} outside {{range}}");
        assert_eq!(
            err("{{. | 3}}"),
            "non executable command in pipeline stage 2"
        );
        assert_eq!(err("{{\"a\".B}}"), "unexpected . after term \"\\\"a\\\"\"");
        assert_eq!(err("{{.A,}}"), "unexpected \",\" in operand");
        assert_eq!(
            err("{{template .A}}"),
            "unexpected \".A\" in template clause"
        );
        assert_eq!(
            err("{{if .A}}{{else with .B}}{{end}}"),
            "unexpected <with> in input"
        );
        assert_eq!(
            err("{{range .A}}{{else if .B}}{{end}}"),
            "unexpected <if> in input"
        );
    }

    #[test]
    fn variables_scope_to_control_structures() {
        assert!(parse("{{range $i, $e := .}}{{$i}}{{$e}}{{end}}", &funcs).is_ok());
        assert_eq!(
            err("{{if $x := .}}{{end}}{{$x}}"),
            "undefined variable \"$x\""
        );
        assert!(parse("{{$x := 1}}{{if .}}{{$x = 2}}{{end}}{{$x}}", &funcs).is_ok());
        assert_eq!(err("{{$x = 1}}"), "undefined variable \"$x\"");
        assert_eq!(
            err("{{with $a, $b := .}}{{end}}"),
            "too many declarations in with"
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{{{{{}.{}}}}}", "(".repeat(300), ")".repeat(300));
        assert_eq!(err(&deep), "exceeded maximum nesting depth (200)");
        let ok = format!("{{{{{}.{}}}}}", "(".repeat(50), ")".repeat(50));
        assert!(parse(&ok, &funcs).is_ok());
    }

    #[test]
    fn else_chains_share_one_end() {
        let tree = parse("{{if .A}}a{{else if .B}}b{{else}}c{{end}}", &funcs).unwrap();
        let Node::If(branch) = &tree.root[0] else {
            panic!()
        };
        let else_list = branch.else_list.as_ref().unwrap();
        assert!(matches!(else_list[0], Node::If(_)));
    }

    #[test]
    fn defines_are_collected() {
        let tree = parse("{{define \"x\"}}X{{end}}a{{block \"y\" .}}Y{{end}}", &funcs).unwrap();
        assert!(tree.defines.contains_key("x"));
        assert!(tree.defines.contains_key("y"));
        assert_eq!(tree.root.len(), 2);
    }
}
