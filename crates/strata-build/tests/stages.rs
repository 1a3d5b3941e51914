//! Multi-stage builds: targets, ordering, concurrency, inheritance.

mod common;
use common::*;

#[test]
fn target_builds_only_the_stages_it_needs() {
    let Some(env) = env(&[]) else { return };
    let df = "FROM busybox AS base\nRUN echo base > /base\nFROM busybox AS broken\nRUN exit 1\nFROM base AS final\nRUN cat /base > /final\n";
    let b = env.build_with(df, |o| o.target = Some("final".into()));
    assert!(!b.log.contains("exit 1"), "{}", b.log);
    assert_eq!(env.read("test", "/final").trim(), "base");
    assert!(
        env.try_build_with(df, |o| o.target = Some("nope".into()))
            .is_err()
    );
}

#[test]
fn stage_inherits_config_and_layers_of_its_base() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox AS base\nENV FROM_BASE=1\nRUN echo x > /x\nFROM base\nRUN test -f /x && echo ok > /ok\n");
    assert!(
        env.cc("test")["Env"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("FROM_BASE=1"))
    );
    assert_eq!(env.layer_count("test"), 3);
}

#[test]
fn copy_from_stage_by_index() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nRUN echo zero > /z\nFROM scratch\nCOPY --from=0 /z /z\n");
    assert_eq!(env.read("test", "/z").trim(), "zero");
}

#[test]
fn independent_stages_build_concurrently() {
    let Some(env) = env(&[]) else { return };
    // Each stage announces itself in a shared cache mount and waits (up to 20 s) for the
    // other: this only succeeds when both RUNs are running at the same time.
    let wait = |me: &str, other: &str| {
        format!(
            "RUN --mount=type=cache,id=rendezvous,target=/rv touch /rv/{me} && i=0; while [ ! -e /rv/{other} ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done; test -e /rv/{other} && echo {me} > /{me}"
        )
    };
    let df = format!(
        "FROM busybox AS a\n{}\nFROM busybox AS b\n{}\nFROM scratch\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n",
        wait("a", "b"),
        wait("b", "a")
    );
    env.build(&df);
    assert_eq!(env.read("test", "/a").trim(), "a");
    assert_eq!(env.read("test", "/b").trim(), "b");
}

#[test]
fn a_failing_stage_fails_the_build_and_stops_dependents() {
    let Some(env) = env(&[]) else { return };
    let e = env
        .try_build("FROM busybox AS dep\nRUN exit 7\nFROM busybox\nCOPY --from=dep /x /x\nRUN echo never\n")
        .err()
        .unwrap();
    assert!(e.contains("exit code: 7"), "{e}");
    assert!(!e.contains("never\n#"), "{e}");
}

#[test]
fn a_failing_stage_stops_the_others_at_their_next_step() {
    let Some(env) = env(&[]) else { return };
    // The final stage fails at once, while the stage it copies from is in its first step:
    // that stage's later steps never start.
    let e = env
        .try_build(
            "FROM busybox AS slow\nRUN sleep 1\nRUN echo second-step > /s\n\
             FROM busybox\nRUN exit 3\nCOPY --from=slow /s /s\n",
        )
        .err()
        .unwrap();
    assert!(e.contains("exit code: 3"), "{e}");
    assert!(e.contains("RUN sleep 1"), "{e}");
    assert!(!e.contains("second-step"), "{e}");
}

#[test]
fn run_mount_from_a_stage_orders_stages() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox AS gen\nRUN echo generated > /g\nFROM busybox\nRUN --mount=from=gen,source=/g,target=/in cat /in > /out\n");
    assert_eq!(env.read("test", "/out").trim(), "generated");
}

#[test]
fn local_output_exports_the_filesystem() {
    let Some(env) = env(&[("f", "file")]) else {
        return;
    };
    let b = env.build("FROM busybox\nCOPY f /f\nRUN rm /bin/ls\n");
    let dest = env.tmp.path().join("out");
    strata_build::export::export_local(&env.store(), &b.out.manifest, &dest).unwrap();
    assert_eq!(std::fs::read_to_string(dest.join("f")).unwrap(), "file");
    assert!(dest.join("bin/busybox").exists());
    assert!(std::fs::symlink_metadata(dest.join("bin/ls")).is_err());
}

