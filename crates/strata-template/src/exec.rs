//! Executor: walks the syntax tree over JSON data, as Go's `text/template/exec.go` does.
//!
//! Dot starts as the data and `$` is bound to it. `if`/`with`/`range` bodies get their own
//! variable scope; `range` visits arrays in order, maps in key order and integers `0..n`, and
//! `{{break}}`/`{{continue}}` leave or advance the innermost range. `{{template}}` runs a named
//! template with a fresh scope whose `$` is the argument. Errors name the node being evaluated.
//!
//! Typed data ([`GoType`]) follows Go's reflection rules: a struct's unknown field is an error
//! naming the type, a nil pointer cannot be looked into, a map's missing key is "no value".
//! With `missingkey=error` ([`Options::missing_key_error`]) a missing key of untyped data is an
//! error too, as in the raw-JSON fallback of Docker's `inspect`.

use serde_json::{Number, Value};

use crate::funcs::{self, Arity, CallError, Mode};
use crate::parse::{Arg, Cmd, Node, Num, Pipe, Tree};
use crate::types::GoType;
use crate::value::{NULL, Val, display, go_type};

/// How an execution treats its data.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options {
    /// Go's `missingkey=error`: a missing map key fails instead of giving "no value".
    pub missing_key_error: bool,
}

/// Nesting limit for `{{template}}` calls, so recursive templates fail instead of exhausting
/// the stack (Go's limit is higher because its stacks grow).
pub(crate) const MAX_TEMPLATE_DEPTH: usize = 100;

/// An execution failure at a node.
#[derive(Debug, Clone)]
pub(crate) struct ExecFailure {
    pub pos: usize,
    pub context: String,
    pub template: String,
    pub message: String,
}

type EResult<T> = Result<T, ExecFailure>;

enum Flow {
    Normal,
    Break,
    Continue,
}

pub(crate) struct Exec<'t, 'a> {
    tree: &'t Tree,
    mode: Mode,
    options: Options,
    vars: Vec<(String, Val<'a>)>,
    template: String,
    depth: usize,
}

/// Runs the main body of `tree` over `data` of type `ty`, appending to `out`.
pub(crate) fn execute(
    tree: &Tree,
    mode: Mode,
    options: Options,
    data: &Value,
    ty: &GoType,
    out: &mut String,
) -> EResult<()> {
    let dot = Val::typed(data, ty);
    let mut exec = Exec {
        tree,
        mode,
        options,
        vars: vec![("$".to_string(), dot.clone())],
        template: String::new(),
        depth: 0,
    };
    exec.walk(&dot, &tree.root, out).map(|_| ())
}

impl<'t, 'a> Exec<'t, 'a> {
    fn fail<T>(
        &self,
        pos: usize,
        context: impl ToString,
        message: impl Into<String>,
    ) -> EResult<T> {
        Err(ExecFailure {
            pos,
            context: context.to_string(),
            template: self.template.clone(),
            message: message.into(),
        })
    }

