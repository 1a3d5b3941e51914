//! Differential test of `strata build` against BuildKit (Docker 20.10's, in a private
//! `dockerd`): many small Dockerfiles, each exercising one behaviour, are built by both from
//! the same busybox base image, and the results are compared.
//!
//! What is compared, per case:
//!
//! - **The merged filesystem**: both images are exported with `save` (docker-archive), their
//!   layers applied in order (OCI whiteouts `.wh.NAME` remove a path of a lower layer,
//!   `.wh..wh..opq` hides a directory's lower contents), and for every path the type, the
//!   permission bits with setuid/setgid/sticky, uid:gid, size, symlink target, device
//!   numbers, content digest and hardlink group (the paths sharing one inode) must agree.
//! - **mtimes**, of non-directories only: directory mtimes legitimately differ (any change
//!   below touches them, and the builders create parents at different moments). A file's
//!   mtime is compared unless *both* builders made it during the build (mtime at or after
//!   the moment the builds started: RUN output, WORKDIR, a file copied from another stage's
//!   RUN output), where the two clocks differ by nature. So files copied from the context
//!   (whose mtimes the test sets to [`CTX_MTIME`]), extracted from a tar or taken from the
//!   base image must keep the same mtime in both.
//! - **The layer count** (a COPY or RUN is one layer in both; ENV and the like none).
//! - **The image config**: Env, Cmd, Entrypoint, ArgsEscaped, WorkingDir, User,
//!   ExposedPorts, Volumes, Labels, StopSignal, Healthcheck, Shell, OnBuild (a key left out
//!   equals null), the image's author, os and architecture, and the history's `created_by`
//!   strings, `empty_layer` flags and comments.
//!
//! All cases run in one test so that one dockerd and one base image serve them, three cases
//! at a time (each case's two builds also run side by side); mismatches are collected and
//! reported together, naming each case. Cases BuildKit 20.10 refuses (a
//! flag it does not know yet) are marked as such and reported as skipped, with its error.
//! `STRATA_PARITY_CASES=name,name` runs only the cases whose names contain one of those.
//!
//! Docker 20.10's BuildKit is the reference, except where current BuildKit changed the
//! behaviour and Strata follows current BuildKit; each such case says so
//! ([`Case::newer_buildkit`], [`Case::newer_history`]): a symbolic `--chmod` (20.10 ignores
//! it), an octal `--chmod` on setuid/sticky sources (20.10 keeps those bits), the
//! `HEALTHCHECK` history line (current BuildKit prints StartInterval), an `ARG` line's
//! history (current BuildKit writes the value the ARG gets, from a `--build-arg`, a meta
//! ARG or a predefined one), a redeclared ARG listed once in RUN history, `${V-w}` and
//! `${V+w}` (20.10 refuses them), heredocs and `RUN --network` (20.10 knows neither), a
//! JSON array followed by more text (shell form now), and the empty mount points a
//! `RUN --mount` leaves behind (current BuildKit removes them: [`Case::newer_absent`]). A newer-BuildKit case can name files
//! Strata's image must hold ([`Case::expect_files`]), so it still checks Strata's result.
//!
//! A case can also carry a [`Case::known_divergence`]: a difference whose fix lies outside
//! the Dockerfile frontend, named with where it belongs. It is built and compared and its
//! mismatches printed without failing the test; once it builds the same, the summary lists
//! it as a marker to remove.
//!
//! Besides the Dockerfile, a case can give `--target`, `--build-arg`s, environment variables
//! for both clients (a bare `--build-arg NAME` reads them) and put the Dockerfile inside the
//! context ([`Case::dockerfile_at`]) to exercise `.dockerignore` rules about it.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Dockerd, Env, run_tool};
use sha2::Digest as _;

/// The base image's name in both Strata's store and dockerd.
const BASE: &str = "strata-parity/busybox:1";

/// The mtime every context entry gets (2001-09-09T01:46:40Z): copied files must keep it.
const CTX_MTIME: i64 = 1_000_000_000;

fn skip_reason() -> Option<String> {
    common::docker_skip_reason(&["runc", "tar", "gzip", "touch"], true)
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
    /// `--target` given to both builders.
    target: Option<&'static str>,
    /// Environment variables both clients run with (`--build-arg NAME` reads them).
    env: &'static [(&'static str, &'static str)],
    /// Where the Dockerfile is written, relative to the context (it is then part of the
    /// context, subject to `.dockerignore`); by default it lies outside the context.
    dockerfile_at: Option<&'static str>,
    /// Files Strata's image must hold, with their content: checked on every run, so that a
    /// [`Case::newer_buildkit`] case still checks Strata's result.
    expect_files: &'static [(&'static str, &'static str)],
    /// A known divergence, with where its fix belongs: the mismatches are printed but do
    /// not fail the test; once the case builds the same, the summary says so (the marker is
    /// then to be removed).
    known_divergence: Option<&'static str>,
    /// Write the Dockerfile in Latin-1 (one byte per character), so that it is not UTF-8.
    latin1: bool,
    /// Paths Docker 20.10's BuildKit leaves in the image and current BuildKit (and Strata)
    /// does not: the empty mount points a `RUN --mount` made (current BuildKit removes these
    /// "mount stubs" after the run). Dropped from BuildKit's filesystem before comparing.
    newer_absent: &'static [&'static str],
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
        target: None,
        env: &[],
        dockerfile_at: None,
        expect_files: &[],
        known_divergence: None,
        latin1: false,
        newer_absent: &[],
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

