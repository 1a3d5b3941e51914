//! Values during execution, and how Go would print, compare and encode them.
//!
//! Data is a `serde_json::Value`, seen the way Go sees JSON decoded into `interface{}`: strings,
//! numbers, bools, `nil`, `[]interface{}` and `map[string]interface{}`. A map lookup of a missing
//! key yields Go's *invalid* value, which prints as `<no value>` and is false; it is kept
//! distinct from JSON `null`, which prints as `<nil>`. Data with a Go type shape ([`GoType`])
//! is carried as [`Val::Typed`] while it is a struct, pointer, slice, map or time; its basic
//! values are plain JSON again.

use std::fmt::Write as _;

use serde_json::{Number, Value};

use crate::types::{GoType, write_action};

/// JSON `null`, for typed struct fields absent from the data (their zero value).
pub(crate) static NULL: Value = Value::Null;

/// A value being computed: borrowed from the data where possible, owned when produced by a
/// function, typed data, or Go's invalid "no value".
#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    Missing,
    Ref(&'a Value),
    Own(Value),
    /// Data of a composite Go type (never [`GoType::Any`] or a basic type).
    Typed(&'a Value, &'a GoType),
}

impl<'a> Val<'a> {
    /// `v` of type `ty`: typed if the type matters for printing or field access; a basic
    /// value absent from the data is its type's zero value.
    pub(crate) fn typed(v: &'a Value, ty: &'a GoType) -> Val<'a> {
        match ty {
            GoType::Any => Val::Ref(v),
            t if t.is_basic() => {
                if v.is_null() {
                    Val::Own(t.zero())
                } else {
                    Val::Ref(v)
                }
            }
            t => Val::Typed(v, t),
        }
    }

    pub(crate) fn get(&self) -> Option<&Value> {
        match self {
            Val::Missing => None,
            Val::Ref(v) | Val::Typed(v, _) => Some(v),
            Val::Own(v) => Some(v),
        }
    }

    /// The JSON value, with "no value" treated as `null` (as Go passes an invalid value to an
    /// `interface{}` parameter).
    pub(crate) fn json(&self) -> &Value {
        self.get().unwrap_or(&Value::Null)
    }

    /// Looks up key `name` of untyped data, keeping borrows borrowed.
    pub(crate) fn field(&self, name: &str) -> Val<'a> {
        match self {
            Val::Ref(Value::Object(map)) => map.get(name).map_or(Val::Missing, Val::Ref),
            Val::Own(Value::Object(map)) => map.get(name).cloned().map_or(Val::Missing, Val::Own),
            _ => Val::Missing,
        }
    }

    /// Go's notion of truth: false, 0, nil, empty string/array/map and "no value" are false;
    /// a struct is always true.
    pub(crate) fn truth(&self) -> bool {
        if let Val::Typed(v, ty) = self {
            return match ty {
                GoType::Struct(_) | GoType::Time => true,
                GoType::Duration => v.as_i64().is_some_and(|n| n != 0),
                GoType::Ptr(_) => !v.is_null(),
                _ => Val::Ref(v).truth(),
            };
        }
        match self.get() {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::Object(m)) => !m.is_empty(),
        }
    }
}

/// The Go type a JSON value has when decoded into `interface{}` (integers are shown as `int`,
/// the type Docker's own integer fields have).
pub(crate) fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Appends `v` as Go's `fmt` `%v` prints it.
pub(crate) fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // fmt prints maps with their keys sorted.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push_str("map[");
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_value(out, item);
            }
            out.push(']');
        }
    }
}

/// `%v` of a value or `<no value>`, as an action prints it.
pub(crate) fn display(v: &Val<'_>) -> String {
    if let Val::Typed(value, ty) = v {
        let mut out = String::new();
        write_action(&mut out, value, ty);
        return out;
    }
    match v.get() {
        None => "<no value>".to_string(),
        Some(value) => {
            let mut out = String::new();
            write_value(&mut out, value);
            out
        }
    }
}

fn write_number(out: &mut String, n: &Number) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        out.push_str(&format_float_g(f, None));
    }
}

/// Decimal digits and exponent of `f`'s shortest round-trip representation, or with
/// `precision` significant digits: `(negative, digits, exp)` meaning `0.d1d2… × 10^(exp+1)`,
/// i.e. `exp` is the exponent of the first digit.
fn decimal_digits(f: f64, precision: Option<usize>) -> (bool, String, i32) {
    let s = match precision {
        None => format!("{:e}", f.abs()),
        Some(p) => format!("{:.*e}", p.saturating_sub(1), f.abs()),
    };
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    (f.is_sign_negative(), digits, exp)
}

fn exp_suffix(out: &mut String, e: char, exp: i32) {
    out.push(e);
    out.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(out, "{:02}", exp.abs());
}

