//! create → validate → apply → create gives the same bytes; determinism; whiteouts;
//! compression round trips; replacement semantics.

mod support;

use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink as os_symlink};
use std::path::Path;

use strata_layer::{
    ApplyOptions, CompressOptions, Compression, CreateOptions, LayerWriter, ValidateOptions,
    WhiteoutMode, apply, create, validate,
};
use strata_oci::Digest;
use support::*;

fn tar_of(dir: &Path, options: &CreateOptions) -> Vec<u8> {
    let mut out = Vec::new();
    create(dir, &mut out, options).unwrap();
    out
}

fn privileged() -> ApplyOptions {
    ApplyOptions {
        allow_devices: is_root(),
        chown: is_root(),
        whiteouts: WhiteoutMode::Delete,
    }
}

/// A tree with one of everything.
fn sample_tree(root: &Path) {
    fs::create_dir_all(root.join("etc/ssl")).unwrap();
    fs::create_dir_all(root.join("usr/bin")).unwrap();
    fs::create_dir(root.join("empty")).unwrap();
    fs::write(root.join("etc/hostname"), b"strata\n").unwrap();
    fs::write(root.join("etc/ssl/cert.pem"), vec![b'c'; 5000]).unwrap();
    fs::write(root.join("usr/bin/tool"), b"#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(
        root.join("usr/bin/tool"),
        fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    fs::hard_link(root.join("usr/bin/tool"), root.join("usr/bin/tool-alias")).unwrap();
    os_symlink("/etc/hostname", root.join("usr/bin/abs-link")).unwrap();
    os_symlink("../../etc", root.join("usr/bin/rel-link")).unwrap();
    // Names beyond ustar's 100 and 255 byte limits.
    let long_dir = root.join("d".repeat(120));
    fs::create_dir(&long_dir).unwrap();
    fs::write(long_dir.join("f".repeat(90)), b"split name").unwrap();
    fs::write(long_dir.join("g".repeat(200)), b"pax name").unwrap();
    os_symlink("t".repeat(150), root.join("long-target")).unwrap();
    fs::set_permissions(root.join("etc/ssl"), fs::Permissions::from_mode(0o700)).unwrap();
    mkfifo(&root.join("fifo"));
    if is_root() {
        mknod_char(&root.join("null"), 1, 3);
        rustix::fs::chown(
            root.join("etc/hostname"),
            Some(rustix::fs::Uid::from_raw(1000)),
            Some(rustix::fs::Gid::from_raw(3_000_000)),
        )
        .unwrap();
    }
    // xattrs where the filesystem allows them.
    let _ = xattr::set(root.join("etc/hostname"), "user.strata", b"v1");
    if is_root() {
        let _ = xattr::set(
            root.join("usr/bin/tool"),
            "security.capability",
            &[
                1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        );
    }
    // Fixed times (files first, directories last: writing into a dir changes its mtime).
    for entry in walkdir::WalkDir::new(root).contents_first(true) {
        let entry = entry.unwrap();
        set_mtime(entry.path(), 1_600_000_000 + entry.depth() as i64);
    }
}

#[test]
fn create_validate_apply_create_is_identical() {
    if !is_root() {
        eprintln!("note: not root: devices and ownership are left out of this round trip");
    }
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let first = tar_of(src.path(), &CreateOptions::default());
    let contains = |needle: &[u8]| first.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"path=dddd"), "long names use PAX");
    assert!(contains(b"linkpath=tttt"), "long link targets use PAX");
    if is_root() {
        assert!(contains(b"SCHILY.xattr.security.capability="));
        assert!(
            contains(b"uid=") || contains(b"gid=3000000"),
            "large gid uses PAX"
        );
    }
    if xattr::get(src.path().join("etc/hostname"), "user.strata")
        .ok()
        .flatten()
        .is_some()
    {
        assert!(contains(b"SCHILY.xattr.user.strata=v1"));
    }

    let summary = validate(
        &first[..],
        &ValidateOptions {
            allow_devices: true,
        },
    )
    .unwrap();
    assert_eq!(summary.diff_id, Digest::sha256(&first));
    assert_eq!(summary.uncompressed_size, first.len() as u64);
    assert_eq!(summary.compression, Compression::None);

    let dest = tempfile::tempdir().unwrap();
    let applied = apply(&first[..], dest.path(), &privileged()).unwrap();
    assert_eq!(applied, summary);
    let second = tar_of(dest.path(), &CreateOptions::default());
    assert_eq!(listing(src.path()), listing(dest.path()));
    assert!(first == second, "round trip changed the tar");

    // Spot checks of what apply produced.
    let tool = fs::metadata(dest.path().join("usr/bin/tool")).unwrap();
    let alias = fs::metadata(dest.path().join("usr/bin/tool-alias")).unwrap();
    assert_eq!(tool.ino(), alias.ino());
    assert_eq!(tool.mode() & 0o7777, 0o4755);
    assert_eq!(
        fs::read_link(dest.path().join("usr/bin/rel-link")).unwrap(),
        Path::new("../../etc")
    );
    assert_eq!(
        fs::metadata(dest.path().join("etc/ssl")).unwrap().mode() & 0o777,
        0o700
    );
    assert_eq!(
        fs::metadata(dest.path().join("etc/ssl")).unwrap().mtime(),
        1_600_000_002
    );
    assert_eq!(
        fs::read(dest.path().join("d".repeat(120)).join("g".repeat(200))).unwrap(),
        b"pax name"
    );
    if is_root() {
        let host = fs::metadata(dest.path().join("etc/hostname")).unwrap();
        assert_eq!((host.uid(), host.gid()), (1000, 3_000_000));
        assert_eq!(
            fs::metadata(dest.path().join("null")).unwrap().rdev(),
            fs::metadata(src.path().join("null")).unwrap().rdev()
        );
    }
    if xattr::get(src.path().join("etc/hostname"), "user.strata")
        .ok()
        .flatten()
        .is_some()
    {
        assert_eq!(
            xattr::get(dest.path().join("etc/hostname"), "user.strata")
                .unwrap()
                .as_deref(),
            Some(&b"v1"[..])
        );
    }
}

