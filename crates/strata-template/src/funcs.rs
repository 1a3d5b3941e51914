//! The function set: Go's template builtins plus the functions the Docker CLI adds
//! (`json split join title lower upper pad truncate`), and Docker's header variants of the
//! latter, which return their first argument unchanged so a table header shows column names.
//!
//! `and` and `or` evaluate their arguments lazily and are implemented by the executor; `call`
//! always fails because JSON data holds no functions.

use std::cmp::Ordering;

use serde_json::{Number, Value};

use crate::printf::{sprint, sprintf, sprintln};
use crate::types::{GoType, write_typed};
use crate::value::{NULL, Val, go_type, val_json};

/// Which function implementations to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Rendering rows.
    Normal,
    /// Rendering a table header from the header map (Docker's `HeaderFunctions`).
    Header,
    /// Rendering raw JSON exactly as Go does (`missingkey=error`, Docker's `inspect`
    /// fallback): `index` of a missing key is "no value" and of `null` an error, without the
    /// typed-looking zero values [`Mode::Normal`] infers for untyped data.
    Strict,
}

/// How many arguments a function takes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arity {
    Exactly(usize),
    AtLeast(usize),
}

/// The arity of function `name`, or `None` if there is no such function.
pub(crate) fn arity(name: &str) -> Option<Arity> {
    use Arity::*;
    Some(match name {
        "and" | "or" | "index" | "slice" | "printf" | "call" | "eq" => AtLeast(1),
        "print" | "println" | "html" | "js" | "urlquery" => AtLeast(0),
        "not" | "len" | "json" | "title" | "lower" | "upper" => Exactly(1),
        "ne" | "lt" | "le" | "gt" | "ge" | "split" | "join" | "truncate" => Exactly(2),
        "pad" => Exactly(3),
        _ => return None,
    })
}

/// Why a call failed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The function reported an error; Go wraps it as `error calling NAME: …`.
    Failed(String),
    /// An argument has the wrong type; Go reports it as is.
    Argument(String),
}

type CallResult<'a> = Result<Val<'a>, CallError>;

fn failed<T>(message: impl Into<String>) -> Result<T, CallError> {
    Err(CallError::Failed(message.into()))
}

fn string_arg<'v>(v: &'v Val<'_>) -> Result<&'v str, CallError> {
    match v.get() {
        None => Err(CallError::Argument("invalid value; expected string".into())),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(CallError::Argument(format!(
            "wrong type for value; expected string; got {}",
            go_type(other)
        ))),
    }
}

fn int_arg(v: &Val<'_>) -> Result<i64, CallError> {
    match v.get() {
        None => Err(CallError::Argument("invalid value; expected int".into())),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                return Ok(i);
            }
            match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
                _ => Err(CallError::Argument(format!(
                    "wrong type for value; expected int; got {}",
                    go_type(&Value::Number(n.clone()))
                ))),
            }
        }
        Some(other) => Err(CallError::Argument(format!(
            "wrong type for value; expected int; got {}",
            go_type(other)
        ))),
    }
}

fn owned<'a>(s: String) -> Val<'a> {
    Val::Own(Value::String(s))
}

