//! The build engine end to end: a busybox base imported into a temporary store, real RUNs in
//! overlayfs and namespaces (needs root; skips with a reason otherwise).

mod common;
use common::*;

/// Build the context's `Dockerfile` (read from disk, as the CLI does) with `tags` and `target`.
fn build(env: &Env, tags: &[&str], target: Option<&str>) -> Result<Built, String> {
    let dockerfile = std::fs::read_to_string(env.ctx.join("Dockerfile")).unwrap();
    env.try_build_with(&dockerfile, |o| {
        o.dockerfile_path = Some(env.ctx.join("Dockerfile"));
        o.target = target.map(str::to_string);
        o.tags = tags.iter().map(|s| s.to_string()).collect();
    })
}

#[test]
fn run_copy_and_config_instructions() {
    let Some(env) = env(&[
        (
            "Dockerfile",
            "FROM busybox\nARG GREETING=hello\nENV APP=/app\nWORKDIR $APP\nCOPY a.txt ./\nRUN echo $GREETING > out.txt && rm /bin/true\nLABEL b=2 a=1\nEXPOSE 8080/tcp\nUSER nobody\nCMD [\"sh\"]\n",
        ),
        ("a.txt", "A"),
        ("ignored.md", "x"),
        (".dockerignore", "*.md\n"),
    ]) else {
        return;
    };
    let b = build(&env, &["app:1"], None).unwrap_or_else(|e| panic!("{e}"));
    assert!(b.log.contains("[3/4] COPY a.txt ./"), "{}", b.log);
    let top = env.layer("app:1", -1);
    assert!(top.contains(&"app/out.txt".to_string()), "{top:?}");
    assert!(top.contains(&"bin/.wh.true".to_string()), "{top:?}");
    let c = env.cc("app:1");
    assert_eq!(c["WorkingDir"], "/app");
    assert_eq!(c["User"], "nobody");
    assert_eq!(c["Labels"], serde_json::json!({"a": "1", "b": "2"}));
    assert_eq!(c["ExposedPorts"], serde_json::json!({"8080/tcp": {}}));
    assert_eq!(c["Cmd"], serde_json::json!(["sh"]));
    assert!(
        c["Env"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("APP=/app"))
    );
    let hist = env.history("app:1");
    assert!(
        hist.contains(
            &"RUN |1 GREETING=hello /bin/sh -c echo $GREETING > out.txt && rm /bin/true # buildkit"
                .to_string()
        ),
        "{hist:?}"
    );
    assert!(
        hist.contains(&"EXPOSE map[8080/tcp:{}]".to_string()),
        "{hist:?}"
    );
    assert!(hist.contains(&"CMD [\"sh\"]".to_string()), "{hist:?}");
    // Second build: everything cached; editing an ignored file changes nothing.
    std::fs::write(env.ctx.join("ignored.md"), "changed").unwrap();
    let b = build(&env, &["app:2"], None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(b.cached(), 3, "{}", b.log);
    // Editing a copied file rebuilds the COPY and what follows.
    std::fs::write(env.ctx.join("a.txt"), "B").unwrap();
    let b = build(&env, &["app:3"], None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(b.cached(), 1, "{}", b.log);
}

#[test]
fn multi_stage_copy_from_and_target() {
    let Some(env) = env(&[(
        "Dockerfile",
        "FROM busybox AS builder\nRUN mkdir -p /out && echo built > /out/x\nFROM busybox AS unused\nRUN exit 1\nFROM scratch\nCOPY --from=builder /out/ /data/\n",
    )]) else {
        return;
    };
    build(&env, &["multi"], None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        env.layer("multi", -1),
        vec!["data/".to_string(), "data/x".to_string()]
    );
    assert_eq!(
        env.config("multi")["rootfs"]["diff_ids"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let err = build(&env, &[], Some("unused"))
        .err()
        .expect("stage `unused` fails");
    assert!(
        err.contains("did not complete successfully: exit code: 1"),
        "{err}"
    );
    assert!(err.contains("line 4"), "{err}");
}