#[test]
fn creation_is_deterministic_and_clamps_mtimes() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let a = tar_of(src.path(), &CreateOptions::default());
    let b = tar_of(src.path(), &CreateOptions::default());
    assert_eq!(a, b);

    let clamped = tar_of(
        src.path(),
        &CreateOptions {
            clamp_mtime: Some(1_500_000_000),
            overlay_upper: false,
        },
    );
    let mut archive = tar::Archive::new(&clamped[..]);
    for entry in archive.entries().unwrap() {
        assert_eq!(entry.unwrap().header().mtime().unwrap(), 1_500_000_000);
    }
    // Names: directories end in '/', no './' prefix, sorted per directory.
    let names: Vec<String> = tar::Archive::new(&a[..])
        .entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect();
    assert!(names.contains(&"etc/".to_string()));
    assert!(
        names.iter().position(|n| n == "etc/hostname") < names.iter().position(|n| n == "etc/ssl/")
    );
    assert!(names.iter().all(|n| !n.starts_with("./")));
}

#[test]
fn compressed_layers_validate_to_the_same_diff_id() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let plain = tar_of(src.path(), &CreateOptions::default());
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let mut writer = LayerWriter::new(Vec::new(), &CompressOptions::new(compression)).unwrap();
        create(src.path(), &mut writer, &CreateOptions::default()).unwrap();
        let (info, blob) = writer.finish().unwrap();
        assert_eq!(info.diff_id, Digest::sha256(&plain));
        assert_eq!(info.digest, Digest::sha256(&blob));
        let summary = validate(
            &blob[..],
            &ValidateOptions {
                allow_devices: true,
            },
        )
        .unwrap();
        assert_eq!(summary.diff_id, info.diff_id);
        assert_eq!(summary.compression, compression);
        let dest = tempfile::tempdir().unwrap();
        apply(&blob[..], dest.path(), &privileged()).unwrap();
        assert_eq!(tar_of(dest.path(), &CreateOptions::default()), plain);
    }
}