/// Calls function `name` (not `and`/`or`/`call`) with evaluated arguments; the arity has
/// been checked.
pub(crate) fn call<'a>(mode: Mode, name: &str, args: Vec<Val<'a>>) -> CallResult<'a> {
    if mode == Mode::Header {
        match name {
            "json" | "split" | "join" | "title" | "lower" | "upper" | "truncate" => {
                if name == "truncate" {
                    int_arg(&args[1])?;
                }
                return Ok(owned(string_arg(&args[0])?.to_string()));
            }
            _ => {}
        }
    }
    let json_args: Vec<&Value> = args.iter().map(Val::json).collect();
    match name {
        "not" => Ok(Val::Own(Value::Bool(!args[0].truth()))),
        "len" => length(&args[0]),
        "index" => index(args, mode == Mode::Strict),
        "slice" => slice(args),
        "print" => Ok(owned(print_typed(&args, false))),
        "println" => Ok(owned(print_typed(&args, true))),
        "printf" => {
            let format = string_arg(&args[0])?;
            Ok(owned(sprintf(format, &json_args[1..])))
        }
        "html" => Ok(owned(html_escape(&eval_args(&args)))),
        "js" => Ok(owned(js_escape(&eval_args(&args)))),
        "urlquery" => Ok(owned(query_escape(&eval_args(&args)))),
        "eq" => {
            if args.len() < 2 {
                return failed("missing argument for comparison");
            }
            for other in &args[1..] {
                if equal(&args[0], other)? {
                    return Ok(Val::Own(Value::Bool(true)));
                }
            }
            Ok(Val::Own(Value::Bool(false)))
        }
        "ne" => Ok(Val::Own(Value::Bool(!equal(&args[0], &args[1])?))),
        "lt" | "le" | "gt" | "ge" => {
            let ord = order(&args[0], &args[1])?;
            let result = match name {
                "lt" => ord == Ordering::Less,
                "le" => ord != Ordering::Greater,
                "gt" => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            };
            Ok(Val::Own(Value::Bool(result)))
        }
        "json" => Ok(owned(val_json(&args[0]))),
        "split" => {
            let s = string_arg(&args[0])?;
            let sep = string_arg(&args[1])?;
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                s.split(sep).map(|p| Value::String(p.to_string())).collect()
            };
            Ok(Val::Own(Value::Array(parts)))
        }
        "join" => {
            let sep = string_arg(&args[1])?;
            let items = match args[0].get() {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| match item {
                        Value::String(s) => s.clone(),
                        other => sprint(&[other]),
                    })
                    .collect(),
                Some(other) => {
                    return Err(CallError::Argument(format!(
                        "wrong type for value; expected []string; got {}",
                        go_type(other)
                    )));
                }
            };
            Ok(owned(items.join(sep)))
        }
        "title" => Ok(owned(title(string_arg(&args[0])?))),
        "lower" => Ok(owned(map_chars(string_arg(&args[0])?, char::to_lowercase))),
        "upper" => Ok(owned(map_chars(string_arg(&args[0])?, char::to_uppercase))),
        "pad" => {
            let s = string_arg(&args[0])?;
            let prefix = int_arg(&args[1])?;
            let suffix = int_arg(&args[2])?;
            if s.is_empty() {
                return Ok(owned(String::new()));
            }
            if prefix < 0 || suffix < 0 {
                return failed("strings: negative Repeat count");
            }
            let (prefix, suffix) = (prefix.min(1 << 20) as usize, suffix.min(1 << 20) as usize);
            Ok(owned(format!(
                "{}{s}{}",
                " ".repeat(prefix),
                " ".repeat(suffix)
            )))
        }
        "truncate" => {
            let s = string_arg(&args[0])?;
            let length = int_arg(&args[1])?;
            if (s.len() as i64) < length {
                return Ok(owned(s.to_string()));
            }
            if length < 0 {
                return failed(format!("slice bounds out of range [:{length}]"));
            }
            // Docker cuts bytes; we cut at the nearest character boundary below so the result
            // stays valid UTF-8 (identical for ASCII, which IDs and names are).
            let mut end = length as usize;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            Ok(owned(s[..end].to_string()))
        }
        _ => failed(format!("function {name:?} not defined")),
    }
}

/// `fmt.Sprint` / `fmt.Sprintln` of arguments some of which may be typed: a typed argument
/// prints as fmt prints the Go value (a pointer to a struct as `&{…}`), the rest as JSON.
fn print_typed(args: &[Val<'_>], line: bool) -> String {
    if !args.iter().any(|a| matches!(a, Val::Typed(..))) {
        let refs: Vec<&Value> = args.iter().map(Val::json).collect();
        return if line { sprintln(&refs) } else { sprint(&refs) };
    }
    let mut out = String::new();
    let mut prev_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Val::Ref(Value::String(_)) | Val::Own(Value::String(_)));
        if i > 0 && (line || (!is_string && !prev_string)) {
            out.push(' ');
        }
        match arg {
            Val::Typed(v, ty) => write_typed(&mut out, v, ty, 0),
            other => out.push_str(&sprint(&[other.json()])),
        }
        prev_string = is_string;
    }
    if line {
        out.push('\n');
    }
    out
}

