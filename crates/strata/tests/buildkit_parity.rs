//! Differential test of `strata build` against BuildKit (Docker 20.10's, in a private
//! `dockerd`): many small Dockerfiles, each exercising one behaviour, are built by both from
//! the same busybox base image, and the results are compared.
//!
//! What is compared, per case:
//!
//! - **The merged filesystem**: both images are exported with `save` (docker-archive), their
//!   layers applied in order (OCI whiteouts `.wh.NAME` remove a path of a lower layer,
//!   `.wh..wh..opq` hides a directory's lower contents), and for every path the type, the
//!   permission bits with setuid/setgid/sticky, uid:gid, size, symlink target, content
//!   digest and hardlink group (the paths sharing one inode) must agree.
//! - **mtimes**, of non-directories only: directory mtimes legitimately differ (any change
//!   below touches them, and the builders create parents at different moments). A file's
//!   mtime is compared unless *both* builders made it during the build (mtime at or after
//!   the moment the builds started: RUN output, WORKDIR, a file copied from another stage's
//!   RUN output), where the two clocks differ by nature. So files copied from the context
//!   (whose mtimes the test sets to [`CTX_MTIME`]), extracted from a tar or taken from the
//!   base image must keep the same mtime in both.
//! - **The layer count** (a COPY or RUN is one layer in both; ENV and the like none).
//! - **The image config**: Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Volumes,
//!   Labels, StopSignal, Healthcheck, Shell, OnBuild (a key left out equals null), and the
//!   history's `created_by` strings and `empty_layer` flags.
//!
//! All cases run in one test so that one dockerd and one base image serve them; mismatches
//! are collected and reported together, naming each case. Cases BuildKit 20.10 refuses (a
//! flag it does not know yet) are marked as such and reported as skipped, with its error.
//! `STRATA_PARITY_CASES=name,name` runs only the cases whose names contain one of those.
//!
//! Docker 20.10's BuildKit is the reference, except where current BuildKit changed the
//! behaviour and Strata follows current BuildKit; each such case says so
//! ([`Case::newer_buildkit`], [`Case::newer_history`]): a symbolic `--chmod` (20.10 ignores
//! it), an octal `--chmod` on setuid/sticky sources (20.10 keeps those bits), the
//! `HEALTHCHECK` history line (current BuildKit prints StartInterval), and `ARG NAME`
//! inheriting a meta ARG's value (current BuildKit writes `ARG NAME=value`).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Dockerd, Env, have, run_tool};
use sha2::Digest as _;

/// The base image's name in both Strata's store and dockerd.
const BASE: &str = "strata-parity/busybox:1";

/// The mtime every context entry gets (2001-09-09T01:46:40Z): copied files must keep it.
const CTX_MTIME: i64 = 1_000_000_000;

fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not running as root (RUN needs namespaces and overlayfs)".into());
    }
    if !std::fs::read_to_string("/proc/filesystems").is_ok_and(|f| f.contains("overlay")) {
        return Some("the kernel has no overlayfs".into());
    }
    for tool in ["dockerd", "runc", "tar", "gzip", "touch"] {
        if !have(tool) {
            return Some(format!(
                "{tool} is not installed (scripts/deps.sh test installs it)"
            ));
        }
    }
    if !Path::new("/usr/bin/docker").exists() && !have("docker") {
        return Some(
            "the docker client is not installed (scripts/deps.sh test installs it)".into(),
        );
    }
    if !Path::new("/bin/busybox").exists() {
        return Some("busybox-static is not installed (scripts/deps.sh test installs it)".into());
    }
    None
}

// ---------------------------------------------------------------------------------------
// Context building blocks.

fn file(ctx: &Path, rel: &str, content: &str) {
    let p = ctx.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, content).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
}

fn dir(ctx: &Path, rel: &str) {
    std::fs::create_dir_all(ctx.join(rel)).unwrap();
}

fn mode(ctx: &Path, rel: &str, m: u32) {
    std::fs::set_permissions(ctx.join(rel), std::fs::Permissions::from_mode(m)).unwrap();
}

fn owner(ctx: &Path, rel: &str, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(ctx.join(rel), Some(uid), Some(gid)).unwrap();
}

fn symlink(ctx: &Path, rel: &str, target: &str) {
    let p = ctx.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, &p).unwrap();
}

fn hardlink(ctx: &Path, rel: &str, existing: &str) {
    std::fs::hard_link(ctx.join(existing), ctx.join(rel)).unwrap();
}

/// A directory tree with modes and owners of several kinds.
fn tree(ctx: &Path, at: &str) {
    file(ctx, &format!("{at}/top.txt"), "top\n");
    file(ctx, &format!("{at}/sub/inner.txt"), "inner\n");
    file(
        ctx,
        &format!("{at}/sub/deeper/leaf.sh"),
        "#!/bin/sh\necho leaf\n",
    );
    file(ctx, &format!("{at}/private/key"), "secret\n");
    file(ctx, &format!("{at}/suid"), "suid\n");
    dir(ctx, &format!("{at}/sticky"));
    mode(ctx, &format!("{at}/sub/deeper/leaf.sh"), 0o755);
    mode(ctx, &format!("{at}/private"), 0o700);
    mode(ctx, &format!("{at}/private/key"), 0o600);
    mode(ctx, &format!("{at}/suid"), 0o4755);
    mode(ctx, &format!("{at}/sticky"), 0o1777);
    owner(ctx, &format!("{at}/sub/inner.txt"), 1234, 5678);
    owner(ctx, &format!("{at}/private"), 1000, 1000);
}

fn tarball(ctx: &Path, name: &str) {
    // The archive's own entries: owners, modes, a symlink, a nested directory, an mtime.
    let src = ctx.join("../tar-src");
    file(&src, "pkg/bin/tool", "#!/bin/sh\necho tool\n");
    file(&src, "pkg/share/doc.txt", "doc\n");
    mode(&src, "pkg/bin/tool", 0o750);
    owner(&src, "pkg/bin/tool", 1000, 1000);
    owner(&src, "pkg/share", 33, 33);
    symlink(&src, "pkg/bin/alias", "tool");
    run_tool(
        Command::new("touch")
            .args(["-h", "-d", "@1234567890"])
            .arg(src.join("pkg/share/doc.txt")),
    );
    run_tool(
        Command::new("tar")
            .arg("-czf")
            .arg(ctx.join(name))
            .arg("-C")
            .arg(&src)
            .arg("pkg"),
    );
}