    fn walk(&mut self, dot: &Val<'a>, nodes: &'t [Node], out: &mut String) -> EResult<Flow> {
        for node in nodes {
            match self.walk_node(dot, node, out)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    fn walk_node(&mut self, dot: &Val<'a>, node: &'t Node, out: &mut String) -> EResult<Flow> {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Action(pipe) => {
                let value = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    out.push_str(&display(&value));
                }
            }
            Node::If(branch) | Node::With(branch) => {
                let mark = self.vars.len();
                let value = self.eval_pipeline(dot, &branch.pipe)?;
                let is_with = matches!(node, Node::With(_));
                let flow = if value.truth() {
                    let new_dot = if is_with { value } else { dot.clone() };
                    self.walk(&new_dot, &branch.list, out)?
                } else if let Some(else_list) = &branch.else_list {
                    self.walk(dot, else_list, out)?
                } else {
                    Flow::Normal
                };
                self.vars.truncate(mark);
                return Ok(flow);
            }
            Node::Range(branch) => return self.walk_range(dot, branch, out),
            Node::Template { pos, name, pipe } => {
                let context = match pipe {
                    Some(p) => format!("{{{{template {} {p}}}}}", crate::lex::go_quote(name)),
                    None => format!("{{{{template {}}}}}", crate::lex::go_quote(name)),
                };
                let Some(body) = self.tree.defines.get(name) else {
                    return self.fail(
                        *pos,
                        context,
                        format!("template {} not defined", crate::lex::go_quote(name)),
                    );
                };
                if self.depth >= MAX_TEMPLATE_DEPTH {
                    return self.fail(
                        *pos,
                        context,
                        format!("exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})"),
                    );
                }
                let new_dot = match pipe {
                    Some(p) => self.eval_pipeline(dot, p)?,
                    None => Val::Missing,
                };
                let saved_vars =
                    std::mem::replace(&mut self.vars, vec![("$".to_string(), new_dot.clone())]);
                let saved_name = std::mem::replace(&mut self.template, name.clone());
                self.depth += 1;
                let result = self.walk(&new_dot, body, out);
                self.depth -= 1;
                self.template = saved_name;
                self.vars = saved_vars;
                result?;
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn walk_range(
        &mut self,
        dot: &Val<'a>,
        branch: &'t crate::parse::Branch,
        out: &mut String,
    ) -> EResult<Flow> {
        let mark = self.vars.len();
        let pipe = &branch.pipe;
        let value = self.eval_commands(dot, pipe)?;
        if !pipe.is_assign {
            for name in &pipe.decl {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        let items = match &value {
            Val::Missing => Some(Vec::new()),
            Val::Ref(v) => iterate_ref(v),
            Val::Own(v) => iterate_owned(v),
            Val::Typed(v, ty) => iterate_typed(v, ty),
        };
        let Some(items) = items else {
            return self.fail(
                pipe.pos,
                pipe,
                format!("range can't iterate over {}", display(&value)),
            );
        };
        let body_mark = self.vars.len();
        let mut iterated = false;
        for (key, elem) in items {
            iterated = true;
            match pipe.decl.as_slice() {
                [] => {}
                [one] => self.set_or_top(pipe.is_assign, one, mark, elem.clone())?,
                [first, second, ..] => {
                    self.set_or_top(pipe.is_assign, first, mark, key)?;
                    self.set_or_top(pipe.is_assign, second, mark + 1, elem.clone())?;
                }
            }
            let flow = self.walk(&elem, &branch.list, out)?;
            self.vars.truncate(body_mark);
            if let Flow::Break = flow {
                break;
            }
        }
        if !iterated && let Some(else_list) = &branch.else_list {
            self.walk(dot, else_list, out)?;
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    /// Sets a range variable: declared ones live at fixed stack slots, assigned ones by name.
    fn set_or_top(&mut self, assign: bool, name: &str, slot: usize, value: Val<'a>) -> EResult<()> {
        if assign {
            self.set_var(name, value, 0)
        } else {
            if let Some(entry) = self.vars.get_mut(slot) {
                entry.1 = value;
            }
            Ok(())
        }
    }

    fn set_var(&mut self, name: &str, value: Val<'a>, pos: usize) -> EResult<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(entry) => {
                entry.1 = value;
                Ok(())
            }
            None => self.fail(pos, name, format!("undefined variable: {name}")),
        }
    }

    fn var(&self, name: &str, pos: usize) -> EResult<Val<'a>> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => self.fail(pos, name, format!("undefined variable: {name}")),
        }
    }

    fn eval_commands(&mut self, dot: &Val<'a>, pipe: &'t Pipe) -> EResult<Val<'a>> {
        let mut value: Option<Val<'a>> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value.take())?);
        }
        Ok(value.unwrap_or(Val::Missing))
    }

    fn eval_pipeline(&mut self, dot: &Val<'a>, pipe: &'t Pipe) -> EResult<Val<'a>> {
        let value = self.eval_commands(dot, pipe)?;
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone(), pipe.pos)?;
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, cmd: &Cmd, final_arg: &Option<Val<'a>>) -> EResult<()> {
        if cmd.args.len() > 1 || final_arg.is_some() {
            let first = &cmd.args[0];
            return self.fail(
                first.pos(),
                first,
                format!("can't give argument to non-function {first}"),
            );
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        dot: &Val<'a>,
        cmd: &'t Cmd,
        final_arg: Option<Val<'a>>,
    ) -> EResult<Val<'a>> {
        let first = &cmd.args[0];
        let has_args = cmd.args.len() > 1 || final_arg.is_some();
        match first {
            Arg::Field(pos, idents) => {
                return self.eval_fields(dot.clone(), idents, *pos, first, has_args);
            }
            Arg::Chain(pos, base, idents) => {
                let base = self.eval_arg(dot, base)?;
                return self.eval_fields(base, idents, *pos, first, has_args);
            }
            Arg::Variable(pos, name, idents) if !idents.is_empty() => {
                let base = self.var(name, *pos)?;
                return self.eval_fields(base, idents, *pos, first, has_args);
            }
            Arg::Ident(_, name) => return self.eval_function(dot, name, cmd, final_arg),
            _ => {}
        }
        self.not_a_function(cmd, &final_arg)?;
        match first {
            Arg::Nil(pos) => self.fail(*pos, first, "nil is not a command"),
            other => self.eval_arg(dot, other),
        }
    }

