//! Image insight: SBOM, offline vulnerability matching against OSV data, and layer efficiency analysis.
