//! An OCI Distribution 1.1 registry server over a storage trait (filesystem, S3).
