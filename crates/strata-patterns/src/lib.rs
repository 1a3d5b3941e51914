//! .dockerignore and --exclude pattern matching with moby patternmatcher semantics.
