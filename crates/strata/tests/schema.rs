//! Every document Strata writes into its store — `oci-layout`, `index.json`, manifests and
//! configs of imported images — validates against the OCI image-spec schemas in
//! `shared/vectors` (registered offline under the URIs their `$ref`s resolve to).

mod common;
use std::path::PathBuf;

use common::Env;
use jsonschema::{Draft, Registry, Validator};
use serde_json::Value;

const BASE: &str = "https://opencontainers.org/schema";

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vectors/opencontainers-image-spec/schema")
}

fn load(file: &str) -> Value {
    let p = schema_dir().join(file);
    serde_json::from_str(
        &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap()
}

fn validator(file: &str) -> Validator {
    let aliases: &[(&str, &[&str])] = &[
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
    let resources: Vec<(String, Value)> = aliases
        .iter()
        .flat_map(|(f, uris)| uris.iter().map(move |u| (format!("{BASE}/{u}"), load(f))))
        .collect();
    let registry = Registry::new()
        .extend(resources)
        .unwrap()
        .prepare()
        .unwrap();
    jsonschema::options()
        .with_draft(Draft::Draft4)
        .with_registry(&registry)
        .should_validate_formats(true)
        .offline()
        .build(&load(file))
        .unwrap()
}

fn assert_valid(v: &Validator, what: &str, bytes: &[u8]) {
    let doc: Value = serde_json::from_slice(bytes).unwrap();
    let errs: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errs.is_empty(), "{what} does not validate: {errs:?}\n{doc}");
}

#[test]
fn store_documents_validate_against_the_oci_schemas() {
    let env = Env::new();
    let rootfs = env.busybox_rootfs();
    env.ok(&[
        "import",
        "-c",
        "CMD [\"sh\"]",
        "-c",
        "ENV A=b",
        "-c",
        "EXPOSE 80",
        "-c",
        "LABEL a=b",
        rootfs.to_str().unwrap(),
        "bb:1",
    ]);
    env.ok(&["tag", "bb:1", "bb:2"]);
    let oci = env.root().join("oci");
    assert_valid(
        &validator("image-layout-schema.json"),
        "oci-layout",
        &std::fs::read(oci.join("oci-layout")).unwrap(),
    );
    let index_bytes = std::fs::read(oci.join("index.json")).unwrap();
    assert_valid(
        &validator("image-index-schema.json"),
        "index.json",
        &index_bytes,
    );

    let index: Value = serde_json::from_slice(&index_bytes).unwrap();
    let manifest_v = validator("image-manifest-schema.json");
    let config_v = validator("config-schema.json");
    let blob = |d: &str| {
        std::fs::read(
            oci.join("blobs/sha256")
                .join(d.trim_start_matches("sha256:")),
        )
        .unwrap()
    };
    let mut checked = 0;
    for m in index["manifests"].as_array().unwrap() {
        let mbytes = blob(m["digest"].as_str().unwrap());
        assert_valid(&manifest_v, "manifest", &mbytes);
        let manifest: Value = serde_json::from_slice(&mbytes).unwrap();
        assert_valid(
            &config_v,
            "config",
            &blob(manifest["config"]["digest"].as_str().unwrap()),
        );
        checked += 1;
    }
    assert_eq!(checked, 2, "both tags were checked");
}
