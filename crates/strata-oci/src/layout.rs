//! The `oci-layout` marker file at the root of an OCI image layout
//! (<https://github.com/opencontainers/image-spec/blob/main/image-layout.md>).

use serde::{Deserialize, Serialize};

use crate::media_type::OCI_LAYOUT_VERSION;

/// Name of the marker file.
pub const OCI_LAYOUT_FILE: &str = "oci-layout";

/// Contents of the `oci-layout` file: `{"imageLayoutVersion":"1.0.0"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OciLayout {
    #[serde(rename = "imageLayoutVersion")]
    pub image_layout_version: String,
}

impl OciLayout {
    /// The version Strata writes.
    pub fn current() -> OciLayout {
        OciLayout {
            image_layout_version: OCI_LAYOUT_VERSION.to_string(),
        }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        // A struct with one string field always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_marker() {
        assert_eq!(
            OciLayout::current().to_bytes(),
            br#"{"imageLayoutVersion":"1.0.0"}"#
        );
    }
}