/// Go's `evalArgs` for the escapers: a single string as is, otherwise `fmt.Sprint`.
fn eval_args(args: &[Val<'_>]) -> String {
    if let [single] = args
        && let Some(Value::String(s)) = single.get()
    {
        return s.clone();
    }
    let refs: Vec<&Value> = args.iter().map(Val::json).collect();
    sprint(&refs)
}

fn length<'a>(v: &Val<'a>) -> CallResult<'a> {
    if let Val::Typed(value, ty) = v {
        let n = match (ty, value) {
            (GoType::Ptr(_), Value::Null) => return failed("len of nil pointer"),
            (GoType::Slice(_) | GoType::Map { .. }, Value::Null) => 0,
            (GoType::Ptr(inner), _) => return length(&Val::typed(value, inner)),
            (GoType::Slice(_), Value::Array(a)) => a.len(),
            (GoType::Map { .. }, Value::Object(m)) => m.len(),
            _ => return failed(format!("len of type {}", ty.name())),
        };
        return Ok(Val::Own(Value::Number(Number::from(n as u64))));
    }
    let n = match v.get() {
        None | Some(Value::Null) => return failed("len of nil pointer"),
        Some(Value::String(s)) => s.len(),
        Some(Value::Array(a)) => a.len(),
        Some(Value::Object(m)) => m.len(),
        Some(other) => return failed(format!("len of type {}", go_type(other))),
    };
    Ok(Val::Own(Value::Number(Number::from(n as u64))))
}

fn index_value(v: &Val<'_>) -> Result<i64, CallError> {
    match v.get() {
        Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64().unwrap_or_default()),
        Some(Value::Number(n)) if n.as_u64().is_some() => failed("index out of range"),
        None | Some(Value::Null) => failed("cannot index slice/array with nil"),
        Some(other) => failed(format!(
            "cannot index slice/array with type {}",
            go_type(other)
        )),
    }
}

/// The zero value of a map's element type, inferred from its entries: Docker's indexable maps
/// (labels, options) hold strings, so an empty or null map yields the empty string.
fn zero_for(map: Option<&serde_json::Map<String, Value>>) -> Value {
    match map.and_then(|m| m.values().next()) {
        None | Some(Value::String(_)) => Value::String(String::new()),
        Some(Value::Number(_)) => Value::Number(Number::from(0)),
        Some(Value::Bool(_)) => Value::Bool(false),
        Some(_) => Value::Null,
    }
}

fn index<'a>(mut args: Vec<Val<'a>>, exact: bool) -> CallResult<'a> {
    let mut indices = args.split_off(1);
    let mut item = args.pop().unwrap_or(Val::Missing);
    for key in indices.drain(..) {
        if let Val::Typed(v, ty) = item {
            item = index_typed(v, ty, &key)?;
            continue;
        }
        item = match item.get() {
            None | Some(Value::Null) => match key.get() {
                // Indexing a nil map (Docker's absent labels) gives the zero value.
                Some(Value::String(_)) if !exact => Val::Own(zero_for(None)),
                _ => return failed("index of untyped nil"),
            },
            Some(Value::Array(items)) => {
                let i = index_value(&key)?;
                if i < 0 || i as usize >= items.len() {
                    return failed(format!("index out of range: {i}"));
                }
                match &item {
                    Val::Ref(Value::Array(items)) => Val::Ref(&items[i as usize]),
                    _ => Val::Own(items[i as usize].clone()),
                }
            }
            Some(Value::Object(map)) => {
                let k = match key.get() {
                    Some(Value::String(k)) => k,
                    Some(other) => {
                        return failed(format!(
                            "value has type {}; should be string",
                            go_type(other)
                        ));
                    }
                    None => return failed("value is nil; should be of type string"),
                };
                match &item {
                    // Go's zero value of `interface{}`: no value.
                    _ if exact && !map.contains_key(k) => Val::Missing,
                    Val::Ref(Value::Object(map)) => match map.get(k) {
                        Some(v) => Val::Ref(v),
                        None => Val::Own(zero_for(Some(map))),
                    },
                    _ => Val::Own(map.get(k).cloned().unwrap_or_else(|| zero_for(Some(map)))),
                }
            }
            Some(Value::String(s)) => {
                let i = index_value(&key)?;
                match usize::try_from(i).ok().and_then(|i| s.as_bytes().get(i)) {
                    Some(b) => Val::Own(Value::Number(Number::from(*b))),
                    None => return failed(format!("index out of range: {i}")),
                }
            }
            Some(other) => return failed(format!("can't index item of type {}", go_type(other))),
        };
    }
    Ok(item)
}

