//! Instruction flags (`--name=value`), checked the way BuildKit's `BFlags` checks them.
//!
//! Each instruction declares the flags it accepts with a kind: a boolean (`--link`,
//! `--link=false`), a string that must have a value (`--from=x`), or a repeatable string
//! (`--mount=…`, `--exclude=…`). Names are case-sensitive. An unknown flag gets a
//! `(did you mean …?)` suggestion when a known name is within edit distance 2, like BuildKit.

use crate::ast::Flag;
use crate::span::Span;

/// The kind of value a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    String,
    Strings,
}

/// A flag failure: the message and the span of the flag it is about.
pub(crate) type FlagError = (String, Span);

/// The flags of one instruction after checking.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    values: Vec<(&'static str, Vec<String>, Span)>,
}

impl Parsed {
    fn entry(&self, name: &str) -> Option<&(&'static str, Vec<String>, Span)> {
        self.values.iter().find(|(n, _, _)| *n == name)
    }

    /// Whether the flag was written.
    pub(crate) fn used(&self, name: &str) -> bool {
        self.entry(name).is_some()
    }

    /// A boolean flag's value (false when absent).
    pub(crate) fn bool(&self, name: &str) -> bool {
        self.entry(name)
            .and_then(|(_, v, _)| v.last())
            .is_some_and(|v| v == "true")
    }

    /// A string flag's value and the span of the flag.
    pub(crate) fn string_at(&self, name: &str) -> Option<(String, Span)> {
        self.entry(name)
            .and_then(|(_, v, s)| v.last().map(|v| (v.clone(), *s)))
    }

    /// All values of a repeatable flag.
    pub(crate) fn strings(&self, name: &str) -> Vec<String> {
        self.values
            .iter()
            .filter(|(n, _, _)| *n == name)
            .flat_map(|(_, v, _)| v.iter().cloned())
            .collect()
    }

    /// All values of a repeatable flag with the span of each.
    pub(crate) fn strings_at(&self, name: &str) -> Vec<(String, Span)> {
        self.values
            .iter()
            .filter(|(n, _, _)| *n == name)
            .flat_map(|(_, v, s)| v.iter().map(|v| (v.clone(), *s)))
            .collect()
    }

    /// Names of the flags that were written, in order.
    pub(crate) fn used_names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (n, _, _) in &self.values {
            if !out.iter().any(|o| o == n) {
                out.push((*n).to_string());
            }
        }
        out
    }
}

/// Check `flags` against the accepted `defs`.
pub(crate) fn parse(flags: &[Flag], defs: &[(&'static str, Kind)]) -> Result<Parsed, FlagError> {
    let mut parsed = Parsed::default();
    for flag in flags {
        let text = flag.text.as_str();
        if text == "--" {
            break;
        }
        let Some(body) = text.strip_prefix("--") else {
            return Err((format!("arg should start with -- : {text}"), flag.span));
        };
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let flag_name = format!("--{name}");
        let Some(&(def_name, kind)) = defs.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = defs.iter().map(|(n, _)| *n).collect();
            let msg = suggest(format!("unknown flag: {flag_name}"), name, &names, true);
            return Err((msg, flag.span));
        };
        if kind != Kind::Strings && parsed.used(def_name) {
            return Err((format!("duplicate flag specified: {flag_name}"), flag.span));
        }
        let v = match kind {
            Kind::Bool => {
                if value == Some("") {
                    return Err((format!("missing a value on flag: {flag_name}"), flag.span));
                }
                match value.map(str::to_lowercase).as_deref() {
                    None | Some("true") => "true".to_string(),
                    Some("false") => "false".to_string(),
                    Some(_) => {
                        return Err((
                            format!(
                                "expecting boolean value for flag {flag_name}, not: {}",
                                value.unwrap_or_default()
                            ),
                            flag.span,
                        ));
                    }
                }
            }
            Kind::String | Kind::Strings => match value {
                Some(v) => v.to_string(),
                None => {
                    return Err((format!("missing a value on flag: {flag_name}"), flag.span));
                }
            },
        };
        parsed.values.push((def_name, vec![v], flag.span));
    }
    Ok(parsed)
}

/// Levenshtein distance over characters, unit costs.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// BuildKit's `suggest.WrapError`: append ` (did you mean X?)` when an option is within edit
/// distance 2 of `value`; options are tried in the given order and the first closest wins.
pub(crate) fn suggest(
    message: String,
    value: &str,
    options: &[&str],
    case_sensitive: bool,
) -> String {
    let val = if case_sensitive {
        value.to_string()
    } else {
        value.to_lowercase()
    };
    let mut best: Option<String> = None;
    let mut min = 3;
    for opt in options {
        let opt = if case_sensitive {
            (*opt).to_string()
        } else {
            opt.to_lowercase()
        };
        if opt == val {
            return message;
        }
        let d = levenshtein(&val, &opt);
        if d < min {
            min = d;
            best = Some(if case_sensitive {
                opt
            } else {
                match_case(&opt, value)
            });
        }
    }
    match best {
        Some(m) => format!("{message} (did you mean {m}?)"),
        None => message,
    }
}

fn match_case(val: &str, orig: &str) -> String {
    if orig == orig.to_lowercase() {
        val.to_lowercase()
    } else if orig == orig.to_uppercase() {
        val.to_uppercase()
    } else {
        val.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_and_suggestions() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(
            suggest(
                "unknown flag: --form".into(),
                "form",
                &["from", "chown"],
                true
            ),
            "unknown flag: --form (did you mean from?)"
        );
        assert_eq!(
            suggest("unknown instruction: RUNN".into(), "RUNN", &["RUN"], false),
            "unknown instruction: RUNN (did you mean RUN?)"
        );
        assert_eq!(suggest("x".into(), "zzzzzz", &["from"], true), "x");
    }
}
