//! Hostile and broken layers: every refusal names the entry, and apply never writes
//! outside its root.

mod support;

use std::io::Write;

use strata_layer::{ApplyOptions, EntryProblem, LayerError, ValidateOptions, apply, validate};
use support::*;

fn unprivileged() -> ValidateOptions {
    ValidateOptions {
        allow_devices: false,
    }
}

/// Validate and expect an entry refusal; also check apply refuses at the same entry.
fn refused(layer: &[u8]) -> (String, EntryProblem) {
    let err = validate(layer, &unprivileged()).unwrap_err();
    let applied = {
        let dest = tempfile::tempdir().unwrap();
        apply(layer, dest.path(), &ApplyOptions::default()).unwrap_err()
    };
    assert_eq!(
        err.to_string(),
        applied.to_string(),
        "validate and apply disagree"
    );
    match err {
        LayerError::Entry { entry, problem } => (entry, problem),
        other => panic!("expected an entry refusal, got {other:?}"),
    }
}

#[test]
fn dotdot_component() {
    let layer = tar(&[dir("etc/"), file("etc/../../etc/passwd", b"root::0:0")]);
    let (entry, problem) = refused(&layer);
    assert_eq!(entry, "etc/../../etc/passwd");
    assert_eq!(problem, EntryProblem::DotDot);
    let err = validate(&layer[..], &unprivileged()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid layer entry \"etc/../../etc/passwd\": path has a `..` component"
    );
}

#[test]
fn absolute_path() {
    let (entry, problem) = refused(&tar(&[file("/etc/shadow", b"x")]));
    assert_eq!(
        (entry.as_str(), problem),
        ("/etc/shadow", EntryProblem::Absolute)
    );
}

#[test]
fn symlink_climbing_out() {
    let layer = tar(&[
        dir("usr/"),
        dir("usr/lib/"),
        symlink("usr/lib/ok", "../../etc"),
        symlink("usr/lib/abs", "/etc/passwd"),
        symlink("usr/lib/evil", "../../../etc"),
    ]);
    let (entry, problem) = refused(&layer);
    assert_eq!(entry, "usr/lib/evil");
    assert_eq!(
        problem,
        EntryProblem::SymlinkEscape {
            target: "../../../etc".into()
        }
    );
}

#[test]
fn hardlink_escapes_and_unknown_targets() {
    let base = || vec![dir("a/"), file("a/f", b"data")];
    let cases: Vec<(Vec<u8>, EntryProblem)> = vec![
        (
            hardlink("a/l", "../../etc/shadow"),
            EntryProblem::HardlinkEscape {
                target: "../../etc/shadow".into(),
            },
        ),
        (
            hardlink("a/l", "/etc/shadow"),
            EntryProblem::HardlinkAbsolute {
                target: "/etc/shadow".into(),
            },
        ),
        (
            hardlink("a/l", "a/missing"),
            EntryProblem::HardlinkUnknown {
                target: "a/missing".into(),
            },
        ),
        (
            hardlink("a/l", "a"),
            EntryProblem::HardlinkDirectory { target: "a".into() },
        ),
    ];
    for (link, expected) in cases {
        let mut entries = base();
        entries.push(link);
        let (entry, problem) = refused(&tar(&entries));
        assert_eq!(entry, "a/l");
        assert_eq!(problem, expected);
    }
    // A valid hardlink (with a `./` prefix) passes.
    let mut entries = base();
    entries.push(hardlink("a/l", "./a/f"));
    validate(&tar(&entries)[..], &unprivileged()).unwrap();
}

#[test]
fn write_through_symlink_of_the_same_layer() {
    let layer = tar(&[symlink("etc", "/tmp/somewhere"), file("etc/passwd", b"x")]);
    let (entry, problem) = refused(&layer);
    assert_eq!(entry, "etc/passwd");
    assert_eq!(
        problem,
        EntryProblem::ThroughSymlink {
            symlink: "etc".into()
        }
    );
    // Same for a hardlink whose target goes through the symlink.
    let layer = tar(&[
        dir("d/"),
        file("d/f", b"x"),
        symlink("s", "d"),
        hardlink("h", "s/f"),
    ]);
    let (entry, problem) = refused(&layer);
    assert_eq!(entry, "h");
    assert_eq!(
        problem,
        EntryProblem::ThroughSymlink {
            symlink: "s".into()
        }
    );
    // An opaque marker in a directory that is this layer's symlink.
    let layer = tar(&[symlink("b", "/etc"), file("b/.wh..wh..opq", b"")]);
    let (entry, problem) = refused(&layer);
    assert_eq!(entry, "b/.wh..wh..opq");
    assert_eq!(
        problem,
        EntryProblem::ThroughSymlink {
            symlink: "b".into()
        }
    );
    // A symlink replaced by a directory in the same layer is fine afterwards.
    let layer = tar(&[symlink("x", "/y"), dir("x/"), file("x/f", b"1")]);
    validate(&layer[..], &unprivileged()).unwrap();
}

