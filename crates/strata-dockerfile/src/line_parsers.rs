//! Per-instruction argument splitting, as BuildKit's `line_parsers.go` and `split_command.go`
//! do it.
//!
//! | instructions | rule |
//! |---|---|
//! | RUN, CMD, ENTRYPOINT, SHELL | JSON array of strings, else the whole text as one argument |
//! | COPY, ADD, VOLUME | JSON array of strings, else split on white space |
//! | FROM, EXPOSE | split on white space |
//! | USER, WORKDIR, STOPSIGNAL, MAINTAINER | the whole text as one argument |
//! | ENV, LABEL | `key value` (legacy) or `k=v k2=v2`, as `key value separator` triples |
//! | ARG | quote-aware words (`name` or `name=value`) |
//! | HEALTHCHECK | the first word, then like CMD |
//! | ONBUILD | the rest is parsed as an instruction of its own |
//! | anything else | no arguments (the typed layer reports the unknown instruction) |
//!
//! A JSON array holding a non-string is an error; any other JSON problem silently falls back to
//! the shell form, as in BuildKit. Quotes and escapes are kept in the words: removing them is
//! the shell lexer's job.
//!
//! One deliberate difference: BuildKit scans flags byte by byte and re-encodes each byte as a
//! Latin-1 character, which garbles non-ASCII text in flag values (`--chown=usér`); Strata keeps
//! the characters intact.

use crate::quote::go_quote;

/// An argument with its byte range inside the argument text, when it is a contiguous piece of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawArg {
    pub value: String,
    pub range: Option<(usize, usize)>,
}

/// What an instruction's line parser produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineArgs {
    Args {
        args: Vec<RawArg>,
        json: bool,
    },
    /// ONBUILD: the argument text is an instruction of its own.
    SubCommand,
}

/// Keyword, flags and argument text of a logical line, as byte ranges into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SplitCommand {
    pub cmd: (usize, usize),
    pub flags: Vec<(String, usize, usize)>,
    pub rest: (usize, usize),
}

fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// BuildKit's `[\t\v\f\r ]+` separator.
fn is_token_space(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// Split a logical line into keyword, flags and the argument text.
pub(crate) fn split_command(line: &str) -> SplitCommand {
    let t_start = line.len() - line.trim_start_matches(is_space).len();
    let t = line.trim_matches(is_space);
    let t_end = t_start + t.len();
    let Some(p) = t.find(is_token_space) else {
        return SplitCommand {
            cmd: (t_start, t_end),
            flags: Vec::new(),
            rest: (t_end, t_end),
        };
    };
    let after = t[p..].trim_start_matches(is_token_space);
    let a_off = t_end - after.len();
    let (rest_start, flags) = extract_builder_flags(after);
    let flags = flags
        .into_iter()
        .map(|(w, s, e)| (w, a_off + s, a_off + e))
        .collect();
    let rest = &after[rest_start..];
    let lead = rest.len() - rest.trim_start_matches(is_space).len();
    let trimmed = rest.trim_matches(is_space);
    let rs = a_off + rest_start + lead;
    SplitCommand {
        cmd: (t_start, t_start + p),
        flags,
        rest: (rs, rs + trimmed.len()),
    }
}

/// Take the leading `--flag` words off `line`: returns where the remaining text starts and the
/// flags (quotes and backslash escapes removed) with their byte ranges.
fn extract_builder_flags(line: &str) -> (usize, Vec<(String, usize, usize)>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    // Fast path: most instructions have no flags.
    let lead = line.len() - line.trim_start_matches(is_space).len();
    if !line[lead..].starts_with("--") {
        return (
            if lead == line.len() { line.len() } else { lead },
            Vec::new(),
        );
    }
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let n = chars.len();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut word_start = 0;
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut i = 0;
    while i <= n {
        let at_end = i == n;
        let (pos, ch) = if at_end { (line.len(), '\0') } else { chars[i] };
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if is_space(ch) {
                i += 1;
                continue;
            }
            if ch != '-' || i + 1 == n || chars[i + 1].1 != '-' {
                return (pos, words);
            }
            phase = Phase::Word;
            word_start = pos;
        }
        if at_end {
            if word != "--" && (blank_ok || !word.is_empty()) {
                words.push((std::mem::take(&mut word), word_start, pos));
            }
            break;
        }
        if phase == Phase::Word {
            if is_space(ch) {
                phase = Phase::Spaces;
                if word == "--" {
                    return (pos, words);
                }
                if blank_ok || !word.is_empty() {
                    words.push((std::mem::take(&mut word), word_start, pos));
                }
                word.clear();
                blank_ok = false;
                i += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                i += 1;
                continue;
            }
            let mut c = ch;
            if ch == '\\' {
                if i + 1 == n {
                    i += 1;
                    continue;
                }
                i += 1;
                c = chars[i].1;
            }
            word.push(c);
            i += 1;
            continue;
        }
        // Phase::Quote
        if ch == quote {
            phase = Phase::Word;
            i += 1;
            continue;
        }
        let mut c = ch;
        if ch == '\\' {
            if i + 1 == n {
                phase = Phase::Word;
                i += 1;
                continue;
            }
            i += 1;
            c = chars[i].1;
        }
        word.push(c);
        i += 1;
    }
    (line.len(), words)
}

