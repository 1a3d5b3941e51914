//! Layer tarballs: deterministic creation, safe extraction, whiteouts, compression, diffIDs and chainIDs.