// ---------------------------------------------------------------------------------------
// Cases.

struct Case {
    name: &'static str,
    /// The whole Dockerfile; `$BASE` is replaced by the base image's name.
    dockerfile: &'static str,
    setup: fn(&Path),
    /// An image built (by each builder) before the case, with this tag and Dockerfile.
    parent: Option<(&'static str, &'static str)>,
    /// BuildKit 20.10 may refuse this Dockerfile (a newer flag): then the case is skipped.
    buildkit_may_refuse: bool,
    /// Where Docker 20.10's BuildKit behaves differently from current BuildKit, which
    /// Strata follows: why. Strata must build the case; it is reported as skipped, and a
    /// test in crates/strata-build checks Strata's result.
    newer_buildkit: Option<&'static str>,
    /// History lines Docker 20.10's BuildKit writes (left) that current BuildKit, and so
    /// Strata, writes differently (right); replaced in BuildKit's history before comparing.
    newer_history: &'static [(&'static str, &'static str)],
    /// `--build-arg` values given to both builders.
    build_args: &'static [&'static str],
    /// Both builders must refuse the Dockerfile (a case about an error).
    must_fail: bool,
}

fn none(_: &Path) {}

fn ab(ctx: &Path) {
    file(ctx, "a.txt", "alpha\n");
    file(ctx, "b.txt", "bravo\n");
    file(ctx, "c.md", "charlie\n");
    mode(ctx, "a.txt", 0o640);
    owner(ctx, "a.txt", 1234, 5678);
}

fn ab_tree(ctx: &Path) {
    ab(ctx);
    tree(ctx, "dir");
}