#[test]
fn intermediate_layers_stay_uncompressed_and_shipped_ones_are_gzip() {
    let Some(env) = env(&[]) else { return };
    let df = "FROM busybox AS b\nRUN echo x > /x\nFROM scratch\nCOPY --from=b /x /x\n";
    env.build(df);
    let gz = "application/vnd.oci.image.layer.v1.tar+gzip";
    assert_eq!(env.layer_media_types("test"), [gz]);
    // The stage built before as an intermediate: cached, and compressed when shipped.
    let b = env.build_with(df, |o| o.target = Some("b".into()));
    assert_eq!(b.cached(), 1, "{}", b.log);
    assert!(env.layer_media_types("test").iter().all(|m| m == gz));
    assert_eq!(env.read("test", "/x").trim(), "x");
}

/// `COPY --from` shares the other stage's snapshot files where a copy would not change
/// them; that must stay invisible: writing to the copy later never reaches the source,
/// `--chown`/`--chmod` still apply, and one file copied under two names in one COPY is two
/// files, not a hardlink.
#[test]
fn copy_from_a_stage_behaves_as_a_copy() {
    use std::os::unix::fs::MetadataExt;
    let Some(env) = env(&[]) else { return };
    let df = "FROM busybox AS b\n\
              RUN mkdir /out && echo data > /out/f && echo two > /out/g && chmod 640 /out/g\n\
              FROM busybox AS mid\n\
              COPY --from=b /out/ /dst/\n\
              COPY --from=b --parents /out/./f /out/f /twice/\n\
              COPY --from=b --chmod=600 /out/f /moded\n\
              RUN echo changed >> /dst/f && chmod 600 /dst/g\n\
              FROM busybox\n\
              COPY --from=mid /dst/ /mid/\n\
              COPY --from=b /out/ /orig/\n\
              COPY --chown=7:8 --from=b /out/f /owned\n";
    env.build_with(df, |o| {
        o.target = Some("mid".into());
        o.tags = vec!["mid".into()];
    });
    env.build(df);
    let root = env.rootfs("test");
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let meta = |p: &str| std::fs::symlink_metadata(root.join(p)).unwrap();
    assert_eq!(read("orig/f"), "data\n");
    assert_eq!(meta("orig/g").mode() & 0o7777, 0o640);
    assert_eq!(read("mid/f"), "data\nchanged\n");
    assert_eq!(meta("mid/g").mode() & 0o7777, 0o600);
    assert_eq!((meta("owned").uid(), meta("owned").gid()), (7, 8));
    let mid = env.rootfs("mid");
    for p in ["twice/f", "twice/out/f"] {
        let m = std::fs::symlink_metadata(mid.join(p)).unwrap();
        assert_eq!(m.nlink(), 1, "{p} is a hardlink");
        assert_eq!(std::fs::read_to_string(mid.join(p)).unwrap(), "data\n");
    }
    assert_eq!(
        std::fs::symlink_metadata(mid.join("moded")).unwrap().mode() & 0o7777,
        0o600
    );
    // And the sharing does happen: /out/g (copied unchanged, never written) is one inode in
    // the stage's snapshot and the copy's.
    let shared = walkdir::WalkDir::new(env.root.join("snapshots"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.file_name() == "g")
        .filter(|e| std::fs::read_to_string(e.path()).is_ok_and(|c| c == "two\n"))
        .any(|e| e.metadata().is_ok_and(|m| m.nlink() >= 2));
    assert!(
        shared,
        "COPY --from wrote /out/g again instead of sharing it"
    );
}

/// Of two stages with one name, `COPY --from` takes the last one, as BuildKit does.
#[test]
fn copy_from_a_duplicated_stage_name_takes_the_last() {
    let Some(env) = env(&[]) else { return };
    env.build(
        "FROM busybox AS a\nRUN echo 1 > /v\nFROM busybox AS a\nRUN echo 2 > /v\nFROM busybox\nCOPY --from=a /v /seen\n",
    );
    assert_eq!(env.read("test", "/seen"), "2\n");
}
