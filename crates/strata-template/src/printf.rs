//! Go's `fmt.Sprintf`, `Sprint` and `Sprintln` over JSON values.
//!
//! Covers the verbs Docker formats use — `%v %s %d %q %t %x %X %o %b %c %U %e %E %f %F %g %G
//! %%` — with flags `- + # 0 space`, widths and precisions (`*` included), and Go's error
//! notation inside the output for mismatches: `%!d(string=abc)`, `%!s(MISSING)`,
//! `%!(EXTRA int=1)`, `%!(NOVERB)`.

use std::fmt::Write as _;

use serde_json::{Number, Value};

use crate::lex::go_quote;
use crate::value::{format_float_e, format_float_g, go_type, write_value};

#[derive(Debug, Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// `fmt.Sprint`: operands are concatenated, with a space between two operands when neither
/// is a string.
pub(crate) fn sprint(args: &[&Value]) -> String {
    let mut out = String::new();
    let mut prev_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = arg.is_string();
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        write_value(&mut out, arg);
        prev_string = is_string;
    }
    out
}

/// `fmt.Sprintln`: operands separated by spaces, then a newline.
pub(crate) fn sprintln(args: &[&Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_value(&mut out, arg);
    }
    out.push('\n');
    out
}

/// `fmt.Sprintf`.
pub(crate) fn sprintf(format: &str, args: &[&Value]) -> String {
    let mut out = String::new();
    let mut next_arg = 0;
    let mut chars = format.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&(_, f)) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                _ => break,
            }
            chars.next();
        }
        let take_number = |chars: &mut std::iter::Peekable<std::str::CharIndices>,
                           next_arg: &mut usize,
                           out: &mut String,
                           what: &str|
         -> Option<usize> {
            if chars.peek().map(|p| p.1) == Some('*') {
                chars.next();
                let arg = args.get(*next_arg);
                *next_arg += 1;
                return match arg.and_then(|a| a.as_i64()) {
                    Some(n) if (0..=1_000_000).contains(&n) => Some(n as usize),
                    _ => {
                        let _ = write!(out, "%!(BAD{what})");
                        None
                    }
                };
            }
            let mut n: Option<usize> = None;
            while let Some(&(_, d)) = chars.peek() {
                let Some(digit) = d.to_digit(10) else { break };
                n = Some(
                    n.unwrap_or(0)
                        .saturating_mul(10)
                        .saturating_add(digit as usize),
                );
                chars.next();
            }
            n.map(|n| n.min(1_000_000))
        };
        spec.width = take_number(&mut chars, &mut next_arg, &mut out, "WIDTH");
        if chars.peek().map(|p| p.1) == Some('.') {
            chars.next();
            spec.precision =
                Some(take_number(&mut chars, &mut next_arg, &mut out, "PREC").unwrap_or(0));
        }
        let Some((_, verb)) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next_arg) {
            None => {
                let _ = write!(out, "%!{verb}(MISSING)");
            }
            Some(arg) => {
                next_arg += 1;
                format_arg(&mut out, arg, verb, &spec);
            }
        }
    }
    if next_arg < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, arg) in args[next_arg..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            if arg.is_null() {
                out.push_str("<nil>");
            } else {
                let _ = write!(out, "{}=", go_type(arg));
                write_value(&mut out, arg);
            }
        }
        out.push(')');
    }
    out
}

fn bad_verb(out: &mut String, arg: &Value, verb: char) {
    let _ = write!(out, "%!{verb}(");
    if arg.is_null() {
        out.push_str("<nil>");
    } else {
        let _ = write!(out, "{}=", go_type(arg));
        write_value(out, arg);
    }
    out.push(')');
}