/// Quote-aware word splitting that keeps quotes and escapes (BuildKit's `parseWords`), with
/// each word's byte range.
pub(crate) fn parse_words(rest: &str, escape: char) -> Vec<(String, usize, usize)> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<(usize, char)> = rest.char_indices().collect();
    let n = chars.len();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut word = String::new();
    let mut word_start = 0;
    let mut i = 0;
    while i <= n {
        let at_end = i == n;
        let (pos, ch) = if at_end { (rest.len(), '\0') } else { chars[i] };
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if is_space(ch) {
                i += 1;
                continue;
            }
            phase = Phase::Word;
            word_start = pos;
        }
        if at_end {
            if blank_ok || !word.is_empty() {
                words.push((std::mem::take(&mut word), word_start, pos));
            }
            break;
        }
        if phase == Phase::Word {
            if is_space(ch) {
                phase = Phase::Spaces;
                if blank_ok || !word.is_empty() {
                    words.push((std::mem::take(&mut word), word_start, pos));
                }
                word.clear();
                blank_ok = false;
                i += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            let mut c = ch;
            if ch == escape {
                if i + 1 == n {
                    i += 1;
                    continue;
                }
                word.push(ch);
                i += 1;
                c = chars[i].1;
            }
            word.push(c);
            i += 1;
            continue;
        }
        // Phase::Quote
        if ch == quote {
            phase = Phase::Word;
        }
        let mut c = ch;
        if ch == escape && quote != '\'' {
            if i + 1 == n {
                phase = Phase::Word;
                i += 1;
                continue;
            }
            i += 1;
            word.push(ch);
            c = chars[i].1;
        }
        word.push(c);
        i += 1;
    }
    words
}

/// Why a text is not a usable JSON array of strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonError {
    /// Not JSON, or not an array: the caller falls back to the shell form.
    NotJson,
    /// A JSON array with a non-string element: a hard error.
    NotStringArray,
}

pub(crate) const ERR_NOT_STRING_ARRAY: &str =
    "when using JSON array syntax, arrays must be comprised of strings only";

/// Parse `rest` as a JSON array of strings.
pub(crate) fn parse_json(rest: &str) -> Result<Vec<String>, JsonError> {
    let t = rest.trim_start_matches(is_space);
    if !t.starts_with('[') {
        return Err(JsonError::NotJson);
    }
    match serde_json::from_str::<serde_json::Value>(t) {
        Ok(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Ok(s),
                _ => Err(JsonError::NotStringArray),
            })
            .collect(),
        Ok(_) => Err(JsonError::NotJson),
        // Nesting deeper than serde_json allows can only come from non-string elements.
        Err(e) if e.to_string().contains("recursion limit") => Err(JsonError::NotStringArray),
        Err(_) => Err(JsonError::NotJson),
    }
}

fn whole(rest: &str) -> RawArg {
    RawArg {
        value: rest.to_string(),
        range: Some((0, rest.len())),
    }
}

fn maybe_json(rest: &str) -> Result<LineArgs, String> {
    if rest.is_empty() {
        return Ok(LineArgs::Args {
            args: Vec::new(),
            json: false,
        });
    }
    match parse_json(rest) {
        Ok(items) => Ok(json_args(items)),
        Err(JsonError::NotStringArray) => Err(ERR_NOT_STRING_ARRAY.to_string()),
        Err(JsonError::NotJson) => Ok(LineArgs::Args {
            args: vec![whole(rest)],
            json: false,
        }),
    }
}

fn json_args(items: Vec<String>) -> LineArgs {
    LineArgs::Args {
        args: items
            .into_iter()
            .map(|value| RawArg { value, range: None })
            .collect(),
        json: true,
    }
}

fn whitespace_delimited(rest: &str) -> Vec<RawArg> {
    let mut out = Vec::new();
    if rest.is_empty() {
        return out;
    }
    let mut start = 0;
    let mut in_sep = false;
    for (i, c) in rest.char_indices() {
        if is_token_space(c) {
            if !in_sep {
                out.push(RawArg {
                    value: rest[start..i].to_string(),
                    range: Some((start, i)),
                });
                in_sep = true;
            }
        } else if in_sep {
            start = i;
            in_sep = false;
        }
    }
    if in_sep {
        out.push(RawArg {
            value: String::new(),
            range: Some((rest.len(), rest.len())),
        });
    } else {
        out.push(RawArg {
            value: rest[start..].to_string(),
            range: Some((start, rest.len())),
        });
    }
    out
}

fn maybe_json_to_list(rest: &str) -> Result<LineArgs, String> {
    match parse_json(rest) {
        Ok(items) => Ok(json_args(items)),
        Err(JsonError::NotStringArray) => Err(ERR_NOT_STRING_ARRAY.to_string()),
        Err(JsonError::NotJson) => Ok(LineArgs::Args {
            args: whitespace_delimited(rest),
            json: false,
        }),
    }
}

