//! Parsers for the `Key: value` stanza formats package databases use: Debian control
//! files (dpkg `status`, RFC 822 style with continuation lines), Python core metadata
//! (`METADATA`/`PKG-INFO`, the same shape, body after the first blank line) and Alpine's
//! `installed` database (`K:value`, one letter keys). All small enough that a crate would
//! not pay for itself; unknown and malformed lines are skipped, as dpkg and pip do when
//! reading.

/// One stanza: fields in order (continuation lines are appended to the previous value).
pub type Stanza = Vec<(String, String)>;

/// Get a field (case-insensitive, as dpkg treats field names).
pub fn field<'a>(stanza: &'a Stanza, name: &str) -> Option<&'a str> {
    stanza
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Stanzas of a Debian control file, separated by blank lines.
pub fn deb822(text: &str) -> Vec<Stanza> {
    let mut out = Vec::new();
    let mut cur: Stanza = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some((_, v)) = cur.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            cur.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The header of a Python core-metadata file (everything before the first blank line).
pub fn core_metadata(text: &str) -> Stanza {
    let head = text.split("\n\n").next().unwrap_or("");
    deb822(head).into_iter().next().unwrap_or_default()
}

/// Get a field of an apk database stanza. apk keys are case-sensitive: `P` is the name but
/// `p` the provides, `T` the description but `t` the build time.
pub fn apk_field<'a>(stanza: &'a Stanza, key: &str) -> Option<&'a str> {
    stanza
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Stanzas of Alpine's `lib/apk/db/installed` (`P:name`, `V:version`, …).
pub fn apk_db(text: &str) -> Vec<Stanza> {
    let mut out = Vec::new();
    let mut cur: Stanza = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.len() == 1
        {
            cur.push((k.to_string(), v.to_string()));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Pairs of a shell-style `KEY=value` file such as `/etc/os-release`.
pub fn os_release(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb822_stanzas_with_continuations() {
        let s = deb822(
            "Package: a\nStatus: install ok installed\nDescription: x\n more\n .\n\n\nPackage: b\nVersion: 1\n",
        );
        assert_eq!(s.len(), 2);
        assert_eq!(field(&s[0], "package"), Some("a"));
        assert_eq!(field(&s[0], "Description"), Some("x\nmore\n."));
        assert_eq!(field(&s[1], "Version"), Some("1"));
    }

    #[test]
    fn core_metadata_stops_at_the_body() {
        let m = core_metadata(
            "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n\nName: not-this\n",
        );
        assert_eq!(field(&m, "Name"), Some("requests"));
    }

    #[test]
    fn apk_database() {
        let s =
            apk_db("C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\nP:busybox\nV:1.36.1-r5\n");
        assert_eq!(s.len(), 2);
        assert_eq!(field(&s[0], "V"), Some("1.2.4-r2"));
        assert_eq!(apk_field(&s[1], "P"), Some("busybox"));
        let s = apk_db("p:so:libc.musl.so=1\nP:musl\n");
        assert_eq!(
            apk_field(&s[0], "P"),
            Some("musl"),
            "provides is not the name"
        );
    }

    #[test]
    fn os_release_quotes() {
        let kv = os_release("ID=debian\nVERSION_ID=\"12\"\n# c\nNAME='Debian GNU/Linux'\n");
        assert_eq!(kv[0], ("ID".into(), "debian".into()));
        assert_eq!(kv[1], ("VERSION_ID".into(), "12".into()));
        assert_eq!(kv[2].1, "Debian GNU/Linux");
    }
}
