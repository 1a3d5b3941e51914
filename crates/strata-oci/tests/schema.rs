//! Every document type Strata writes — image config, manifest (OCI and Docker v2s2),
//! index / manifest list, descriptor, `oci-layout` — is built from our types, serialised
//! exactly as Strata would store it, and validated against the OCI image-spec JSON
//! schemas in `shared/vectors/opencontainers-image-spec/schema`.
//!
//! The schemas are draft-04 and `$ref` each other by relative URIs resolved against
//! (nested) `id`s; they are registered up front under every URI those references
//! resolve to, and the validator is built offline, so nothing is fetched. Formats
//! (`date-time`, `uri`) are asserted. Beyond the schemas, the image-spec's own
//! validator also checks `Env` entries (`KEY=value`), descriptor digests (go-digest) and
//! base64 `data`; those checks are applied here too.
//!
//! The schemas carry no positive examples of their own, so the fixtures that stand in
//! for them are documents shaped like what Docker's classic builder, BuildKit and OCI
//! tools write; they are read with our types, and both the originals and our
//! re-serialisations must validate. Negative controls prove each validator rejects.

use std::path::PathBuf;
use std::sync::LazyLock;

use indexmap::IndexMap;
use jsonschema::{Draft, Registry, Validator};
use serde::Serialize;
use serde_json::{Value, json};
use strata_oci::config::{Empty, KeySet};
use strata_oci::media_type as mt;
use strata_oci::{
    ContainerConfig, Descriptor, Digest, HealthConfig, History, ImageConfig, Index, Manifest,
    OciLayout, Parsed, Platform,
};

fn schema_dir() -> PathBuf {
    match std::env::var_os("STRATA_VECTORS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
    }
    .join("opencontainers-image-spec/schema")
}