fn pad(out: &mut String, body: &str, spec: &Spec, numeric: bool) {
    let len = body.chars().count();
    let width = spec.width.unwrap_or(0);
    if len >= width {
        out.push_str(body);
        return;
    }
    let fill = width - len;
    if spec.minus {
        out.push_str(body);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if spec.zero && numeric {
        // Zeros go after the sign.
        let (sign, digits) = match body.chars().next() {
            Some(c @ ('-' | '+' | ' ')) => (Some(c), &body[1..]),
            _ => (None, body),
        };
        if let Some(sign) = sign {
            out.push(sign);
        }
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(digits);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(body);
    }
}

fn format_arg(out: &mut String, arg: &Value, verb: char, spec: &Spec) {
    match arg {
        Value::Null => match verb {
            'v' => pad(out, "<nil>", spec, false),
            _ => bad_verb(out, arg, verb),
        },
        Value::Bool(b) => match verb {
            't' | 'v' => pad(out, if *b { "true" } else { "false" }, spec, false),
            _ => bad_verb(out, arg, verb),
        },
        Value::String(s) => format_string(out, arg, s, verb, spec),
        Value::Number(n) => format_number(out, arg, n, verb, spec),
        Value::Array(items) => {
            if verb == 'v' && spec.sharp {
                out.push_str("[]interface {}{");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    format_arg(out, item, verb, spec);
                }
                out.push('}');
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                format_arg(out, item, verb, spec);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let sharp_v = verb == 'v' && spec.sharp;
            out.push_str(if sharp_v {
                "map[string]interface {}{"
            } else {
                "map["
            });
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(if sharp_v { ", " } else { " " });
                }
                format_string(out, arg, k, verb, spec);
                out.push(':');
                format_arg(out, item, verb, spec);
            }
            out.push(if sharp_v { '}' } else { ']' });
        }
    }
}

fn format_string(out: &mut String, arg: &Value, s: &str, verb: char, spec: &Spec) {
    let truncated: String = match spec.precision {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    };
    match verb {
        'v' if spec.sharp => pad(out, &go_quote(&truncated), spec, false),
        's' | 'v' => pad(out, &truncated, spec, false),
        'q' => {
            let quoted = if spec.sharp && !truncated.contains('`') {
                format!("`{truncated}`")
            } else {
                go_quote(&truncated)
            };
            pad(out, &quoted, spec, false);
        }
        'x' | 'X' => {
            let mut hex = String::new();
            for (i, b) in truncated.bytes().enumerate() {
                if spec.space && i > 0 {
                    hex.push(' ');
                }
                if spec.sharp && (spec.space || i == 0) {
                    hex.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                let _ = if verb == 'x' {
                    write!(hex, "{b:02x}")
                } else {
                    write!(hex, "{b:02X}")
                };
            }
            pad(out, &hex, spec, false);
        }
        _ => bad_verb(out, arg, verb),
    }
}

fn sign_prefix(negative: bool, spec: &Spec) -> &'static str {
    if negative {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

fn format_number(out: &mut String, arg: &Value, n: &Number, verb: char, spec: &Spec) {
    let int = n
        .as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from));
    match (int, n.as_f64()) {
        (Some(i), _) => format_int(out, arg, i, verb, spec),
        (None, Some(f)) => format_float(out, arg, f, verb, spec),
        (None, None) => bad_verb(out, arg, verb),
    }
}

fn format_int(out: &mut String, arg: &Value, i: i128, verb: char, spec: &Spec) {
    let abs = i.unsigned_abs();
    let (digits, prefix) = match verb {
        'd' | 'v' => (abs.to_string(), ""),
        'b' => (format!("{abs:b}"), if spec.sharp { "0b" } else { "" }),
        'o' => (format!("{abs:o}"), if spec.sharp { "0" } else { "" }),
        'O' => (format!("{abs:o}"), "0o"),
        'x' => (format!("{abs:x}"), if spec.sharp { "0x" } else { "" }),
        'X' => (format!("{abs:X}"), if spec.sharp { "0X" } else { "" }),
        'c' => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            return pad(out, &c.to_string(), spec, false);
        }
        'q' => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            let quoted = go_quote(&c.to_string());
            let inner = &quoted[1..quoted.len() - 1];
            let inner = if inner == "\\\"" { "\"" } else { inner };
            let body = if c == '\'' {
                "'\\''".to_string()
            } else {
                format!("'{inner}'")
            };
            return pad(out, &body, spec, false);
        }
        'U' => {
            let body = format!("U+{:04X}", abs);
            return pad(out, &body, spec, false);
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => return bad_verb(out, arg, verb),
        _ => return bad_verb(out, arg, verb),
    };
    let digits = match spec.precision {
        Some(p) if digits.len() < p => format!("{}{digits}", "0".repeat(p - digits.len())),
        _ => digits,
    };
    let body = format!("{}{prefix}{digits}", sign_prefix(i < 0, spec));
    // Go ignores the 0 flag when a precision is given.
    let spec = Spec {
        zero: spec.zero && spec.precision.is_none(),
        ..*spec
    };
    pad(out, &body, &spec, true);
}