/// `index` into typed data: a map's missing key gives the zero value of its element type.
fn index_typed<'a>(v: &'a Value, ty: &'a GoType, key: &Val<'_>) -> CallResult<'a> {
    match ty {
        GoType::Ptr(_) if v.is_null() => failed("index of nil pointer"),
        GoType::Ptr(inner) => index_typed(v, inner, key),
        GoType::Map {
            named: Some((_, key_type)),
            ..
        } => failed(format!(
            "value has type {}; should be {key_type}",
            key.get().map_or("<nil>", go_type)
        )),
        GoType::Map { elem, named: None } => match key.get() {
            Some(Value::String(k)) => Ok(Val::typed(v.get(k).unwrap_or(&NULL), elem)),
            Some(other) => failed(format!(
                "value has type {}; should be string",
                go_type(other)
            )),
            None => failed("value is nil; should be of type string"),
        },
        GoType::Slice(elem) => {
            let i = index_value(key)?;
            let items = v.as_array().map_or(&[][..], Vec::as_slice);
            match usize::try_from(i).ok().and_then(|i| items.get(i)) {
                Some(item) => Ok(Val::typed(item, elem)),
                None => failed(format!("index out of range: {i}")),
            }
        }
        _ => failed(format!("can't index item of type {}", ty.name())),
    }
}

fn slice<'a>(mut args: Vec<Val<'a>>) -> CallResult<'a> {
    let indices = args.split_off(1);
    let item = args.pop().unwrap_or(Val::Missing);
    let len = match item.get() {
        Some(Value::String(s)) => s.len(),
        Some(Value::Array(a)) => a.len(),
        None | Some(Value::Null) => return failed("slice of untyped nil"),
        Some(other) => return failed(format!("can't slice item of type {}", go_type(other))),
    };
    if indices.len() > 3 {
        return failed(format!("too many slice indexes: {}", indices.len()));
    }
    let mut bounds = [0usize, len, len];
    for (slot, key) in indices.iter().enumerate() {
        let i = index_value(key)?;
        if i < 0 || i as usize > len {
            return failed(format!("index out of range: {i}"));
        }
        bounds[slot] = i as usize;
    }
    if item.get().is_some_and(Value::is_string) && indices.len() == 3 {
        return failed("cannot 3-index slice a string");
    }
    if bounds[0] > bounds[1] {
        return failed(format!(
            "invalid slice index: {} > {}",
            bounds[0], bounds[1]
        ));
    }
    if indices.len() == 3 && bounds[1] > bounds[2] {
        return failed(format!(
            "invalid slice index: {} > {}",
            bounds[1], bounds[2]
        ));
    }
    Ok(match item.get() {
        Some(Value::String(s)) => {
            owned(String::from_utf8_lossy(&s.as_bytes()[bounds[0]..bounds[1]]).into_owned())
        }
        Some(Value::Array(a)) => Val::Own(Value::Array(a[bounds[0]..bounds[1]].to_vec())),
        _ => Val::Missing,
    })
}

/// A comparable view of a basic value.
enum Basic<'v> {
    Nil,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'v str),
}

fn basic<'v>(v: &'v Val<'_>) -> Result<Basic<'v>, CallError> {
    Ok(match v.get() {
        None | Some(Value::Null) => Basic::Nil,
        Some(Value::Bool(b)) => Basic::Bool(*b),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Basic::Int(i128::from(i)),
            (None, Some(u)) => Basic::Int(i128::from(u)),
            _ => Basic::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Some(Value::String(s)) => Basic::Str(s),
        Some(Value::Array(_) | Value::Object(_)) => {
            return failed("invalid type for comparison");
        }
    })
}

fn compare_numbers(a: &Basic<'_>, b: &Basic<'_>) -> Option<Ordering> {
    // JSON numbers are one Go type (float64) once decoded, so ints and floats compare.
    let as_f64 = |x: &Basic<'_>| match x {
        Basic::Int(i) => Some(*i as f64),
        Basic::Float(f) => Some(*f),
        _ => None,
    };
    match (a, b) {
        (Basic::Int(x), Basic::Int(y)) => Some(x.cmp(y)),
        _ => as_f64(a)?.partial_cmp(&as_f64(b)?),
    }
}

fn equal(a: &Val<'_>, b: &Val<'_>) -> Result<bool, CallError> {
    let (x, y) = (basic(a)?, basic(b)?);
    Ok(match (&x, &y) {
        (Basic::Nil, Basic::Nil) => true,
        (Basic::Nil, _) | (_, Basic::Nil) => false,
        (Basic::Bool(p), Basic::Bool(q)) => p == q,
        (Basic::Str(p), Basic::Str(q)) => p == q,
        (Basic::Int(_) | Basic::Float(_), Basic::Int(_) | Basic::Float(_)) => {
            compare_numbers(&x, &y) == Some(Ordering::Equal)
        }
        _ => return failed("incompatible types for comparison"),
    })
}

