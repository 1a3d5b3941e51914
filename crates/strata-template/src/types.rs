//! Go type shapes for JSON data ([`GoType`]): what Docker's CLI holds in typed Go values.
//!
//! Docker executes `--format` templates on Go structs (`types.ImageInspect`, the row contexts
//! of `images` and `history`), not on JSON decoded into `interface{}`, and the two print
//! differently: a struct prints its fields in declaration order as `{a b c}`, a nil slice as
//! `[]`, a nil map as `map[]`, `struct{}` as `{}`, and an unknown field is an error rather than
//! `<no value>`. A command that knows the Go type of its data describes it with a [`GoType`]
//! and executes with [`Template::execute_typed`](crate::Template::execute_typed); the JSON
//! value still holds the data (a struct's fields are the object's members; `null` or an
//! absent member is the field's zero value).

use std::fmt::Write as _;

use serde_json::Value;

/// The shape of a Go type, as far as templates can tell them apart.
#[derive(Debug, Clone, PartialEq)]
pub enum GoType {
    /// `interface{}`: the JSON value decides, as for untyped execution.
    Any,
    /// `string` (absent: `""`).
    String,
    /// `bool` (absent: `false`).
    Bool,
    /// Any integer type (absent: `0`).
    Int,
    /// `float64` (absent: `0`).
    Float,
    /// `time.Duration`, nanoseconds in JSON, printed by its `String` method (`1m30s`).
    Duration,
    /// `time.Time`, an RFC 3339 string in JSON, printed by its `String` method
    /// (`2024-06-01 12:00:00.5 +0000 UTC`).
    Time,
    /// A struct: its fields in declaration order.
    Struct(StructType),
    /// A pointer (`null`: nil).
    Ptr(Box<GoType>),
    /// A slice (`null`: nil, which prints as `[]`).
    Slice(Box<GoType>),
    /// A map with string keys (`null`: nil, which prints as `map[]`). `named`: the map type's
    /// name and its key type's when the key is a named string type (`nat.PortSet`, keyed by
    /// `nat.Port`): Go then refuses a field lookup or an `index` with a plain string.
    Map {
        /// The element type.
        elem: Box<GoType>,
        /// `(map type, key type)` names of a map keyed by a named type.
        named: Option<(String, String)>,
    },
}

/// A field of a Go struct.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The Go name templates use (`ID`).
    pub name: String,
    /// The member of the JSON object holding it (`Id` for `json:"Id"`).
    pub key: String,
    /// Its type.
    pub ty: GoType,
}

/// A Go struct type.
#[derive(Debug, Clone, PartialEq)]
pub struct StructType {
    /// The qualified name Go's errors show (`types.ImageInspect`, `formatter.imageContext`).
    pub name: String,
    /// Fields in declaration order.
    pub fields: Vec<Field>,
    /// The `json` template function encodes the value as `json.Marshal` encodes a
    /// `map[string]interface{}` of its fields: keys sorted, `<`, `>` and `&` escaped. Docker's
    /// list rows (`imageContext`, `historyContext`, …) marshal themselves that way.
    pub json_as_map: bool,
}

impl GoType {
    /// A struct type named `name` with `fields` in declaration order.
    pub fn structure<'f>(
        name: &str,
        fields: impl IntoIterator<Item = (&'f str, GoType)>,
    ) -> GoType {
        GoType::Struct(StructType {
            name: name.to_string(),
            fields: fields
                .into_iter()
                .map(|(n, ty)| Field {
                    name: n.to_string(),
                    key: n.to_string(),
                    ty,
                })
                .collect(),
            json_as_map: false,
        })
    }

    /// Go's `struct{}` (the element type of sets such as `ExposedPorts` and `Volumes`).
    pub fn empty_struct() -> GoType {
        GoType::structure("struct {}", [])
    }

    /// A pointer to `t`.
    pub fn ptr(t: GoType) -> GoType {
        GoType::Ptr(Box::new(t))
    }

    /// A slice of `t`.
    pub fn slice(t: GoType) -> GoType {
        GoType::Slice(Box::new(t))
    }

    /// A map from strings to `t`.
    pub fn map(t: GoType) -> GoType {
        GoType::Map {
            elem: Box::new(t),
            named: None,
        }
    }

    /// A map type named `name` whose keys are of the named string type `key` (Docker's
    /// `nat.PortSet` is `map[nat.Port]struct{}`).
    pub fn named_map(name: &str, key: &str, t: GoType) -> GoType {
        GoType::Map {
            elem: Box::new(t),
            named: Some((name.to_string(), key.to_string())),
        }
    }

    /// For a struct (or a pointer to one): its `json` encoding is that of a map of its fields
    /// (see [`StructType::json_as_map`]).
    pub fn json_as_map(mut self) -> GoType {
        match &mut self {
            GoType::Struct(s) => s.json_as_map = true,
            GoType::Ptr(inner) => {
                let t = std::mem::replace(inner.as_mut(), GoType::Any);
                **inner = t.json_as_map();
            }
            _ => {}
        }
        self
    }