#[test]
fn devices_and_fifos_when_unprivileged() {
    for (typeflag, kind) in [
        (b'3', "character device"),
        (b'4', "block device"),
        (b'6', "fifo"),
    ] {
        let layer = tar(&[dir("dev/"), entry("dev/node", typeflag, "", b"")]);
        let (entry, problem) = refused(&layer);
        assert_eq!(entry, "dev/node");
        assert_eq!(problem, EntryProblem::Device { kind });
        validate(
            &layer[..],
            &ValidateOptions {
                allow_devices: true,
            },
        )
        .unwrap();
    }
}

#[test]
fn unsupported_types_and_bad_whiteouts() {
    let (name, problem) = refused(&tar(&[entry("sparse", b'S', "", b"")]));
    assert_eq!(name, "sparse");
    assert_eq!(problem, EntryProblem::UnsupportedType { typeflag: b'S' });
    let err = validate(&tar(&[entry("v", b'V', "", b"")])[..], &unprivileged()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid layer entry \"v\": unsupported entry type 'V' (GNU volume header)"
    );
    let (entry, problem) = refused(&tar(&[file("a/.wh.", b"")]));
    assert_eq!(
        (entry.as_str(), problem),
        ("a/.wh.", EntryProblem::InvalidWhiteout)
    );
    let (entry, problem) = refused(&tar(&[file("./", b"")]));
    assert_eq!(
        (entry.as_str(), problem),
        ("./", EntryProblem::RootNotDirectory)
    );
}

#[test]
fn truncated_inside_data() {
    let mut layer = tar(&[file("a", b"hello"), file("big", &[7u8; 3000])]);
    layer.truncate(512 + 512 + 512 + 1000); // inside big's data
    let err = validate(&layer[..], &unprivileged()).unwrap_err();
    assert!(
        matches!(&err, LayerError::Truncated { entry: Some(e), .. } if e == "big"),
        "{err:?}"
    );
    assert_eq!(err.entry(), Some("big"));
    assert_eq!(
        err.to_string(),
        "truncated layer tar: stream ends at offset 2536 inside the data of entry \"big\""
    );
    // Cut in the padding after the data is still truncation.
    let mut layer = tar(&[file("a", b"hello")]);
    layer.truncate(512 + 100);
    let err = validate(&layer[..], &unprivileged()).unwrap_err();
    assert!(matches!(err, LayerError::Truncated { entry: Some(ref e), .. } if e == "a"));
}

#[test]
fn truncated_inside_a_header() {
    let mut layer = tar(&[file("a", b"hello"), file("b", b"x")]);
    layer.truncate(1024 + 300);
    let err = validate(&layer[..], &unprivileged()).unwrap_err();
    assert!(
        matches!(err, LayerError::Truncated { entry: None, .. }),
        "{err:?}"
    );
}

#[test]
fn missing_end_blocks_are_accepted_like_docker() {
    let entries = [dir("d/"), file("d/f", b"content")];
    let full = tar(&entries);
    let bare: Vec<u8> = entries.concat();
    let a = validate(&full[..], &unprivileged()).unwrap();
    let b = validate(&bare[..], &unprivileged()).unwrap();
    assert_eq!((a.entries, b.entries), (2, 2));
    // The diffID covers the stream as it is, trailer or not.
    assert_ne!(a.diff_id, b.diff_id);
    // A single zero block at the end is fine as well.
    let mut one = bare.clone();
    one.extend_from_slice(&[0u8; 512]);
    validate(&one[..], &unprivileged()).unwrap();
}

