//! `RUN --mount=…` options.
//!
//! The value is one CSV record of `key=value` fields (and a few bare words: `ro`, `rw`,
//! `required`). BuildKit reads it twice: when the file is parsed it only checks the CSV syntax
//! and that `from=` holds no variable; when the stage is built it expands every value and checks
//! everything else. [`parse_mount`] does both: without an expander it performs the parse-time
//! checks, with one it returns the complete [`Mount`].

use crate::directives::parse_go_bool;
use crate::instructions::flags::suggest;

/// The kinds of mounts RUN can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MountType {
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

impl MountType {
    pub fn as_str(&self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Cache => "cache",
            MountType::Tmpfs => "tmpfs",
            MountType::Secret => "secret",
            MountType::Ssh => "ssh",
        }
    }
}

/// How concurrent builds share a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheSharing {
    Shared,
    Private,
    Locked,
}

/// A fully parsed `--mount`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub kind: MountType,
    /// `from=`: a stage, image or named context (bind and cache mounts).
    pub from: Option<String>,
    /// `source=`/`src=`: path inside `from` (bind, cache), or the secret id (secret).
    pub source: Option<String>,
    /// `target=`/`dst=`/`destination=`: where it is mounted.
    pub target: Option<String>,
    /// Read-only (the default for bind, secret and ssh mounts).
    pub read_only: bool,
    /// `id=`: cache id, secret id or ssh agent id.
    pub id: Option<String>,
    /// `sharing=` (cache mounts only).
    pub sharing: Option<CacheSharing>,
    /// `required` (secret and ssh mounts only).
    pub required: bool,
    /// `mode=` (octal; secret, ssh and cache mounts).
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// `size=` in bytes (tmpfs mounts only).
    pub size: Option<i64>,
    /// `env=`: expose a secret as this environment variable (secret mounts only).
    pub env: Option<String>,
}

impl Mount {
    fn new() -> Self {
        Mount {
            kind: MountType::Bind,
            from: None,
            source: None,
            target: None,
            read_only: false,
            id: None,
            sharing: None,
            required: false,
            mode: None,
            uid: None,
            gid: None,
            size: None,
            env: None,
        }
    }
}

const MOUNT_TYPES: [&str; 5] = ["bind", "cache", "tmpfs", "secret", "ssh"];
const SHARING_MODES: [&str; 3] = ["shared", "private", "locked"];
const ALL_KEYS: [&str; 17] = [
    "type",
    "from",
    "source",
    "target",
    "readonly",
    "id",
    "sharing",
    "required",
    "mode",
    "uid",
    "gid",
    "src",
    "dst",
    "ro",
    "rw",
    "readwrite",
    "env",
];

/// Split one CSV record the way Go's `encoding/csv` reads it (comma separator, `"` quoting).
pub(crate) fn split_csv(line: &str) -> Result<Vec<String>, String> {
    if line.is_empty() {
        return Err("EOF".to_string());
    }
    let mut fields = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    loop {
        let mut field = String::new();
        if bytes.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match line[i..].find('"') {
                    None => {
                        return Err(format!(
                            "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                            line.len() + 1
                        ));
                    }
                    Some(q) => {
                        field.push_str(&line[i..i + q]);
                        i += q + 1;
                        match bytes.get(i) {
                            Some(b'"') => {
                                field.push('"');
                                i += 1;
                            }
                            Some(b',') | None => break,
                            Some(_) => {
                                return Err(format!(
                                    "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                                    i + 1
                                ));
                            }
                        }
                    }
                }
            }
        } else {
            let end = line[i..].find(',').map_or(line.len(), |p| i + p);
            let raw = &line[i..end];
            if let Some(q) = raw.find('"') {
                return Err(format!(
                    "parse error on line 1, column {}: bare \" in non-quoted field",
                    i + q + 1
                ));
            }
            field.push_str(raw);
            i = end;
        }
        fields.push(field);
        if bytes.get(i) == Some(&b',') {
            i += 1;
            continue;
        }
        break;
    }
    Ok(fields)
}

