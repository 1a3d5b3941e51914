//! SPDX 2.3 JSON output (<https://spdx.github.io/spdx-spec/v2.3/>).
//!
//! The image is one package (`SPDXRef-Image`, purpose `CONTAINER`) that the document
//! `DESCRIBES` and that `CONTAINS` every found package. Packages carry their purl as a
//! `PACKAGE-MANAGER` external reference and the layer that added them in `sourceInfo`.
//! Licences are `NOASSERTION`: packages declare free text that is often not a valid SPDX
//! expression, and we do not guess; the declared text goes to `licenseComments`.

use serde_json::{Value, json};

use super::Sbom;

/// Render `sbom` as an SPDX 2.3 JSON document created at `created`.
pub fn to_json(sbom: &Sbom, created: jiff::Timestamp, tool_version: &str) -> Value {
    let created_s = created.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let hex = sbom
        .config_digest
        .split_once(':')
        .map(|(_, h)| h)
        .unwrap_or(&sbom.config_digest);
    let mut packages = vec![json!({
        "SPDXID": "SPDXRef-Image",
        "name": sbom.image,
        "versionInfo": sbom.manifest_digest,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "CONTAINER",
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": super::purl("oci", None, image_base_name(&sbom.image), &sbom.manifest_digest, &[]),
        }],
    })];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Image",
    })];
    for (i, p) in sbom.packages.iter().enumerate() {
        let id = format!("SPDXRef-Package-{}-{}", p.kind.as_str(), i + 1);
        let layer = sbom.layers.get(p.layer);
        let mut v = json!({
            "SPDXID": id,
            "name": p.name,
            "versionInfo": p.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": if p.kind.is_os() { "INSTALL" } else { "LIBRARY" },
            "sourceInfo": format!(
                "added by layer {} ({}), found in {}",
                p.layer,
                layer.map(|l| l.digest.as_str()).unwrap_or("unknown"),
                p.locations.iter().map(|l| format!("/{l}")).collect::<Vec<_>>().join(", ")
            ),
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": p.purl,
            }],
        });
        if let (Some(lic), Some(obj)) = (&p.license, v.as_object_mut()) {
            obj.insert("licenseComments".into(), json!(format!("declared: {lic}")));
        }
        packages.push(v);
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": sbom.image,
        "documentNamespace": format!(
            "https://strata.invalid/spdx/{}-{}",
            hex,
            created.as_second()
        ),
        "creationInfo": {
            "created": created_s,
            "creators": [format!("Tool: strata-{tool_version}")],
        },
        "packages": packages,
        "relationships": relationships,
    })
}

/// `docker.io/library/busybox:latest` → `busybox` (the purl name of an OCI image).
pub(crate) fn image_base_name(name: &str) -> &str {
    let no_digest = name.split('@').next().unwrap_or(name);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    let base = last.split(':').next().unwrap_or(last);
    if base.is_empty() { "image" } else { base }
}