fn order(a: &Val<'_>, b: &Val<'_>) -> Result<Ordering, CallError> {
    let (x, y) = (basic(a)?, basic(b)?);
    match (&x, &y) {
        (Basic::Nil, _) | (_, Basic::Nil) | (Basic::Bool(_), _) | (_, Basic::Bool(_)) => {
            failed("invalid type for comparison")
        }
        (Basic::Str(p), Basic::Str(q)) => Ok(p.cmp(q)),
        (Basic::Int(_) | Basic::Float(_), Basic::Int(_) | Basic::Float(_)) => {
            Ok(compare_numbers(&x, &y).unwrap_or(Ordering::Equal))
        }
        _ => failed("incompatible types for comparison"),
    }
}

/// Go's `strings.Title`: upper-cases the first letter of each word.
fn title(s: &str) -> String {
    let is_separator = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else if c.is_alphanumeric() {
            false
        } else {
            c.is_whitespace()
        }
    };
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if is_separator(prev) {
                single(c, char::to_uppercase)
            } else {
                c
            };
            prev = c;
            out
        })
        .collect()
}

/// Maps each character like Go's `unicode.ToUpper`/`ToLower`: one character to one character,
/// so a character whose full case mapping has several (`ß` → `SS`) is left alone.
fn single<I: Iterator<Item = char>>(c: char, f: impl Fn(char) -> I) -> char {
    let mut mapped = f(c);
    match (mapped.next(), mapped.next()) {
        (Some(m), None) => m,
        _ => c,
    }
}

fn map_chars<I: Iterator<Item = char>>(s: &str, f: impl Fn(char) -> I + Copy) -> String {
    s.chars().map(|c| single(c, f)).collect()
}