/// docker/go-units `RAMInBytes`: `64m`, `1.5g`, `512KiB`, `100` (binary multipliers).
fn ram_in_bytes(s: &str) -> Option<i64> {
    let s = s.trim_end_matches(['b', 'B']);
    let s = s.trim_end_matches(['i', 'I']);
    let (num, mult) = match s.chars().last()? {
        c @ ('k' | 'K' | 'm' | 'M' | 'g' | 'G' | 't' | 'T' | 'p' | 'P') => {
            let exp = match c.to_ascii_lowercase() {
                'k' => 1,
                'm' => 2,
                'g' => 3,
                't' => 4,
                _ => 5,
            };
            (&s[..s.len() - 1], 1024f64.powi(exp))
        }
        _ => (s, 1.0),
    };
    let num = num.strip_suffix(' ').unwrap_or(num);
    if num.is_empty()
        || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || num.starts_with('.')
    {
        return None;
    }
    let v: f64 = num.parse().ok()?;
    let bytes = v * mult;
    (bytes.is_finite() && bytes < i64::MAX as f64).then_some(bytes as i64)
}

/// An expander for mount values: takes the raw text, returns the expanded text.
pub type Expander<'a> = &'a mut dyn FnMut(&str) -> Result<String, String>;

/// Parse a `--mount` value. Without an expander only BuildKit's parse-time checks run and the
/// returned mount is not meaningful; with one, every option is expanded and checked.
pub fn parse_mount(value: &str, mut expand: Option<Expander<'_>>) -> Result<Mount, String> {
    let fields = split_csv(value).map_err(|e| format!("failed to parse csv mounts: {e}"))?;
    let mut m = Mount::new();
    let mut ro_auto = true;
    for field in &fields {
        let (key, value, has_value) = match field.split_once('=') {
            Some((k, v)) => (k.to_lowercase(), v.to_string(), true),
            None => (field.to_lowercase(), String::new(), false),
        };
        if !has_value {
            if expand.is_none() {
                continue;
            }
            match key.as_str() {
                "readonly" | "ro" => {
                    m.read_only = true;
                    ro_auto = false;
                }
                "readwrite" | "rw" => {
                    m.read_only = false;
                    ro_auto = false;
                }
                "required" => {
                    if matches!(m.kind, MountType::Secret | MountType::Ssh) {
                        m.required = true;
                    } else {
                        return Err(format!(
                            "unexpected key '{key}' for mount type '{}'",
                            m.kind.as_str()
                        ));
                    }
                }
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
            continue;
        }
        let value = match expand.as_mut() {
            Some(e) => e(&value)?,
            None => {
                if key == "from" && has_variable(&value) {
                    return Err(format!(
                        "'{key}' doesn't support variable expansion, define alias stage instead"
                    ));
                }
                continue;
            }
        };
        let bool_value =
            |v: &str| parse_go_bool(v).ok_or_else(|| format!("invalid value for {key}: {v}"));
        match key.as_str() {
            "type" => {
                m.kind = match value.to_lowercase().as_str() {
                    "bind" => MountType::Bind,
                    "cache" => MountType::Cache,
                    "tmpfs" => MountType::Tmpfs,
                    "secret" => MountType::Secret,
                    "ssh" => MountType::Ssh,
                    _ => {
                        return Err(suggest(
                            format!("unsupported mount type {}", crate::quote::go_quote(&value)),
                            &value,
                            &MOUNT_TYPES,
                            true,
                        ));
                    }
                };
            }
            "from" => m.from = Some(value),
            "source" | "src" => m.source = Some(value),
            "target" | "dst" | "destination" => m.target = Some(value),
            "readonly" | "ro" => {
                m.read_only = bool_value(&value)?;
                ro_auto = false;
            }
            "readwrite" | "rw" => {
                m.read_only = !bool_value(&value)?;
                ro_auto = false;
            }
            "required" => {
                if matches!(m.kind, MountType::Secret | MountType::Ssh) {
                    m.required = bool_value(&value)?;
                } else {
                    return Err(format!(
                        "unexpected key '{key}' for mount type '{}'",
                        m.kind.as_str()
                    ));
                }
            }
            "size" => {
                if m.kind == MountType::Tmpfs {
                    m.size = Some(
                        ram_in_bytes(&value)
                            .ok_or_else(|| format!("invalid value for {key}: {value}"))?,
                    );
                } else {
                    return Err(format!(
                        "unexpected key '{key}' for mount type '{}'",
                        m.kind.as_str()
                    ));
                }
            }
            "env" => {
                if m.kind == MountType::Secret {
                    m.env = Some(value);
                } else {
                    return Err(format!(
                        "unexpected key '{key}' for mount type '{}'",
                        m.kind.as_str()
                    ));
                }
            }
            "id" => m.id = Some(value),
            "sharing" => {
                m.sharing = Some(match value.to_lowercase().as_str() {
                    "shared" => CacheSharing::Shared,
                    "private" => CacheSharing::Private,
                    "locked" => CacheSharing::Locked,
                    _ => {
                        return Err(suggest(
                            format!(
                                "unsupported sharing value {}",
                                crate::quote::go_quote(&value)
                            ),
                            &value,
                            &SHARING_MODES,
                            true,
                        ));
                    }
                });
            }
            "mode" => {
                m.mode = Some(
                    u32::from_str_radix(&value, 8)
                        .map_err(|_| format!("invalid value {value} for mode"))?,
                );
            }
            "uid" => {
                m.uid = Some(
                    value
                        .parse::<u32>()
                        .map_err(|_| format!("invalid value {value} for uid"))?,
                );
            }
            "gid" => {
                m.gid = Some(
                    value
                        .parse::<u32>()
                        .map_err(|_| format!("invalid value {value} for gid"))?,
                );
            }
            _ => {
                return Err(suggest(
                    format!("unexpected key '{key}' in '{field}'"),
                    &key,
                    &ALL_KEYS,
                    true,
                ));
            }
        }
    }
    validate(&mut m, ro_auto)?;
    Ok(m)
}

/// Go's `\$.` check: a `$` followed by any character.
fn has_variable(s: &str) -> bool {
    s.find('$')
        .is_some_and(|i| s[i + 1..].chars().next().is_some_and(|c| c != '\n'))
}

fn validate(m: &mut Mount, ro_auto: bool) -> Result<(), String> {
    let file_info_allowed = matches!(
        m.kind,
        MountType::Secret | MountType::Ssh | MountType::Cache
    );
    let kind = m.kind.as_str();
    if !file_info_allowed {
        if m.mode.is_some() {
            return Err(format!("mode not allowed for \"{kind}\" type mounts"));
        }
        if m.uid.is_some() {
            return Err(format!("uid not allowed for \"{kind}\" type mounts"));
        }
        if m.gid.is_some() {
            return Err(format!("gid not allowed for \"{kind}\" type mounts"));
        }
    }
    if ro_auto {
        m.read_only = !matches!(m.kind, MountType::Cache | MountType::Tmpfs);
    }
    if m.kind == MountType::Secret {
        if m.from.is_some() {
            return Err("secret mount should not have a from".to_string());
        }
        if m.sharing.is_some() {
            return Err("secret mount should not define sharing".to_string());
        }
        if m.source.is_none() && m.target.is_none() && m.id.is_none() && m.env.is_none() {
            return Err("invalid secret mount. one of source, target required".to_string());
        }
        if m.source.is_some() && m.id.is_some() {
            return Err("both source and id can't be set".to_string());
        }
    }
    if m.sharing.is_some() && m.kind != MountType::Cache {
        return Err(format!("invalid cache sharing set for {kind} mount"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(v: &str) -> Result<Mount, String> {
        let mut id = |s: &str| -> Result<String, String> { Ok(s.to_string()) };
        parse_mount(v, Some(&mut id))
    }

    #[test]
    fn csv_records() {
        assert_eq!(split_csv("a,b=c").unwrap(), vec!["a", "b=c"]);
        assert_eq!(split_csv("\"a,b\",c").unwrap(), vec!["a,b", "c"]);
        assert_eq!(split_csv("\"a\"\"b\"").unwrap(), vec!["a\"b"]);
        assert_eq!(split_csv("a,").unwrap(), vec!["a", ""]);
        assert_eq!(
            split_csv("a\"b").unwrap_err(),
            "parse error on line 1, column 2: bare \" in non-quoted field"
        );
        assert!(split_csv("\"ab").is_err());
        assert!(split_csv("\"a\"b").is_err());
    }

    #[test]
    fn mount_kinds_and_defaults() {
        let m = full("type=cache,target=/root/.cache,sharing=locked,id=x,mode=0755,uid=1").unwrap();
        assert_eq!(m.kind, MountType::Cache);
        assert!(!m.read_only);
        assert_eq!(m.sharing, Some(CacheSharing::Locked));
        assert_eq!(m.mode, Some(0o755));
        let m = full("target=/src,from=build,source=/out").unwrap();
        assert_eq!(m.kind, MountType::Bind);
        assert!(m.read_only);
        let m = full("type=bind,target=/x,rw").unwrap();
        assert!(!m.read_only);
        let m = full("type=tmpfs,target=/t,size=64m").unwrap();
        assert_eq!(m.size, Some(64 << 20));
        let m = full("type=secret,id=tok,env=TOKEN,required").unwrap();
        assert!(m.required);
        assert_eq!(m.env.as_deref(), Some("TOKEN"));
        let m = full("type=ssh,required=true").unwrap();
        assert!(m.required && m.read_only);
    }

    #[test]
    fn mount_errors() {
        assert_eq!(
            full("type=cahce").unwrap_err(),
            "unsupported mount type \"cahce\" (did you mean cache?)"
        );
        assert_eq!(
            full("type=cache,sharing=lock").unwrap_err(),
            "unsupported sharing value \"lock\" (did you mean locked?)"
        );
        assert_eq!(
            full("type=bind,targt=/x").unwrap_err(),
            "unexpected key 'targt' in 'targt=/x' (did you mean target?)"
        );
        assert_eq!(
            full("type=bind,required").unwrap_err(),
            "unexpected key 'required' for mount type 'bind'"
        );
        assert_eq!(
            full("foo").unwrap_err(),
            "invalid field 'foo' must be a key=value pair"
        );
        assert_eq!(
            full("type=bind,mode=0700").unwrap_err(),
            "mode not allowed for \"bind\" type mounts"
        );
        assert_eq!(
            full("type=secret").unwrap_err(),
            "invalid secret mount. one of source, target required"
        );
        assert_eq!(
            full("type=secret,id=a,source=b").unwrap_err(),
            "both source and id can't be set"
        );
        assert_eq!(
            full("type=bind,sharing=shared").unwrap_err(),
            "invalid cache sharing set for bind mount"
        );
        assert_eq!(
            full("type=cache,uid=x").unwrap_err(),
            "invalid value x for uid"
        );
        assert_eq!(
            full("type=bind,ro=maybe").unwrap_err(),
            "invalid value for ro: maybe"
        );
        assert_eq!(
            parse_mount("from=$STAGE,target=/x", None).unwrap_err(),
            "'from' doesn't support variable expansion, define alias stage instead"
        );
        assert_eq!(
            parse_mount("", None).unwrap_err(),
            "failed to parse csv mounts: EOF"
        );
    }
}
