//! Parser directives: `# syntax=`, `# escape=`, `# check=`.
//!
//! Directives are comment lines of the form `# key=value` at the very top of the file. Scanning
//! stops at the first line that is not such a comment (a blank line too), at a comment that is
//! not `key=value`, or at an unknown key. Keys are case-insensitive and may appear once each.
//!
//! [`detect_syntax`] is the looser search BuildKit uses to pick a frontend: it also skips a
//! `#!` shebang line and accepts `// syntax=` and a whole-file JSON object `{"syntax": …}`.

/// Recognised directive names.
pub const VALID_DIRECTIVES: [&str; 3] = ["syntax", "escape", "check"];

/// The state of the directive scan at the top of a file.
#[derive(Debug, Clone)]
pub(crate) struct DirectiveParser {
    prefix: &'static str,
    done: bool,
    seen: Vec<String>,
}

/// One directive found by [`DirectiveParser::parse_line`]: (name lower-cased, name as written,
/// value).
pub(crate) type RawDirective = (String, String, String);

impl DirectiveParser {
    pub(crate) fn new(prefix: &'static str) -> Self {
        DirectiveParser {
            prefix,
            done: false,
            seen: Vec::new(),
        }
    }

    /// Look at one line (newline and leading white space already removed).
    pub(crate) fn parse_line(&mut self, line: &str) -> Result<Option<RawDirective>, String> {
        if self.done {
            return Ok(None);
        }
        let Some(rest) = line.strip_prefix(self.prefix) else {
            self.done = true;
            return Ok(None);
        };
        let Some((name, value)) = match_directive(rest.trim_start()) else {
            self.done = true;
            return Ok(None);
        };
        let key = name.to_ascii_lowercase();
        if !VALID_DIRECTIVES.contains(&key.as_str()) {
            self.done = true;
            return Ok(None);
        }
        if self.seen.contains(&key) {
            return Err(format!("only one {key} parser directive can be used"));
        }
        self.seen.push(key.clone());
        Ok(Some((key, name.to_string(), value.to_string())))
    }
}

/// RE2's `\s`: ASCII space, tab, newline, form feed, carriage return.
fn is_re_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{c}' | '\r')
}

/// Match `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` by hand.
fn match_directive(s: &str) -> Option<(&str, &str)> {
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, c)) if c.is_ascii_alphabetic() => {}
        _ => return None,
    }
    let name_end = s
        .char_indices()
        .skip(1)
        .find(|&(_, c)| !c.is_ascii_alphanumeric())
        .map_or(s.len(), |(i, _)| i);
    let name = &s[..name_end];
    let rest = s[name_end..].trim_start_matches(is_re_space);
    let rest = rest.strip_prefix('=')?;
    if rest.is_empty() || rest.contains('\n') {
        return None;
    }
    // `\s*` is greedy but must leave at least one character for `(.+?)`.
    let value = rest.trim_matches(is_re_space);
    if value.is_empty() {
        let last = rest.char_indices().last().map_or(0, |(i, _)| i);
        return Some((name, &rest[last..]));
    }
    Some((name, value))
}

/// Where a directive was found by [`detect_syntax`] or [`parse_directive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedDirective {
    /// The value up to the first space (`docker/dockerfile:1`).
    pub reference: String,
    /// The whole value (`docker/dockerfile:1 // comment`).
    pub cmdline: String,
    /// 1-based line of the directive (0 for the JSON form).
    pub line: usize,
}

/// Find the `syntax` directive the way BuildKit picks a frontend (see the module doc).
pub fn detect_syntax(source: &str) -> Option<DetectedDirective> {
    find_directive("syntax", source, true)
}

/// Find directive `key` in `#` comments only (also after a shebang line).
pub fn parse_directive(key: &str, source: &str) -> Option<DetectedDirective> {
    find_directive(key, source, false)
}