#[test]
fn standard_tools_read_our_gzip() {
    let Ok(status) = std::process::Command::new("gzip").arg("--version").output() else {
        eprintln!("skipped: gzip not installed");
        return;
    };
    assert!(status.status.success());
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let data: Vec<u8> = (0..3_000_000u32)
        .flat_map(|i| (i % 977).to_le_bytes())
        .collect();
    fs::write(src.path().join("big"), &data).unwrap();
    let mut writer =
        LayerWriter::new(Vec::new(), &CompressOptions::new(Compression::Gzip)).unwrap();
    create(src.path(), &mut writer, &CreateOptions::default()).unwrap();
    let (info, blob) = writer.finish().unwrap();
    let out = tempfile::tempdir().unwrap();
    let gz = out.path().join("layer.tar.gz");
    fs::write(&gz, &blob).unwrap();
    let decoded = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(&gz)
        .output()
        .unwrap();
    assert!(
        decoded.status.success(),
        "{}",
        String::from_utf8_lossy(&decoded.stderr)
    );
    assert_eq!(Digest::sha256(&decoded.stdout), info.diff_id);
}

#[test]
fn whiteouts_delete_and_opaque_clears_lower_content() {
    let dest = tempfile::tempdir().unwrap();
    let lower = tar(&[
        dir("a/"),
        file("a/x", b"1"),
        file("a/y", b"2"),
        dir("b/"),
        file("b/old", b"3"),
        dir("b/sub/"),
        file("b/sub/deep", b"4"),
        dir("c/"),
        file("c/gone", b"5"),
    ]);
    apply(&lower[..], dest.path(), &ApplyOptions::default()).unwrap();
    let upper = tar(&[
        dir("a/"),
        file("a/.wh.x", b""),
        dir("b/"),
        file("b/.wh..wh..opq", b""),
        file("b/new", b"6"),
        dir("b/sub/"),
        file(".wh.c", b""),
        file(".wh.never-existed", b""),
        file(".wh..wh.plnk", b""),
    ]);
    let summary = apply(&upper[..], dest.path(), &ApplyOptions::default()).unwrap();
    assert_eq!(summary.entries, 9);
    assert_eq!(listing(dest.path()), ["a", "a/y", "b", "b/new", "b/sub"]);
}

#[test]
fn overlay_whiteouts_and_upperdir_conversion_round_trip() {
    if !is_root() {
        eprintln!("skipped: creating overlay whiteouts (char 0/0, trusted.* xattrs) needs root");
        return;
    }
    let layer = tar(&[
        dir("a/"),
        file("a/.wh.x", b""),
        dir("b/"),
        file("b/.wh..wh..opq", b""),
        file("b/new", b"6"),
    ]);
    let overlay = ApplyOptions {
        whiteouts: WhiteoutMode::Overlay { user_xattr: false },
        ..privileged()
    };
    let snap = tempfile::tempdir().unwrap();
    apply(&layer[..], snap.path(), &overlay).unwrap();
    let wh = fs::symlink_metadata(snap.path().join("a/x")).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &wh.file_type()
    ));
    assert_eq!(wh.rdev(), 0);
    assert_eq!(
        xattr::get(snap.path().join("b"), "trusted.overlay.opaque")
            .unwrap()
            .as_deref(),
        Some(&b"y"[..])
    );

    // Reading that directory as an overlay upperdir gives back OCI whiteouts.
    let upper = tar_of(
        snap.path(),
        &CreateOptions {
            clamp_mtime: None,
            overlay_upper: true,
        },
    );
    let names: Vec<String> = tar::Archive::new(&upper[..])
        .entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect();
    assert_eq!(names, ["a/", "a/.wh.x", "b/", "b/.wh..wh..opq", "b/new"]);
    // And applying that again in overlay mode reproduces the same upperdir tar.
    let snap2 = tempfile::tempdir().unwrap();
    apply(&upper[..], snap2.path(), &overlay).unwrap();
    assert_eq!(
        tar_of(
            snap2.path(),
            &CreateOptions {
                clamp_mtime: None,
                overlay_upper: true
            }
        ),
        upper
    );
}