    /// For a struct: field `name` is the JSON member `key` (Go's `json:"key"` tag).
    pub fn json_key(mut self, name: &str, key: &str) -> GoType {
        if let GoType::Struct(s) = &mut self
            && let Some(f) = s.fields.iter_mut().find(|f| f.name == name)
        {
            f.key = key.to_string();
        }
        self
    }

    /// The type's name as Go's errors spell it.
    pub fn name(&self) -> String {
        match self {
            GoType::Any => "interface {}".into(),
            GoType::String => "string".into(),
            GoType::Bool => "bool".into(),
            GoType::Int => "int".into(),
            GoType::Float => "float64".into(),
            GoType::Time => "time.Time".into(),
            GoType::Duration => "time.Duration".into(),
            GoType::Struct(s) => s.name.clone(),
            GoType::Ptr(t) => format!("*{}", t.name()),
            GoType::Slice(t) => format!("[]{}", t.name()),
            GoType::Map {
                named: Some((name, _)),
                ..
            } => name.clone(),
            GoType::Map { elem, named: None } => format!("map[string]{}", elem.name()),
        }
    }

    /// The struct type itself, or the one a pointer points to.
    pub(crate) fn as_struct(&self) -> Option<&StructType> {
        match self {
            GoType::Struct(s) => Some(s),
            GoType::Ptr(t) => match t.as_ref() {
                GoType::Struct(s) => Some(s),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether values of this type print and index like plain JSON (basic types do: their
    /// typed and untyped forms print alike once a missing value is replaced by the zero).
    pub(crate) fn is_basic(&self) -> bool {
        matches!(
            self,
            GoType::Any | GoType::String | GoType::Bool | GoType::Int | GoType::Float
        )
    }

    /// The zero value of a basic type, as JSON.
    pub(crate) fn zero(&self) -> Value {
        match self {
            GoType::String => Value::String(String::new()),
            GoType::Bool => Value::Bool(false),
            GoType::Int | GoType::Float => Value::from(0),
            _ => Value::Null,
        }
    }
}

impl StructType {
    /// Field `name`.
    pub(crate) fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// What Go prints for a non-nil pointer nested in a value: its address, which differs from
/// run to run; Strata prints a fixed one of the same form.
const POINTER: &str = "0xc000010000";

/// Appends `%v` of `v` of type `ty`. `depth` is fmt's: at depth 0 a pointer to a struct,
/// slice or map prints as `&` and the value, deeper down as an address.
pub(crate) fn write_typed(out: &mut String, v: &Value, ty: &GoType, depth: usize) {
    match ty {
        GoType::Any => crate::value::write_value(out, v),
        GoType::String | GoType::Bool | GoType::Int | GoType::Float => {
            if v.is_null() {
                crate::value::write_value(out, &ty.zero());
            } else {
                crate::value::write_value(out, v);
            }
        }
        GoType::Time => out.push_str(&go_time_string(v.as_str().unwrap_or(""))),
        GoType::Duration => out.push_str(&go_duration_string(v.as_i64().unwrap_or(0))),
        GoType::Struct(s) => {
            out.push('{');
            for (i, f) in s.fields.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_typed(out, v.get(&f.key).unwrap_or(&Value::Null), &f.ty, depth + 1);
            }
            out.push('}');
        }
        GoType::Ptr(inner) => {
            if v.is_null() {
                out.push_str("<nil>");
            } else if depth == 0
                && matches!(
                    inner.as_ref(),
                    GoType::Struct(_) | GoType::Slice(_) | GoType::Map { .. }
                )
            {
                out.push('&');
                write_typed(out, v, inner, depth + 1);
            } else if matches!(inner.as_ref(), GoType::Time | GoType::Duration) {
                // Methods of the pointed-to value apply: time.Time's String.
                write_typed(out, v, inner, depth + 1);
            } else {
                out.push_str(POINTER);
            }
        }
        GoType::Slice(elem) => {
            out.push('[');
            if let Value::Array(items) = v {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    write_typed(out, item, elem, depth + 1);
                }
            }
            out.push(']');
        }
        GoType::Map { elem, .. } => {
            out.push_str("map[");
            if let Value::Object(map) = v {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                for (i, (k, item)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    write_typed(out, item, elem, depth + 1);
                }
            }
            out.push(']');
        }
    }
}

/// `%v` of a value that text/template prints as an action's result: a pointer is followed
/// first (Go's `printableValue`), so `{{.Config}}` prints `{…}`, not `&{…}`.
pub(crate) fn write_action(out: &mut String, v: &Value, ty: &GoType) {
    match ty {
        GoType::Ptr(inner) if !v.is_null() => write_typed(out, v, inner, 0),
        _ => write_typed(out, v, ty, 0),
    }
}

/// Go's `time.Duration.String`: `0s`, `1.5µs`, `300ms`, `1m30s`, `2h0m0s`.
pub(crate) fn go_duration_string(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let u = ns.unsigned_abs();
    // A fraction of `unit` nanoseconds, without trailing zeros.
    let frac = |v: u64, unit: u64, digits: usize| {
        let f = v % unit;
        if f == 0 {
            String::new()
        } else {
            let s = format!(".{f:0digits$}");
            s.trim_end_matches('0').to_string()
        }
    };
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{sign}{}{}µs", u / 1_000, frac(u, 1_000, 3));
    }
    if u < 1_000_000_000 {
        return format!("{sign}{}{}ms", u / 1_000_000, frac(u, 1_000_000, 6));
    }
    let secs = u / 1_000_000_000;
    let s = format!("{}{}s", secs % 60, frac(u, 1_000_000_000, 9));
    if secs < 60 {
        return format!("{sign}{s}");
    }
    let mins = secs / 60;
    if mins < 60 {
        return format!("{sign}{mins}m{s}");
    }
    format!("{sign}{}h{}m{s}", mins / 60, mins % 60)
}

/// Go's `time.Time.String` of an RFC 3339 timestamp as `encoding/json` decodes it:
/// `2006-01-02 15:04:05.999999999 -0700 MST`, with the zone `UTC` for `Z` and the offset
/// itself as the zone's name otherwise (Go fabricates an unnamed zone). Unparsable text is
/// printed as Go prints the zero time.
pub(crate) fn go_time_string(s: &str) -> String {
    const ZERO: &str = "0001-01-01 00:00:00 +0000 UTC";
    let Some((date, rest)) = s.split_once('T') else {
        return ZERO.into();
    };
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(zone_at);
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let valid = date.len() == 10
        && hms.len() == 8
        && frac.bytes().all(|b| b.is_ascii_digit())
        && date.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
        && hms.bytes().enumerate().all(|(i, b)| {
            if i == 2 || i == 5 {
                b == b':'
            } else {
                b.is_ascii_digit()
            }
        });
    if !valid {
        return ZERO.into();
    }
    let mut out = format!("{date} {hms}");
    let frac = frac.trim_end_matches('0');
    if !frac.is_empty() {
        let _ = write!(out, ".{}", &frac[..frac.len().min(9)]);
    }
    match zone {
        "Z" | "z" => out.push_str(" +0000 UTC"),
        z if z.len() == 6 && z.as_bytes()[3] == b':' => {
            let offset = format!("{}{}", &z[..3], &z[4..]);
            if offset == "+0000" || offset == "-0000" {
                out.push_str(" +0000 +0000");
            } else {
                let _ = write!(out, " {offset} {offset}");
            }
        }
        _ => return ZERO.into(),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn typed(v: Value, ty: &GoType) -> String {
        let mut out = String::new();
        write_action(&mut out, &v, ty);
        out
    }

    #[test]
    fn structs_print_fields_in_declaration_order() {
        let ty = GoType::structure(
            "x.T",
            [
                ("B", GoType::String),
                ("A", GoType::slice(GoType::String)),
                ("M", GoType::map(GoType::empty_struct())),
                ("P", GoType::ptr(GoType::Int)),
                ("N", GoType::Int),
            ],
        );
        assert_eq!(
            typed(json!({"A": ["x", "y"], "B": "b", "M": {"80/tcp": {}}}), &ty),
            "{b [x y] map[80/tcp:{}] <nil> 0}"
        );
        assert_eq!(typed(json!({}), &ty), "{ [] map[] <nil> 0}");
        assert_eq!(typed(json!(null), &ty), "{ [] map[] <nil> 0}");
        // Followed at the top, an address deeper down.
        assert_eq!(
            typed(json!({"P": 3}), &GoType::ptr(ty.clone())),
            "{ [] map[] 0xc000010000 0}"
        );
        let mut out = String::new();
        write_typed(&mut out, &json!({"B": "b"}), &GoType::ptr(ty), 0);
        assert_eq!(out, "&{b [] map[] <nil> 0}");
    }

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration_string(0), "0s");
        assert_eq!(go_duration_string(1500), "1.5µs");
        assert_eq!(go_duration_string(300_000_000), "300ms");
        assert_eq!(go_duration_string(30_000_000_000), "30s");
        assert_eq!(go_duration_string(90_500_000_000), "1m30.5s");
        assert_eq!(go_duration_string(7_200_000_000_000), "2h0m0s");
        assert_eq!(go_duration_string(-5), "-5ns");
    }

    #[test]
    fn renamed_fields_read_their_json_member() {
        let ty = GoType::structure("t", [("ID", GoType::String)]).json_key("ID", "Id");
        assert_eq!(typed(json!({"Id": "x"}), &ty), "{x}");
    }

    #[test]
    fn times_print_like_go() {
        assert_eq!(
            go_time_string("0001-01-01T00:00:00Z"),
            "0001-01-01 00:00:00 +0000 UTC"
        );
        assert_eq!(
            go_time_string("2024-06-01T12:00:00.500000000Z"),
            "2024-06-01 12:00:00.5 +0000 UTC"
        );
        assert_eq!(
            go_time_string("2024-06-01T12:00:00+02:00"),
            "2024-06-01 12:00:00 +0200 +0200"
        );
        assert_eq!(go_time_string("bogus"), "0001-01-01 00:00:00 +0000 UTC");
    }
}
