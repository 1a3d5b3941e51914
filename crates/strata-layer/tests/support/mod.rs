//! Helpers shared by the integration tests: hand-built tar entries (including ones no
//! well-behaved writer would produce) and small filesystem utilities.
#![allow(dead_code)]

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A raw ustar header with arbitrary name/link bytes (no sanitising, unlike `tar::Header`).
pub fn header(name: &[u8], typeflag: u8, link: &[u8], size: u64) -> [u8; 512] {
    let mut h = tar::Header::new_ustar();
    h.set_mode(if typeflag == b'5' { 0o755 } else { 0o644 });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h.set_size(size);
    {
        let u = h.as_ustar_mut().unwrap();
        u.name[..name.len()].copy_from_slice(name);
        u.linkname[..link.len()].copy_from_slice(link);
        u.typeflag[0] = typeflag;
    }
    h.set_cksum();
    *h.as_bytes()
}

/// Header plus data plus padding.
pub fn entry(name: &str, typeflag: u8, link: &str, data: &[u8]) -> Vec<u8> {
    let mut out = header(
        name.as_bytes(),
        typeflag,
        link.as_bytes(),
        data.len() as u64,
    )
    .to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

pub fn file(name: &str, data: &[u8]) -> Vec<u8> {
    entry(name, b'0', "", data)
}

pub fn dir(name: &str) -> Vec<u8> {
    entry(name, b'5', "", b"")
}

pub fn symlink(name: &str, target: &str) -> Vec<u8> {
    entry(name, b'2', target, b"")
}

pub fn hardlink(name: &str, target: &str) -> Vec<u8> {
    entry(name, b'1', target, b"")
}

/// Concatenate entries and the two end-of-archive blocks.
pub fn tar(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out: Vec<u8> = entries.concat();
    out.extend_from_slice(&[0u8; 1024]);
    out
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

pub fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o640),
        0,
    )
    .unwrap();
}

pub fn mknod_char(path: &Path, major: u32, minor: u32) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o600),
        rustix::fs::makedev(major, minor),
    )
    .unwrap();
}

/// Set mtime (and atime) without following symlinks.
pub fn set_mtime(path: &Path, secs: i64) {
    let t = rustix::fs::Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &rustix::fs::Timestamps {
            last_access: t,
            last_modification: t,
        },
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// Names (relative, sorted) of everything under `dir`.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            String::from_utf8_lossy(e.path().strip_prefix(dir).unwrap().as_os_str().as_bytes())
                .into_owned()
        })
        .collect();
    out.sort();
    out
}