fn name_val(rest: &str, key: &str, escape: char) -> Result<Vec<RawArg>, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.0.contains('=') {
        let Some(p) = rest.find(is_token_space) else {
            return Err(format!("{key} must have two arguments"));
        };
        let value = rest[p..].trim_start_matches(is_token_space);
        let vs = rest.len() - value.len();
        return Ok(vec![
            RawArg {
                value: rest[..p].to_string(),
                range: Some((0, p)),
            },
            RawArg {
                value: value.to_string(),
                range: Some((vs, rest.len())),
            },
            RawArg {
                value: String::new(),
                range: Some((rest.len(), rest.len())),
            },
        ]);
    }
    let mut out = Vec::new();
    for (word, start, end) in words {
        let Some(eq) = word.find('=') else {
            return Err(format!(
                "Syntax error - can't find = in {}. Must be of the form: name=value",
                go_quote(&word)
            ));
        };
        out.push(RawArg {
            value: word[..eq].to_string(),
            range: Some((start, start + eq)),
        });
        out.push(RawArg {
            value: word[eq + 1..].to_string(),
            range: Some((start + eq + 1, end.max(start + eq + 1))),
        });
        out.push(RawArg {
            value: "=".to_string(),
            range: Some((start + eq, start + eq + 1)),
        });
    }
    Ok(out)
}

fn health(rest: &str) -> Result<LineArgs, String> {
    let sep = rest.find(is_space).unwrap_or(rest.len());
    if sep == 0 {
        return Ok(LineArgs::Args {
            args: Vec::new(),
            json: false,
        });
    }
    let after = rest[sep..].trim_start_matches(is_space);
    let next = rest.len() - after.len();
    let typ = RawArg {
        value: rest[..sep].to_string(),
        range: Some((0, sep)),
    };
    match maybe_json(after)? {
        LineArgs::Args { args, json } => {
            let mut all = vec![typ];
            all.extend(args.into_iter().map(|a| RawArg {
                value: a.value,
                range: a.range.map(|(s, e)| (s + next, e + next)),
            }));
            Ok(LineArgs::Args { args: all, json })
        }
        LineArgs::SubCommand => Ok(LineArgs::SubCommand),
    }
}

/// Split the argument text of instruction `cmd` (lower case).
pub(crate) fn dispatch(cmd: &str, rest: &str, escape: char) -> Result<LineArgs, String> {
    let args = |args: Vec<RawArg>| LineArgs::Args { args, json: false };
    match cmd {
        "add" | "copy" | "volume" => maybe_json_to_list(rest),
        "cmd" | "entrypoint" | "run" | "shell" => maybe_json(rest),
        "env" => name_val(rest, "ENV", escape).map(args),
        "label" => name_val(rest, "LABEL", escape).map(args),
        "arg" => Ok(args(
            parse_words(rest, escape)
                .into_iter()
                .map(|(value, s, e)| RawArg {
                    value,
                    range: Some((s, e)),
                })
                .collect(),
        )),
        "expose" | "from" => Ok(args(whitespace_delimited(rest))),
        "healthcheck" => health(rest),
        "maintainer" | "stopsignal" | "user" | "workdir" => Ok(args(if rest.is_empty() {
            Vec::new()
        } else {
            vec![whole(rest)]
        })),
        "onbuild" if !rest.is_empty() => Ok(LineArgs::SubCommand),
        _ => Ok(args(Vec::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_stop_at_first_non_flag_word() {
        let s = split_command("COPY --from=a --chown=\"x y\" -- src dst");
        let names: Vec<_> = s.flags.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(names, vec!["--from=a", "--chown=x y"]);
        let line = "COPY --from=a --chown=\"x y\" -- src dst";
        assert_eq!(&line[s.rest.0..s.rest.1], "src dst");
        assert_eq!(&line[s.flags[1].1..s.flags[1].2], "--chown=\"x y\"");
    }

    #[test]
    fn words_keep_quotes() {
        let w: Vec<_> = parse_words("a=\"b c\" d\\ e", '\\')
            .into_iter()
            .map(|w| w.0)
            .collect();
        assert_eq!(w, vec!["a=\"b c\"", "d\\ e"]);
    }

    #[test]
    fn json_detection() {
        assert_eq!(parse_json(" [\"a\"]"), Ok(vec!["a".to_string()]));
        assert_eq!(parse_json("[1]"), Err(JsonError::NotStringArray));
        assert_eq!(parse_json("['a']"), Err(JsonError::NotJson));
        // Text after the array makes it shell form, as current BuildKit's json.Unmarshal
        // (Docker 20.10's JSON decoder stopped after the array).
        assert_eq!(parse_json("[\"a\"] x"), Err(JsonError::NotJson));
        assert_eq!(parse_json("[\"a\",]"), Err(JsonError::NotJson));
        let deep = format!("[{}{}]", "[".repeat(200), "]".repeat(200));
        assert_eq!(parse_json(&deep), Err(JsonError::NotStringArray));
    }
}