/// Go's `template.HTMLEscapeString`.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub(crate) fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 || (!c.is_ascii() && c.is_control()) => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(name: &str, args: Vec<Value>) -> Result<Value, CallError> {
        call(Mode::Normal, name, args.into_iter().map(Val::Own).collect()).map(|v| v.json().clone())
    }

    fn ok(name: &str, args: Vec<Value>) -> Value {
        run(name, args).unwrap()
    }

    fn err(name: &str, args: Vec<Value>) -> String {
        match run(name, args).unwrap_err() {
            CallError::Failed(m) | CallError::Argument(m) => m,
        }
    }

    #[test]
    fn escapers() {
        assert_eq!(
            html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(
            js_escape("a'b\"c<d>&=\\\n"),
            "a\\'b\\\"c\\u003Cd\\u003E\\u0026\\u003D\\\\\\u000A"
        );
        assert_eq!(query_escape("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn strings_functions() {
        assert_eq!(title("hello wORLD foo_bar x-y"), "Hello WORLD Foo_bar X-Y");
        assert_eq!(ok("upper", vec![json!("straße")]), json!("STRAßE"));
        assert_eq!(ok("lower", vec![json!("ÀB")]), json!("àb"));
        assert_eq!(
            ok("split", vec![json!("a:b::c"), json!(":")]),
            json!(["a", "b", "", "c"])
        );
        assert_eq!(ok("split", vec![json!("ab"), json!("")]), json!(["a", "b"]));
        assert_eq!(
            ok("join", vec![json!(["a", "b"]), json!(", ")]),
            json!("a, b")
        );
        assert_eq!(ok("join", vec![json!(null), json!(",")]), json!(""));
        assert_eq!(
            ok("pad", vec![json!("x"), json!(2), json!(1)]),
            json!("  x ")
        );
        assert_eq!(ok("pad", vec![json!(""), json!(2), json!(1)]), json!(""));
        assert_eq!(
            ok("truncate", vec![json!("abcdef"), json!(3)]),
            json!("abc")
        );
        assert_eq!(ok("truncate", vec![json!("ab"), json!(3)]), json!("ab"));
        assert_eq!(ok("truncate", vec![json!("éa"), json!(1)]), json!(""));
        assert_eq!(
            err("pad", vec![json!("x"), json!(-1), json!(0)]),
            "strings: negative Repeat count"
        );
        assert_eq!(
            err("upper", vec![json!(3)]),
            "wrong type for value; expected string; got int"
        );
    }

    #[test]
    fn index_and_slice() {
        let data = json!({"a": [10, 20], "m": {"k": "v"}});
        assert_eq!(
            ok("index", vec![data.clone(), json!("a"), json!(1)]),
            json!(20)
        );
        assert_eq!(
            ok("index", vec![data.clone(), json!("m"), json!("missing")]),
            json!("")
        );
        assert_eq!(ok("index", vec![json!(null), json!("label")]), json!(""));
        assert_eq!(ok("index", vec![json!("abc"), json!(1)]), json!(98));
        assert_eq!(
            err("index", vec![json!([1]), json!(5)]),
            "index out of range: 5"
        );
        assert_eq!(
            err("index", vec![json!({}), json!(5)]),
            "value has type int; should be string"
        );
        assert_eq!(
            err("index", vec![json!(3), json!(0)]),
            "can't index item of type int"
        );
        assert_eq!(
            ok("slice", vec![json!("abcdef"), json!(1), json!(3)]),
            json!("bc")
        );
        assert_eq!(ok("slice", vec![json!([1, 2, 3]), json!(1)]), json!([2, 3]));
        assert_eq!(
            err("slice", vec![json!([1, 2, 3]), json!(2), json!(1)]),
            "invalid slice index: 2 > 1"
        );
        assert_eq!(
            err("slice", vec![json!("ab"), json!(5)]),
            "index out of range: 5"
        );
    }

    #[test]
    fn comparisons() {
        assert_eq!(ok("eq", vec![json!(1), json!(1.0)]), json!(true));
        assert_eq!(
            ok("eq", vec![json!("a"), json!("b"), json!("a")]),
            json!(true)
        );
        assert_eq!(ok("eq", vec![json!(null), json!(null)]), json!(true));
        assert_eq!(ok("eq", vec![json!(null), json!("a")]), json!(false));
        assert_eq!(ok("ne", vec![json!(true), json!(false)]), json!(true));
        assert_eq!(ok("lt", vec![json!(1), json!(2.5)]), json!(true));
        assert_eq!(ok("ge", vec![json!("b"), json!("a")]), json!(true));
        assert_eq!(ok("le", vec![json!(2), json!(2)]), json!(true));
        assert_eq!(ok("gt", vec![json!(u64::MAX), json!(-1)]), json!(true));
        assert_eq!(
            err("eq", vec![json!(1), json!("1")]),
            "incompatible types for comparison"
        );
        assert_eq!(
            err("eq", vec![json!([1]), json!([1])]),
            "invalid type for comparison"
        );
        assert_eq!(
            err("lt", vec![json!(true), json!(false)]),
            "invalid type for comparison"
        );
        assert_eq!(err("eq", vec![json!(1)]), "missing argument for comparison");
    }

    #[test]
    fn len_and_not() {
        assert_eq!(ok("len", vec![json!("héllo")]), json!(6));
        assert_eq!(ok("len", vec![json!({"a": 1})]), json!(1));
        assert_eq!(err("len", vec![json!(3)]), "len of type int");
        assert_eq!(err("len", vec![json!(null)]), "len of nil pointer");
        assert_eq!(ok("not", vec![json!("")]), json!(true));
    }

    #[test]
    fn header_mode_keeps_column_names() {
        for name in ["json", "title", "lower", "upper"] {
            let got = call(Mode::Header, name, vec![Val::Own(json!("IMAGE ID"))]).unwrap();
            assert_eq!(got.json(), &json!("IMAGE ID"));
        }
        let got = call(
            Mode::Header,
            "split",
            vec![Val::Own(json!("A,B")), Val::Own(json!(","))],
        )
        .unwrap();
        assert_eq!(got.json(), &json!("A,B"));
        let got = call(
            Mode::Header,
            "truncate",
            vec![Val::Own(json!("NAME")), Val::Own(json!(2))],
        )
        .unwrap();
        assert_eq!(got.json(), &json!("NAME"));
        // pad is applied to headers too, so columns stay aligned.
        let got = call(
            Mode::Header,
            "pad",
            vec![
                Val::Own(json!("NAME")),
                Val::Own(json!(1)),
                Val::Own(json!(1)),
            ],
        )
        .unwrap();
        assert_eq!(got.json(), &json!(" NAME "));
    }
}
