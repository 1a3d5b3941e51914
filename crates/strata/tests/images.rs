//! The image commands through the binary: Docker's outputs, flags and error texts.

mod common;
use common::Env;

#[test]
fn import_images_tag_rmi_lifecycle() {
    let env = Env::new();
    let id = env.busybox("demo/busybox:1.35");
    assert!(
        id.starts_with("sha256:") && id.len() == 71,
        "import prints the full image ID: {id}"
    );
    env.ok(&["tag", "demo/busybox:1.35", "busybox"]);

    let out = env.ok(&["images"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("REPOSITORY     TAG       IMAGE ID       CREATED"),
        "{out}"
    );
    assert!(
        out.contains(&format!("busybox        latest    {}", &id[7..19])),
        "{out}"
    );
    assert!(out.contains("demo/busybox   1.35"), "{out}");

    // -q prints a line per row, as Docker 20.10 does; --no-trunc gives the full ID.
    assert_eq!(
        env.ok(&["images", "-q"]),
        format!("{}\n{}\n", &id[7..19], &id[7..19])
    );
    assert_eq!(
        env.ok(&["images", "-q", "--no-trunc"]),
        format!("{id}\n{id}\n")
    );
    // Positional repository filter.
    let out = env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}", "busybox"]);
    assert_eq!(out, "busybox:latest\n");
    let out = env.ok(&[
        "images",
        "--filter",
        "reference=demo/*",
        "--format",
        "{{.Repository}}",
    ]);
    assert_eq!(out, "demo/busybox\n");

    // Removing one of two names untags only.
    assert_eq!(env.ok(&["rmi", "busybox"]), "Untagged: busybox:latest\n");
    // By ID with a single name left: untag and delete (then the released layer).
    let out = env.ok(&["rmi", &id[7..19]]);
    assert!(
        out.starts_with(&format!(
            "Untagged: demo/busybox:1.35\nDeleted: {id}\nDeleted: sha256:"
        )),
        "{out}"
    );
    assert_eq!(out.lines().count(), 3, "{out}");
    assert_eq!(env.ok(&["images", "-q"]), "");
    env.check_clean();
    // The blobs went too.
    let blobs = std::fs::read_dir(env.root().join("oci/blobs/sha256"))
        .unwrap()
        .count();
    assert_eq!(blobs, 0, "rmi collects the image's blobs");
}

#[test]
fn rmi_by_id_with_several_names_needs_force() {
    let env = Env::new();
    let id = env.tiny("a:1", "x");
    env.ok(&["tag", "a:1", "b:1"]);
    let err = env.fails(&["rmi", &id[7..19]]);
    assert!(
        err.contains("conflict: unable to delete") && err.contains("must be forced"),
        "{err}"
    );
    let out = env.ok(&["rmi", "-f", &id[7..19]]);
    assert!(
        out.contains("Untagged: a:1") && out.contains("Untagged: b:1") && out.contains("Deleted:"),
        "{out}"
    );
}

#[test]
fn retagging_leaves_a_dangling_image_and_prune_removes_it() {
    let env = Env::new();
    let first = env.tiny("app:1", "one");
    let second = env.tiny("app:1", "two");
    assert_ne!(first, second);
    let out = env.ok(&["images", "--format", "{{.Repository}} {{.Tag}} {{.ID}}"]);
    assert!(
        out.contains(&format!("<none> <none> {}", &first[7..19])),
        "{out}"
    );
    let dangling = env.ok(&["images", "-q", "--filter", "dangling=true"]);
    assert_eq!(dangling.trim(), &first[7..19]);
    let out = env.ok(&["image", "prune", "-f"]);
    assert!(out.starts_with("Deleted Images:\ndeleted: "), "{out}");
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert_eq!(env.ok(&["images", "-q"]).trim(), &second[7..19]);
    env.check_clean();
}