fn format_float(out: &mut String, arg: &Value, f: f64, verb: char, spec: &Spec) {
    let body = match verb {
        'v' | 'g' | 'G' => {
            let s = format_float_g(f.abs(), spec.precision);
            if verb == 'G' { s.to_uppercase() } else { s }
        }
        'e' | 'E' => format_float_e(f.abs(), spec.precision.unwrap_or(6), verb == 'E'),
        'f' | 'F' => format!("{:.*}", spec.precision.unwrap_or(6), f.abs()),
        _ => return bad_verb(out, arg, verb),
    };
    let body = format!("{}{body}", sign_prefix(f.is_sign_negative(), spec));
    pad(out, &body, spec, true);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(format: &str, args: &[Value]) -> String {
        let refs: Vec<&Value> = args.iter().collect();
        sprintf(format, &refs)
    }

    #[test]
    fn common_verbs() {
        assert_eq!(
            f(
                "%s-%d-%v-%t",
                &[json!("a"), json!(3), json!(1.5), json!(true)]
            ),
            "a-3-1.5-true"
        );
        assert_eq!(f("%q", &[json!("a\"b\n")]), r#""a\"b\n""#);
        assert_eq!(
            f("%x %X %o %b", &[json!(255), json!(255), json!(8), json!(5)]),
            "ff FF 10 101"
        );
        assert_eq!(f("%x", &[json!("hi")]), "6869");
        assert_eq!(
            f(
                "%f %.2f %e %g",
                &[json!(1.5), json!(2.34567), json!(1234.5), json!(1e6)]
            ),
            "1.500000 2.35 1.234500e+03 1e+06"
        );
        assert_eq!(f("%c%c", &[json!(72), json!(105)]), "Hi");
        assert_eq!(f("%U", &[json!(0x1F600)]), "U+1F600");
        assert_eq!(
            f(
                "%5.1f|%-6d|%06d|%+d",
                &[json!(2.34567), json!(42), json!(-42), json!(7)]
            ),
            "  2.3|42    |-00042|+7"
        );
        assert_eq!(f("100%%", &[]), "100%");
    }

    #[test]
    fn widths_for_table_columns() {
        assert_eq!(f("%-10s|", &[json!("abc")]), "abc       |");
        assert_eq!(f("%10s|", &[json!("abc")]), "       abc|");
        assert_eq!(f("%.2s|", &[json!("abc")]), "ab|");
        assert_eq!(f("%*d|", &[json!(4), json!(7)]), "   7|");
        assert_eq!(f("%-4s|", &[json!("héé")]), "héé |");
    }

    #[test]
    fn go_error_notation() {
        assert_eq!(f("%d", &[json!("abc")]), "%!d(string=abc)");
        assert_eq!(f("%s", &[json!(5)]), "%!s(int=5)");
        assert_eq!(f("%d", &[json!(1.5)]), "%!d(float64=1.5)");
        assert_eq!(f("%s", &[json!(null)]), "%!s(<nil>)");
        assert_eq!(f("%v", &[json!(null)]), "<nil>");
        assert_eq!(f("%s %s", &[json!("a")]), "a %!s(MISSING)");
        assert_eq!(
            f("%s", &[json!("a"), json!(1), json!("b")]),
            "a%!(EXTRA int=1, string=b)"
        );
        assert_eq!(f("abc%", &[]), "abc%!(NOVERB)");
        assert_eq!(f("%z", &[json!(true)]), "%!z(bool=true)");
    }

    #[test]
    fn composite_values() {
        assert_eq!(f("%s", &[json!(["a", "b"])]), "[a b]");
        assert_eq!(f("%q", &[json!(["a", "b"])]), r#"["a" "b"]"#);
        assert_eq!(f("%v", &[json!({"b": 1, "a": "x"})]), "map[a:x b:1]");
        assert_eq!(f("%#v", &[json!("s")]), r#""s""#);
        assert_eq!(f("%#v", &[json!(["s", 1])]), r#"[]interface {}{"s", 1}"#);
    }

    #[test]
    fn sprint_spacing() {
        let a = json!("a");
        let one = json!(1);
        let two = json!(2);
        assert_eq!(sprint(&[&a, &one, &two, &a]), "a1 2a");
        assert_eq!(sprintln(&[&a, &one]), "a 1\n");
        assert_eq!(sprint(&[]), "");
    }
}