    fn eval_fields(
        &mut self,
        mut receiver: Val<'a>,
        idents: &[String],
        pos: usize,
        node: &Arg,
        has_args: bool,
    ) -> EResult<Val<'a>> {
        for (i, name) in idents.iter().enumerate() {
            let last = i + 1 == idents.len();
            if let Val::Typed(v, ty) = receiver {
                receiver = self.typed_field(v, ty, name, pos, node, has_args && last)?;
                continue;
            }
            // A value looked up in a map of untyped data is an `interface{}` to Go, and its
            // errors name that type.
            let type_name = |v: &Value| {
                if i > 0 {
                    "interface {}".to_string()
                } else {
                    go_type(v).to_string()
                }
            };
            receiver = match receiver.get() {
                None if self.options.missing_key_error => {
                    return self.fail(pos, node, format!("nil data; no entry for key {name:?}"));
                }
                // Go carries the invalid value through the rest of the chain.
                None => Val::Missing,
                Some(Value::Object(map)) => {
                    if has_args && last {
                        return self.fail(
                            pos,
                            node,
                            format!("{name} is not a method but has arguments"),
                        );
                    }
                    if self.options.missing_key_error && !map.contains_key(name) {
                        return self.fail(pos, node, format!("map has no entry for key {name:?}"));
                    }
                    receiver.field(name)
                }
                Some(Value::Null) => {
                    return self.fail(
                        pos,
                        node,
                        format!("nil pointer evaluating interface {{}}.{name}"),
                    );
                }
                Some(other) => {
                    let t = type_name(other);
                    return self.fail(
                        pos,
                        node,
                        format!("can't evaluate field {name} in type {t}"),
                    );
                }
            };
        }
        Ok(receiver)
    }

    /// Field `name` of typed data, by Go's rules for structs, pointers to structs and maps.
    fn typed_field(
        &self,
        v: &'a Value,
        ty: &'a GoType,
        name: &str,
        pos: usize,
        node: &Arg,
        with_args: bool,
    ) -> EResult<Val<'a>> {
        match ty {
            GoType::Map { elem, named: None } => {
                if with_args {
                    return self.fail(
                        pos,
                        node,
                        format!("{name} is not a method but has arguments"),
                    );
                }
                return Ok(match v.get(name) {
                    Some(item) => Val::typed(item, elem),
                    None if self.options.missing_key_error => {
                        return self.fail(pos, node, format!("map has no entry for key {name:?}"));
                    }
                    None => Val::Missing,
                });
            }
            GoType::Struct(_) | GoType::Ptr(_) => {
                if let Some(field) = ty.as_struct().and_then(|s| s.field(name)) {
                    if matches!(ty, GoType::Ptr(_)) && v.is_null() {
                        return self.fail(
                            pos,
                            node,
                            format!("nil pointer evaluating {}.{name}", ty.name()),
                        );
                    }
                    if with_args {
                        return self.fail(
                            pos,
                            node,
                            format!("{name} has arguments but cannot be invoked as function"),
                        );
                    }
                    return Ok(Val::typed(v.get(&field.key).unwrap_or(&NULL), &field.ty));
                }
                // Go looks into a nil pointer to anything but a struct before it looks for
                // the field.
                if let GoType::Ptr(inner) = ty
                    && !matches!(inner.as_ref(), GoType::Struct(_))
                    && v.is_null()
                {
                    return self.fail(
                        pos,
                        node,
                        format!("nil pointer evaluating {}.{name}", ty.name()),
                    );
                }
            }
            _ => {}
        }
        self.fail(
            pos,
            node,
            format!("can't evaluate field {name} in type {}", ty.name()),
        )
    }

    fn eval_arg(&mut self, dot: &Val<'a>, arg: &'t Arg) -> EResult<Val<'a>> {
        Ok(match arg {
            Arg::Dot(_) => dot.clone(),
            Arg::Nil(_) => Val::Own(Value::Null),
            Arg::Bool(_, b) => Val::Own(Value::Bool(*b)),
            Arg::Str(_, s, _) => Val::Own(Value::String(s.clone())),
            Arg::Number(pos, num, text) => Val::Own(Value::Number(match num {
                Num::Int(i) => {
                    if let Ok(i) = i64::try_from(*i) {
                        Number::from(i)
                    } else if let Ok(u) = u64::try_from(*i) {
                        Number::from(u)
                    } else {
                        return self.fail(*pos, text, format!("number {text} overflows int"));
                    }
                }
                Num::Float(f) => match Number::from_f64(*f) {
                    Some(n) => n,
                    None => return self.fail(*pos, text, format!("number {text} is not finite")),
                },
            })),
            Arg::Field(pos, idents) => self.eval_fields(dot.clone(), idents, *pos, arg, false)?,
            Arg::Variable(pos, name, idents) => {
                let base = self.var(name, *pos)?;
                self.eval_fields(base, idents, *pos, arg, false)?
            }
            Arg::Chain(pos, base, idents) => {
                let base = self.eval_arg(dot, base)?;
                self.eval_fields(base, idents, *pos, arg, false)?
            }
            Arg::Pipe(_, pipe) => {
                // A parenthesised pipeline's declarations stay local to it.
                let mark = self.vars.len();
                let value = self.eval_pipeline(dot, pipe)?;
                self.vars.truncate(mark);
                value
            }
            Arg::Ident(pos, name) => {
                let cmd = Cmd {
                    pos: *pos,
                    args: vec![arg.clone()],
                };
                self.eval_function_owned(dot, name, &cmd)?
            }
        })
    }

    /// A function used as an argument without its own arguments (`{{print (len)}}` style).
    fn eval_function_owned(&mut self, dot: &Val<'a>, name: &str, cmd: &Cmd) -> EResult<Val<'a>> {
        // The command is a temporary; evaluate its (absent) arguments eagerly.
        self.check_arity(name, cmd, 0)?;
        match name {
            "and" | "or" | "call" => self.fail(
                cmd.pos,
                cmd,
                format!("wrong number of args for {name}: want at least 1 got 0"),
            ),
            _ => self.call(name, cmd, Vec::new(), dot),
        }
    }

    fn check_arity(&self, name: &str, cmd: &Cmd, got: usize) -> EResult<()> {
        match funcs::arity(name) {
            Some(Arity::Exactly(n)) if got != n => self.fail(
                cmd.pos,
                cmd,
                format!("wrong number of args for {name}: want {n} got {got}"),
            ),
            Some(Arity::AtLeast(n)) if got < n => self.fail(
                cmd.pos,
                cmd,
                format!("wrong number of args for {name}: want at least {n} got {got}"),
            ),
            Some(_) => Ok(()),
            None => self.fail(
                cmd.pos,
                cmd,
                format!("function {} not defined", crate::lex::go_quote(name)),
            ),
        }
    }

    fn call(&self, name: &str, cmd: &Cmd, args: Vec<Val<'a>>, _dot: &Val<'a>) -> EResult<Val<'a>> {
        funcs::call(self.mode, name, args).or_else(|e| match e {
            CallError::Failed(m) => self.fail(cmd.pos, cmd, format!("error calling {name}: {m}")),
            CallError::Argument(m) => self.fail(cmd.pos, cmd, m),
        })
    }

    fn eval_function(
        &mut self,
        dot: &Val<'a>,
        name: &str,
        cmd: &'t Cmd,
        final_arg: Option<Val<'a>>,
    ) -> EResult<Val<'a>> {
        let arg_nodes = &cmd.args[1..];
        let count = arg_nodes.len() + usize::from(final_arg.is_some());
        self.check_arity(name, cmd, count)?;
        if name == "and" || name == "or" {
            // Short-circuit: `and` stops at the first false argument, `or` at the first true.
            let want = name == "or";
            let mut value = Val::Missing;
            for node in arg_nodes {
                value = self.eval_arg(dot, node)?;
                if value.truth() == want {
                    return Ok(value);
                }
            }
            if let Some(final_value) = final_arg {
                value = final_value;
            }
            return Ok(value);
        }
        if name == "call" {
            let target = match arg_nodes.first() {
                Some(node) => (node.to_string(), self.eval_arg(dot, node)?),
                None => (String::new(), final_arg.unwrap_or(Val::Missing)),
            };
            let message = match target.1.get() {
                None | Some(Value::Null) => "call of nil".to_string(),
                Some(v) => format!("non-function {} of type {}", target.0, go_type(v)),
            };
            return self.fail(cmd.pos, cmd, format!("error calling call: {message}"));
        }
        let mut args = Vec::with_capacity(count);
        for node in arg_nodes {
            args.push(self.eval_arg(dot, node)?);
        }
        if let Some(final_value) = final_arg {
            args.push(final_value);
        }
        self.call(name, cmd, args, dot)
    }
}