#[test]
fn inspect_shapes_and_formats() {
    let env = Env::new();
    let rootfs = env.busybox_rootfs();
    let id = env
        .ok(&[
            "import",
            "-c",
            "ENV A=1",
            "-c",
            "ENV B=${A}2",
            "-c",
            "ENTRYPOINT [\"/bin/sh\", \"-c\"]",
            "-c",
            "CMD echo hi",
            "-c",
            "EXPOSE 80 8000-8001/udp",
            "-c",
            "WORKDIR /srv",
            "-c",
            "USER nobody",
            "-c",
            "LABEL org.example.a=b",
            "-c",
            "VOLUME /data",
            "-c",
            "STOPSIGNAL SIGTERM",
            "-m",
            "hello",
            rootfs.to_str().unwrap(),
            "bb:1",
        ])
        .trim()
        .to_string();
    let out = env.ok(&["inspect", "bb:1"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let img = &v[0];
    assert_eq!(img["Id"], id.as_str());
    assert_eq!(img["RepoTags"], serde_json::json!(["bb:1"]));
    assert_eq!(img["Comment"], "hello");
    assert_eq!(img["Os"], "linux");
    let c = &img["Config"];
    assert_eq!(c["Env"], serde_json::json!(["A=1", "B=12"]));
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
    assert_eq!(c["Cmd"], serde_json::json!(["/bin/sh", "-c", "echo hi"]));
    assert_eq!(
        c["ExposedPorts"],
        serde_json::json!({"80/tcp": {}, "8000/udp": {}, "8001/udp": {}})
    );
    assert_eq!(c["WorkingDir"], "/srv");
    assert_eq!(c["User"], "nobody");
    assert_eq!(c["Labels"]["org.example.a"], "b");
    assert_eq!(c["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(c["StopSignal"], "SIGTERM");
    assert_eq!(img["RootFS"]["Type"], "layers");
    assert!(img["Size"].as_u64().unwrap() > 1_000_000);
    assert!(
        out.starts_with("[\n    {\n        \"Id\": "),
        "Docker's 4-space indent"
    );

    assert_eq!(
        env.ok(&[
            "inspect",
            "-f",
            "{{.Config.User}} {{index .Config.Labels \"org.example.a\"}}",
            "bb:1"
        ]),
        "nobody b\n"
    );
    assert_eq!(
        env.ok(&["inspect", "--format", "{{json .Config.Env}}", &id]),
        "[\"A=1\",\"B=12\"]\n"
    );
    assert_eq!(
        env.ok(&[
            "inspect",
            "--format",
            "{{range .RepoTags}}{{.}};{{end}}",
            &id[7..15]
        ]),
        "bb:1;\n"
    );

    // Unknown names: Docker's message, exit 1, and `[]` on stdout.
    let out = env.run(&["inspect", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[]\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: No such object: nope\n"
    );

    let err = env.fails(&["import", "-c", "RUN true", rootfs.to_str().unwrap()]);
    assert!(err.contains("run is not a valid change command"), "{err}");
}

#[test]
fn history_rows_and_flags() {
    let env = Env::new();
    let id = env.busybox("bb");
    let out = env.ok(&["history", "bb"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("IMAGE          CREATED"), "{out}");
    assert!(lines[1].starts_with(&id[7..19]), "{out}");
    assert!(lines[1].contains("Imported from"), "{out}");
    assert_eq!(env.ok(&["history", "-q", "bb"]).trim(), &id[7..19]);
    let out = env.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.ID}}|{{.Size}}",
        "-H=false",
        "bb",
    ]);
    let (hid, size) = out.trim().split_once('|').unwrap();
    assert_eq!(hid, id);
    assert!(size.parse::<u64>().unwrap() > 1_000_000, "{out}");
}

#[test]
fn reference_errors_use_dockers_text() {
    let env = Env::new();
    env.tiny("ok:1", "x");
    let err = env.fails(&["tag", "ok:1", "Bad/Name"]);
    assert!(
        err.contains(
            "invalid reference format: repository name (library/Bad/Name) must be lowercase"
        ) || err.contains("invalid reference format"),
        "{err}"
    );
    let err = env.fails(&["tag", "ok:1", "a@sha256:zz"]);
    assert!(err.contains("invalid reference format"), "{err}");
    let err = env.fails(&["rmi", "missing:2"]);
    assert!(err.contains("No such image: missing:2"), "{err}");
}

#[test]
fn tag_bump_picks_the_next_version() {
    let env = Env::new();
    env.tiny("app:v1.2.3", "x");
    env.ok(&["tag", "app:v1.2.3", "app:v1.10.0"]);
    assert_eq!(
        env.ok(&["tag", "--bump", "minor", "app:v1.2.3"]),
        "app:v1.11.0\n"
    );
    assert_eq!(
        env.ok(&["tag", "--bump", "major", "app:v1.2.3"]),
        "app:v2.0.0\n"
    );
    // A repository without versions starts from the source's tag.
    assert_eq!(
        env.ok(&["tag", "--bump", "patch", "app:v1.2.3", "other"]),
        "other:v1.2.4\n"
    );
    let err = env.fails(&["tag", "--bump", "patch", "app:v1.2.3", "app:notsemver"]);
    assert!(
        err.contains("with --bump, TARGET_IMAGE names a repository"),
        "{err}"
    );
}

#[test]
fn save_and_load_round_trip_keeps_the_image_id() {
    let env = Env::new();
    let id = env.busybox("bb:1");
    let tar = env.path("bb.tar");
    env.ok(&["save", "-o", tar.to_str().unwrap(), "bb:1"]);
    let oci = env.path("bb-oci.tar");
    env.ok(&[
        "save",
        "--format",
        "oci",
        "-o",
        oci.to_str().unwrap(),
        "bb:1",
    ]);
    env.ok(&["rmi", "bb:1"]);
    assert_eq!(
        env.ok(&["load", "-i", tar.to_str().unwrap()]),
        "Loaded image: bb:1\n"
    );
    assert_eq!(env.ok(&["images", "-q", "--no-trunc"]).trim(), id);
    env.ok(&["rmi", "bb:1"]);
    assert_eq!(
        env.ok(&["load", "-i", oci.to_str().unwrap()]),
        "Loaded image: bb:1\n"
    );
    assert_eq!(env.ok(&["images", "-q", "--no-trunc"]).trim(), id);
    env.check_clean();
}

#[test]
fn system_df_and_gc() {
    let env = Env::new();
    env.tiny("a:1", "x");
    let out = env.ok(&["system", "df"]);
    assert!(
        out.starts_with("TYPE            TOTAL     ACTIVE    SIZE"),
        "{out}"
    );
    assert!(out.contains("Images          1         1"), "{out}");
    let out = env.ok(&["system", "gc", "--dry-run"]);
    assert_eq!(out, "", "nothing to collect");
}
