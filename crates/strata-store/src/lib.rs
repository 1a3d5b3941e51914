//! The local content store: verified ingest, an OCI image layout with tags, metadata, locking, leases, garbage collection and checks.