fn iterate_ref<'a>(v: &'a Value) -> Option<Vec<(Val<'a>, Val<'a>)>> {
    Some(match v {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| (Val::Own(Value::Number(Number::from(i))), Val::Ref(item)))
            .collect(),
        Value::Object(map) => {
            let mut entries: Vec<(&String, &'a Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            entries
                .into_iter()
                .map(|(k, item)| (Val::Own(Value::String(k.clone())), Val::Ref(item)))
                .collect()
        }
        other => return iterate_int(other),
    })
}

/// Elements of typed data: a slice's in order, a map's in key order (nil ones have none);
/// a pointer is followed first.
fn iterate_typed<'a>(v: &'a Value, ty: &'a GoType) -> Option<Vec<(Val<'a>, Val<'a>)>> {
    match ty {
        GoType::Ptr(inner) if !v.is_null() => iterate_typed(v, inner),
        GoType::Slice(elem) => Some(match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (Val::Own(Value::from(i)), Val::typed(item, elem)))
                .collect(),
            _ => Vec::new(),
        }),
        GoType::Map { elem, .. } => Some(match v {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &'a Value)> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                entries
                    .into_iter()
                    .map(|(k, item)| (Val::Own(Value::String(k.clone())), Val::typed(item, elem)))
                    .collect()
            }
            _ => Vec::new(),
        }),
        _ => None,
    }
}

fn iterate_owned<'a>(v: &Value) -> Option<Vec<(Val<'a>, Val<'a>)>> {
    Some(match v {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                (
                    Val::Own(Value::Number(Number::from(i))),
                    Val::Own(item.clone()),
                )
            })
            .collect(),
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            entries
                .into_iter()
                .map(|(k, item)| (Val::Own(Value::String(k.clone())), Val::Own(item.clone())))
                .collect()
        }
        other => return iterate_int(other),
    })
}

/// Go 1.22 ranges over an integer `n` as `0..n`. Capped so a typo cannot allocate unbounded
/// memory before printing anything.
fn iterate_int<'a>(v: &Value) -> Option<Vec<(Val<'a>, Val<'a>)>> {
    let n = match v {
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    if n > 10_000_000 {
        return None;
    }
    Some(
        (0..n.max(0))
            .map(|i| {
                let v = Value::Number(Number::from(i));
                (Val::Own(v.clone()), Val::Own(v))
            })
            .collect(),
    )
}
