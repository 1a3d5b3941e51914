//! COPY and ADD: source selection, destination rules, flags, archives, URLs, symlinks.

mod common;
use common::*;

fn exists(root: &std::path::Path, p: &str) -> bool {
    std::fs::symlink_metadata(root.join(p.trim_start_matches('/'))).is_ok()
}

#[test]
fn glob_selects_only_matching_files() {
    let Some(env) = env(&[("a.txt", "a"), ("b.txt", "b"), ("c.md", "c")]) else {
        return;
    };
    env.build("FROM scratch\nCOPY *.txt /d/\n");
    let r = env.rootfs("test");
    assert!(exists(&r, "d/a.txt") && exists(&r, "d/b.txt"));
    assert!(!exists(&r, "d/c.md"));
}

#[test]
fn glob_in_a_directory_component() {
    let Some(env) = env(&[("x/app.conf", "1"), ("y/app.conf", "2"), ("y/other", "o")]) else {
        return;
    };
    env.build("FROM scratch\nCOPY [xy]/*.conf /etc/app/\n");
    // Both match with the same name: the later one wins, as in Docker.
    assert_eq!(env.read("test", "/etc/app/app.conf"), "2");
    assert!(!exists(&env.rootfs("test"), "etc/app/other"));
}

#[test]
fn directory_source_copies_its_contents() {
    let Some(env) = env(&[("src/x", "x"), ("src/sub/y", "y")]) else {
        return;
    };
    env.build("FROM scratch\nCOPY src /app/\n");
    let r = env.rootfs("test");
    assert!(exists(&r, "app/x") && exists(&r, "app/sub/y"));
    assert!(!exists(&r, "app/src"));
}

#[test]
fn destination_without_slash_is_the_new_file_name() {
    let Some(env) = env(&[("a.txt", "A")]) else {
        return;
    };
    env.build("FROM scratch\nCOPY a.txt /opt/b\n");
    assert_eq!(env.read("test", "/opt/b"), "A");
}

#[test]
fn existing_directory_destination_without_slash_receives_the_file() {
    let Some(env) = env(&[("a.txt", "A")]) else {
        return;
    };
    env.build("FROM busybox\nCOPY a.txt /etc\n");
    assert_eq!(env.read("test", "/etc/a.txt"), "A");
}

/// Several sources and a destination without a slash: BuildKit has no rule against it and
/// copies each source to the destination in turn (a file replaces the one before it,
/// directories' contents merge, a directory cannot go where a file now is).
#[test]
fn several_sources_to_a_destination_without_slash_are_copied_in_turn() {
    let Some(env) = env(&[("a", "a"), ("b", "b"), ("d1/x", "x"), ("d2/y", "y")]) else {
        return;
    };
    env.build("FROM busybox\nCOPY a b /dst\nCOPY d1/ d2/ /m\n");
    assert_eq!(env.read("test", "/dst"), "b");
    assert_eq!(env.read("test", "/m/x"), "x");
    assert_eq!(env.read("test", "/m/y"), "y");
    let e = env
        .try_build("FROM busybox\nCOPY a d1/ /z\n")
        .err()
        .unwrap();
    assert!(e.contains("cannot copy to non-directory"), "{e}");
}

#[test]
fn relative_destination_uses_workdir() {
    let Some(env) = env(&[("a", "a")]) else {
        return;
    };
    env.build("FROM busybox\nWORKDIR /srv/app\nCOPY a ./\n");
    assert_eq!(env.read("test", "/srv/app/a"), "a");
}

#[test]
fn chmod_octal_applies_to_files_and_dirs() {
    let Some(env) = env(&[("d/f", "f")]) else {
        return;
    };
    env.build("FROM scratch\nCOPY --chmod=0705 d /d/\nCOPY --chmod=0705 d /e\n");
    let r = env.rootfs("test");
    assert_eq!(mode(&r.join("d/f")), 0o705);
    assert_eq!(mode(&r.join("e/f")), 0o705);
    // The destination directory the copy creates is 0755 whatever --chmod says, with or
    // without a trailing slash (BuildKit creates it with MkdirAll(dest, 0755)).
    assert_eq!(mode(&r.join("d")), 0o755);
    assert_eq!(mode(&r.join("e")), 0o755);
}