fn find_directive(key: &str, source: &str, any_format: bool) -> Option<DetectedDirective> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let (first, rest) = source.split_once('\n').unwrap_or((source, ""));
    let (body, line_offset) = if first.starts_with("#!") {
        (rest, 1)
    } else {
        (source, 0)
    };
    let prefixes: &[&'static str] = if any_format { &["#", "//"] } else { &["#"] };
    for prefix in prefixes {
        let mut parser = DirectiveParser::new(prefix);
        for (i, line) in body.lines().enumerate() {
            if parser.done {
                break;
            }
            match parser.parse_line(line) {
                Ok(Some((name, _, value))) if name == key => {
                    let reference = value.split(' ').next().unwrap_or("").to_string();
                    return Some(DetectedDirective {
                        reference,
                        cmdline: value,
                        line: i + 1 + line_offset,
                    });
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    if !any_format {
        return None;
    }
    let json: serde_json::Map<String, serde_json::Value> = serde_json::from_str(body).ok()?;
    let value = json.get(key)?.as_str()?;
    Some(DetectedDirective {
        reference: value.to_string(),
        cmdline: value.to_string(),
        line: line_offset,
    })
}

/// The parsed value of a `# check=` directive (BuildKit's lint options).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Rules listed in `skip=a,b`.
    pub skip: Vec<String>,
    /// `skip=all`.
    pub skip_all: bool,
    /// `error=true`: findings fail the build.
    pub error: bool,
    /// Experimental rules enabled with `experimental=a,b`.
    pub experimental: Vec<String>,
    /// `experimental=all`.
    pub experimental_all: bool,
}

impl CheckOptions {
    /// Parse `skip=…;error=…;experimental=…` with BuildKit's error messages.
    pub fn parse(value: &str) -> Result<CheckOptions, String> {
        let value = value.trim();
        let mut opts = CheckOptions::default();
        if value.is_empty() {
            return Ok(opts);
        }
        for part in value.split(';') {
            let Some((k, v)) = part.split_once('=') else {
                return Err(format!(
                    "invalid check option {}",
                    crate::quote::go_quote(part)
                ));
            };
            let list =
                |v: &str| -> Vec<String> { v.split(',').map(|r| r.trim().to_string()).collect() };
            match k.trim() {
                "skip" => {
                    let v = v.trim();
                    if v == "all" {
                        opts.skip_all = true;
                    } else {
                        opts.skip = list(v);
                    }
                }
                "experimental" => {
                    let v = v.trim();
                    if v == "all" {
                        opts.experimental_all = true;
                    } else {
                        opts.experimental = list(v);
                    }
                }
                "error" => {
                    opts.error = parse_go_bool(v.trim()).ok_or_else(|| {
                        format!(
                            "failed to parse check option {}: strconv.ParseBool: parsing {}: invalid syntax",
                            crate::quote::go_quote(part),
                            crate::quote::go_quote(v.trim())
                        )
                    })?;
                }
                other => {
                    return Err(format!(
                        "invalid check option {}",
                        crate::quote::go_quote(other)
                    ));
                }
            }
        }
        Ok(opts)
    }
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directive_regex_semantics() {
        assert_eq!(match_directive("escape=`"), Some(("escape", "`")));
        assert_eq!(match_directive("key = FOO bar "), Some(("key", "FOO bar")));
        assert_eq!(match_directive("escape= "), Some(("escape", " ")));
        assert_eq!(match_directive("escape="), None);
        assert_eq!(match_directive("1x=y"), None);
    }

    #[test]
    fn check_options() {
        let o = CheckOptions::parse("skip=A, B;error=true").unwrap();
        assert_eq!(o.skip, vec!["A", "B"]);
        assert!(o.error);
        assert!(CheckOptions::parse("skip=all").unwrap().skip_all);
        assert_eq!(
            CheckOptions::parse("bogus").unwrap_err(),
            "invalid check option \"bogus\""
        );
        assert_eq!(
            CheckOptions::parse("foo=bar").unwrap_err(),
            "invalid check option \"foo\""
        );
        assert!(CheckOptions::parse("error=maybe").is_err());
    }
}