const fn case(name: &'static str, dockerfile: &'static str, setup: fn(&Path)) -> Case {
    Case {
        name,
        dockerfile,
        setup,
        parent: None,
        buildkit_may_refuse: false,
        newer_buildkit: None,
        newer_history: &[],
        build_args: &[],
        must_fail: false,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case("copy_file", "FROM $BASE\nCOPY a.txt /a.txt\n", ab),
        case(
            "copy_file_into_new_dir_slash",
            "FROM $BASE\nCOPY a.txt /newdir/\n",
            ab,
        ),
        case(
            "copy_file_renamed",
            "FROM $BASE\nCOPY a.txt /newdir/b\n",
            ab,
        ),
        case("copy_dir_contents", "FROM $BASE\nCOPY dir /dst\n", ab_tree),
        case(
            "copy_dir_trailing_slashes",
            "FROM $BASE\nCOPY dir/ /dst/\n",
            ab_tree,
        ),
        case("copy_glob_files", "FROM $BASE\nCOPY *.txt /g/\n", ab),
        case(
            "copy_glob_one_match_no_slash",
            "FROM $BASE\nCOPY *.md /g\n",
            ab,
        ),
        case("copy_glob_dirs_merge", "FROM $BASE\nCOPY d* /g/\n", |c| {
            tree(c, "d1");
            file(c, "d2/other.txt", "other\n");
            file(c, "d2/sub/two.txt", "two\n");
        }),
        case(
            "copy_several_sources",
            "FROM $BASE\nCOPY a.txt b.txt dir /m/\n",
            ab_tree,
        ),
        case(
            "copy_into_existing_dirs",
            "FROM $BASE\nCOPY a.txt /opt/existing/\nCOPY dir /opt/owned\nCOPY b.txt /opt/existing/file\n",
            ab_tree,
        ),
        case(
            "copy_relative_dest_after_workdir",
            "FROM $BASE\nWORKDIR /w/x\nCOPY a.txt .\nCOPY b.txt sub/\nCOPY c.md ../up.md\n",
            ab,
        ),
        case(
            "chown_numeric",
            "FROM $BASE\nCOPY --chown=1234:5678 dir /c/\n",
            ab_tree,
        ),
        case(
            "chown_names",
            "FROM $BASE\nCOPY --chown=alice:wheel dir /c/\n",
            ab_tree,
        ),
        case(
            "chown_user_only",
            "FROM $BASE\nCOPY --chown=alice a.txt /n/\nCOPY --chown=1234 b.txt /u/\n",
            ab,
        ),
        case(
            "chown_mixed_name_and_id",
            "FROM $BASE\nCOPY --chown=app:1003 a.txt /x/\nCOPY --chown=1001:staff b.txt /y/\n",
            ab,
        ),
        case(
            "chown_new_parents",
            "FROM $BASE\nCOPY --chown=app:app dir /new/deep/dst/\nCOPY --chown=app a.txt /new2/deep/a\n",
            ab_tree,
        ),
        // Without setuid/sticky sources: Docker 20.10 keeps a source's special bits under
        // an octal --chmod, current BuildKit (and Strata) sets exactly the bits given
        // (strata-build's chmod_octal_sets_exactly_the_bits_given).
        Case {
            buildkit_may_refuse: true,
            ..case(
                "chmod_octal",
                "FROM $BASE\nCOPY --chmod=0751 dir /x/\nCOPY --chmod=0705 dir /z\nCOPY --chmod=640 a.txt /y/a\n",
                |c| {
                    ab(c);
                    file(c, "dir/f", "f\n");
                    file(c, "dir/sub/g", "g\n");
                    mode(c, "dir/sub", 0o700);
                },
            )
        },
        Case {
            buildkit_may_refuse: true,
            newer_buildkit: Some(
                "Docker 20.10 accepts a symbolic --chmod and ignores it; current BuildKit \
                 applies it (strata-build's chmod_symbolic_modifies_each_mode)",
            ),
            ..case(
                "chmod_symbolic",
                "FROM $BASE\nCOPY --chmod=u+x,go-w a.txt /s\n",
                ab,
            )
        },
        case(
            "copy_dir_to_new_dest_with_and_without_slash",
            "FROM $BASE\nCOPY closed /x\nCOPY closed /y/\nCOPY --chown=app closed /z\n",
            |c| {
                file(c, "closed/f", "f\n");
                mode(c, "closed", 0o750);
                owner(c, "closed", 1000, 1000);
            },
        ),
        case(
            "copy_through_destination_symlinks",
            "FROM $BASE\nCOPY a.txt /linkdir/\nCOPY b.txt /linkdir/sub/b\nCOPY dir /linkdir/tree/\n",
            ab_tree,
        ),
        case(
            "chown_uid_of_a_passwd_user",
            "FROM $BASE\nCOPY --chown=1001 a.txt /a\nCOPY --chown=1001:wheel b.txt /b\n",
            ab,
        ),
        case(
            "copy_symlink_source",
            "FROM $BASE\nCOPY link /l\nCOPY dirlink /dl/\n",
            |c| {
                ab(c);
                tree(c, "dir");
                symlink(c, "link", "a.txt");
                symlink(c, "dirlink", "dir/sub");
            },
        ),
        case(
            "copy_dir_with_symlinks",
            "FROM $BASE\nCOPY dir /d/\n",
            |c| {
                file(c, "dir/real.txt", "real\n");
                symlink(c, "dir/rel", "real.txt");
                symlink(c, "dir/abs", "/etc/passwd");
                symlink(c, "dir/dangling", "nowhere");
                symlink(c, "dir/todir", "../dir");
                owner(c, "dir/rel", 1000, 1000);
            },
        ),
        case("copy_hardlinks", "FROM $BASE\nCOPY dir /h/\n", |c| {
            file(c, "dir/one", "linked\n");
            hardlink(c, "dir/two", "dir/one");
            file(c, "dir/sub/x", "x\n");
            hardlink(c, "dir/sub/three", "dir/one");
            file(c, "other/x", "x\n");
            hardlink(c, "other/y", "other/x");
        }),
        case(
            "copy_hardlinks_across_sources",
            "FROM $BASE\nCOPY dir other /h/\nCOPY dir/one other/x /f/\n",
            |c| {
                file(c, "dir/one", "linked\n");
                hardlink(c, "dir/two", "dir/one");
                dir(c, "other");
                hardlink(c, "other/x", "dir/one");
            },
        ),
        case(
            "copy_empty_dirs",
            "FROM $BASE\nCOPY dir /e/\nCOPY dir/empty /e2\n",
            |c| {
                dir(c, "dir/empty");
                dir(c, "dir/closed");
                mode(c, "dir/closed", 0o700);
                owner(c, "dir/closed", 1000, 1000);
            },
        ),
        case(
            "names_with_spaces_and_unicode",
            "FROM $BASE\nCOPY [\"a b.txt\", \"ünï ✓.txt\", \"/sp/\"]\nCOPY [\"sp ace\", \"/sp ace dst/\"]\n",
            |c| {
                file(c, "a b.txt", "space\n");
                file(c, "ünï ✓.txt", "unicode\n");
                file(c, "sp ace/in side.txt", "inside\n");
            },
        ),
        case(
            "dockerignore_exceptions",
            "FROM $BASE\nCOPY . /app/\n",
            |c| {
                file(
                    c,
                    ".dockerignore",
                    "**/*.log\n!keep.log\nsecret/\ndocs/**/draft*\n!docs/a/draft-ok.md\n*.tmp\n",
                );
                file(c, "main.c", "int main;\n");
                file(c, "x.log", "x\n");
                file(c, "keep.log", "keep\n");
                file(c, "sub/y.log", "y\n");
                file(c, "secret/pw", "pw\n");
                file(c, "docs/readme.md", "readme\n");
                file(c, "docs/a/b/draft1.md", "d1\n");
                file(c, "docs/a/draft-ok.md", "ok\n");
                file(c, "docs/a/draft-no.md", "no\n");
                file(c, "junk.tmp", "t\n");
            },
        ),
        case(
            "add_local_tar_gz",
            "FROM $BASE\nADD pkg.tar.gz /opt/\nADD pkg.tar.gz /unpacked/here\n",
            |c| tarball(c, "pkg.tar.gz"),
        ),
        case(
            "add_plain_file",
            "FROM $BASE\nADD a.txt /added.txt\nADD dir /added-dir/\n",
            ab_tree,
        ),
        case(
            "add_local_tar_with_chown",
            "FROM $BASE\nADD --chown=app:staff pkg.tar.gz /opt/\n",
            |c| tarball(c, "pkg.tar.gz"),
        ),
        case("odd_modes", "FROM $BASE\nCOPY modes /m/\n", |c| {
            file(c, "modes/none", "0\n");
            file(c, "modes/all", "7\n");
            file(c, "modes/empty", "");
            dir(c, "modes/setgid");
            file(c, "modes/setgid/in", "in\n");
            mode(c, "modes/none", 0o000);
            mode(c, "modes/all", 0o777);
            mode(c, "modes/setgid", 0o2755);
        }),
        case(
            "copy_ignores_user",
            "FROM $BASE\nUSER app\nWORKDIR /home/app\nCOPY . .\nCOPY a.txt /abs/\n",
            ab,
        ),
        case(
            "run_as_user_creates_owned_files",
            "FROM $BASE\nUSER app\nRUN mkdir -p /tmp/mine/sub && echo x > /tmp/mine/sub/f\n",
            none,
        ),
        case(
            "copy_from_stage_symlink_source",
            "FROM $BASE AS b\nRUN mkdir /out && echo t > /out/target && ln -s target /out/link && ln -s /out /outlink\n\
             FROM $BASE\nCOPY --from=b /out/link /l\nCOPY --from=b /outlink/target /t\nCOPY --from=b /out /all/\n",
            none,
        ),
        case(
            "dockerignore_dir_with_exception",
            "FROM $BASE\nCOPY . /app/\n",
            |c| {
                file(c, ".dockerignore", "build\n!build/keep.txt\n*/tmp*\n");
                file(c, "build/drop.txt", "d\n");
                file(c, "build/keep.txt", "k\n");
                file(c, "src/tmpfile", "t\n");
                file(c, "src/main.c", "m\n");
            },
        ),
        case(
            "workdir_through_symlink_and_existing",
            "FROM $BASE\nWORKDIR /linkdir/w\nWORKDIR /opt/owned\nWORKDIR /bin\nRUN pwd > /tmp/pwd\n",
            none,
        ),
        Case {
            // Current BuildKit writes the value the ARG gets (the --build-arg).
            newer_history: &[("ARG X=one", "ARG X=two")],
            build_args: &["X=two", "UNUSED=u"],
            ..case(
                "build_arg_overrides_default",
                "FROM $BASE\nARG X=one\nARG Y\nENV E=$X\nRUN echo $X $Y > /x\n",
                none,
            )
        },
        // BuildKit accepts a wildcard that matches nothing.
        case(
            "copy_glob_without_match",
            "FROM $BASE\nCOPY nomatch* /x/\nCOPY a.txt nomatch* /y/\n",
            ab,
        ),
        Case {
            must_fail: true,
            ..case(
                "copy_missing_source_fails",
                "FROM $BASE\nCOPY missing /x\n",
                ab,
            )
        },
        Case {
            must_fail: true,
            ..case(
                "run_as_unknown_user_fails",
                "FROM $BASE\nUSER ghost\nRUN true\n",
                none,
            )
        },
        case(
            "expose_uppercase_protocol_and_stopsignal_number",
            "FROM $BASE\nEXPOSE 80/TCP 53/UDP\nSTOPSIGNAL 9\n",
            none,
        ),
        case(
            "cmd_and_entrypoint_empty_arrays",
            "FROM $BASE\nENTRYPOINT []\nCMD []\n",
            none,
        ),
        case(
            "run_writes_into_a_volume",
            "FROM $BASE\nVOLUME /data\nRUN mkdir -p /data && echo x > /data/f\n",
            none,
        ),
        case(
            "add_gzip_that_is_not_a_tar",
            "FROM $BASE\nADD notes.txt.gz /n/\nADD plain.tar /p/\n",
            |c| {
                file(c, "notes.txt", "just text\n");
                run_tool(Command::new("gzip").arg("-n").arg(c.join("notes.txt")));
                file(c, "inner/x", "x\n");
                run_tool(
                    Command::new("tar")
                        .arg("-cf")
                        .arg(c.join("plain.tar"))
                        .arg("-C")
                        .arg(c)
                        .arg("inner"),
                );
                std::fs::remove_dir_all(c.join("inner")).unwrap();
            },
        ),
        case(
            "dockerignore_anchors_and_comments",
            "FROM $BASE\nCOPY . /app/\n",
            |c| {
                file(
                    c,
                    ".dockerignore",
                    "# a comment\n/top.txt\n./sub/a.txt\n**/deep.txt\n!sub/deep.txt\n",
                );
                file(c, "top.txt", "t\n");
                file(c, "sub/top.txt", "st\n");
                file(c, "sub/a.txt", "a\n");
                file(c, "sub/deep.txt", "d\n");
                file(c, "sub/x/deep.txt", "dd\n");
            },
        ),
        case(
            "stage_based_on_a_stage_with_args",
            "FROM $BASE AS a\nARG X=1\nENV E=e\nFROM a\nARG Y=2\nRUN echo $X $Y $E > /x\n",
            none,
        ),
        case(
            "quotes_and_escapes_in_env_and_label",
            "FROM $BASE\nENV A=\"a \\\"q\\\" b\" B='single $HOME' C=\\$HOME D=x\\ y\nLABEL \"k\\\"q\"=\"v \\\"q\\\"\" e=$A\n",
            none,
        ),
        case(
            "run_exec_form_and_user_with_group_name",
            "FROM $BASE\nUSER alice:wheel\nRUN [\"/bin/sh\", \"-c\", \"id > /tmp/id\"]\nUSER root\nRUN cp /tmp/id /id\n",
            none,
        ),
        case(
            "copy_file_onto_a_symlinked_dir_without_slash",
            "FROM $BASE\nCOPY a.txt /linkdir\nCOPY dir/sub /linkdir\n",
            ab_tree,
        ),
        Case {
            must_fail: true,
            ..case(
                "copy_dir_onto_an_existing_symlink_fails",
                "FROM $BASE\nCOPY dir /linkdir\n",
                ab_tree,
            )
        },
        Case {
            must_fail: true,
            ..case(
                "copy_file_onto_an_existing_dir_fails",
                "FROM $BASE\nCOPY dir /\n",
                |c| file(c, "dir/opt", "a file where the image has a directory\n"),
            )
        },
        case(
            "chown_applies_to_symlinks",
            "FROM $BASE\nCOPY --chown=alice:wheel dir /d/\n",
            |c| {
                file(c, "dir/real", "r\n");
                symlink(c, "dir/rel", "real");
                symlink(c, "dir/abs", "/etc/passwd");
            },
        ),
        case(
            "run_makes_hardlinks_and_a_fifo",
            "FROM $BASE\nRUN echo h > /h1 && ln /h1 /h2 && mkfifo /fifo && ln -s /h1 /sl\n",
            none,
        ),
        Case {
            must_fail: true,
            ..case(
                "copy_dir_onto_an_existing_file_fails",
                "FROM $BASE\nCOPY dir /etc/passwd-copy/\n",
                ab_tree,
            )
        },
        case(
            "copy_from_a_stage_root",
            "FROM $BASE AS b\nRUN mkdir -p /out && echo o > /out/o\nFROM scratch AS s\nCOPY --from=b /out /\nFROM $BASE\nCOPY --from=s / /from-root/\n",
            none,
        ),
        case(
            "workdir_nested",
            "FROM $BASE\nWORKDIR /a/b/c\nWORKDIR d\nRUN pwd > here\n",
            none,
        ),
        case(
            "workdir_after_user",
            "FROM $BASE\nUSER app\nWORKDIR /srv/data/x\nWORKDIR /home/app/new\nRUN touch made-by-app\n",
            none,
        ),
        case(
            "run_deletes_lower_file",
            "FROM $BASE\nCOPY dir /d/\nRUN rm /d/top.txt && rm -r /d/sub && rm /etc/group\n",
            ab_tree,
        ),
        case(
            "run_replaces_dir_with_file",
            "FROM $BASE\nCOPY dir /d/\nRUN rm -r /d/sub && echo file > /d/sub\n",
            ab_tree,
        ),
        case(
            "run_recreates_dir_opaque",
            "FROM $BASE\nCOPY dir /d/\nRUN rm -r /d/sub && mkdir -p /d/sub && echo new > /d/sub/new.txt\n",
            ab_tree,
        ),
        case(
            "run_changes_mode_and_owner_only",
            "FROM $BASE\nCOPY a.txt /m\nRUN chmod 4711 /m && chown 1000:1003 /m\n",
            ab,
        ),
        case(
            "env_arg_expansion",
            "FROM $BASE\nARG D=/opt/d\nARG PORT=8080\nENV F=a.txt U=app\n\
             COPY $F ${D}/\nCOPY ${F} ${D:-/nope}/copy-${F}\nWORKDIR $D/w\n\
             USER ${U}:${GROUP:-staff}\nEXPOSE $PORT/udp ${PORT}\nLABEL file=$F \"dir is\"=\"${D}\" plain='$F'\n",
            ab,
        ),
        Case {
            // Current BuildKit names the value an ARG gets from the meta ARG.
            newer_history: &[("ARG V", "ARG V=1.0")],
            ..case(
                "arg_before_from",
                "ARG IMG=$BASE\nARG V=1.0\nFROM ${IMG}\nARG V\nENV VERSION=$V\nRUN echo $V > /v\n",
                none,
            )
        },
        case(
            "run_history_with_build_args",
            "FROM $BASE\nARG X=one\nARG Y\nRUN echo $X > /x\nENV E=e\nRUN echo $E $X > /y\n",
            none,
        ),
        case(
            "multistage_from_name_and_index",
            "FROM $BASE AS builder\nRUN mkdir -p /out/sub && echo built > /out/f && echo s > /out/sub/s && chmod 700 /out/sub\n\
             FROM $BASE\nCOPY --from=builder /out /o1\nCOPY --from=0 /out/f /o2/\nCOPY --from=builder /out/sub/ /o3\n",
            none,
        ),
        case(
            "copy_from_image",
            "FROM $BASE\nCOPY --from=$BASE /etc/passwd /from-image/\nCOPY --from=$BASE /bin/ls /from-image/ls\n",
            none,
        ),
        case(
            "cmd_then_entrypoint_same_stage",
            "FROM $BASE\nCMD [\"keep\"]\nENTRYPOINT [\"/bin/echo\"]\n",
            none,
        ),
        case(
            "entrypoint_in_child_stage_resets_cmd",
            "FROM $BASE AS a\nCMD [\"from-a\"]\nFROM a\nENTRYPOINT [\"/bin/echo\"]\n",
            none,
        ),
        case(
            "entrypoint_shell_form_then_cmd",
            "FROM $BASE\nENTRYPOINT echo hi\nCMD echo there\n",
            none,
        ),
        case(
            "shell_instruction",
            "FROM $BASE\nSHELL [\"/bin/sh\", \"-ec\"]\nRUN echo $0 > /shell\nCMD echo cmd\nENTRYPOINT exec echo\n",
            none,
        ),
        // Current BuildKit's HealthConfig has StartInterval: one more duration in `%q`.
        Case {
            newer_history: &[(
                "HEALTHCHECK &{[\"CMD-SHELL\" \"wget -q -O- http://localhost/ || exit 1\"] \"5s\" \"3s\" \"1s\" '\\x04'}",
                "HEALTHCHECK &{[\"CMD-SHELL\" \"wget -q -O- http://localhost/ || exit 1\"] \"5s\" \"3s\" \"1s\" \"0s\" '\\x04'}",
            )],
            ..case(
                "healthcheck_full",
                "FROM $BASE\nHEALTHCHECK --interval=5s --timeout=3s --start-period=1s --retries=4 CMD wget -q -O- http://localhost/ || exit 1\n",
                none,
            )
        },
        Case {
            newer_history: &[(
                "HEALTHCHECK &{[\"CMD\" \"/bin/true\"] \"0s\" \"0s\" \"0s\" '\\x00'}",
                "HEALTHCHECK &{[\"CMD\" \"/bin/true\"] \"0s\" \"0s\" \"0s\" \"0s\" '\\x00'}",
            )],
            ..case(
                "healthcheck_exec_then_none",
                "FROM $BASE AS a\nHEALTHCHECK CMD [\"/bin/true\"]\nFROM a AS b\nHEALTHCHECK NONE\nFROM a\nLABEL inherits=yes\n",
                none,
            )
        },
        Case {
            newer_history: &[
                (
                    "HEALTHCHECK &{[\"CMD\" \"/bin/true\"] \"0s\" \"0s\" \"0s\" 'A'}",
                    "HEALTHCHECK &{[\"CMD\" \"/bin/true\"] \"0s\" \"0s\" \"0s\" \"0s\" 'A'}",
                ),
                (
                    "HEALTHCHECK &{[\"NONE\"] \"0s\" \"0s\" \"0s\" '\\x00'}",
                    "HEALTHCHECK &{[\"NONE\"] \"0s\" \"0s\" \"0s\" \"0s\" '\\x00'}",
                ),
            ],
            ..case(
                "healthcheck_none_and_retries_as_a_rune",
                "FROM $BASE AS a\nHEALTHCHECK --retries=65 CMD [\"/bin/true\"]\nFROM a\nHEALTHCHECK NONE\n",
                none,
            )
        },
        case("stopsignal", "FROM $BASE\nSTOPSIGNAL SIGUSR1\n", none),
        case(
            "volume_forms",
            "FROM $BASE\nVOLUME /data\nVOLUME [\"/a\", \"/b c\"]\nVOLUME /x /y\n",
            none,
        ),
        case(
            "expose_protocols_and_ranges",
            "FROM $BASE\nEXPOSE 80 443/tcp 53/udp\nEXPOSE 8000-8002 9000-9001/udp\n",
            none,
        ),
        case(
            "label_multi",
            "FROM $BASE\nLABEL a=1 b=\"two words\" \"c d\"=3\nLABEL a=override e=\nLABEL multi=\"line \\\n  continued\"\n",
            none,
        ),
        case(
            "env_forms",
            "FROM $BASE\nENV A=1 B=\"x y\" C=${A}2\nENV OLD old style value\nENV PATH=$PATH:/extra\n",
            none,
        ),
        case(
            "user_uid_gid",
            "FROM $BASE\nUSER 1000:1003\nRUN id > /tmp/id\nUSER root\nRUN cp /tmp/id /id\n",
            none,
        ),
        Case {
            parent: Some((
                "strata-parity/onbuild-parent:1",
                "FROM $BASE\nONBUILD RUN echo triggered > /onbuild.txt\nONBUILD COPY a.txt /ob/\nLABEL parent=yes\n",
            )),
            ..case(
                "onbuild_trigger_from_parent_image",
                "FROM strata-parity/onbuild-parent:1\nRUN cat /onbuild.txt > /seen\n",
                ab,
            )
        },
        case(
            "copy_replaces_symlink_and_file",
            "FROM $BASE\nCOPY a.txt /bin/ls\nCOPY b.txt /etc/passwd-copy\nCOPY c.md /etc/passwd-copy\n",
            ab,
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// Image export and comparison.

/// One path of a merged filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    kind: char,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    target: String,
    sha: String,
    mtime: u64,
    /// Which file this is (paths with the same inode are hardlinks).
    inode: u64,
}

struct Image {
    config: serde_json::Value,
    layers: usize,
    fs: BTreeMap<String, Node>,
}

fn norm(p: &str) -> String {
    let p = p.trim_start_matches("./").trim_end_matches('/');
    p.trim_start_matches('/').to_string()
}

/// `a/b/../c` → `a/c` (relative, no leading slash).
fn clean_rel(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.join("/")
}

/// Read a docker-archive (`save`) and merge its layers.
fn read_archive(path: &Path) -> Image {
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // `docker save` writes a layer that occurs twice once, the second as a symlink to it.
    let mut links: HashMap<String, String> = HashMap::new();
    let mut ar = tar::Archive::new(f);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = norm(&e.path().unwrap().to_string_lossy());
        if e.header().entry_type().is_file() {
            let mut buf = Vec::new();
            e.read_to_end(&mut buf).unwrap();
            files.insert(name, buf);
        } else if e.header().entry_type().is_symlink() {
            let target = e
                .link_name()
                .unwrap()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let dir = Path::new(&name).parent().unwrap_or(Path::new(""));
            let resolved = clean_rel(&dir.join(target).to_string_lossy());
            links.insert(name, resolved);
        }
    }
    for (name, target) in links {
        let data = files
            .get(&target)
            .unwrap_or_else(|| panic!("{}: {name} links to missing {target}", path.display()))
            .clone();
        files.insert(name, data);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"])
        .unwrap_or_else(|e| panic!("manifest.json of {}: {e}", path.display()));
    let m = &manifest[0];
    let config: serde_json::Value =
        serde_json::from_slice(&files[&norm(m["Config"].as_str().unwrap())]).unwrap();
    let layers: Vec<String> = m["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| norm(l.as_str().unwrap()))
        .collect();
    let mut fs: BTreeMap<String, Node> = BTreeMap::new();
    let mut next_inode = 1;
    for l in &layers {
        let data = files
            .get(l)
            .unwrap_or_else(|| panic!("{}: no layer {l}", path.display()));
        assert!(
            !data.starts_with(&[0x1f, 0x8b]),
            "{}: layer {l} is compressed; save writes plain tar layers",
            path.display()
        );
        apply_layer(&mut fs, data, &mut next_inode);
    }
    Image {
        config,
        layers: layers.len(),
        fs,
    }
}

fn apply_layer(fs: &mut BTreeMap<String, Node>, data: &[u8], next_inode: &mut u64) {
    let remove_below = |fs: &mut BTreeMap<String, Node>, dir: &str, keep_dir: bool| {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let doomed: Vec<String> = fs
            .keys()
            .filter(|k| k.starts_with(&prefix) || (!keep_dir && k.as_str() == dir))
            .cloned()
            .collect();
        for k in doomed {
            fs.remove(&k);
        }
    };
    // Whiteouts apply to the lower layers only: first collect them, then add the entries.
    let mut entries = Vec::new();
    let mut ar = tar::Archive::new(data);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let path = norm(&e.path().unwrap().to_string_lossy());
        let h = e.header().clone();
        let mut content = Vec::new();
        e.read_to_end(&mut content).unwrap();
        let link = e
            .link_name()
            .unwrap()
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default();
        entries.push((path, h, content, link));
    }
    for (path, _, _, _) in &entries {
        let (dir, base) = match path.rsplit_once('/') {
            Some((d, b)) => (d.to_string(), b),
            None => (String::new(), path.as_str()),
        };
        if base == ".wh..wh..opq" {
            remove_below(fs, &dir, true);
        } else if let Some(name) = base.strip_prefix(".wh.") {
            let victim = if dir.is_empty() {
                name.to_string()
            } else {
                format!("{dir}/{name}")
            };
            remove_below(fs, &victim, false);
        }
    }
    for (path, h, content, link) in entries {
        let base = path.rsplit('/').next().unwrap_or(&path);
        if base.starts_with(".wh.") || path.is_empty() {
            continue;
        }
        let et = h.entry_type();
        let node = if et.is_hard_link() {
            let target = norm(&link);
            fs.get(&target)
                .unwrap_or_else(|| panic!("hardlink {path} to missing {target}"))
                .clone()
        } else {
            let kind = if et.is_dir() {
                'd'
            } else if et.is_symlink() {
                'l'
            } else if et.is_file() {
                'f'
            } else {
                '?'
            };
            *next_inode += 1;
            Node {
                kind,
                mode: h.mode().unwrap() & 0o7777,
                uid: h.uid().unwrap(),
                gid: h.gid().unwrap(),
                size: if kind == 'f' { content.len() as u64 } else { 0 },
                target: if kind == 'l' { link } else { String::new() },
                sha: if kind == 'f' {
                    hex::encode(sha2::Sha256::digest(&content))
                } else {
                    String::new()
                },
                mtime: h.mtime().unwrap(),
                inode: *next_inode,
            }
        };
        // A non-directory replaces whatever was there (a directory with its contents).
        if node.kind != 'd' {
            remove_below(fs, &path, false);
        } else if fs.get(&path).is_some_and(|n| n.kind != 'd') {
            fs.remove(&path);
        }
        fs.insert(path, node);
    }
}

/// The hardlink group of each path: the smallest path sharing its inode, when shared.
fn link_groups(fs: &BTreeMap<String, Node>) -> HashMap<String, String> {
    let mut by_inode: HashMap<u64, Vec<&String>> = HashMap::new();
    for (p, n) in fs {
        if n.kind == 'f' {
            by_inode.entry(n.inode).or_default().push(p);
        }
    }
    let mut out = HashMap::new();
    for paths in by_inode.values() {
        if paths.len() > 1 {
            let first = paths.iter().min().unwrap();
            for p in paths {
                out.insert((*p).clone(), (*first).clone());
            }
        }
    }
    out
}

fn describe(n: &Node, group: Option<&String>, with_mtime: bool) -> String {
    let mut s = format!("{} {:04o} {}:{}", n.kind, n.mode, n.uid, n.gid);
    match n.kind {
        'f' => s.push_str(&format!(" size={} sha={}", n.size, &n.sha[..12])),
        'l' => s.push_str(&format!(" -> {}", n.target)),
        _ => {}
    }
    if let Some(g) = group {
        s.push_str(&format!(" hardlink-group={g}"));
    }
    if with_mtime {
        s.push_str(&format!(" mtime={}", n.mtime));
    }
    s
}

fn compare_fs(strata: &Image, buildkit: &Image, started: u64, out: &mut Vec<String>) {
    let (sg, bg) = (link_groups(&strata.fs), link_groups(&buildkit.fs));
    let mut paths: Vec<&String> = strata.fs.keys().chain(buildkit.fs.keys()).collect();
    paths.sort();
    paths.dedup();
    for p in paths {
        match (strata.fs.get(p), buildkit.fs.get(p)) {
            (Some(s), None) => out.push(format!(
                "/{p}: only in Strata's image ({})",
                describe(s, sg.get(p), false)
            )),
            (None, Some(b)) => out.push(format!(
                "/{p}: only in BuildKit's image ({})",
                describe(b, bg.get(p), false)
            )),
            (Some(s), Some(b)) => {
                let with_mtime = s.kind != 'd' && !(s.mtime >= started && b.mtime >= started);
                let (ds, db) = (
                    describe(s, sg.get(p), with_mtime),
                    describe(b, bg.get(p), with_mtime),
                );
                if ds != db {
                    out.push(format!("/{p}: Strata {ds} | BuildKit {db}"));
                }
            }
            (None, None) => unreachable!(),
        }
    }
}

const CONFIG_KEYS: [&str; 12] = [
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Volumes",
    "Labels",
    "StopSignal",
    "Healthcheck",
    "Shell",
    "OnBuild",
];

fn compare_config(
    strata: &Image,
    buildkit: &Image,
    newer_history: &[(&str, &str)],
    out: &mut Vec<String>,
) {
    let get = |img: &Image, key: &str| -> serde_json::Value {
        img.config["config"]
            .get(key)
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    };
    for key in CONFIG_KEYS {
        let (s, b) = (get(strata, key), get(buildkit, key));
        // "" and a missing key are the same for the string fields.
        let empty = |v: &serde_json::Value| v.is_null() || v.as_str() == Some("");
        if s != b && !(empty(&s) && empty(&b)) {
            out.push(format!("config.{key}: Strata {s} | BuildKit {b}"));
        }
    }
    let history = |img: &Image| -> Vec<(String, bool)> {
        img.config["history"]
            .as_array()
            .map(|h| {
                h.iter()
                    .map(|e| {
                        (
                            e["created_by"].as_str().unwrap_or("").to_string(),
                            e["empty_layer"].as_bool().unwrap_or(false),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (hs, mut hb) = (history(strata), history(buildkit));
    for (created_by, _) in &mut hb {
        if let Some((_, newer)) = newer_history.iter().find(|(old, _)| old == created_by) {
            *created_by = newer.to_string();
        }
    }
    if hs != hb {
        let show = |h: &[(String, bool)]| {
            h.iter()
                .map(|(c, e)| format!("    {c:?}{}", if *e { " (empty)" } else { "" }))
                .collect::<Vec<_>>()
                .join("\n")
        };
        out.push(format!(
            "history differs:\n  Strata:\n{}\n  BuildKit:\n{}",
            show(&hs),
            show(&hb)
        ));
    }
    if strata.layers != buildkit.layers {
        out.push(format!(
            "layer count: Strata {} | BuildKit {}",
            strata.layers, buildkit.layers
        ));
    }
}

// ---------------------------------------------------------------------------------------
// The builders.

struct Builders<'a> {
    env: &'a Env,
    docker: &'a Dockerd,
}

impl Builders<'_> {
    fn strata_build(&self, dockerfile: &Path, ctx: &Path, tag: &str, args: &[&str]) -> Output {
        self.env
            .cmd()
            .arg("build")
            .args(args.iter().flat_map(|a| ["--build-arg", a]))
            .args(["--progress=plain", "--network=none", "-t", tag, "-f"])
            .arg(dockerfile)
            .arg(ctx)
            .output()
            .expect("run strata build")
    }

    fn buildkit_build(&self, dockerfile: &Path, ctx: &Path, tag: &str, args: &[&str]) -> Output {
        self.docker
            .cmd()
            .env("DOCKER_BUILDKIT", "1")
            .arg("build")
            .args(args.iter().flat_map(|a| ["--build-arg", a]))
            .args(["--progress=plain", "--network=none", "-t", tag, "-f"])
            .arg(dockerfile)
            .arg(ctx)
            .output()
            .expect("run docker build")
    }
}

fn stderr_tail(o: &Output) -> String {
    let s = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(12)..].join("\n")
}

/// The base rootfs: busybox-static plus users and groups for --chown and USER, and
/// directories COPY writes into.
fn base_rootfs(env: &Env) -> PathBuf {
    let rootfs = env.busybox_rootfs();
    let append = |file: &str, text: &str| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(rootfs.join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        f.write_all(text.as_bytes()).unwrap();
    };
    append(
        "etc/passwd",
        "app:x:1000:1000:app:/home/app:/bin/sh\nalice:x:1001:1002::/home/alice:/bin/sh\n",
    );
    append(
        "etc/group",
        "app:x:1000:\nstaff:x:1002:\nwheel:x:1003:alice\n",
    );
    std::fs::copy(rootfs.join("etc/passwd"), rootfs.join("etc/passwd-copy")).unwrap();
    let home = rootfs.join("home/app");
    std::fs::create_dir_all(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(1000), Some(1000)).unwrap();
    file(&rootfs, "opt/existing/file", "base\n");
    dir(&rootfs, "opt/owned");
    mode(&rootfs, "opt/owned", 0o750);
    owner(&rootfs, "opt/owned", 1000, 1003);
    // Destinations through symlinks: an absolute link to a directory, a relative one in it.
    dir(&rootfs, "opt/target");
    symlink(&rootfs, "linkdir", "/opt/target");
    symlink(&rootfs, "opt/target/sub", "../existing");
    rootfs
}

/// Build one case with both builders and compare; returns the mismatches (empty: same), or
/// `Err(reason)` when the case is skipped.
fn run_case(b: &Builders<'_>, c: &Case, work: &Path, started: u64) -> Result<Vec<String>, String> {
    let case_dir = work.join(c.name);
    let ctx = case_dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    (c.setup)(&ctx);
    // Every context entry gets the same mtime: copies must keep it.
    run_tool(Command::new("find").arg(&ctx).args([
        "-exec",
        "touch",
        "-h",
        "-d",
        &format!("@{CTX_MTIME}"),
        "{}",
        "+",
    ]));
    let write_df = |name: &str, text: &str| {
        let p = case_dir.join(name);
        std::fs::write(&p, text.replace("$BASE", BASE)).unwrap();
        p
    };
    let mut out = Vec::new();
    if let Some((tag, text)) = c.parent {
        let df = write_df("Dockerfile.parent", text);
        let s = b.strata_build(&df, &ctx, tag, &[]);
        let k = b.buildkit_build(&df, &ctx, tag, &[]);
        if !s.status.success() || !k.status.success() {
            out.push(format!(
                "parent image: Strata {} BuildKit {}\nStrata: {}\nBuildKit: {}",
                s.status,
                k.status,
                stderr_tail(&s),
                stderr_tail(&k)
            ));
            return Ok(out);
        }
    }
    let df = write_df("Dockerfile", c.dockerfile);
    let tag = format!("strata-parity/{}:1", c.name);
    let k = b.buildkit_build(&df, &ctx, &tag, c.build_args);
    if !k.status.success() && c.buildkit_may_refuse {
        return Err(format!("BuildKit 20.10 refuses it: {}", stderr_tail(&k)));
    }
    let s = b.strata_build(&df, &ctx, &tag, c.build_args);
    if c.must_fail {
        return Ok(match (s.status.success(), k.status.success()) {
            (false, false) => Vec::new(),
            (s_ok, k_ok) => vec![format!(
                "both must refuse it: Strata {} BuildKit {}\nStrata: {}\nBuildKit: {}",
                if s_ok { "built it" } else { "refused" },
                if k_ok { "built it" } else { "refused" },
                stderr_tail(&s),
                stderr_tail(&k)
            )],
        });
    }
    if let Some(why) = c.newer_buildkit {
        if !s.status.success() {
            return Ok(vec![format!("Strata failed: {}", stderr_tail(&s))]);
        }
        return Err(format!("Docker 20.10 differs from current BuildKit: {why}"));
    }
    match (s.status.success(), k.status.success()) {
        (true, true) => {}
        (false, false) => {
            out.push(format!(
                "both builders failed (the case is wrong):\nStrata: {}\nBuildKit: {}",
                stderr_tail(&s),
                stderr_tail(&k)
            ));
            return Ok(out);
        }
        (true, false) => {
            out.push(format!("only BuildKit failed: {}", stderr_tail(&k)));
            return Ok(out);
        }
        (false, true) => {
            out.push(format!("only Strata failed: {}", stderr_tail(&s)));
            return Ok(out);
        }
    }
    let (s_tar, k_tar) = (case_dir.join("strata.tar"), case_dir.join("buildkit.tar"));
    b.env.ok(&["save", "-o", s_tar.to_str().unwrap(), &tag]);
    b.docker.run(&["save", "-o", k_tar.to_str().unwrap(), &tag]);
    let (si, ki) = (read_archive(&s_tar), read_archive(&k_tar));
    compare_fs(&si, &ki, started, &mut out);
    compare_config(&si, &ki, c.newer_history, &mut out);
    // The tars are large (the base layer): drop them once compared.
    let _ = std::fs::remove_file(&s_tar);
    let _ = std::fs::remove_file(&k_tar);
    Ok(out)
}

#[test]
fn strata_builds_like_buildkit() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipping: {reason}");
        return;
    }
    let env = Env::new();
    let rootfs = base_rootfs(&env);
    env.ok(&[
        "import",
        "-c",
        "CMD [\"/bin/sh\"]",
        "-c",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        rootfs.to_str().unwrap(),
        BASE,
    ]);
    let base_tar = env.path("base.tar");
    env.ok(&["save", "-o", base_tar.to_str().unwrap(), BASE]);
    let docker = Dockerd::start().unwrap_or_else(|e| panic!("{e}"));
    let loaded = docker.run(&["load", "-i", base_tar.to_str().unwrap()]);
    assert!(loaded.contains(BASE), "docker load: {loaded}");
    let builders = Builders {
        env: &env,
        docker: &docker,
    };
    // Files made from now on were made by a builder; their mtimes are not compared.
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1;
    let work = env.path("cases");
    let filter = std::env::var("STRATA_PARITY_CASES").ok();
    let mut report = Vec::new();
    let mut skipped = Vec::new();
    let mut ran = 0;
    for c in cases() {
        if let Some(f) = &filter
            && !f.split(',').any(|n| c.name.contains(n))
        {
            continue;
        }
        let t = std::time::Instant::now();
        match run_case(&builders, &c, &work, started) {
            Ok(mismatches) => {
                ran += 1;
                eprintln!(
                    "{:<45} {} ({:.1}s)",
                    c.name,
                    if mismatches.is_empty() {
                        "same"
                    } else {
                        "DIFFERS"
                    },
                    t.elapsed().as_secs_f64()
                );
                if !mismatches.is_empty() {
                    report.push(format!("== {}\n{}", c.name, mismatches.join("\n")));
                }
            }
            Err(reason) => {
                eprintln!("{:<45} skipped: {reason}", c.name);
                skipped.push(c.name);
            }
        }
    }
    assert!(ran > 0, "no case ran (STRATA_PARITY_CASES={filter:?})");
    assert!(
        report.is_empty(),
        "{} of {ran} cases differ between Strata and BuildKit (skipped: {skipped:?}):\n\n{}",
        report.len(),
        report.join("\n\n")
    );
}