/// An octal --chmod sets exactly the bits it gives: a setuid or sticky source loses its
/// special bits unless the mode has them (current BuildKit; Docker 20.10 kept them).
#[test]
fn chmod_octal_sets_exactly_the_bits_given() {
    let Some(env) = env(&[("d/suid", "s"), ("d/sticky/x", "x")]) else {
        return;
    };
    let set = |p: &str, m: u32| {
        std::fs::set_permissions(
            env.ctx.join(p),
            std::os::unix::fs::PermissionsExt::from_mode(m),
        )
        .unwrap()
    };
    set("d/suid", 0o4755);
    set("d/sticky", 0o1777);
    env.build("FROM scratch\nCOPY --chmod=0751 d /d/\nCOPY --chmod=4750 d/suid /s\n");
    let r = env.rootfs("test");
    assert_eq!(mode(&r.join("d/suid")), 0o751);
    assert_eq!(mode(&r.join("d/sticky")), 0o751);
    assert_eq!(mode(&r.join("s")), 0o4750);
}

#[test]
fn chmod_symbolic_modifies_each_mode() {
    let Some(env) = env(&[("f", "f"), ("g", "g")]) else {
        return;
    };
    std::fs::set_permissions(
        env.ctx.join("f"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    env.build("FROM scratch\nCOPY --chmod=u+x,go-r f /f\n");
    assert_eq!(mode(&env.rootfs("test").join("f")), 0o700);
}

#[test]
fn chown_resolves_names_from_the_image() {
    let Some(env) = env(&[("f", "f")]) else {
        return;
    };
    env.build("FROM busybox\nCOPY --chown=nobody:nogroup f /f\n");
    assert_eq!(owner(&env.rootfs("test").join("f")), (65534, 65534));
    let e = env
        .try_build("FROM busybox\nCOPY --chown=ghost f /f\n")
        .err()
        .unwrap();
    assert!(e.contains("unable to find user ghost"), "{e}");
}

#[test]
fn link_layer_is_reused_when_the_base_changes() {
    let Some(env) = env(&[("f", "f")]) else {
        return;
    };
    env.build("FROM busybox\nRUN echo 1 > /one\nCOPY --link f /opt/f\nCOPY f /opt/g\n");
    let b = env.build("FROM busybox\nRUN echo 2 > /one\nCOPY --link f /opt/f\nCOPY f /opt/g\n");
    assert_eq!(b.cached(), 1, "{}", b.log);
    assert_eq!(env.read("test", "/opt/f"), "f");
    assert_eq!(env.read("test", "/one").trim(), "2");
}

#[test]
fn parents_keeps_source_paths() {
    let Some(env) = env(&[("a/b/c.txt", "c"), ("x/y/z.txt", "z")]) else {
        return;
    };
    env.build("FROM scratch\nCOPY --parents a/b/c.txt x/./y/z.txt /dst/\n");
    let r = env.rootfs("test");
    assert!(exists(&r, "dst/a/b/c.txt"));
    assert!(exists(&r, "dst/y/z.txt"));
    assert!(!exists(&r, "dst/x"));
}

#[test]
fn exclude_leaves_out_matching_paths() {
    let Some(env) = env(&[
        ("app/main.c", "m"),
        ("app/README.md", "r"),
        ("app/tmp/x", "x"),
    ]) else {
        return;
    };
    env.build("FROM scratch\nCOPY --exclude=*.md --exclude=tmp app /app/\n");
    let r = env.rootfs("test");
    assert!(exists(&r, "app/main.c"));
    assert!(!exists(&r, "app/README.md"));
    assert!(!exists(&r, "app/tmp"));
}

#[test]
fn heredoc_source_becomes_a_file() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM scratch\nARG WHO=world\nCOPY <<EOF /hello.txt\nhello $WHO\nEOF\n");
    assert_eq!(env.read("test", "/hello.txt"), "hello world\n");
}

#[test]
fn copy_from_an_image() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM scratch\nCOPY --from=busybox /etc/passwd /passwd\n");
    assert!(env.read("test", "/passwd").starts_with("root:x:0:0"));
}