fn load(file: &str) -> Value {
    let path = schema_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

const BASE: &str = "https://opencontainers.org/schema";

/// Each schema file and the URIs references to it resolve to.
fn resources() -> Vec<(String, Value)> {
    let table: &[(&str, &[&str])] = &[
        ("config-schema.json", &["image/config"]),
        (
            "content-descriptor.json",
            &["descriptor", "image/content-descriptor.json"],
        ),
        (
            "defs-descriptor.json",
            &[
                "defs-descriptor.json",
                "image/defs-descriptor.json",
                "descriptor/defs-descriptor.json",
                "image/descriptor/defs-descriptor.json",
            ],
        ),
        (
            "defs.json",
            &[
                "defs.json",
                "image/defs.json",
                "descriptor/defs.json",
                "image/descriptor/defs.json",
            ],
        ),
        ("image-index-schema.json", &["image/index"]),
        ("image-layout-schema.json", &["image/layout"]),
        ("image-manifest-schema.json", &["image/manifest"]),
    ];
    let mut out = Vec::new();
    for (file, uris) in table {
        let doc = load(file);
        for uri in *uris {
            out.push((format!("{BASE}/{uri}"), doc.clone()));
        }
    }
    out
}

struct Schemas {
    config: Validator,
    manifest: Validator,
    index: Validator,
    descriptor: Validator,
    layout: Validator,
}

static SCHEMAS: LazyLock<Schemas> = LazyLock::new(|| {
    let registry = Registry::new()
        .extend(resources())
        .unwrap()
        .prepare()
        .unwrap_or_else(|e| panic!("schema registry: {e}"));
    let build = |file: &str| {
        jsonschema::options()
            .with_draft(Draft::Draft4)
            .with_registry(&registry)
            .should_validate_formats(true)
            .offline()
            .build(&load(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"))
    };
    Schemas {
        config: build("config-schema.json"),
        manifest: build("image-manifest-schema.json"),
        index: build("image-index-schema.json"),
        descriptor: build("content-descriptor.json"),
        layout: build("image-layout-schema.json"),
    }
});

fn errors(validator: &Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Serialise as Strata stores it and validate those exact bytes.
fn assert_valid<T: Serialize>(validator: &Validator, what: &str, value: T) -> Value {
    let bytes = Parsed::from_value(value, "application/json").bytes;
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    let errs = errors(validator, &doc);
    assert!(
        errs.is_empty(),
        "{what} does not validate:\n{}\n{doc:#}",
        errs.join("\n")
    );
    doc
}

fn assert_invalid(validator: &Validator, what: &str, doc: Value) {
    assert!(
        !errors(validator, &doc).is_empty(),
        "{what} was accepted but must not be: {doc}"
    );
}

/// The image-spec validator's extra checks on descriptors (go-digest, base64 data).
fn check_descriptor_extras(d: &Descriptor) {
    assert!(Digest::parse(d.digest.as_str()).is_ok());
    if let Some(data) = &d.data {
        let ok = data.len() % 4 == 0
            && data
                .trim_end_matches('=')
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
            && data.len() - data.trim_end_matches('=').len() <= 2;
        assert!(ok, "data is not base64: {data}");
    }
}

fn digest_of(s: &str) -> Digest {
    Digest::sha256(s.as_bytes())
}

fn full_descriptor() -> Descriptor {
    let mut d = Descriptor::new(mt::OCI_LAYER_GZIP, digest_of("layer"), 5);
    d.urls = Some(vec!["https://example.com/blobs/layer".to_string()]);
    d.annotations = Some(IndexMap::from([
        (
            "org.opencontainers.image.title".to_string(),
            "layer.tar.gz".to_string(),
        ),
        ("z.last".to_string(), "first".to_string()),
    ]));
    d.data = Some("bGF5ZXI=".to_string());
    d.platform = Some(Platform {
        os_version: Some("10.0.17763".to_string()),
        os_features: Some(vec!["win32k".to_string()]),
        features: Some(vec!["sse4".to_string()]),
        ..Platform::parse("linux/arm64/v8").unwrap()
    });
    d.artifact_type = Some("application/vnd.example.sbom+json".to_string());
    d
}

fn full_config() -> ImageConfig {
    let platform = Platform::parse("linux/amd64").unwrap();
    let mut c = ImageConfig::new(&platform);
    c.created = Some("2024-05-06T07:08:09.123456789Z".to_string());
    c.author = "Strata <strata@example.com>".to_string();
    c.comment = "Imported from rootfs.tar".to_string();
    c.docker_version = "strata".to_string();
    c.os_version = "6.1".to_string();
    c.os_features = vec!["seccomp".to_string()];
    c.variant = "v3".to_string();
    c.config = Some(ContainerConfig {
        user: "1000:1000".to_string(),
        exposed_ports: Some(KeySet::from([
            ("80/tcp".to_string(), Empty),
            ("53/udp".to_string(), Empty),
        ])),
        env: Some(vec![
            "PATH=/usr/local/bin:/usr/bin".to_string(),
            "EMPTY=".to_string(),
        ]),
        cmd: Some(vec!["serve".to_string(), "--port=80".to_string()]),
        healthcheck: Some(HealthConfig {
            test: vec!["CMD-SHELL".to_string(), "wget -q -O- localhost".to_string()],
            interval: 30_000_000_000,
            timeout: 3_000_000_000,
            start_period: 1_000_000_000,
            start_interval: 500_000_000,
            retries: 3,
            extra: Default::default(),
        }),
        args_escaped: true,
        volumes: Some(KeySet::from([("/data".to_string(), Empty)])),
        working_dir: "/srv".to_string(),
        entrypoint: Some(vec!["/bin/app".to_string()]),
        on_build: Some(vec!["RUN make".to_string()]),
        labels: Some(IndexMap::from([
            (
                "org.opencontainers.image.source".to_string(),
                "x".to_string(),
            ),
            ("a".to_string(), String::new()),
        ])),
        stop_signal: "SIGTERM".to_string(),
        stop_timeout: Some(10),
        shell: Some(vec!["/bin/sh".to_string(), "-c".to_string()]),
        ..ContainerConfig::default()
    });
    c.rootfs.diff_ids = vec![digest_of("a"), digest_of("b")];
    c.history = vec![
        History {
            created: Some("2024-05-06T07:08:09Z".to_string()),
            created_by: "ADD rootfs.tar /".to_string(),
            comment: "strata import".to_string(),
            ..History::default()
        },
        History {
            created: Some("2024-05-06T07:08:10+02:00".to_string()),
            author: "someone".to_string(),
            created_by: "ENV PATH=/usr/local/bin:/usr/bin".to_string(),
            empty_layer: true,
            ..History::default()
        },
        History {
            created_by: "RUN make".to_string(),
            ..History::default()
        },
    ];
    c
}

#[test]
fn image_configs_validate() {
    let s = &*SCHEMAS;
    let full = full_config();
    for env in full.config.as_ref().unwrap().env.iter().flatten() {
        assert!(
            env.split_once('=').is_some_and(|(k, _)| !k.is_empty()),
            "{env}"
        );
    }
    assert_valid(&s.config, "full config", &full);
    // The least Strata writes: an empty image for a platform (`import` of an empty tar).
    let minimal = assert_valid(
        &s.config,
        "minimal config",
        ImageConfig::new(&Platform::parse("linux/arm64/v8").unwrap()),
    );
    assert_eq!(minimal["rootfs"], json!({"type": "layers", "diff_ids": []}));
    // Cmd/Entrypoint set to empty lists (`CMD []`).
    let mut empty_lists = full.clone();
    if let Some(cc) = empty_lists.config.as_mut() {
        cc.cmd = Some(vec![]);
        cc.entrypoint = Some(vec![]);
        cc.labels = Some(IndexMap::new());
        cc.exposed_ports = Some(KeySet::new());
    }
    assert_valid(&s.config, "config with empty lists", &empty_lists);
}

#[test]
fn manifests_validate() {
    let s = &*SCHEMAS;
    let config = Parsed::from_value(full_config(), mt::OCI_CONFIG);
    let layers = vec![
        Descriptor::new(mt::OCI_LAYER_GZIP, digest_of("l1"), 100),
        Descriptor::new(mt::OCI_LAYER_ZSTD, digest_of("l2"), 200),
        Descriptor::new(mt::OCI_LAYER_TAR, digest_of("l3"), 0),
    ];
    let mut oci = Manifest::new_oci(config.descriptor(), layers.clone());
    assert_valid(&s.manifest, "OCI manifest", &oci);
    oci.annotations = Some(IndexMap::from([(
        strata_oci::ANNOTATION_CREATED.to_string(),
        "2024-05-06T07:08:09Z".to_string(),
    )]));
    oci.subject = Some(Descriptor::new(mt::OCI_MANIFEST, digest_of("subject"), 10));
    assert_valid(
        &s.manifest,
        "OCI manifest with subject and annotations",
        &oci,
    );
    // An artifact manifest: empty config, artifactType set.
    let mut artifact = Manifest::new_oci(
        Descriptor::new(mt::OCI_EMPTY, Digest::sha256(b"{}"), 2),
        vec![full_descriptor()],
    );
    artifact.artifact_type = Some("application/vnd.example.sbom+json".to_string());
    assert_valid(&s.manifest, "artifact manifest", &artifact);

    // Docker v2 schema 2, as `push` to a Docker-media-type registry writes it.
    let docker = Manifest {
        media_type: Some(mt::DOCKER_MANIFEST.to_string()),
        config: Descriptor::new(mt::DOCKER_CONFIG, config.digest.clone(), 1),
        layers: vec![Descriptor::new(mt::DOCKER_LAYER_GZIP, digest_of("l1"), 100)],
        ..Manifest::new_oci(config.descriptor(), vec![])
    };
    assert_valid(&s.manifest, "Docker v2s2 manifest", &docker);
}

#[test]
fn indexes_validate() {
    let s = &*SCHEMAS;
    let mut index = Index::new_oci();
    assert_valid(&s.index, "empty index", &index);
    for (platform, tag) in [("linux/amd64", "1.0"), ("linux/arm64/v8", "1.0-arm")] {
        let mut d = Descriptor::new(mt::OCI_MANIFEST, digest_of(platform), 500);
        d.platform = Platform::parse(platform);
        d.annotations = Some(IndexMap::from([
            (strata_oci::ANNOTATION_REF_NAME.to_string(), tag.to_string()),
            (
                strata_oci::ANNOTATION_IMAGE_NAME.to_string(),
                format!("docker.io/library/app:{tag}"),
            ),
        ]));
        index.manifests.push(d);
    }
    index.annotations = Some(IndexMap::from([("k".to_string(), "v".to_string())]));
    assert_valid(&s.index, "store index.json", &index);
    let list = Index {
        media_type: Some(mt::DOCKER_MANIFEST_LIST.to_string()),
        manifests: vec![Descriptor {
            platform: Platform::parse("linux/amd64"),
            ..Descriptor::new(mt::DOCKER_MANIFEST, digest_of("m"), 1)
        }],
        ..Index::new_oci()
    };
    assert_valid(&s.index, "Docker manifest list", &list);
}

#[test]
fn descriptors_and_layout_validate() {
    let s = &*SCHEMAS;
    let full = full_descriptor();
    check_descriptor_extras(&full);
    assert_valid(&s.descriptor, "full descriptor", &full);
    let sha512 = Descriptor::new(
        mt::OCI_LAYER_TAR,
        Digest::of(strata_oci::Algorithm::Sha512, b"x"),
        1,
    );
    check_descriptor_extras(&sha512);
    assert_valid(&s.descriptor, "sha512 descriptor", &sha512);
    let doc = assert_valid(&s.layout, "oci-layout", OciLayout::current());
    assert_eq!(
        serde_json::to_vec(&doc).unwrap(),
        OciLayout::current().to_bytes()
    );
}

/// Documents shaped like those other tools write: read with our types; the originals and
/// our re-serialisations both validate, and nothing is lost on the way.
#[test]
fn foreign_documents_read_and_validate() {
    let s = &*SCHEMAS;
    let buildkit = json!({
        "architecture": "amd64",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["nginx", "-g", "daemon off;"],
            "Entrypoint": ["/docker-entrypoint.sh"],
            "ExposedPorts": {"80/tcp": {}},
            "Labels": {"maintainer": "NGINX Docker Maintainers"},
            "StopSignal": "SIGQUIT",
            "WorkingDir": "/",
            "ArgsEscaped": true
        },
        "created": "2024-02-14T18:05:25Z",
        "history": [
            {"created": "2024-02-13T00:37:45Z", "created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
            {"created": "2024-02-13T00:37:45Z", "created_by": "/bin/sh -c #(nop)  CMD [\"bash\"]", "empty_layer": true},
            {"created": "2024-02-14T18:05:25Z", "created_by": "EXPOSE map[80/tcp:{}]", "comment": "buildkit.dockerfile.v0", "empty_layer": true}
        ],
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [digest_of("x").to_string()]},
        "variant": "v2"
    });
    let classic = json!({
        "architecture": "arm64",
        "comment": "Imported from -",
        "config": {
            "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false,
            "AttachStdout": false, "AttachStderr": false, "Tty": false, "OpenStdin": false,
            "StdinOnce": false, "Env": ["A=1"], "Cmd": null, "Image": "", "Volumes": null,
            "WorkingDir": "", "Entrypoint": null, "OnBuild": null, "Labels": null
        },
        "container_config": {
            "Hostname": "", "Domainname": "", "User": "", "AttachStdin": false,
            "AttachStdout": false, "AttachStderr": false, "Tty": false, "OpenStdin": false,
            "StdinOnce": false, "Env": ["A=1"], "Cmd": null, "Image": "", "Volumes": null,
            "WorkingDir": "", "Entrypoint": null, "OnBuild": null, "Labels": null
        },
        "created": "2024-02-14T18:05:25.123456789+01:00",
        "docker_version": "24.0.7",
        "history": [{"created": "2024-02-14T18:05:25.123456789+01:00", "comment": "Imported from -"}],
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [digest_of("y").to_string()]},
        "variant": "v8"
    });
    for (what, doc) in [("BuildKit config", buildkit), ("classic config", classic)] {
        let errs = errors(&s.config, &doc);
        assert!(errs.is_empty(), "{what} original: {errs:?}");
        let bytes = serde_json::to_vec(&doc).unwrap();
        let parsed = ImageConfig::parse(&bytes).unwrap();
        let ours = assert_valid(&s.config, what, &parsed);
        // Every non-null field of the original survives.
        fn covered(orig: &Value, ours: &Value, path: &str) {
            match orig {
                Value::Object(m) => {
                    for (k, v) in m {
                        if v.is_null() || v == &json!("") || v == &json!(false) {
                            continue;
                        }
                        covered(v, &ours[k.as_str()], &format!("{path}.{k}"));
                    }
                }
                other => assert_eq!(other, ours, "{path}"),
            }
        }
        covered(&doc, &ours, what);
    }
}

#[test]
fn validators_reject_broken_documents() {
    let s = &*SCHEMAS;
    let cfg = serde_json::to_value(full_config()).unwrap();
    let mut no_rootfs = cfg.clone();
    no_rootfs.as_object_mut().unwrap().remove("rootfs");
    assert_invalid(&s.config, "config without rootfs", no_rootfs);
    let mut bad_time = cfg.clone();
    bad_time["created"] = json!("yesterday");
    assert_invalid(&s.config, "config with a non-RFC 3339 time", bad_time);
    let mut bad_env = cfg;
    bad_env["config"]["Env"] = Value::Null;
    assert_invalid(&s.config, "config with Env null", bad_env);

    let manifest = serde_json::to_value(Manifest::new_oci(
        Descriptor::new(mt::OCI_CONFIG, digest_of("c"), 1),
        vec![],
    ))
    .unwrap();
    let mut bad_digest = manifest.clone();
    bad_digest["config"]["digest"] = json!("sha256:not hex!");
    assert_invalid(&s.manifest, "manifest with a malformed digest", bad_digest);
    let mut bad_version = manifest;
    bad_version["schemaVersion"] = json!(1);
    assert_invalid(&s.manifest, "manifest with schemaVersion 1", bad_version);

    let mut bad_size = serde_json::to_value(full_descriptor()).unwrap();
    bad_size["size"] = json!(-1);
    assert_invalid(&s.descriptor, "descriptor with negative size", bad_size);
    let mut bad_url = serde_json::to_value(full_descriptor()).unwrap();
    bad_url["urls"] = json!(["not a uri"]);
    assert_invalid(&s.descriptor, "descriptor with a bad url", bad_url);

    let mut index = serde_json::to_value(Index::new_oci()).unwrap();
    index["manifests"] = json!([{"mediaType": "x", "digest": "sha256:00", "size": 1}]);
    assert_invalid(&s.index, "index with a bad media type", index);

    assert_invalid(
        &s.layout,
        "layout 2.0.0",
        json!({"imageLayoutVersion": "2.0.0"}),
    );
}
