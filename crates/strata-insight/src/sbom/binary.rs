//! Build information embedded in executables: Go's build info and `cargo auditable`'s
//! dependency list.
//!
//! **Go** (1.18+) writes a 32-byte header starting with `\xff Go buildinf:` at a 16-byte
//! aligned address in the data segment, followed — when flag bit 2 is set — by two
//! uvarint-length-prefixed strings: the Go version (`go1.22.1`) and the module info
//! (`path`, `mod`, `dep` and `=>` replacement lines, tab separated, wrapped in 16-byte
//! sentinels). ELF keeps file offsets congruent to addresses modulo the page size, so a
//! scan of the file at 16-byte aligned offsets finds the header without parsing sections.
//! Binaries built before Go 1.18 store pointers instead of the strings; they are not read
//! (their toolchains are long out of support, and every version since writes strings).
//! We parse this by hand: no crate reads Go build info.
//!
//! **Rust**: `cargo auditable` stores zlib-compressed JSON (`{"packages": [...]}`) in the
//! `.dep-v0` section; the `auditable-extract` crate finds the section, `flate2` inflates it
//! (with a size limit, as the format's reference reader does).

use std::io::Read;

use serde::Deserialize;

const GO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// Largest inflated `cargo auditable` document we accept.
const MAX_AUDIT_JSON: u64 = 8 << 20;

/// What an executable says about how it was built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BinaryFacts {
    pub go: Option<GoBuildInfo>,
    /// Crates from `cargo auditable` data (the root crate and local crates excluded).
    pub rust: Vec<RustCrate>,
}

/// Go build information.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoBuildInfo {
    /// Toolchain version as recorded (`go1.22.1`).
    pub go_version: String,
    /// Main package path (`path` line).
    pub path: String,
    /// Main module path and version (`mod` line); version is `(devel)` for local builds.
    pub main: Option<(String, String)>,
    /// Dependencies (`dep` lines, with `=>` replacements applied).
    pub deps: Vec<(String, String)>,
}

/// One crate compiled into a Rust binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RustCrate {
    pub name: String,
    pub version: String,
    pub source: String,
}

/// Whether these first bytes start an executable format we inspect (ELF).
pub fn is_executable_magic(magic: &[u8; 4]) -> bool {
    magic == b"\x7fELF"
}

/// Inspect an executable's bytes. `None` if it carries neither kind of build info.
pub fn inspect(data: &[u8]) -> Option<BinaryFacts> {
    let facts = BinaryFacts {
        go: go_build_info(data),
        rust: auditable_crates(data),
    };
    (facts.go.is_some() || !facts.rust.is_empty()).then_some(facts)
}

/// Find and decode Go build info.
pub fn go_build_info(data: &[u8]) -> Option<GoBuildInfo> {
    let finder = memchr::memmem::Finder::new(GO_MAGIC);
    let start = finder
        .find_iter(data)
        .find(|&i| i % 16 == 0 && data.len() >= i + 32)?;
    let header = &data[start..start + 32];
    let flags = header[15];
    if flags & 2 == 0 {
        return None;
    }
    let mut rest = &data[start + 32..];
    let version = read_go_string(&mut rest)?;
    let mut modinfo = read_go_string(&mut rest)?;
    // Module info is wrapped in 16-byte binary sentinels (not UTF-8) after a final '\n'
    // (cmd/go/internal/modload): strip them on the bytes, before any text conversion.
    if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        modinfo = &modinfo[16..modinfo.len() - 16];
    }
    Some(parse_modinfo(
        &String::from_utf8_lossy(version),
        &String::from_utf8_lossy(modinfo),
    ))
}

fn read_go_string<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let mut len: u64 = 0;
    let mut shift = 0;
    loop {
        let (&b, tail) = rest.split_first()?;
        *rest = tail;
        len |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let len = usize::try_from(len).ok()?;
    if rest.len() < len {
        return None;
    }
    let (s, tail) = rest.split_at(len);
    *rest = tail;
    Some(s)
}

/// Parse the text `go version -m` prints (without the leading tabs).
pub fn parse_modinfo(go_version: &str, modinfo: &str) -> GoBuildInfo {
    let mut info = GoBuildInfo {
        go_version: go_version.to_string(),
        ..Default::default()
    };
    for line in modinfo.lines() {
        let parts: Vec<&str> = line.split('\t').collect();
        match parts.as_slice() {
            ["path", p, ..] => info.path = p.to_string(),
            ["mod", p, v, ..] => info.main = Some((p.to_string(), v.to_string())),
            ["dep", p, v, ..] => info.deps.push((p.to_string(), v.to_string())),
            ["=>", p, v, ..] => {
                if let Some(last) = info.deps.last_mut() {
                    *last = (p.to_string(), v.to_string());
                }
            }
            _ => {}
        }
    }
    info
}

