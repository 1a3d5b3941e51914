//! CycloneDX 1.5 JSON output (<https://cyclonedx.org/docs/1.5/json/>).
//!
//! The image is `metadata.component` (type `container`); every package is a `library`
//! component with its purl as `bom-ref`, its declared licence as a named licence, and
//! Strata properties for the layer (`strata:layer:index`, `strata:layer:digest`), the
//! package type and the locations.

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::Sbom;

/// A UUID (version 4 layout) derived from `seed`, for `serialNumber`.
fn uuid_from(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

/// Render `sbom` as a CycloneDX 1.5 JSON document created at `created`.
pub fn to_json(sbom: &Sbom, created: jiff::Timestamp, tool_version: &str) -> Value {
    let timestamp = created.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut seen = std::collections::HashSet::new();
    let components: Vec<Value> = sbom
        .packages
        .iter()
        .map(|p| {
            // bom-refs must be unique; purls are, after merging, but stay defensive.
            let mut bom_ref = p.purl.clone();
            if !seen.insert(bom_ref.clone()) {
                bom_ref = format!("{}#{}", p.purl, seen.len());
                seen.insert(bom_ref.clone());
            }
            let mut properties = vec![
                json!({"name": "strata:package:type", "value": p.kind.as_str()}),
                json!({"name": "strata:layer:index", "value": p.layer.to_string()}),
            ];
            if let Some(l) = sbom.layers.get(p.layer) {
                properties.push(json!({"name": "strata:layer:digest", "value": l.digest}));
                if let Some(d) = &l.diff_id {
                    properties.push(json!({"name": "strata:layer:diffID", "value": d}));
                }
            }
            for loc in &p.locations {
                properties.push(json!({"name": "strata:location", "value": format!("/{loc}")}));
            }
            let mut c = json!({
                "type": "library",
                "bom-ref": bom_ref,
                "name": p.name,
                "version": p.version,
                "purl": p.purl,
                "properties": properties,
            });
            if let (Some(lic), Some(obj)) = (&p.license, c.as_object_mut()) {
                obj.insert("licenses".into(), json!([{"license": {"name": lic}}]));
            }
            c
        })
        .collect();
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{}", uuid_from(&format!("{}{}", sbom.config_digest, timestamp))),
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": {
                "components": [{"type": "application", "name": "strata", "version": tool_version}],
            },
            "component": {
                "type": "container",
                "bom-ref": "image",
                "name": sbom.image,
                "version": sbom.manifest_digest,
                "purl": super::purl("oci", None, super::spdx::image_base_name(&sbom.image), &sbom.manifest_digest, &[]),
            },
        },
        "components": components,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn serial_numbers_look_like_uuids() {
        let u = super::uuid_from("x");
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
    }
}