/// Cases about the Dockerfile frontend: the parser, variable expansion, ARG scoping, stages,
/// `.dockerignore` and the config and history each instruction writes.
fn frontend_cases() -> Vec<Case> {
    vec![
        // --- The parser.
        case(
            "continuation_with_comments_and_blank_lines",
            "FROM $BASE\nRUN echo one \\\n# a comment inside\n    two \\\n\n  # indented comment\n    three > /out\n",
            none,
        ),
        case(
            "continuation_trailing_blanks_after_escape",
            "FROM $BASE\nRUN echo a \\  \n    b \\\t\n    c > /out\nENV X=1 \\ \n    Y=2\n",
            none,
        ),
        case(
            "continuation_splits_a_keyword",
            "FROM $BASE\nRU\\\nN echo split > /out\nEN\\\nV A=b\n",
            none,
        ),
        case(
            "continuation_at_end_of_file",
            "FROM $BASE\nRUN echo last > /out \\",
            none,
        ),
        case(
            "escape_directive_backtick",
            "# escape=`\nFROM $BASE\nRUN echo a `\n    b > /out\nENV W=C:\\dir\\file Q=x`$y\nLABEL p=C:\\l\n",
            none,
        ),
        case(
            "escape_directive_spacing_and_case",
            "#  ESCAPE = `\nFROM $BASE\nRUN echo c:\\x `\n    > /out\n",
            none,
        ),
        case(
            "escape_directive_after_comment_is_a_comment",
            "# just a comment\n# escape=`\nFROM $BASE\nRUN echo a \\\n    b > /out\n",
            none,
        ),
        case(
            "escape_directive_after_instruction_is_a_comment",
            "FROM $BASE\n# escape=`\nRUN echo a \\\n    b > /out\n",
            none,
        ),
        case(
            "keywords_in_lower_and_mixed_case",
            "from $BASE as Base\nrun echo x > /x\nEnV A=1\nLaBeL l=v\ncopy a.txt /a\nWorkDir /w\ncMd [\"sh\"]\nFROM base\nExPoSe 80\n",
            ab,
        ),
        case(
            "json_form_with_odd_spacing",
            "FROM $BASE\nRUN [ \"sh\" ,\"-c\",  \"echo j > /j\" ]\nCMD\t[\"a\", \\\n  \"b\"]\nENTRYPOINT   [ ]\n",
            none,
        ),
        case(
            "json_form_escapes",
            "FROM $BASE\nCMD [\"echo\", \"q\\\"uote\", \"\\u00e9\\t\", \"back\\\\slash\", \"$HOME\"]\n",
            none,
        ),
        case(
            "invalid_json_falls_back_to_shell_form",
            "FROM $BASE\nCMD ['single', 'quotes']\nENTRYPOINT [\"unterminated\nRUN [echo, x] || echo fell back > /out\n",
            none,
        ),
        case(
            "trailing_whitespace_is_dropped",
            "FROM $BASE   \nENV A=1   \nLABEL l=v \t \nWORKDIR /w  \nUSER app  \nSTOPSIGNAL SIGTERM \nRUN echo x > /tmp/x   \n",
            none,
        ),
        case(
            "tabs_between_keyword_and_arguments",
            "FROM\t$BASE\nRUN\techo t > /t\nENV\tA=1\tB=2\nLABEL\tx=y\n",
            none,
        ),
        case(
            "comment_lines_with_leading_blanks",
            "FROM $BASE\n   # indented comment\n\t# tab comment\nRUN echo ok > /ok\n#RUN echo no > /no\n",
            none,
        ),
        // Docker 20.10's frontend predates heredocs: it reads the body as instructions.
        Case {
            newer_buildkit: Some(
                "heredocs arrived in Dockerfile 1.4; Docker 20.10's frontend fails",
            ),
            expect_files: &[
                ("/h1", "one\n"),
                ("/h2", "kept tab\nstripped\n"),
                ("/h3", "$HOME stays\n"),
                ("/h4", "x\n"),
                ("/h5", "y\n"),
            ],
            ..case(
                "heredoc_forms",
                "FROM $BASE\nENV V=x\nRUN <<EOF\necho one > /h1\nEOF\nCOPY <<-EOT /h2\n\t\tkept tab\n\tstripped\n\tEOT\nCOPY <<'EOF' /h3\n$HOME stays\nEOF\nRUN cat <<A > /h4 && cat <<B > /h5\n$V\nA\ny\nB\n",
                none,
            )
        },
        // --- Variable expansion.
        case(
            "expansion_default_and_alternative_with_colon",
            "FROM $BASE\nARG E=\nARG S=set\nENV a=${U:-x} c=${E:-x} e=${E:+p} g=${S:+p} i=${U:+p} k=${S:-x}\n",
            none,
        ),
        Case {
            newer_buildkit: Some(
                "Docker 20.10 refuses ${V-w} and ${V+w} (\"missing ':' in substitution\"); \
                 current BuildKit tells unset from empty with them",
            ),
            expect_files: &[("/forms", "x|x||p||p||\n")],
            ..case(
                "expansion_default_and_alternative_without_colon",
                "FROM $BASE\nARG E=\nARG S=set\nRUN echo \"${U-x}|${U:-x}|${E-x}|${E+p}|${E:+p}|${S+p}|${U+p}|${E:+p}\" > /forms\n",
                none,
            )
        },
        case(
            "expansion_escaped_dollars",
            "FROM $BASE\nENV A=\\$HOME B=$$ C=a$ D=\"\\$x\" E='$HOME' F=\"$HOME\" G=${HOME}x H=\\${HOME}\n",
            none,
        ),
        case(
            "expansion_in_stopsignal_volume_and_env_old_form",
            "FROM $BASE\nARG SIG=SIGQUIT\nARG V=/vol\nSTOPSIGNAL $SIG\nVOLUME $V ${V}2\nVOLUME [\"$V-json\"]\nENV OLD $V and more\n",
            none,
        ),
        case(
            "expansion_in_chown",
            "FROM $BASE\nARG U=1234\nENV G=staff\nCOPY --chown=$U:$G a.txt /a\nCOPY --chown=${NOPE:-alice} b.txt /b\n",
            ab,
        ),
        // BuildKit expands no variable in --from: `$SRC` is taken as an image name.
        Case {
            must_fail: true,
            ..case(
                "copy_from_does_not_expand_variables",
                "ARG SRC=builder\nFROM $BASE AS builder\nRUN echo built > /b\nFROM $BASE\nCOPY --from=$SRC /b /from-arg\n",
                none,
            )
        },
        case(
            "expansion_in_copy_json_form_and_add",
            "FROM $BASE\nENV F=a.txt D=/dst\nCOPY [\"$F\", \"${D}/json/\"]\nADD $F $D/add/\n",
            ab,
        ),
        case(
            "exec_form_is_not_expanded",
            "FROM $BASE\nENV X=val\nCMD [\"echo\", \"$X\"]\nENTRYPOINT [\"${X}\"]\nRUN [\"sh\", \"-c\", \"echo $X > /shell-expands\"]\nRUN [\"/bin/mkdir\", \"/dir-$X\"]\n",
            none,
        ),
        case(
            "unset_and_empty_args",
            "FROM $BASE\nARG UNSET\nARG EMPTY=\nRUN echo \"${UNSET-unset} ${EMPTY-unset} ${EMPTY:-empty}\" > /x\n",
            none,
        ),
        Case {
            // Current BuildKit writes the value the ARG gets (the --build-arg).
            newer_history: &[("ARG NODEF", "ARG NODEF=given")],
            build_args: &["NODEF=given"],
            ..case(
                "arg_without_default_takes_build_arg",
                "FROM $BASE\nARG NODEF\nRUN echo $NODEF > /x\n",
                none,
            )
        },
        Case {
            newer_history: &[("ARG FROMENV", "ARG FROMENV=from the environment")],
            build_args: &["FROMENV", "NOTSET"],
            env: &[("FROMENV", "from the environment")],
            ..case(
                "build_arg_taken_from_the_environment",
                "FROM $BASE\nARG FROMENV\nARG NOTSET\nRUN echo \"$FROMENV|${NOTSET-unset}\" > /x\n",
                none,
            )
        },
        case(
            "arg_quoted_values_and_several_per_line",
            "FROM $BASE\nARG A=1 B=\"two words\" C='$A single' D\nRUN echo \"$A|$B|$C|$D\" > /x\n",
            none,
        ),
        case(
            "arg_default_references_env_and_arg",
            "FROM $BASE\nENV P=env\nARG A=${P}-x\nARG B=$A/b\nRUN echo $A $B > /x\n",
            none,
        ),
        case(
            "env_wins_over_an_earlier_arg_of_the_same_name",
            "FROM $BASE\nARG V=arg\nENV V=env\nRUN echo $V > /x\nENV W=$V\n",
            none,
        ),
        Case {
            // Docker 20.10 lists a redeclared ARG twice in RUN history; current BuildKit once.
            newer_history: &[(
                "RUN |2 V=arg2 V=arg2 /bin/sh -c echo $V > /y # buildkit",
                "RUN |1 V=arg2 /bin/sh -c echo $V > /y # buildkit",
            )],
            ..case(
                "arg_after_env_of_the_same_name",
                "FROM $BASE\nARG V=arg\nENV V=env\nRUN echo $V > /x\nARG V=arg2\nRUN echo $V > /y\nENV W=$V\n",
                none,
            )
        },
        case(
            "env_sees_only_earlier_instructions",
            "FROM $BASE\nENV A=1\nENV A=2 B=$A C=${A}3\nENV D=$A\n",
            none,
        ),
        case(
            "env_empty_values_and_equals_in_value",
            "FROM $BASE\nENV E= F=\"\" URL=http://x/?a=b=c\n",
            none,
        ),
        Case {
            // Current BuildKit writes the value a bare ARG takes from the predefined ones.
            newer_history: &[
                ("ARG TARGETARCH", "ARG TARGETARCH={arch}"),
                ("ARG TARGETPLATFORM", "ARG TARGETPLATFORM=linux/{arch}"),
                ("ARG BUILDPLATFORM", "ARG BUILDPLATFORM=linux/{arch}"),
                ("ARG TARGETOS", "ARG TARGETOS=linux"),
            ],
            ..case(
                "predefined_platform_args",
                "FROM $BASE\nRUN echo \"[$TARGETARCH][$BUILDPLATFORM]\" > /before\nARG TARGETARCH\nARG TARGETPLATFORM\nARG BUILDPLATFORM\nARG TARGETOS\nRUN echo \"$TARGETARCH $TARGETPLATFORM $BUILDPLATFORM $TARGETOS\" > /after\n",
                none,
            )
        },
        Case {
            newer_history: &[("ARG TARGETOS", "ARG TARGETOS=linux")],
            ..case(
                "platform_args_in_from",
                "FROM --platform=$BUILDPLATFORM $BASE AS b\nRUN echo b > /b\nFROM $BASE\nARG TARGETOS\nCOPY --from=b /b /b-$TARGETOS\n",
                none,
            )
        },
        Case {
            build_args: &["HTTP_PROXY=http://proxy.invalid:3128", "no_proxy=localhost"],
            ..case(
                "proxy_args_are_left_out_of_history",
                "FROM $BASE\nARG X=1\nRUN echo \"$HTTP_PROXY|$no_proxy|$X\" > /p\n",
                none,
            )
        },
        case(
            "arg_scope_ends_with_its_stage",
            "ARG G=global\nFROM $BASE AS a\nARG L=local\nRUN echo \"[$G][$L]\" > /a\nFROM $BASE\nRUN echo \"[$G][$L]\" > /x\n",
            none,
        ),
        Case {
            newer_history: &[
                ("ARG G", "ARG G=global"),
                (
                    "RUN |2 G=over G=over /bin/sh -c echo $G > /y # buildkit",
                    "RUN |1 G=over /bin/sh -c echo $G > /y # buildkit",
                ),
            ],
            ..case(
                "meta_arg_redeclared_then_overridden",
                "ARG G=global\nFROM $BASE\nARG G\nRUN echo $G > /x\nARG G=over\nRUN echo $G > /y\n",
                none,
            )
        },
        // --- Stages.
        Case {
            target: Some("middle"),
            ..case(
                "target_stops_at_a_middle_stage",
                "FROM $BASE AS first\nRUN echo a > /a\nFROM first AS middle\nRUN echo b > /b\nCMD [\"middle\"]\nFROM $BASE\nRUN echo c > /c\n",
                none,
            )
        },
        Case {
            target: Some("NEXT"),
            ..case(
                "stage_names_in_copy_from_and_target_ignore_case",
                "FROM $BASE AS Builder\nRUN echo o > /o\nFROM builder AS Next\nCOPY --from=builDER /o /o2\nFROM next\nRUN echo not built > /x\n",
                none,
            )
        },
        // FROM looks a stage up by its name as written; stage names are lower case.
        Case {
            must_fail: true,
            ..case(
                "from_a_stage_name_in_upper_case_fails",
                "FROM $BASE AS builder\nFROM BUILDER\n",
                none,
            )
        },
        case(
            "config_inherits_through_a_stage_chain",
            "FROM $BASE AS a\nENV A=1\nENTRYPOINT [\"/bin/echo\"]\nCMD [\"a\"]\nWORKDIR /wa\nUSER app\nFROM a AS b\nENV B=2\nLABEL b=yes\nFROM b AS c\nCMD [\"c\"]\nFROM c\nEXPOSE 81\n",
            none,
        ),
        case(
            "scratch_with_copy_only",
            "FROM scratch\nCOPY a.txt /\nCOPY dir /d/\n",
            ab_tree,
        ),
        case(
            "onbuild_triggers_of_a_stage",
            "FROM $BASE AS a\nONBUILD RUN echo t > /t\nONBUILD ENV FROM_TRIGGER=1\nFROM a\nRUN cat /t > /seen\n",
            none,
        ),
        case(
            "onbuild_expressions_in_config",
            "FROM $BASE\nONBUILD RUN echo x\nonbuild   env a=b\nONBUILD COPY --chown=app  a.txt /b\n",
            none,
        ),
        // Only stages that are built must not use later ones.
        case(
            "copy_from_a_later_stage_in_an_unused_stage",
            "FROM $BASE AS a\nCOPY --from=b /etc/passwd /p\nFROM $BASE AS b\nRUN echo b > /b\n",
            none,
        ),
        Case {
            must_fail: true,
            ..case(
                "unknown_instruction_fails",
                "FROM $BASE\nFROBNICATE now\n",
                none,
            )
        },
        // --- .dockerignore.
        case(
            "dockerignore_double_star_patterns",
            "FROM $BASE\nCOPY . /app/\n",
            |c| {
                file(
                    c,
                    ".dockerignore",
                    "**/node_modules\n**/*.o\nbuild/**\n!build/**/keep\n",
                );
                file(c, "node_modules/m.js", "m\n");
                file(c, "src/node_modules/n.js", "n\n");
                file(c, "src/main.o", "o\n");
                file(c, "src/main.c", "c\n");
                file(c, "build/out.bin", "b\n");
                file(c, "build/a/keep", "k\n");
                file(c, "build/keep", "k2\n");
            },
        ),
        case(
            "dockerignore_everything_but",
            "FROM $BASE\nCOPY . /app/\n",
            |c| {
                file(c, ".dockerignore", "*\n!src\nsrc/*.tmp\n!README*\n");
                file(c, "src/a.c", "a\n");
                file(c, "src/b.tmp", "b\n");
                file(c, "README.md", "r\n");
                file(c, "other/x", "x\n");
                file(c, "top", "t\n");
            },
        ),
        Case {
            dockerfile_at: Some("Dockerfile"),
            ..case(
                "dockerignore_excludes_the_dockerfile_and_itself",
                "FROM $BASE\nCOPY . /app/\n",
                |c| {
                    file(c, ".dockerignore", "Dockerfile\n.dockerignore\n");
                    file(c, "kept.txt", "k\n");
                },
            )
        },
        Case {
            dockerfile_at: Some("sub/App.Dockerfile"),
            ..case(
                "dockerignore_beside_a_named_dockerfile",
                "FROM $BASE\nCOPY . /app/\n",
                |c| {
                    file(c, ".dockerignore", "a.txt\n");
                    file(c, "sub/App.Dockerfile.dockerignore", "b.txt\nsub\n");
                    file(c, "a.txt", "a\n");
                    file(c, "b.txt", "b\n");
                },
            )
        },
        // --- Config and history.
        case(
            "label_same_key_twice",
            "FROM $BASE\nLABEL a=1 a=2\nLABEL b=x\nLABEL b=y c=\"\"\n",
            none,
        ),
        case(
            "expose_and_volume_duplicates",
            "FROM $BASE\nEXPOSE 80 80/tcp 80\nEXPOSE 80\nVOLUME /d /d\nVOLUME [\"/d\"]\n",
            none,
        ),
        case(
            "user_numeric_uid_without_passwd_entry",
            "FROM $BASE\nUSER 4242\nRUN touch /tmp/f4242 && id > /tmp/id\nUSER root\nRUN cp /tmp/id /id\n",
            none,
        ),
        case(
            "workdir_relative_chain_with_env",
            "FROM $BASE\nENV B=base\nWORKDIR /$B\nWORKDIR sub\nWORKDIR ../$B-2/./x/\nRUN pwd > /pwd\n",
            none,
        ),
        case(
            "shell_inherited_by_a_child_stage",
            "FROM $BASE AS a\nSHELL [\"/bin/sh\", \"-xc\"]\nFROM a\nRUN echo hi > /x\nCMD echo cmd\n",
            none,
        ),
        Case {
            newer_buildkit: Some("Docker 20.10's frontend knows no RUN --network"),
            expect_files: &[("/n", "n\n")],
            ..case(
                "run_network_none_history",
                "FROM $BASE\nRUN --network=none echo n > /n\n",
                none,
            )
        },
        case(
            "maintainer_history",
            "FROM $BASE\nMAINTAINER Some One <one@example.com>\n",
            none,
        ),
        case(
            "label_keys_from_variables",
            "FROM $BASE\nARG K=key\nLABEL $K=v \"${K}2\"=w '$K'=literal\n",
            none,
        ),
        // --- Round two: more parser, expansion and config corners.
        case(
            "crlf_line_endings",
            "FROM $BASE\r\nRUN echo a \\\r\n    b > /x\r\nENV A=1 \\\r\n    B=2\r\nLABEL l=v\r\n",
            none,
        ),
        case(
            "byte_order_mark_at_start",
            "\u{feff}FROM $BASE\nRUN echo bom > /x\n",
            none,
        ),
        case(
            "escape_directive_explicit_backslash_and_unknown_directive",
            "# escape=\\\n# unknown=value\nFROM $BASE\nRUN echo a \\\n    b > /x\n",
            none,
        ),
        Case {
            must_fail: true,
            ..case(
                "escape_directive_invalid_token_fails",
                "# escape=x\nFROM $BASE\n",
                none,
            )
        },
        Case {
            must_fail: true,
            ..case(
                "escape_directive_twice_fails",
                "# escape=`\n# escape=`\nFROM $BASE\n",
                none,
            )
        },
        case(
            "workdir_absolute_path_kept_as_written",
            "FROM $BASE\nWORKDIR /a/b/\nWORKDIR /c/../d/./e\nRUN pwd > /pwd\nWORKDIR f/\n",
            none,
        ),
        case(
            "stopsignal_lower_case_name",
            "FROM $BASE\nSTOPSIGNAL sigkill\n",
            none,
        ),
        case(
            "shell_form_spacing_kept_in_cmd_and_entrypoint",
            "FROM $BASE\nCMD echo   a    b\nENTRYPOINT  exec   ls  -l \nRUN echo  x   y > /x\n",
            none,
        ),
        case(
            "expose_and_volume_from_variables_with_spaces",
            "FROM $BASE\nARG P=\"80 443/udp\"\nARG V=\"/a /b\"\nEXPOSE $P\nVOLUME $V\n",
            none,
        ),
        case(
            "expansion_of_unset_variables_in_config",
            "FROM $BASE\nWORKDIR $NOPE/x\nUSER ${NOPE}app\nLABEL k$NOPE=v$NOPE\nENV E=$NOPE\n",
            none,
        ),
        case(
            "env_keys_are_expanded",
            "FROM $BASE\nARG K=mykey\nENV $K=v ${K}2=w\n",
            none,
        ),
        case(
            "expansion_nested_defaults_and_quotes",
            "FROM $BASE\nENV O=other\nENV A=${U:-$O} B=${U:-\"two words\"} D=${O:+\"$O and\"} E=\"${U:-in quotes}\" F=${O}_x G=$O_x\n",
            none,
        ),
        case(
            "expansion_odd_dollar_forms",
            "FROM $BASE\nENV A=$-x B=$/ C=a$ D=${#} E=100$ F=$1 G=$@\n",
            none,
        ),
        case(
            "quotes_and_backslashes_in_env_values",
            "FROM $BASE\nENV A='a \"b\"' B=\"c 'd'\" C='x\\y' D=a\\\\b E=\"tab\\tx\" F=\"a\"'b'c G=\\\"q\n",
            none,
        ),
        case(
            "label_old_form_and_quoted_keys",
            "FROM $BASE\nLABEL key value with   spaces\nLABEL \"a\"=\"b\" 'c'='d' e=\"x=y\"\n",
            none,
        ),
        Case {
            build_args: &["EMPTY=", "META=9"],
            // Current BuildKit writes the value each ARG gets.
            newer_history: &[
                ("ARG EMPTY=default", "ARG EMPTY="),
                ("ARG DERIVED", "ARG DERIVED=9-x"),
            ],
            ..case(
                "build_arg_empty_value_and_meta_only_arg",
                "ARG META=1\nARG DERIVED=$META-x\nFROM $BASE\nARG EMPTY=default\nARG DERIVED\nRUN echo \"[$EMPTY][$META][$DERIVED]\" > /x\n",
                none,
            )
        },
        case(
            "from_with_meta_arg_default_forms",
            "ARG NOPE\nARG IMG=${NOPE:-$BASE}\nFROM ${IMG} AS a\nFROM ${NOPE:-a}\nRUN echo ok > /ok\n",
            none,
        ),
        case(
            "cmd_and_entrypoint_repeated_last_wins",
            "FROM $BASE\nCMD [\"one\"]\nENTRYPOINT [\"/bin/echo\"]\nCMD [\"two\"]\nENTRYPOINT [\"/bin/printf\"]\n",
            none,
        ),
        case(
            "dockerignore_pattern_cleaning_and_blanks",
            "FROM $BASE\nCOPY . /app/\n",
            |c| {
                file(
                    c,
                    ".dockerignore",
                    "  spaced.txt  \n\n   # indented comment\ndir/../other.txt\n/abs/./x\n./dot/\n",
                );
                file(c, "spaced.txt", "s\n");
                file(c, "other.txt", "o\n");
                file(c, "abs/x", "x\n");
                file(c, "abs/y", "y\n");
                file(c, "dot/d", "d\n");
                file(c, "keep.txt", "k\n");
            },
        ),
        case(
            "dockerignore_exception_of_a_file_in_an_excluded_tree",
            "FROM $BASE\nCOPY . /app/\nCOPY vendor /v/\n",
            |c| {
                file(
                    c,
                    ".dockerignore",
                    "vendor/**\n!vendor/keep/me.txt\n**/*.bak\n",
                );
                file(c, "vendor/a/x.go", "x\n");
                file(c, "vendor/keep/me.txt", "me\n");
                file(c, "vendor/keep/other.txt", "other\n");
                file(c, "src/old.bak", "b\n");
                file(c, "src/new.go", "n\n");
            },
        ),
        case(
            "onbuild_trigger_with_expansion_and_lower_case",
            "FROM $BASE AS a\nENV WHERE=/from-env\nonbuild run echo $WHERE > /trig\nONBUILD WORKDIR $WHERE\nFROM a\nRUN pwd > /pwd\n",
            none,
        ),
        case(
            "run_json_form_with_shell_and_workdir",
            "FROM $BASE\nSHELL [\"/bin/sh\", \"-xc\"]\nWORKDIR /w\nRUN [\"/bin/sh\", \"-c\", \"pwd > here\"]\nRUN pwd > /w/shell\n",
            none,
        ),
        Case {
            newer_history: &[(
                "HEALTHCHECK &{[\"CMD-SHELL\" \"wget -q localhost:$P || exit 1\"] \"0s\" \"0s\" \"0s\" '\\x00'}",
                "HEALTHCHECK &{[\"CMD-SHELL\" \"wget -q localhost:$P || exit 1\"] \"0s\" \"0s\" \"0s\" \"0s\" '\\x00'}",
            )],
            ..case(
                "healthcheck_shell_form_is_not_expanded",
                "FROM $BASE\nENV P=8080\nHEALTHCHECK CMD wget -q localhost:$P || exit 1\n",
                none,
            )
        },
        // --- Round three: refusals, heredoc expansion, stage ARG defaults.
        Case {
            must_fail: true,
            ..case("env_without_value_fails", "FROM $BASE\nENV ALONE\n", none)
        },
        Case {
            must_fail: true,
            ..case(
                "copy_with_one_argument_fails",
                "FROM $BASE\nCOPY a.txt\n",
                ab,
            )
        },
        Case {
            must_fail: true,
            ..case(
                "unknown_flag_fails",
                "FROM $BASE\nCOPY --nope=1 a.txt /a\n",
                ab,
            )
        },
        Case {
            must_fail: true,
            ..case(
                "onbuild_from_fails",
                "FROM $BASE\nONBUILD FROM $BASE\n",
                none,
            )
        },
        Case {
            must_fail: true,
            ..case(
                "onbuild_onbuild_fails",
                "FROM $BASE\nONBUILD ONBUILD RUN true\n",
                none,
            )
        },
        Case {
            must_fail: true,
            ..case(
                "stopsignal_unknown_fails",
                "FROM $BASE\nSTOPSIGNAL SIGBOGUS\n",
                none,
            )
        },
        Case {
            must_fail: true,
            ..case("from_with_extra_words_fails", "FROM $BASE AS a b\n", none)
        },
        Case {
            must_fail: true,
            ..case(
                "copy_of_an_ignored_file_fails",
                "FROM $BASE\nCOPY secret.txt /s\n",
                |c| {
                    file(c, ".dockerignore", "secret.txt\n");
                    file(c, "secret.txt", "s\n");
                },
            )
        },
        Case {
            must_fail: true,
            ..case(
                "json_array_with_a_number_fails",
                "FROM $BASE\nCMD [\"a\", 1]\n",
                none,
            )
        },
        case(
            "stage_arg_default_does_not_see_undeclared_meta_arg",
            "ARG G=global\nFROM $BASE\nARG L=[$G]\nENV E=[$G]\nRUN echo \"$L $E\" > /x\n",
            none,
        ),
        case(
            "env_same_key_twice_in_one_line",
            "FROM $BASE\nENV A=1 A=2 B=$A\n",
            none,
        ),
        Case {
            newer_buildkit: Some(
                "heredocs arrived in Dockerfile 1.4; Docker 20.10's frontend fails",
            ),
            expect_files: &[
                ("/expanded", "x and x\n"),
                ("/quoted", "$V and ${V}\n"),
                ("/sb", "shebang\n"),
            ],
            ..case(
                "heredoc_copy_expansion_and_run_shebang",
                "FROM $BASE\nENV V=x\nCOPY <<EOF /expanded\n$V and ${V}\nEOF\nCOPY <<\"EOF\" /quoted\n$V and ${V}\nEOF\nRUN <<EOF\n#!/bin/sh\necho shebang > /sb\nEOF\n",
                none,
            )
        },
        // --- Round four: flags, quoting, directives that are comments.
        case(
            "syntax_directive_after_a_comment_is_a_comment",
            "# a comment first\n# syntax=example.invalid/frontend:1\nFROM $BASE\n# syntax=example.invalid/other:1\nRUN echo ok > /ok # not a comment\n",
            none,
        ),
        case(
            "double_quote_backslashes",
            "FROM $BASE\nENV A=\"a\\b\" B=\"a\\\\b\" C=\"x$\" D=\"\\\"\" E=\"\\'\"\nENV LEG  \"a  b\" c\n",
            none,
        ),
        case(
            "flag_values_with_quotes",
            "FROM $BASE\nCOPY --chown=\"app\":'staff' a.txt /q\n",
            ab,
        ),
        case(
            "copy_two_sources_to_a_dest_without_slash",
            "FROM $BASE\nCOPY a.txt b.txt /r\n",
            ab,
        ),
        Case {
            must_fail: true,
            ..case(
                "flag_given_twice_fails",
                "FROM $BASE\nCOPY --chown=1 --chown=2 a.txt /a\n",
                ab,
            )
        },
        Case {
            must_fail: true,
            ..case(
                "flag_without_value_fails",
                "FROM $BASE\nCOPY --chown a.txt /a\n",
                ab,
            )
        },
        Case {
            dockerfile_at: Some("../df/App.Dockerfile"),
            ..case(
                "dockerignore_beside_a_dockerfile_outside_the_context",
                "FROM $BASE\nCOPY . /app/\n",
                |c| {
                    file(c, ".dockerignore", "a.txt\n");
                    file(c, "../df/App.Dockerfile.dockerignore", "b.txt\n");
                    file(c, "a.txt", "a\n");
                    file(c, "b.txt", "b\n");
                },
            )
        },
        // --- Round five: escapes at line ends, JSON look-alikes, more refusals.
        case(
            "escaped_escape_token_at_line_end",
            "FROM $BASE\nENV A=x\\\\\nENV B=y\nRUN echo \"$A|$B\" > /x\n",
            none,
        ),
        case(
            "json_look_alikes_are_shell_form",
            "FROM $BASE\nCMD [\"a\" \"b\"]\nENTRYPOINT [\"echo\",\"x\",]\nONBUILD CMD [\"json\", \"trigger\"]\n",
            none,
        ),
        Case {
            newer_buildkit: Some(
                "Docker 20.10 reads a JSON array with text after it as exec form (a JSON \
                 decoder stops after the array); current BuildKit unmarshals the whole text, \
                 so it is shell form (strata-dockerfile's json_detection)",
            ),
            expect_files: &[("/s", "shell\n")],
            ..case(
                "json_array_followed_by_text_is_shell_form",
                "FROM $BASE\nRUN [\"false\"] || echo shell > /s\n",
                none,
            )
        },
        case(
            "expansion_default_with_escaped_brace_and_quotes",
            "FROM $BASE\nENV A=${U:-a\\}b} B=${U:-'q $x'} C=\"${U:-x\\\"y}\"\n",
            none,
        ),
        Case {
            newer_history: &[("ARG V", "ARG V=2"), ("ARG W", "ARG W=2-w")],
            ..case(
                "meta_arg_declared_twice",
                "ARG V=1\nARG V=2\nARG W=$V-w\nFROM $BASE\nARG V\nARG W\nRUN echo $V $W > /x\n",
                none,
            )
        },
        Case {
            must_fail: true,
            ..case(
                "volume_with_an_empty_string_fails",
                "FROM $BASE\nVOLUME [\"\"]\n",
                none,
            )
        },
        Case {
            must_fail: true,
            ..case(
                "shell_not_in_json_form_fails",
                "FROM $BASE\nSHELL /bin/sh -c\n",
                none,
            )
        },
        Case {
            must_fail: true,
            ..case(
                "healthcheck_unknown_option_fails",
                "FROM $BASE\nHEALTHCHECK --bogus=1 CMD true\n",
                none,
            )
        },
        Case {
            must_fail: true,
            ..case("invalid_stage_name_fails", "FROM $BASE AS 1abc\n", none)
        },
        Case {
            must_fail: true,
            ..case("arg_without_a_name_fails", "FROM $BASE\nARG =x\n", none)
        },
        Case {
            must_fail: true,
            ..case(
                "instruction_without_arguments_fails",
                "FROM $BASE\nWORKDIR\n",
                none,
            )
        },
        case(
            "maintainer_and_label_across_continuations",
            "FROM $BASE\nMAINTAINER a \\\n  b\nLABEL x=\"1 \\\n2\" \\\n  y=3\n",
            none,
        ),
        // --- Round six: .dockerignore syntax corners, globs from variables.
        case(
            "dockerignore_classes_escapes_and_crlf",
            "FROM $BASE\nCOPY . /app/\n",
            |c| {
                file(
                    c,
                    ".dockerignore",
                    "\u{feff}[ab].txt\r\nfile?.md\r\n**/x/**/y\r\n\\#hash\r\n! a.txt\r\n  # not a comment once trimmed\r\n",
                );
                file(c, "a.txt", "a\n");
                file(c, "b.txt", "b\n");
                file(c, "c.txt", "c\n");
                file(c, "file1.md", "1\n");
                file(c, "file10.md", "10\n");
                file(c, "p/x/q/y", "y\n");
                file(c, "x/y", "y2\n");
                file(c, "#hash", "h\n");
                file(c, "# not a comment once trimmed", "n\n");
            },
        ),
        case(
            "copy_glob_from_a_variable",
            "FROM $BASE\nENV G=*.txt D=dir/s*\nCOPY $G /g/\nCOPY ${D} /s/\n",
            ab_tree,
        ),
        case(
            "dockerignore_excluded_dir_reincluded_by_double_star",
            "FROM $BASE\nCOPY . /app/\n",
            |c| {
                file(c, ".dockerignore", "docs\n!docs/**/*.md\n");
                file(c, "docs/a.md", "a\n");
                file(c, "docs/b.txt", "b\n");
                file(c, "docs/sub/c.md", "c\n");
                file(c, "docs/sub/d.png", "d\n");
            },
        ),
        // --- Round seven: ONBUILD with ARG, proxies declared, predefined ARGs overridden.
        case(
            "onbuild_arg_and_env_triggers",
            "FROM $BASE AS a\nONBUILD ARG X=1\nONBUILD ENV Y=$X-y\nONBUILD RUN echo $X $Y > /t\nFROM a\nRUN echo $X $Y > /u\n",
            none,
        ),
        Case {
            build_args: &["HTTP_PROXY=http://proxy.invalid:3128"],
            newer_history: &[("ARG HTTP_PROXY", "ARG HTTP_PROXY=http://proxy.invalid:3128")],
            ..case(
                "proxy_arg_declared_in_the_stage",
                "FROM $BASE\nARG HTTP_PROXY\nRUN echo $HTTP_PROXY > /p\n",
                none,
            )
        },
        Case {
            newer_history: &[("ARG TARGETARCH", "ARG TARGETARCH=foo")],
            ..case(
                "predefined_arg_overridden_by_a_meta_default",
                "ARG TARGETARCH=foo\nFROM $BASE\nARG TARGETARCH\nARG TARGETOS=custom\nRUN echo $TARGETARCH $TARGETOS > /x\n",
                none,
            )
        },
        // --- Round eight: build-arg values taken literally, duplicate stage names, pattern
        // substitutions.
        Case {
            build_args: &["X=a b $HOME", "Y=k=v"],
            newer_history: &[("ARG X", "ARG X=a b $HOME"), ("ARG Y", "ARG Y=k=v")],
            ..case(
                "build_arg_values_are_not_expanded",
                "FROM $BASE\nARG X\nARG Y\nENV E=$X\nRUN echo \"$X|$Y\" > /x\n",
                none,
            )
        },
        case(
            "duplicate_stage_names_from_takes_the_latest",
            "FROM $BASE AS a\nRUN echo 1 > /v\nFROM $BASE AS a\nRUN echo 2 > /v\nFROM a\nRUN cat /v > /seen\n",
            none,
        ),
        case(
            "duplicate_stage_names_copy_from_takes_the_last",
            "FROM $BASE AS a\nRUN echo 1 > /v\nFROM $BASE AS a\nRUN echo 2 > /v\nFROM $BASE\nCOPY --from=a /v /v\n",
            none,
        ),
        Case {
            newer_buildkit: Some(
                "Docker 20.10 refuses ${V#p}, ${V%p} and ${V/p/r}; current BuildKit has them",
            ),
            expect_files: &[(
                "/subst",
                "to/file.tar.gz|file.tar.gz|path/to/file.tar|path/to/file|path/TO/file.tar.gz|paTh/To/file.Tar.gz\n",
            )],
            ..case(
                "expansion_pattern_substitutions",
                "FROM $BASE\nENV V=path/to/file.tar.gz\nENV S=\"${V#*/}|${V##*/}|${V%.*}|${V%%.*}|${V/to/TO}|${V//t/T}\"\nRUN echo \"$S\" > /subst\n",
                none,
            )
        },
        case(
            "cmd_with_an_empty_string",
            "FROM $BASE\nCMD [\"\"]\nENTRYPOINT [\"\", \"x\"]\n",
            none,
        ),
        Case {
            must_fail: true,
            ..case(
                "label_with_a_blank_name_fails",
                "FROM $BASE\nLABEL =v\n",
                none,
            )
        },
        Case {
            must_fail: true,
            ..case("env_with_a_blank_name_fails", "FROM $BASE\nENV =v\n", none)
        },
        Case {
            build_args: &["TARGETARCH=foo"],
            newer_history: &[
                ("ARG M", "ARG M=foo"),
                ("ARG TARGETARCH", "ARG TARGETARCH=foo"),
            ],
            ..case(
                "build_arg_overrides_a_predefined_arg",
                "ARG M=$TARGETARCH\nFROM $BASE\nARG M\nARG TARGETARCH\nRUN echo $M $TARGETARCH > /x\n",
                none,
            )
        },
        case(
            "empty_flag_values_mean_no_flag",
            "FROM --platform= $BASE\nCOPY --from= a.txt /a\nCOPY --chown= b.txt /b\nADD --chown= c.md /c\n",
            ab,
        ),
        Case {
            newer_history: &[(
                "HEALTHCHECK &{[\"CMD-SHELL\" \"true\"] \"0s\" \"0s\" \"0s\" '\\x00'}",
                "HEALTHCHECK &{[\"CMD-SHELL\" \"true\"] \"0s\" \"0s\" \"0s\" \"0s\" '\\x00'}",
            )],
            ..case(
                "healthcheck_empty_option_values",
                "FROM $BASE\nHEALTHCHECK --interval= --timeout= --retries= CMD true\n",
                none,
            )
        },
        case(
            "odd_keys_and_protocols",
            "FROM $BASE\nENV my.key=v my-key=w _k=x\nLABEL ключ=значение \"with space\"=1\nEXPOSE 80/sctp 9/udp\n",
            none,
        ),
        case(
            "scratch_with_workdir_and_relative_copy",
            "FROM scratch\nWORKDIR /app\nCOPY a.txt .\nWORKDIR sub\nCOPY --chown=7:8 b.txt ./\n",
            ab,
        ),
        Case {
            must_fail: true,
            ..case(
                "scratch_chown_by_name_fails",
                "FROM scratch\nCOPY --chown=app a.txt /\n",
                ab,
            )
        },
        Case {
            latin1: true,
            ..case(
                "dockerfile_that_is_not_utf8",
                "FROM $BASE\n# café, a Latin-1 comment\nLABEL a=\"café\" b=ok\nENV E=\"né\"\n",
                none,
            )
        },
        case(
            "dockerignore_that_is_not_utf8",
            "FROM $BASE\nCOPY . /app/\n",
            |c| {
                std::fs::write(c.join(".dockerignore"), b"# caf\xe9\nx.txt\n").unwrap();
                file(c, "x.txt", "x\n");
                file(c, "y.txt", "y\n");
            },
        ),
        Case {
            must_fail: true,
            ..case(
                "dockerfile_with_only_comments_fails",
                "# nothing\n\n# here\n",
                none,
            )
        },
        Case {
            must_fail: true,
            ..case(
                "instruction_before_from_fails",
                "ENV A=1\nFROM $BASE\n",
                none,
            )
        },
        // Not compared: a Dockerfile of ARG lines alone crashes Docker 20.10's dockerd (an
        // index out of range in its frontend); strata-build's planner refuses it ("dockerfile
        // contains no stages to build").
        Case {
            newer_buildkit: Some(
                "heredocs arrived in Dockerfile 1.4; Docker 20.10's frontend fails",
            ),
            expect_files: &[("/copied", "\"x\" 'x' $V ab\n"), ("/ran", "x $V\n")],
            ..case(
                "heredoc_expansion_keeps_quotes",
                "FROM $BASE\nENV V=x\nCOPY <<EOF /copied\n\"$V\" '$V' \\$V a\\b\nEOF\nRUN <<EOF\necho \"$V\" '$V' > /ran\nEOF\n",
                none,
            )
        },
        Case {
            newer_buildkit: Some(
                "heredocs arrived in Dockerfile 1.4; Docker 20.10's frontend fails",
            ),
            expect_files: &[
                ("/after", "after\n"),
                ("/tabs", "x\n"),
                ("/dir/a", "first\n"),
                ("/dir/b", "second\n"),
            ],
            ..case(
                "heredoc_run_script_and_two_copied_files",
                "FROM $BASE\nRUN <<EOF\nfalse\necho after > /after\nEOF\nRUN <<-EOF\n\techo x > /tabs\n\tEOF\nCOPY <<a <<b /dir/\nfirst\na\nsecond\nb\n",
                none,
            )
        },
        // Shell-form COPY splits on white space before quotes are looked at.
        Case {
            must_fail: true,
            ..case(
                "copy_quoted_name_with_a_space_in_shell_form_fails",
                "FROM $BASE\nCOPY \"a b.txt\" /x/\n",
                |c| file(c, "a b.txt", "ab\n"),
            )
        },
        // JSON-form sources are still expanded as words: a lone quote is unterminated.
        Case {
            must_fail: true,
            ..case(
                "copy_json_form_name_with_a_quote_fails",
                "FROM $BASE\nCOPY [\"q\\\"uote.txt\", \"/x/\"]\n",
                |c| file(c, "q\"uote.txt", "q\n"),
            )
        },
        case(
            "backslash_sequences_in_double_quotes",
            "FROM $BASE\nENV A=\"a\\nb\" B=\"tab\\t\" C=a\\nb\nLABEL l=\"x\\ty\"\n",
            none,
        ),
        // --- RUN --mount.
        Case {
            newer_absent: &["/mnt"],
            ..case(
                "run_mount_bind_from_context",
                "FROM $BASE\nRUN --mount=type=bind,source=a.txt,target=/mnt/a cat /mnt/a > /out\n",
                ab,
            )
        },
        Case {
            newer_absent: &["/src"],
            ..case(
                "run_mount_bind_from_stage",
                "FROM $BASE AS b\nRUN mkdir /o && echo built > /o/f\nFROM $BASE\nRUN --mount=from=b,source=/o,target=/src cp /src/f /copied\n",
                none,
            )
        },
        Case {
            newer_absent: &["/scratch", "/var/cache/x", "/var/cache"],
            ..case(
                "run_mount_cache_and_tmpfs",
                "FROM $BASE\nRUN --mount=type=cache,target=/var/cache/x --mount=type=tmpfs,target=/scratch echo c > /var/cache/x/f && echo t > /scratch/f && echo ok > /ok\n",
                none,
            )
        },
        Case {
            newer_absent: &["/opt/existing/sub"],
            ..case(
                "run_mount_target_in_an_existing_dir",
                "FROM $BASE\nRUN --mount=type=bind,source=dir,target=/opt/existing/sub ls /opt/existing/sub > /listing\n",
                ab_tree,
            )
        },
        Case {
            newer_absent: &["/parity-cache-a", "/parity-cache-b"],
            ..case(
                "run_mount_cache_shared_by_id_between_runs",
                "FROM $BASE\nRUN --mount=type=cache,id=parity-shared,target=/parity-cache-a echo kept > /parity-cache-a/f\n\
                 RUN --mount=type=cache,id=parity-shared,target=/parity-cache-b cat /parity-cache-b/f > /seen\n",
                none,
            )
        },
        case(
            "run_mount_secret_not_given_is_absent",
            "FROM $BASE\nRUN --mount=type=secret,id=nope (cat /run/secrets/nope || echo absent) > /s 2>/dev/null\n",
            none,
        ),
        Case {
            must_fail: true,
            ..case(
                "run_mount_required_secret_not_given_fails",
                "FROM $BASE\nRUN --mount=type=secret,id=nope,required=true true\n",
                none,
            )
        },
        Case {
            newer_absent: &["/m1", "/m2", "/m3"],
            ..case(
                "run_mount_option_aliases_and_default_type",
                "FROM $BASE\nRUN --mount=src=a.txt,dst=/m1/a --mount=source=dir,destination=/m2 --mount=target=/m3 \\\n    cat /m1/a /m2/top.txt /m3/b.txt > /out\n",
                ab_tree,
            )
        },
        Case {
            newer_absent: &["/rw"],
            ..case(
                "run_mount_writable_bind_leaves_no_trace",
                "FROM $BASE\nRUN --mount=type=bind,source=dir,target=/rw,rw echo changed > /rw/top.txt && cat /rw/top.txt > /seen\n",
                ab_tree,
            )
        },
        Case {
            newer_absent: &["/pc"],
            ..case(
                "run_mount_cache_mode_and_owner",
                "FROM $BASE\nRUN --mount=type=cache,id=parity-perm,target=/pc,mode=0700,uid=1000,gid=1003,sharing=locked \\\n    stat -c '%a %u %g' /pc > /perm\n",
                none,
            )
        },
        Case {
            newer_absent: &["/img"],
            ..case(
                "run_mount_bind_from_an_image",
                "FROM $BASE\nRUN --mount=from=$BASE,source=/etc,target=/img cat /img/group > /group-copy\n",
                none,
            )
        },
        Case {
            newer_buildkit: Some(
                "Docker 20.10 shows expanded mount options but mounts at the unexpanded \
                 target, so the RUN fails; current BuildKit expands them",
            ),
            expect_files: &[("/listing", "f\n")],
            ..case(
                "run_mount_options_from_variables",
                "FROM $BASE\nARG T=/expanded\nARG ID=parity-var\nRUN --mount=type=cache,id=$ID,target=$T echo v > $T/f && ls $T > /listing\n",
                none,
            )
        },
        case(
            "onbuild_expression_across_continuations",
            "FROM $BASE\nONBUILD RUN echo a \\\n    b \\\n# comment\n    c\nONBUILD\tLABEL x=1\nONBUILD   CMD [\"j\",  \"s\"]\n",
            none,
        ),
        case(
            "expose_quoted_and_with_host_parts",
            "FROM $BASE\nEXPOSE \"81\" '82/udp'\nEXPOSE 127.0.0.1:8080:80 9090:90/udp\n",
            none,
        ),
        Case {
            must_fail: true,
            ..case(
                "expansion_unterminated_brace_fails",
                "FROM $BASE\nENV A=${V\n",
                none,
            )
        },
        Case {
            must_fail: true,
            ..case(
                "expansion_empty_braces_fails",
                "FROM $BASE\nENV A=${}\n",
                none,
            )
        },
        Case {
            must_fail: true,
            ..case(
                "expansion_unknown_modifier_fails",
                "FROM $BASE\nENV A=${V:x}\n",
                none,
            )
        },
        case(
            "expansion_braces_around_odd_names",
            "FROM $BASE\nENV _a1=u\nENV B=${_a1}x C=$_a1-x D=${_a1:-d}\n",
            none,
        ),
        case(
            "run_environment_has_home",
            "FROM $BASE\nARG A=1\nENV E=2\nRUN env | sort > /env-root\nUSER app\nRUN env | sort > /tmp/env-app\n\
             USER 4242\nRUN echo \"[$HOME]\" > /tmp/home-4242\nUSER root\nRUN cp /tmp/env-app /tmp/home-4242 /\n",
            none,
        ),
        case(
            "run_hostname",
            "FROM $BASE\nRUN hostname > /hostname\n",
            none,
        ),
        Case {
            known_divergence: Some(
                "a RUN in BuildKit has NoNewPrivs 0; Strata's has NoNewPrivs 1 on purpose \
                 (its build RUN is specified with no-new-privileges; capabilities and the \
                 seccomp filter agree)",
            ),
            ..case(
                "run_capabilities_and_privileges",
                "FROM $BASE\nRUN grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status > /status\n",
                none,
            )
        },
        case(
            "run_stdin_is_empty",
            "FROM $BASE\nRUN cat > /stdin-content; echo $? > /rc\n",
            none,
        ),
        case(
            "run_dev_entries",
            "FROM $BASE\nRUN ls /dev | sort > /devs && ls -ln /dev/null /dev/zero /dev/random /dev/urandom /dev/tty /dev/full | cut -c1-10 > /dev-modes\n",
            none,
        ),
        case(
            "run_etc_hosts_and_resolv_conf",
            "FROM $BASE\nRUN cp /etc/hosts /hosts-copy && (test -e /etc/resolv.conf && echo yes || echo no) > /resolv\n",
            none,
        ),
        case(
            "env_and_label_legacy_form_corners",
            "FROM $BASE\nENV A \"\"\nENV B b=c d\nENV C   spaced   out  \nLABEL k v=w\n",
            none,
        ),
        case(
            "comment_lines_ending_in_the_escape_token",
            "FROM $BASE\n# a note \\\nRUN echo ok > /ok\nRUN echo a \\\n# inside \\\n    b > /x\n",
            none,
        ),
        Case {
            newer_buildkit: Some(
                "heredocs arrived in Dockerfile 1.4; Docker 20.10's frontend fails",
            ),
            expect_files: &[("/awk-out", "awk\n")],
            ..case(
                "heredoc_run_with_an_interpreter_line",
                "FROM $BASE\nRUN <<EOF\n#!/usr/bin/awk -f\nBEGIN { print \"awk\" > \"/awk-out\" }\nEOF\n",
                none,
            )
        },
        case(
            "from_platform_from_variables",
            "ARG P=$BUILDPLATFORM\nFROM --platform=$TARGETPLATFORM $BASE AS a\nRUN echo a > /a\nFROM --platform=${P} $BASE\nCOPY --from=a /a /a\n",
            none,
        ),
        case(
            "arg_redeclared_without_value_in_a_child_stage",
            "FROM $BASE AS a\nARG X=1\nENV FROM_A=$X\nFROM a\nARG X\nRUN echo \"[$X]\" > /x\nENV E=$X\n",
            none,
        ),
        Case {
            newer_history: &[(
                "RUN |2 X=1 X=1 /bin/sh -c echo \"[$X]\" > /x # buildkit",
                "RUN |1 X=1 /bin/sh -c echo \"[$X]\" > /x # buildkit",
            )],
            ..case(
                "arg_redeclared_without_value_in_the_same_stage",
                "FROM $BASE\nARG X=1\nARG X\nRUN echo \"[$X]\" > /x\n",
                none,
            )
        },
        case(
            "run_user_namespace_and_shm",
            "FROM $BASE\nRUN tr -s ' ' < /proc/self/uid_map > /uid_map && df -k /dev/shm | tail -1 | awk '{print $2}' > /shm-kb && (mount | grep -E ' on /(proc|sys|dev) ' | cut -d' ' -f3,5 | sort > /mounts)\n",
            none,
        ),
        case(
            "run_as_a_user_with_supplementary_groups",
            "FROM $BASE\nUSER alice\nRUN id > /tmp/id-alice\nUSER 1001\nRUN id > /tmp/id-1001\nUSER 1001:1000\nRUN id > /tmp/id-1001-1000\nUSER root\nRUN cp /tmp/id-* /\n",
            none,
        ),
        case(
            "run_masked_paths_and_oom_score",
            "FROM $BASE\nRUN (for p in /proc/timer_list /proc/keys /proc/latency_stats /proc/sched_debug; do echo \"$p $(wc -c < $p 2>/dev/null || echo absent)\"; done; \\\n    for d in /proc/acpi /proc/scsi /sys/firmware; do echo \"$d $(ls $d 2>/dev/null | wc -l)\"; done; \\\n    cat /proc/self/oom_score_adj; cat /proc/sys/net/ipv4/ip_unprivileged_port_start) > /masked\n",
            none,
        ),
        case(
            "run_writes_long_and_odd_names",
            "FROM $BASE\nRUN d=/long/$(printf 'd%.0s' $(seq 1 120))/$(printf 'e%.0s' $(seq 1 60)) && mkdir -p $d && echo x > $d/$(printf 'f%.0s' $(seq 1 150)) && \\\n    ln -s $d/$(printf 'f%.0s' $(seq 1 150)) /long-link && touch \"/odd $(printf 'a\\\\b')\" \"/new$(printf '\\nline')\" /ünï && \\\n    touch -d @1 /old && touch -d @4102444800 /future\n",
            none,
        ),
        case(
            "run_makes_device_nodes",
            "FROM $BASE\nRUN mknod /dev-null-copy c 1 3 && mknod /blk b 7 0 && chmod 600 /blk\n",
            none,
        ),
        Case {
            must_fail: true,
            target: Some("nope"),
            ..case(
                "target_that_names_no_stage_fails",
                "FROM $BASE AS a\nFROM $BASE\n",
                none,
            )
        },
        Case {
            must_fail: true,
            target: Some("0"),
            ..case(
                "target_by_index_fails",
                "FROM $BASE\nRUN echo x > /x\nFROM $BASE\n",
                none,
            )
        },
        case(
            "run_writes_to_etc_hosts_and_resolv_conf",
            "FROM $BASE\nRUN echo '1.2.3.4 custom' >> /etc/hosts; echo 'nameserver 9.9.9.9' > /etc/resolv.conf; echo done > /done\n",
            none,
        ),
        case(
            "copied_etc_hosts_is_hidden_from_run",
            "FROM $BASE\nCOPY hosts /etc/hosts\nRUN grep -c custom /etc/hosts > /count || true\n",
            |c| file(c, "hosts", "1.2.3.4 custom\n"),
        ),
        Case {
            ..case(
                "run_in_a_scratch_stage_and_home_from_env",
                "FROM scratch\nCOPY --from=$BASE /bin/busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo $PATH $HOME > /path\"]\nENV HOME=/custom\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo $HOME > /home\"]\n",
                none,
            )
        },
        Case {
            ..case(
                "workdir_as_a_numeric_user_in_scratch",
                "FROM scratch\nUSER 1000\nWORKDIR /w\nCOPY a.txt .\nUSER 1234:5678\nWORKDIR /v/x\n",
                ab,
            )
        },
        Case {
            ..case(
                "workdir_as_a_numeric_user_without_passwd_entry",
                "FROM $BASE\nUSER 4242\nWORKDIR /w4242\n",
                none,
            )
        },
        case(
            "chown_with_an_unknown_uid_alone",
            "FROM $BASE\nCOPY --chown=4242 c.md /z\n",
            ab,
        ),
        Case {
            ..case(
                "chown_with_an_empty_user_or_group",
                "FROM $BASE\nCOPY --chown=:wheel a.txt /x\nCOPY --chown=app: b.txt /y\n",
                ab,
            )
        },
        case(
            "run_home_from_env_wins_over_passwd",
            "FROM $BASE\nENV HOME=/custom\nUSER app\nRUN echo $HOME > /tmp/h\nUSER root\nRUN cp /tmp/h /h\n",
            none,
        ),
        Case {
            build_args: &["X=line one\nline two", "Y= spaced "],
            newer_history: &[
                ("ARG X", "ARG X=line one\nline two"),
                ("ARG Y", "ARG Y= spaced "),
            ],
            ..case(
                "build_arg_values_with_newlines_and_spaces",
                "FROM $BASE\nARG X\nARG Y\nENV E=$X F=\"[$Y]\"\nRUN echo \"$X|$Y\" > /x\n",
                none,
            )
        },
        // --- Whole Dockerfiles in the shape projects write them.
        case(
            "realistic_node_style",
            "ARG BASE_IMAGE=$BASE\nFROM ${BASE_IMAGE} AS deps\nWORKDIR /app\nCOPY package*.json ./\nRUN mkdir -p node_modules && cp package.json node_modules/marker\n\n\
             FROM ${BASE_IMAGE} AS build\nWORKDIR /app\nCOPY --from=deps /app/node_modules ./node_modules\nCOPY . .\nRUN echo built > dist.txt\n\n\
             FROM ${BASE_IMAGE}\nENV NODE_ENV production\nWORKDIR /app\nCOPY --from=build --chown=app:app /app/dist.txt /app/node_modules ./\n\
             USER app\nEXPOSE 3000\nCMD [\"node\", \"server.js\"]\n",
            |c| {
                file(c, ".dockerignore", "node_modules\n*.log\n.git\n");
                file(c, "package.json", "{\"name\":\"x\"}\n");
                file(c, "package-lock.json", "{}\n");
                file(c, "src/index.js", "console.log(1)\n");
                file(c, "node_modules/left/pad.js", "pad\n");
                file(c, "npm-debug.log", "log\n");
                file(c, ".git/HEAD", "ref\n");
            },
        ),
        Case {
            build_args: &["VERSION=1.2.3"],
            ..case(
                "realistic_go_style",
                "FROM $BASE AS builder\nARG VERSION=dev\nENV CGO_ENABLED=0 GOOS=linux\nWORKDIR /src\nCOPY go.mod go.sum ./\n\
                 RUN echo \"mod download\" > /tmp/log\nCOPY . .\n\
                 RUN mkdir -p /out && echo \"bin $VERSION\" > /out/app && chmod 755 /out/app\n\n\
                 FROM scratch\nCOPY --from=builder /out/app /app\nCOPY --from=builder /etc/passwd /etc/passwd\nUSER 65534\nENTRYPOINT [\"/app\"]\n",
                |c| {
                    file(c, "go.mod", "module x\n");
                    file(c, "go.sum", "");
                    file(c, "main.go", "package main\n");
                },
            )
        },
        case(
            "realistic_python_style",
            "FROM $BASE\n\
             LABEL org.opencontainers.image.source=\"https://example.com/repo\" \\\n      maintainer=\"Someone <s@example.com>\"\n\
             ENV PYTHONDONTWRITEBYTECODE=1 \\\n    PYTHONUNBUFFERED=1 \\\n    APP_HOME=/srv/app\n\
             WORKDIR $APP_HOME\nCOPY requirements.txt .\n\
             RUN set -eux; \\\n    mkdir -p $APP_HOME/data; \\\n    # a comment inside the RUN\n    echo ok > $APP_HOME/data/ok\n\
             COPY --chown=1000:1000 . .\nVOLUME [\"/srv/app/data\"]\nEXPOSE 8000/tcp\nSTOPSIGNAL SIGINT\n\
             ENTRYPOINT [\"python\", \"-m\", \"app\"]\nCMD [\"--port\", \"8000\"]\n",
            |c| {
                file(c, "requirements.txt", "flask\n");
                file(c, "app/__init__.py", "");
                file(c, "app/__main__.py", "print(1)\n");
                file(c, ".dockerignore", "**/__pycache__\n*.pyc\n");
                file(c, "app/__pycache__/x.pyc", "c\n");
            },
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
            } else if et.is_character_special() {
                'c'
            } else if et.is_block_special() {
                'b'
            } else if et.is_fifo() {
                'p'
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
                // A link's target, a device node's numbers.
                target: match kind {
                    'l' => link,
                    'c' | 'b' => format!(
                        "{},{}",
                        h.device_major().ok().flatten().unwrap_or(0),
                        h.device_minor().ok().flatten().unwrap_or(0)
                    ),
                    _ => String::new(),
                },
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
        'c' | 'b' => s.push_str(&format!(" dev={}", n.target)),
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

/// Strata's image must hold these files with this content.
fn check_files(img: &Image, want: &[(&str, &str)], out: &mut Vec<String>) {
    for (path, content) in want {
        match img.fs.get(&norm(path)) {
            Some(n) if n.kind == 'f' && n.sha == hex::encode(sha2::Sha256::digest(content)) => {}
            Some(n) => out.push(format!(
                "{path}: expected a file holding {content:?} in Strata's image, found {}",
                describe(n, None, false)
            )),
            None => out.push(format!("{path}: missing from Strata's image")),
        }
    }
}

/// This machine's architecture as Go (and so BuildKit) names it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        a => a,
    }
}

const CONFIG_KEYS: [&str; 13] = [
    "ArgsEscaped",
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
    // The image's own fields: MAINTAINER's author, and the platform.
    for key in ["author", "os", "architecture", "variant"] {
        let get = |img: &Image| {
            img.config
                .get(key)
                .cloned()
                .unwrap_or(serde_json::Value::Null)
        };
        let (s, b) = (get(strata), get(buildkit));
        let empty = |v: &serde_json::Value| v.is_null() || v.as_str() == Some("");
        if s != b && !(empty(&s) && empty(&b)) {
            out.push(format!("{key}: Strata {s} | BuildKit {b}"));
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
    // Every entry's comment (BuildKit writes buildkit.dockerfile.v0; the base image's own
    // entries carry whatever it had).
    let comments = |img: &Image| -> Vec<String> {
        img.config["history"]
            .as_array()
            .map(|h| {
                h.iter()
                    .map(|e| e["comment"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let (cs, cb) = (comments(strata), comments(buildkit));
    if cs != cb {
        out.push(format!("history comments: Strata {cs:?} | BuildKit {cb:?}"));
    }
    let (hs, mut hb) = (history(strata), history(buildkit));
    for (created_by, _) in &mut hb {
        if let Some((_, newer)) = newer_history.iter().find(|(old, _)| old == created_by) {
            *created_by = newer.replace("{arch}", go_arch());
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

/// What both builders are given besides the Dockerfile and the context.
#[derive(Default)]
struct BuildOpts<'a> {
    build_args: &'a [&'a str],
    target: Option<&'a str>,
    env: &'a [(&'a str, &'a str)],
}

impl BuildOpts<'_> {
    fn apply(&self, cmd: &mut Command) {
        cmd.args(self.build_args.iter().flat_map(|a| ["--build-arg", a]));
        if let Some(t) = self.target {
            cmd.args(["--target", t]);
        }
        cmd.envs(self.env.iter().copied());
    }
}

impl Builders<'_> {
    /// Build with both at once (Strata here, BuildKit on a second thread): (Strata, BuildKit).
    fn both(&self, dockerfile: &Path, ctx: &Path, tag: &str, o: &BuildOpts) -> (Output, Output) {
        std::thread::scope(|scope| {
            let k = scope.spawn(|| self.buildkit_build(dockerfile, ctx, tag, o));
            let s = self.strata_build(dockerfile, ctx, tag, o);
            (s, k.join().expect("docker build"))
        })
    }

    fn strata_build(&self, dockerfile: &Path, ctx: &Path, tag: &str, o: &BuildOpts) -> Output {
        let mut cmd = self.env.cmd();
        cmd.arg("build");
        o.apply(&mut cmd);
        cmd.args(["--progress=plain", "--network=none", "-t", tag, "-f"])
            .arg(dockerfile)
            .arg(ctx)
            .output()
            .expect("run strata build")
    }

    fn buildkit_build(&self, dockerfile: &Path, ctx: &Path, tag: &str, o: &BuildOpts) -> Output {
        let mut cmd = self.docker.cmd();
        cmd.env("DOCKER_BUILDKIT", "1").arg("build");
        o.apply(&mut cmd);
        cmd.args(["--progress=plain", "--network=none", "-t", tag, "-f"])
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

/// A case's mismatches (empty: the same), or why it was skipped.
type CaseResult = Result<Vec<String>, String>;

/// Build one case with both builders and compare; returns the mismatches (empty: same), or
/// `Err(reason)` when the case is skipped.
fn run_case(b: &Builders<'_>, c: &Case, work: &Path, started: u64) -> CaseResult {
    let case_dir = work.join(c.name);
    let ctx = case_dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    (c.setup)(&ctx);
    if let Some(at) = c.dockerfile_at {
        file(&ctx, at, &c.dockerfile.replace("$BASE", BASE));
    }
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
        let text = text.replace("$BASE", BASE);
        let bytes = if c.latin1 {
            text.chars()
                .map(|ch| u8::try_from(u32::from(ch)).expect("a Latin-1 character"))
                .collect()
        } else {
            text.into_bytes()
        };
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let mut out = Vec::new();
    if let Some((tag, text)) = c.parent {
        let df = write_df("Dockerfile.parent", text);
        let (s, k) = b.both(&df, &ctx, tag, &BuildOpts::default());
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
    let df = match c.dockerfile_at {
        Some(at) => ctx.join(at),
        None => write_df("Dockerfile", c.dockerfile),
    };
    let tag = format!("strata-parity/{}:1", c.name);
    let opts = BuildOpts {
        build_args: c.build_args,
        target: c.target,
        env: c.env,
    };
    let (s, k) = b.both(&df, &ctx, &tag, &opts);
    if !k.status.success() && c.buildkit_may_refuse {
        return Err(format!("BuildKit 20.10 refuses it: {}", stderr_tail(&k)));
    }
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
    let s_tar = case_dir.join("strata.tar");
    let expected_files = |out: &mut Vec<String>| {
        if c.expect_files.is_empty() {
            return;
        }
        b.env.ok(&["save", "-o", s_tar.to_str().unwrap(), &tag]);
        let si = read_archive(&s_tar);
        check_files(&si, c.expect_files, out);
        let _ = std::fs::remove_file(&s_tar);
    };
    if let Some(why) = c.newer_buildkit {
        if !s.status.success() {
            return Ok(vec![format!("Strata failed: {}", stderr_tail(&s))]);
        }
        expected_files(&mut out);
        // A known divergence that now holds what it should is reported as such.
        if !out.is_empty() || c.known_divergence.is_some() {
            return Ok(out);
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
    let k_tar = case_dir.join("buildkit.tar");
    let (si, mut ki) = std::thread::scope(|scope| {
        let k = scope.spawn(|| {
            b.docker.run(&["save", "-o", k_tar.to_str().unwrap(), &tag]);
            read_archive(&k_tar)
        });
        b.env.ok(&["save", "-o", s_tar.to_str().unwrap(), &tag]);
        let si = read_archive(&s_tar);
        (si, k.join().expect("docker save"))
    });
    check_files(&si, c.expect_files, &mut out);
    for p in c.newer_absent {
        match ki.fs.remove(&norm(p)) {
            Some(n) if n.kind == 'd' => {}
            n => out.push(format!(
                "{p}: expected an empty mount point in BuildKit's image, found {n:?}"
            )),
        }
    }
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
    let base_tar = env.import_base(&rootfs, BASE);
    let docker = Dockerd::start().unwrap_or_else(|e| panic!("{e}"));
    docker.load(&base_tar, BASE);
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
    let queue: Vec<Case> = cases()
        .into_iter()
        .chain(frontend_cases())
        .filter(|c| {
            filter
                .as_ref()
                .is_none_or(|f| f.split(',').any(|n| c.name.contains(n)))
        })
        .collect();
    let mut names = std::collections::HashSet::new();
    for c in &queue {
        assert!(names.insert(c.name), "two cases are named {}", c.name);
    }
    // Three cases at a time: BuildKit's RUN spends most of its second waiting on container
    // set-up, so on two cores three workers cut the wall time by about half or more.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<(usize, CaseResult)>> = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(c) = queue.get(i) else { break };
                    let t = std::time::Instant::now();
                    let r = run_case(&builders, c, &work, started);
                    let status = match &r {
                        Err(reason) => format!("skipped: {reason}"),
                        Ok(m) => format!(
                            "{} ({:.1}s)",
                            match (m.is_empty(), c.known_divergence.is_some()) {
                                (true, false) => "same",
                                (false, false) => "DIFFERS",
                                (false, true) => "differs (known)",
                                (true, true) => "SAME (known divergence fixed)",
                            },
                            t.elapsed().as_secs_f64()
                        ),
                    };
                    eprintln!("{:<45} {status}", c.name);
                    results.lock().unwrap().push((i, r));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    let mut report = Vec::new();
    let mut skipped = Vec::new();
    let mut known = Vec::new();
    let mut fixed = Vec::new();
    let mut ran = 0;
    for (i, r) in results {
        let c = &queue[i];
        match r {
            Ok(mismatches) => {
                ran += 1;
                match (c.known_divergence, mismatches.is_empty()) {
                    (None, true) => {}
                    (None, false) => {
                        report.push(format!("== {}\n{}", c.name, mismatches.join("\n")));
                    }
                    (Some(why), false) => {
                        eprintln!(
                            "known divergence in {}: {why}\n  {}",
                            c.name,
                            mismatches.join("\n  ")
                        );
                        known.push(c.name);
                    }
                    // Not a failure: the fix may land in another change than the marker's
                    // removal. The summary below names the markers to remove.
                    (Some(_), true) => fixed.push(c.name),
                }
            }
            Err(_) => skipped.push(c.name),
        }
    }
    assert!(ran > 0, "no case ran (STRATA_PARITY_CASES={filter:?})");
    if !known.is_empty() {
        eprintln!("known divergences (not failed): {known:?}");
    }
    if !fixed.is_empty() {
        eprintln!("known divergences that build the same now (remove their markers): {fixed:?}");
    }
    assert!(
        report.is_empty(),
        "{} of {ran} cases differ between Strata and BuildKit (skipped: {skipped:?}):\n\n{}",
        report.len(),
        report.join("\n\n")
    );
}