#[test]
fn existing_entries_are_replaced_like_docker() {
    let dest = tempfile::tempdir().unwrap();
    apply(
        &tar(&[
            dir("d/"),
            file("d/inner", b"1"),
            file("f", b"file"),
            symlink("s", "f"),
        ])[..],
        dest.path(),
        &ApplyOptions::default(),
    )
    .unwrap();
    apply(
        &tar(&[
            file("d", b"now a file"),
            dir("f/"),
            file("f/child", b"c"),
            file("s", b"no longer a link"),
        ])[..],
        dest.path(),
        &ApplyOptions::default(),
    )
    .unwrap();
    assert_eq!(fs::read(dest.path().join("d")).unwrap(), b"now a file");
    assert_eq!(fs::read(dest.path().join("f/child")).unwrap(), b"c");
    assert!(
        !fs::symlink_metadata(dest.path().join("s"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // A directory over a directory merges.
    apply(
        &tar(&[dir("f/"), file("f/second", b"2")])[..],
        dest.path(),
        &ApplyOptions::default(),
    )
    .unwrap();
    assert_eq!(listing(&dest.path().join("f")), ["child", "second"]);
}

#[test]
fn missing_parents_are_created() {
    let dest = tempfile::tempdir().unwrap();
    apply(
        &tar(&[file("x/y/z", b"deep")])[..],
        dest.path(),
        &ApplyOptions::default(),
    )
    .unwrap();
    let md = fs::metadata(dest.path().join("x/y")).unwrap();
    assert!(md.is_dir());
    let mut s = String::new();
    fs::File::open(dest.path().join("x/y/z"))
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s, "deep");
}

/// GNU tar reads what we write, and what GNU tar writes (GNU long names, its own
/// hardlink and xattr encoding, a `./` root entry) applies to the same tree.
#[test]
fn gnu_tar_interop() {
    let has_tar = std::process::Command::new("tar")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_tar {
        eprintln!("skipped: GNU tar not installed");
        return;
    }
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let ours = tar_of(src.path(), &CreateOptions::default());
    let scratch = tempfile::tempdir().unwrap();
    let ours_path = scratch.path().join("ours.tar");
    fs::write(&ours_path, &ours).unwrap();
    let listed = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&ours_path)
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let names: Vec<String> = tar::Archive::new(&ours[..])
        .entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect();
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout)
            .lines()
            .collect::<Vec<_>>(),
        names
    );

    for format in ["pax", "gnu"] {
        let mut ours = ours.clone();
        let mut cmd = std::process::Command::new("tar");
        if format == "pax" {
            cmd.args(["--xattrs", "--xattrs-include=*"]);
        } else {
            // The GNU format has no xattrs: compare with a tree without them.
            let _ = xattr::remove(src.path().join("etc/hostname"), "user.strata");
            let _ = xattr::remove(src.path().join("usr/bin/tool"), "security.capability");
            ours = tar_of(src.path(), &CreateOptions::default());
        }
        let theirs = cmd
            .arg("--numeric-owner")
            .arg(format!("--format={format}"))
            .arg("-C")
            .arg(src.path())
            .args(["-cf", "-", "."])
            .output()
            .unwrap();
        assert!(
            theirs.status.success(),
            "{}",
            String::from_utf8_lossy(&theirs.stderr)
        );
        validate(
            &theirs.stdout[..],
            &ValidateOptions {
                allow_devices: true,
            },
        )
        .unwrap();
        let dest = tempfile::tempdir().unwrap();
        apply(&theirs.stdout[..], dest.path(), &privileged()).unwrap();
        assert!(
            tar_of(dest.path(), &CreateOptions::default()) == ours,
            "{format} tar applied to a different tree"
        );
    }
}