#[test]
fn dockerignored_files_are_not_copied() {
    let Some(env) = env(&[
        ("keep", "k"),
        ("drop.log", "d"),
        (".dockerignore", "*.log\n"),
    ]) else {
        return;
    };
    env.build("FROM scratch\nCOPY . /c/\n");
    let r = env.rootfs("test");
    assert!(exists(&r, "c/keep"));
    assert!(!exists(&r, "c/drop.log"));
}

fn tar_bytes() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o640);
    h.set_mtime(1_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h.set_cksum();
    b.append_data(&mut h, "pkg/bin/tool", &b"abc"[..]).unwrap();
    b.into_inner().unwrap()
}

fn add_archive(name: &str, bytes: Vec<u8>) {
    let Some(env) = env(&[]) else { return };
    std::fs::write(env.ctx.join(name), bytes).unwrap();
    env.build(&format!("FROM scratch\nADD {name} /opt/\n"));
    let r = env.rootfs("test");
    assert_eq!(
        std::fs::read_to_string(r.join("opt/pkg/bin/tool")).unwrap(),
        "abc"
    );
    assert_eq!(mode(&r.join("opt/pkg/bin/tool")), 0o640);
    assert!(!exists(&r, &format!("opt/{name}")));
}

#[test]
fn add_extracts_plain_tar() {
    add_archive("a.tar", tar_bytes());
}

#[test]
fn add_extracts_gzip_tar() {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut e, &tar_bytes()).unwrap();
    add_archive("a.tar.gz", e.finish().unwrap());
}

#[test]
fn add_extracts_bzip2_tar() {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    std::io::Write::write_all(&mut e, &tar_bytes()).unwrap();
    add_archive("a.tar.bz2", e.finish().unwrap());
}

#[test]
fn add_extracts_xz_tar() {
    let mut out = Vec::new();
    lzma_rs::xz_compress(&mut &tar_bytes()[..], &mut out).unwrap();
    add_archive("a.tar.xz", out);
}

#[test]
fn add_extracts_zstd_tar() {
    add_archive("a.tar.zst", zstd::encode_all(&tar_bytes()[..], 3).unwrap());
}

#[test]
fn copy_does_not_extract_archives() {
    let Some(env) = env(&[]) else { return };
    std::fs::write(env.ctx.join("a.tar"), tar_bytes()).unwrap();
    env.build("FROM scratch\nCOPY a.tar /opt/\n");
    assert!(exists(&env.rootfs("test"), "opt/a.tar"));
}

/// ADD extracts only what decompresses to a tar: a gzip of a plain file, or a file with a
/// tar's name that is not one, is copied as it is (Docker's IsArchivePath).
#[test]
fn add_copies_compressed_files_that_are_not_tars() {
    let Some(env) = env(&[("fake.tar", "not a tar at all")]) else {
        return;
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, b"just text\n").unwrap();
    std::fs::write(env.ctx.join("notes.txt.gz"), gz.finish().unwrap()).unwrap();
    env.build("FROM scratch\nADD notes.txt.gz fake.tar /n/\n");
    let r = env.rootfs("test");
    assert!(r.join("n/notes.txt.gz").is_file());
    assert_eq!(
        std::fs::read_to_string(r.join("n/fake.tar")).unwrap(),
        "not a tar at all"
    );
}

/// Serve `body` over HTTP on 127.0.0.1 for `n` requests; returns the URL base.
fn serve(body: &'static [u8], n: usize) -> String {
    use std::io::{BufRead, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((s, _)) = l.accept() else { return };
            let mut r = std::io::BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|k| k > 2) {
                line.clear();
            }
            let mut s = s;
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(body);
        }
    });
    format!("http://{addr}")
}