#[derive(Deserialize)]
struct AuditDoc {
    packages: Vec<AuditPackage>,
}

#[derive(Deserialize)]
struct AuditPackage {
    name: String,
    version: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    root: bool,
}

/// Crates listed in `cargo auditable` data.
pub fn auditable_crates(data: &[u8]) -> Vec<RustCrate> {
    let Ok(raw) = auditable_extract::raw_auditable_data(data) else {
        return Vec::new();
    };
    let mut json = Vec::new();
    let inflated = flate2::read::ZlibDecoder::new(raw)
        .take(MAX_AUDIT_JSON)
        .read_to_end(&mut json);
    if inflated.is_err() {
        return Vec::new();
    }
    parse_audit_json(&json)
}

/// Crates from a `cargo auditable` JSON document (registry and git crates; the root and
/// path dependencies are the program itself).
pub fn parse_audit_json(json: &[u8]) -> Vec<RustCrate> {
    let Ok(doc) = serde_json::from_slice::<AuditDoc>(json) else {
        return Vec::new();
    };
    doc.packages
        .into_iter()
        .filter(|p| !p.root && p.source != "local")
        .map(|p| RustCrate {
            name: p.name,
            version: p.version,
            source: p.source,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uvarint(mut n: usize, out: &mut Vec<u8>) {
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }

    /// A fake executable with a Go 1.18+ build-info blob at a 16-aligned offset.
    pub(crate) fn fake_go_binary(version: &str, modinfo: &str) -> Vec<u8> {
        let mut data = b"\x7fELF".to_vec();
        data.resize(4096 + 3, 0); // a decoy magic at an unaligned offset must be skipped
        data.extend_from_slice(GO_MAGIC);
        data.resize(8192, 0);
        data.extend_from_slice(GO_MAGIC);
        data.push(8); // pointer size
        data.push(2); // flags: inline strings
        data.resize(8192 + 32, 0);
        uvarint(version.len(), &mut data);
        data.extend_from_slice(version.as_bytes());
        // The sentinels Go writes around the module info (not valid UTF-8).
        let mut m = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6".to_vec();
        m.extend_from_slice(modinfo.as_bytes());
        m.extend_from_slice(b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2");
        uvarint(m.len(), &mut data);
        data.extend_from_slice(&m);
        data.resize(data.len() + 100, 0);
        data
    }

    #[test]
    fn go_build_info_is_found_and_parsed() {
        let modinfo = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgolang.org/x/net\tv0.17.0\th1:abc=\ndep\tgithub.com/old/x\tv1.0.0\th1:x=\n=>\tgithub.com/new/x\tv1.2.0\th1:y=\nbuild\t-compiler=gc\n";
        let bin = fake_go_binary("go1.21.3", modinfo);
        let info = go_build_info(&bin).expect("build info");
        assert_eq!(info.go_version, "go1.21.3");
        assert_eq!(info.path, "example.com/app");
        assert_eq!(
            info.main,
            Some(("example.com/app".to_string(), "(devel)".to_string()))
        );
        assert_eq!(
            info.deps,
            vec![
                ("golang.org/x/net".to_string(), "v0.17.0".to_string()),
                ("github.com/new/x".to_string(), "v1.2.0".to_string())
            ]
        );
        assert!(inspect(&bin).is_some());
    }

    #[test]
    fn no_build_info_in_plain_or_truncated_data() {
        assert_eq!(go_build_info(b"\x7fELF plain"), None);
        let mut t = vec![0u8; 16];
        t.extend_from_slice(GO_MAGIC);
        assert_eq!(go_build_info(&t), None, "header cut short");
        let mut bad = vec![0u8; 16];
        bad.extend_from_slice(GO_MAGIC);
        bad.extend_from_slice(&[8, 2]);
        bad.resize(48, 0);
        bad.extend_from_slice(&[0xff, 0xff, 0xff]); // length runs past the end
        assert_eq!(go_build_info(&bad), None);
        assert_eq!(inspect(b"\x7fELF"), None);
    }

    #[test]
    fn auditable_json_skips_root_and_local_crates() {
        let json = br#"{"packages":[
            {"name":"app","version":"0.1.0","source":"local","root":true},
            {"name":"helper","version":"0.1.0","source":"local"},
            {"name":"smallvec","version":"1.6.0","source":"crates.io","kind":"runtime"}
        ]}"#;
        assert_eq!(
            parse_audit_json(json),
            vec![RustCrate {
                name: "smallvec".into(),
                version: "1.6.0".into(),
                source: "crates.io".into()
            }]
        );
        assert!(parse_audit_json(b"not json").is_empty());
    }
}
