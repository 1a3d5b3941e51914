//! Docker's `--tmpfs PATH[:OPTIONS]` options, merged as Docker 20.10 merges them
//! (`mount.MergeTmpfsOptions` over the defaults `noexec,nosuid,nodev`) and applied as runc
//! applies a tmpfs mount's options: each flag name sets or clears its mount flag, the last
//! one given wins (`exec` after the default `noexec`); `size=`, `mode=`, `uid=`, `gid=`,
//! `nr_inodes=`, `nr_blocks=` and `mpol=` become the mount's data, one per key, the last
//! value given. Anything else is refused with Docker's message. Propagation flags are
//! accepted and change nothing: a container's mounts live in its own private namespace.

/// A tmpfs mount's options, ready for mount(2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsOptions {
    /// mount(2) flags, without `MS_RDONLY` (see `readonly`).
    pub flags: libc::c_ulong,
    /// `ro`: the tmpfs is made read-only after it is mounted (and its mode set), as runc
    /// remounts it.
    pub readonly: bool,
    /// `key=value` pairs in the order Docker keeps them (each key where it was last given).
    pub data: Vec<(String, String)>,
}

impl Default for TmpfsOptions {
    /// Docker's defaults for `--tmpfs` (and the options of a tmpfs mount made before
    /// options were recorded): `noexec,nosuid,nodev`.
    fn default() -> TmpfsOptions {
        TmpfsOptions {
            flags: libc::MS_NOEXEC | libc::MS_NOSUID | libc::MS_NODEV,
            readonly: false,
            data: Vec::new(),
        }
    }
}

impl TmpfsOptions {
    /// The data argument of mount(2): `size=64k,mode=700`.
    pub fn data_string(&self) -> String {
        self.data
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The value given for `key` (`uid`, `gid`, …).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.data
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Set `key` (replacing a value given before).
    pub fn set(&mut self, key: &str, value: String) {
        self.data.retain(|(k, _)| k != key);
        self.data.push((key.to_string(), value));
    }
}

/// An option Docker refuses; the text is the daemon's (`invalid tmpfs option ["bogus"]`,
/// Go's quoting of the option split at its first `=`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid tmpfs option [{}]", .0.iter().map(|p| go_quote(p)).collect::<Vec<_>>().join(" "))]
pub struct InvalidTmpfsOption(pub Vec<String>);

/// Go's `strconv.Quote` for the characters an option can hold.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Mount flags by option name: (flag, whether the name clears it). The table of Docker's
/// `pkg/mount` (moby/sys/mount) for the flags that mean something to a fresh tmpfs.
const FLAGS: &[(&str, libc::c_ulong, bool)] = &[
    ("ro", libc::MS_RDONLY, false),
    ("rw", libc::MS_RDONLY, true),
    ("suid", libc::MS_NOSUID, true),
    ("nosuid", libc::MS_NOSUID, false),
    ("dev", libc::MS_NODEV, true),
    ("nodev", libc::MS_NODEV, false),
    ("exec", libc::MS_NOEXEC, true),
    ("noexec", libc::MS_NOEXEC, false),
    ("sync", libc::MS_SYNCHRONOUS, false),
    ("async", libc::MS_SYNCHRONOUS, true),
    ("dirsync", libc::MS_DIRSYNC, false),
    ("mand", libc::MS_MANDLOCK, false),
    ("nomand", libc::MS_MANDLOCK, true),
    ("atime", libc::MS_NOATIME, true),
    ("noatime", libc::MS_NOATIME, false),
    ("diratime", libc::MS_NODIRATIME, true),
    ("nodiratime", libc::MS_NODIRATIME, false),
    ("relatime", libc::MS_RELATIME, false),
    ("norelatime", libc::MS_RELATIME, true),
    ("strictatime", libc::MS_STRICTATIME, false),
    ("nostrictatime", libc::MS_STRICTATIME, true),
];

/// Propagation modes: accepted, no effect (see the module doc).
const PROPAGATION: &[&str] = &[
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
];

/// Data keys Docker accepts (`""` too: `=x` passes its check).
const DATA_KEYS: &[&str] = &[
    "",
    "size",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "mpol",
];

/// Parse the part of `--tmpfs PATH:OPTIONS` after the colon (empty: the defaults).
pub fn parse(options: &str) -> Result<TmpfsOptions, InvalidTmpfsOption> {
    let mut out = TmpfsOptions::default();
    if options.is_empty() {
        return Ok(out);
    }
    for option in options.split(',') {
        if option == "defaults" || PROPAGATION.contains(&option) {
            continue;
        }
        if let Some((_, flag, clear)) = FLAGS.iter().find(|(n, _, _)| *n == option) {
            if *flag == libc::MS_RDONLY {
                out.readonly = !clear;
            } else if *clear {
                out.flags &= !flag;
            } else {
                out.flags |= flag;
            }
            continue;
        }
        match option.split_once('=') {
            Some((k, v)) if DATA_KEYS.contains(&k) => out.set(k, v.to_string()),
            Some((k, v)) => return Err(InvalidTmpfsOption(vec![k.into(), v.into()])),
            None => return Err(InvalidTmpfsOption(vec![option.into()])),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: libc::c_ulong = libc::MS_NOEXEC | libc::MS_NOSUID | libc::MS_NODEV;

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(parse("").unwrap(), TmpfsOptions::default());
        assert_eq!(parse("defaults,rprivate").unwrap(), TmpfsOptions::default());
        let o = parse("exec").unwrap();
        assert_eq!(o.flags, libc::MS_NOSUID | libc::MS_NODEV);
        let o = parse("suid,dev").unwrap();
        assert_eq!(o.flags, libc::MS_NOEXEC);
        // The last of two contradicting flags wins.
        assert_eq!(
            parse("noexec,exec,nosuid").unwrap().flags,
            libc::MS_NOSUID | libc::MS_NODEV
        );
        assert_eq!(parse("exec,noexec").unwrap().flags, DEFAULT);
        let o = parse("ro").unwrap();
        assert!(o.readonly);
        assert_eq!(o.flags, DEFAULT);
        assert!(!parse("ro,rw").unwrap().readonly);
    }

    #[test]
    fn data_keeps_one_value_per_key() {
        let o = parse("size=1m,mode=700,uid=1000,gid=100,size=2m").unwrap();
        assert_eq!(o.data_string(), "mode=700,uid=1000,gid=100,size=2m");
        assert_eq!(o.get("size"), Some("2m"));
        assert_eq!(o.flags, DEFAULT);
        assert_eq!(
            parse("nr_inodes=100").unwrap().data_string(),
            "nr_inodes=100"
        );
    }

    #[test]
    fn unknown_options_are_refused_in_dockers_words() {
        assert_eq!(
            parse("bogus").unwrap_err().to_string(),
            "invalid tmpfs option [\"bogus\"]"
        );
        assert_eq!(
            parse("size=1m,color=blue").unwrap_err().to_string(),
            "invalid tmpfs option [\"color\" \"blue\"]"
        );
        assert_eq!(
            parse("size").unwrap_err().to_string(),
            "invalid tmpfs option [\"size\"]"
        );
        assert!(parse("exec,,size=1m").is_err());
    }
}