#[test]
fn add_url_with_checksum() {
    let Some(env) = env(&[]) else { return };
    let base = serve(b"payload", 2);
    let sum = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"payload"))
    );
    env.build(&format!(
        "FROM scratch\nADD --checksum={sum} {base}/files/data.bin /dl/\n"
    ));
    let r = env.rootfs("test");
    assert_eq!(
        std::fs::read_to_string(r.join("dl/data.bin")).unwrap(),
        "payload"
    );
    assert_eq!(mode(&r.join("dl/data.bin")), 0o600);
    let wrong = format!("sha256:{}", "0".repeat(64));
    let e = env
        .try_build(&format!(
            "FROM scratch\nADD --checksum={wrong} {base}/files/data.bin /dl/\n"
        ))
        .err()
        .unwrap();
    assert!(e.contains("digest mismatch"), "{e}");
}

/// A source that is a symlink is followed inside the context, as BuildKit follows it: an
/// absolute target restarts at the context root, so the host's /etc/passwd is never read.
#[test]
fn context_symlink_to_etc_passwd_is_resolved_inside_the_context() {
    let Some(env) = env(&[]) else { return };
    std::os::unix::fs::symlink("/etc/passwd", env.ctx.join("pw")).unwrap();
    let e = env.try_build("FROM scratch\nCOPY pw /pw\n").err().unwrap();
    assert!(e.contains("not found"), "{e}");
    // With an etc/passwd in the context, that one is copied, under the link's name.
    env.write(&[("etc/passwd", "context's own\n")]);
    env.build("FROM scratch\nCOPY pw /pw\n");
    let r = env.rootfs("test");
    assert!(std::fs::symlink_metadata(r.join("pw")).unwrap().is_file());
    assert_eq!(env.read("test", "/pw"), "context's own\n");
}