/// Go's `strconv.FormatFloat(f, 'g', prec, 64)`; `None` is the shortest representation, the
/// `%v` of a float (`1e+06`, `3.14`, `1e-05`).
pub(crate) fn format_float_g(f: f64, precision: Option<usize>) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let precision = precision.map(|p| p.max(1));
    let (negative, mut digits, exp) = decimal_digits(f, precision);
    if precision.is_some() {
        // %g drops trailing zeros.
        while digits.len() > 1 && digits.ends_with('0') {
            digits.pop();
        }
    }
    let eprec = match precision {
        None => 6,
        Some(p) => p as i32,
    };
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if exp < -4 || exp >= eprec {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        exp_suffix(&mut out, 'e', exp);
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

/// Go's `%e` with a precision (default 6): `1.500000e+00`.
pub(crate) fn format_float_e(f: f64, precision: usize, upper: bool) -> String {
    if !f.is_finite() {
        return format_float_g(f, None);
    }
    let s = format!("{:.*e}", precision, f);
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let mut out = mantissa.to_string();
    exp_suffix(
        &mut out,
        if upper { 'E' } else { 'e' },
        exp.parse().unwrap_or(0),
    );
    out
}

/// Docker's `json` template function: `encoding/json` with HTML escaping off, compact, without
/// the trailing newline. Object members keep their order; numbers and string escapes follow Go.
pub(crate) fn go_json(v: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v);
    out
}

/// The `json` function of a value: a struct whose type marshals as a map of its fields
/// ([`crate::StructType::json_as_map`]) encodes with sorted keys and Go's HTML escaping, as
/// `json.Marshal` of a `map[string]interface{}` does; anything else as [`go_json`].
pub(crate) fn val_json(v: &Val<'_>) -> String {
    if let Val::Typed(Value::Object(map), ty) = v
        && ty.as_struct().is_some_and(|s| s.json_as_map)
    {
        let mut entries: Vec<(&String, &Value)> = map.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        let sorted: serde_json::Map<String, Value> = entries
            .into_iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        return go_json_escape(&go_json(&Value::Object(sorted)));
    }
    go_json(v.json())
}

/// Go's `json.Marshal` HTML escaping of encoded JSON: `<`, `>`, `&`, U+2028 and U+2029
/// become `\u` escapes (those characters only occur inside strings). serde_json writes
/// them as they are.
pub fn go_json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

fn write_json(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else if let Some(f) = n.as_f64() {
                out.push_str(&json_float(f));
            }
        }
        Value::String(s) => write_json_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                write_json(out, item);
            }
            out.push('}');
        }
    }
}

/// Go's float encoding in JSON: plain decimal, exponent form below 1e-6 or from 1e21 on.
fn json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let (negative, digits, exp) = decimal_digits(f, None);
        let mut out = String::new();
        if negative {
            out.push('-');
        }
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        if exp < 0 {
            out.push('-');
        } else {
            out.push('+');
        }
        let _ = write!(out, "{}", exp.abs());
        out
    } else {
        // Shortest round-trip digits in plain notation; Rust prints e.g. 1e20 as
        // "100000000000000000000" and 0.5 as "0.5", which is Go's 'f' with precision -1.
        format!("{f}")
    }
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0C' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            // Go escapes the JavaScript line terminators even with HTML escaping off.
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(value: Value) -> String {
        let mut out = String::new();
        write_value(&mut out, &value);
        out
    }

    #[test]
    fn go_percent_v() {
        assert_eq!(v(json!("a")), "a");
        assert_eq!(v(json!(12)), "12");
        assert_eq!(v(json!(-12)), "-12");
        assert_eq!(v(json!(u64::MAX)), "18446744073709551615");
        assert_eq!(v(json!(1000000.0)), "1e+06");
        assert_eq!(v(json!(123456.0)), "123456");
        assert_eq!(v(json!(3.0)), "3");
        assert_eq!(v(json!(2.75)), "2.75");
        assert_eq!(v(json!(0.0001)), "0.0001");
        assert_eq!(v(json!(0.00001)), "1e-05");
        assert_eq!(v(json!(1234567.5)), "1.2345675e+06");
        assert_eq!(v(json!(1e100)), "1e+100");
        assert_eq!(v(json!(null)), "<nil>");
        assert_eq!(v(json!(true)), "true");
        assert_eq!(v(json!(["a", 1, null, [true]])), "[a 1 <nil> [true]]");
        assert_eq!(
            v(json!({"b": 2, "a": {"y": 1, "x": "s"}})),
            "map[a:map[x:s y:1] b:2]"
        );
        assert_eq!(v(json!([])), "[]");
        assert_eq!(v(json!({})), "map[]");
    }

    #[test]
    fn float_g_with_precision() {
        assert_eq!(format_float_g(2.34567, Some(3)), "2.35");
        assert_eq!(format_float_g(1234.0, Some(2)), "1.2e+03");
        assert_eq!(format_float_g(100.0, Some(6)), "100");
        assert_eq!(format_float_e(1.5, 6, false), "1.500000e+00");
        assert_eq!(format_float_e(-12345.678, 2, true), "-1.23E+04");
    }

    #[test]
    fn docker_json_encoding() {
        assert_eq!(
            go_json(&json!({"b": "<a&b>", "a": [1, 2.5, 1e6, 1e21, 1e-7], "c": null})),
            r#"{"b":"<a&b>","a":[1,2.5,1000000,1e+21,1e-7],"c":null}"#
        );
        assert_eq!(go_json(&json!("x\u{2028}\u{1}\n")), r#""x\u2028\u0001\n""#);
    }

    #[test]
    fn truthiness() {
        assert!(!Val::Missing.truth());
        assert!(!Val::Own(json!(null)).truth());
        assert!(!Val::Own(json!(0)).truth());
        assert!(!Val::Own(json!(0.0)).truth());
        assert!(!Val::Own(json!("")).truth());
        assert!(!Val::Own(json!([])).truth());
        assert!(!Val::Own(json!({})).truth());
        assert!(Val::Own(json!(-1)).truth());
        assert!(Val::Own(json!("x")).truth());
        assert!(Val::Own(json!([0])).truth());
    }
}