#[test]
fn garbage_is_corrupt() {
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 31 % 251) as u8).collect();
    let err = validate(&garbage[..], &unprivileged()).unwrap_err();
    assert!(
        matches!(err, LayerError::Corrupt { offset: 0, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("checksum mismatch"), "{err}");

    // A valid entry followed by garbage: the error says where and after what.
    let mut layer = file("ok", b"1");
    layer.extend_from_slice(&garbage[..1024]);
    let err = validate(&layer[..], &unprivileged()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "corrupt layer tar at offset 1024 (after entry \"ok\"): {}",
            match &err {
                LayerError::Corrupt { reason, .. } => reason.clone(),
                _ => unreachable!(),
            }
        )
    );

    // A zero block followed by a non-zero one is not an end of archive.
    let mut layer = file("ok", b"1");
    layer.extend_from_slice(&[0u8; 512]);
    layer.extend_from_slice(&file("late", b"2"));
    let err = validate(&layer[..], &unprivileged()).unwrap_err();
    assert!(
        matches!(err, LayerError::Corrupt { offset: 1536, .. }),
        "{err:?}"
    );
}

#[test]
fn unsupported_compression() {
    let err = validate(&b"BZh91AY&SY\x00\x00"[..], &unprivileged()).unwrap_err();
    assert!(matches!(
        err,
        LayerError::UnsupportedCompression { format: "bzip2" }
    ));
    let err = validate(&b"\xfd7zXZ\x00\x00\x04"[..], &unprivileged()).unwrap_err();
    assert!(matches!(
        err,
        LayerError::UnsupportedCompression { format: "xz" }
    ));
}

#[test]
fn truncated_gzip_is_truncated() {
    let layer = tar(&[file("a", &[1u8; 10_000]), file("b", &[2u8; 10_000])]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&layer).unwrap();
    let gz = gz.finish().unwrap();
    let cut = &gz[..gz.len() - 12];
    let err = validate(cut, &unprivileged()).unwrap_err();
    assert!(
        matches!(err, LayerError::Truncated { .. } | LayerError::Read { .. }),
        "{err:?}"
    );
}

#[test]
fn oversized_extension_header_is_refused_without_allocating_it() {
    // A PAX header claiming 8 GiB: refused from the header alone.
    let layer = header(b"PaxHeaders/x", b'x', b"", 8 << 30).to_vec();
    let err = validate(&layer[..], &unprivileged()).unwrap_err();
    assert!(err.to_string().contains("exceeds the 1 MiB limit"), "{err}");
}

#[test]
fn pax_names_are_checked_too() {
    // The ustar name is harmless; the PAX path is what counts.
    let records = b"25 path=../../etc/passwd\n";
    let mut layer = entry("PaxHeaders/x", b'x', "", records);
    layer.extend_from_slice(&file("harmless", b"x"));
    let (entry, problem) = refused(&tar(&[layer]));
    assert_eq!(
        (entry.as_str(), problem),
        ("../../etc/passwd", EntryProblem::DotDot)
    );
}

/// A symlink from a *lower* layer that points out of the root must not lead the
/// extraction of a later layer outside: it resolves inside the root.
#[test]
fn apply_resolves_lower_symlinks_inside_the_root() {
    let outer = tempfile::tempdir().unwrap();
    let dest = outer.path().join("root");
    std::fs::create_dir(&dest).unwrap();
    std::os::unix::fs::symlink("../../../../../../..", dest.join("up")).unwrap();
    std::os::unix::fs::symlink(outer.path(), dest.join("abs")).unwrap();
    let layer = tar(&[file("up/pwned", b"x")]);
    // The layer alone is valid (the symlink is not in it)...
    validate(&layer[..], &unprivileged()).unwrap();
    apply(&layer[..], &dest, &ApplyOptions::default()).unwrap();
    // ...and the file landed at the root, not above it.
    assert!(dest.join("pwned").exists());
    assert!(!outer.path().join("pwned").exists());

    // An absolute symlink resolves against the root: `abs` → <root>/<outer path>, which
    // does not exist inside the root, so nothing is written anywhere.
    let layer = tar(&[file("abs/pwned2", b"x")]);
    let err = apply(&layer[..], &dest, &ApplyOptions::default());
    assert!(err.is_err(), "{err:?}");
    assert!(!outer.path().join("pwned2").exists());
}