/// `COPY link /l` copies what the link points to, named after the link; a link to a
/// directory copies that directory's contents. Links below a copied directory stay links.
#[test]
fn symlink_sources_are_followed_and_keep_their_names() {
    let Some(env) = env(&[("a.txt", "A"), ("dir/sub/f", "F")]) else {
        return;
    };
    std::os::unix::fs::symlink("a.txt", env.ctx.join("link")).unwrap();
    std::os::unix::fs::symlink("dir/sub", env.ctx.join("dirlink")).unwrap();
    std::os::unix::fs::symlink("f", env.ctx.join("dir/sub/inner")).unwrap();
    for tail in ["", "FROM s\n"] {
        env.build(&format!(
            "FROM busybox AS s\nCOPY link /l\nCOPY link /into/\nCOPY dirlink /dl/\nCOPY li* /glob/\n{tail}"
        ));
        let r = env.rootfs("test");
        for f in ["l", "into/link", "glob/link"] {
            assert!(
                std::fs::symlink_metadata(r.join(f)).unwrap().is_file(),
                "{f}"
            );
            assert_eq!(std::fs::read_to_string(r.join(f)).unwrap(), "A");
        }
        assert_eq!(std::fs::read_to_string(r.join("dl/f")).unwrap(), "F");
        assert!(
            std::fs::symlink_metadata(r.join("dl/inner"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(!exists(&r, "dl/dirlink") && !exists(&r, "dl/sub"));
    }
}

/// The destination is resolved through the image's symlinks, the last component too
/// (BuildKit's fs.RootPath): `COPY f /bin/ls` writes busybox, which /bin/ls links to.
#[test]
fn destination_is_resolved_through_image_symlinks() {
    let Some(env) = env(&[("a.txt", "A"), ("b.txt", "B")]) else {
        return;
    };
    for tail in ["", "FROM s\n"] {
        env.build(&format!(
            "FROM busybox AS s\nRUN mkdir /target && ln -s /target /linkdir && ln -s ../etc /target/up\n\
             COPY a.txt /linkdir/\nCOPY b.txt /linkdir/up/b\nCOPY a.txt /bin/ls\n{tail}"
        ));
        let r = env.rootfs("test");
        assert_eq!(
            std::fs::read_to_string(r.join("target/a.txt")).unwrap(),
            "A"
        );
        assert_eq!(std::fs::read_to_string(r.join("etc/b")).unwrap(), "B");
        assert!(
            std::fs::symlink_metadata(r.join("linkdir"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            std::fs::symlink_metadata(r.join("bin/ls"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(r.join("bin/busybox")).unwrap(), "A");
    }
}

/// Files hardlinked in one source stay hardlinked in the layer (a tar hardlink entry);
/// the same file named by two source arguments is copied twice, as BuildKit copies each
/// source with its own inode table.
#[test]
fn hardlinks_within_a_source_are_kept() {
    use std::os::unix::fs::MetadataExt;
    let Some(env) = env(&[("d/one", "linked"), ("d/sub/x", "x")]) else {
        return;
    };
    std::fs::hard_link(env.ctx.join("d/one"), env.ctx.join("d/two")).unwrap();
    std::fs::hard_link(env.ctx.join("d/one"), env.ctx.join("d/sub/three")).unwrap();
    for tail in ["", "FROM s\n"] {
        env.build(&format!(
            "FROM busybox AS s\nCOPY d /h/\nCOPY d/one d/two /f/\n{tail}"
        ));
        let r = env.rootfs("test");
        let ino = |p: &str| std::fs::metadata(r.join(p)).unwrap().ino();
        assert_eq!(ino("h/one"), ino("h/two"), "{tail}");
        assert_eq!(ino("h/one"), ino("h/sub/three"), "{tail}");
        assert_ne!(ino("f/one"), ino("f/two"), "{tail}");
        assert_eq!(
            std::fs::read_to_string(r.join("h/sub/three")).unwrap(),
            "linked"
        );
    }
}

/// `--chown=UID` without a group makes the uid the group too, also when the image's passwd
/// names that uid with another primary group (BuildKit's numeric user).
#[test]
fn chown_numeric_user_is_also_the_group() {
    let Some(env) = env(&[("f", "f")]) else {
        return;
    };
    env.build("FROM busybox\nCOPY --chown=1234 f /a\nCOPY --chown=65534 f /b\nCOPY --chown=nobody f /c\nCOPY --chown=1234:nogroup f /d\n");
    let r = env.rootfs("test");
    assert_eq!(owner(&r.join("a")), (1234, 1234));
    assert_eq!(owner(&r.join("b")), (65534, 65534));
    assert_eq!(owner(&r.join("c")), (65534, 65534));
    assert_eq!(owner(&r.join("d")), (1234, 65534));
}

#[test]
fn symlinked_directory_is_never_followed_out_of_the_context() {
    let Some(env) = env(&[]) else { return };
    std::os::unix::fs::symlink("/etc", env.ctx.join("etc")).unwrap();
    let e = env
        .try_build("FROM scratch\nCOPY etc/passwd /x\n")
        .err()
        .unwrap();
    assert!(e.contains("not found"), "{e}");
}

#[test]
fn paths_outside_the_context_are_refused() {
    let Some(env) = env(&[]) else { return };
    std::fs::write(env.ctx.parent().unwrap().join("outside"), "secret").unwrap();
    let e = env
        .try_build("FROM scratch\nCOPY ../outside /x\n")
        .err()
        .unwrap();
    assert!(e.contains("not found"), "{e}");
}

/// A COPY that nothing reads back is written straight to the tar (planned); one a later
/// stage builds on is copied to disk first. Both must give the same layer, byte for byte.
#[test]
fn planned_copy_writes_the_layer_the_on_disk_copy_writes() {
    let Some(env) = env(&[
        ("a.txt", "A"),
        ("b.txt", "B"),
        ("src/x.c", "x"),
        ("src/sub/y.c", "y"),
        ("src/sub/deep/z.c", "z"),
        ("src/empty/", ""),
        ("x/n", "file in x"),
        ("x/m/inner", "dir in x"),
        ("x/both", "x"),
        ("y/n", "file in y"),
        ("y/m/other", "dir in y too"),
        ("y/both", "y"),
        ("logs/skip.log", "l"),
        ("p/q/r.txt", "r"),
    ]) else {
        return;
    };
    std::os::unix::fs::symlink("x.c", env.ctx.join("src/link")).unwrap();
    std::fs::create_dir_all(env.ctx.join("hard/sub")).unwrap();
    std::fs::write(env.ctx.join("hard/one"), "one").unwrap();
    std::fs::hard_link(env.ctx.join("hard/one"), env.ctx.join("hard/two")).unwrap();
    std::fs::hard_link(env.ctx.join("hard/one"), env.ctx.join("hard/sub/three")).unwrap();
    std::os::unix::fs::symlink("a.txt", env.ctx.join("link")).unwrap();
    std::os::unix::fs::symlink("src/sub", env.ctx.join("dirlink")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", env.ctx.join("src/abs")).unwrap();
    std::fs::write(env.ctx.join("src/run.sh"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(
        env.ctx.join("src/run.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let cases = [
        "COPY . /app/",
        "COPY src /opt/a/b/",
        "COPY --chown=1000:1000 --chmod=640 src/ /srv/",
        "COPY --chmod=u+x,go-w src /d",
        "COPY a.txt b.txt /etc/",
        "COPY a.txt /etc",
        "COPY a.txt /bin/new/name",
        "COPY x/ y/ /same/",
        "COPY y/ x/ /same/",
        "COPY --link src /l/",
        "COPY --parents p/q/r.txt src/./sub /par/",
        "COPY --exclude=*.c --exclude=logs src . /ex/",
        "COPY <<EOF /etc/conf.d/app\nhello $HOME\nEOF",
        "COPY <<EOF <<EOT /h/\nfirst\nEOF\nsecond\nEOT",
        "COPY src/empty /etc/",
        "COPY src/empty /fresh/",
        "COPY --chown=1000:1000 src /new/deep/",
        "COPY --chown=1000:1000 . /w/",
        "COPY hard /hl/",
        "COPY hard/one hard/two /hl2/",
        "COPY link dirlink /followed/",
        "COPY a.txt /bin/ls",
        "COPY src /linkdir/",
        "COPY --chmod=0700 src /m",
        "COPY --chown=1234 a.txt /chowned/",
    ];
    for case in cases {
        // A destination through a directory symlink of the image needs that symlink.
        let link = if case.contains("/linkdir") {
            "RUN ln -s /w /linkdir\n"
        } else {
            ""
        };
        let planned = format!("FROM busybox AS a\nWORKDIR /w\n{link}{case}\n");
        let on_disk = format!("{planned}FROM a\n");
        let mut ids = Vec::new();
        for df in [&planned, &on_disk] {
            env.build_with(df, |o| {
                o.no_cache = true;
                o.source_date_epoch = Some(1_700_000_000);
            });
            ids.push(env.config("test")["rootfs"]["diff_ids"].clone());
        }
        assert_eq!(ids[0], ids[1], "{case}: planned and on-disk layers differ");
    }
    // Without SOURCE_DATE_EPOCH the planned copy keeps the sources' times.
    env.build("FROM scratch\nCOPY src /s/\n");
    let r = env.rootfs("test");
    // Layers keep whole seconds.
    let t = |p: &std::path::Path| {
        use std::os::unix::fs::MetadataExt;
        std::fs::symlink_metadata(p).unwrap().mtime()
    };
    assert_eq!(t(&r.join("s/x.c")), t(&env.ctx.join("src/x.c")));
    assert_eq!(t(&r.join("s/sub")), t(&env.ctx.join("src/sub")));
    assert_eq!(
        std::fs::read_link(r.join("s/abs")).unwrap(),
        std::path::Path::new("/etc/passwd")
    );
}

/// A symlink the COPY itself wrote never leads a later entry of the same COPY out of the
/// layer directory (on disk) or the planned tree: the build fails instead of writing
/// through it.
#[test]
fn a_copied_symlink_is_not_followed_by_later_entries() {
    let Some(env) = env(&[("b/a/x", "payload")]) else {
        return;
    };
    let outside = env.tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    // A link below a copied directory is copied as a link; the next source's parent
    // then is that link.
    std::fs::create_dir(env.ctx.join("s")).unwrap();
    std::os::unix::fs::symlink(&outside, env.ctx.join("s/a")).unwrap();
    let copy = "COPY --parents s/./ b/./a/x /dst/";
    for df in [
        format!("FROM busybox AS s\n{copy}\n"),
        format!("FROM busybox AS s\n{copy}\nFROM s\n"),
    ] {
        let Err(err) = env.try_build(&df) else {
            panic!("built through a symlink: {df}");
        };
        assert!(err.contains("create directory"), "{err}");
        assert!(!outside.join("x").exists(), "wrote through the symlink");
    }
}

/// BuildKit's ownership rules for the destination of a directory's contents: `--chown`
/// leaves an existing destination directory alone, and applies to the directories the
/// copy creates (the destination and its missing parents).
#[test]
fn chown_keeps_an_existing_destination_and_owns_created_ones() {
    use std::os::unix::fs::MetadataExt;
    let Some(env) = env(&[("d/f", "f"), ("g", "g")]) else {
        return;
    };
    for tail in ["", "FROM s\n"] {
        env.build(&format!(
            "FROM busybox AS s\nWORKDIR /app\nCOPY --chown=1000:1000 d/ /app/\n\
             COPY --chown=1000:1000 --chmod=700 d /new/deep/\n\
             COPY --chown=1000:1000 g /made/by/copy\n{tail}"
        ));
        let r = env.rootfs("test");
        let m = |p: &str| std::fs::symlink_metadata(r.join(p)).unwrap();
        assert_eq!((m("app").uid(), m("app").gid()), (0, 0), "{tail}");
        assert_eq!(m("app/f").uid(), 1000);
        // Created directories are 0755 whatever --chmod says, as BuildKit creates them.
        for (d, mode) in [
            ("new", 0o755),
            ("new/deep", 0o755),
            ("made", 0o755),
            ("made/by", 0o755),
        ] {
            assert_eq!((m(d).uid(), m(d).gid()), (1000, 1000), "{d} {tail}");
            assert_eq!(m(d).mode() & 0o7777, mode, "{d} {tail}");
        }
        assert_eq!(m("new/deep/f").mode() & 0o7777, 0o700);
    }
}

/// As BuildKit: a directory is never merged into a file or symlink the image has, nor a
/// directory of the image replaced by a file; the error names the path.
#[test]
fn copy_refuses_to_replace_across_types() {
    let Some(env) = env(&[
        ("d/f", "f"),
        ("e/etc", "a file where the image has a directory"),
    ]) else {
        return;
    };
    for (df, path, why) in [
        (
            "COPY d /etc/passwd/",
            "/etc/passwd",
            "cannot copy to non-directory",
        ),
        (
            "COPY d /bin/sh",
            "/bin/busybox",
            "cannot copy to non-directory",
        ),
        ("COPY e /", "/etc", "cannot replace a directory with a file"),
    ] {
        let e = env
            .try_build(&format!("FROM busybox\n{df}\n"))
            .err()
            .unwrap_or_else(|| panic!("{df} built"));
        assert!(e.contains(path) && e.contains(why), "{df}: {e}");
    }
    // With --link the layer is made without the image: nothing to refuse.
    env.build("FROM busybox\nCOPY --link d /etc/passwd/\n");
}

/// The sources of one COPY are copied one after the other into the same tree, so a later
/// source cannot put a directory where an earlier one put a file, nor the reverse; nor
/// can a heredoc file replace a directory of the image. Both ways, in the on-disk copy and
/// in the streamed last step.
#[test]
fn copy_refuses_to_replace_across_types_between_its_sources() {
    let Some(env) = env(&[
        ("a/x", "a file"),
        ("b/x/inner", "a directory"),
        ("c/x", "another file"),
    ]) else {
        return;
    };
    for (df, path, why) in [
        ("COPY a/ b/ /dst/", "/dst/x", "cannot copy to non-directory"),
        (
            "COPY b/ a/ /dst/",
            "/dst/x",
            "cannot replace a directory with a file",
        ),
        (
            "COPY <<etc /\nhello\netc",
            "/etc",
            "cannot replace a directory with a file",
        ),
    ] {
        for tail in ["", "RUN true\n"] {
            let e = env
                .try_build(&format!("FROM busybox\n{df}\n{tail}"))
                .err()
                .unwrap_or_else(|| panic!("{df} built"));
            assert!(e.contains(path) && e.contains(why), "{df}: {e}");
        }
    }
    // A file replacing a file of an earlier source is fine: the later one wins.
    env.build("FROM busybox\nCOPY a/ c/ /dst/\n");
    assert_eq!(env.read("test", "/dst/x"), "another file");
}
