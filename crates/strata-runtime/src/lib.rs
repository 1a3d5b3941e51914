//! Isolation: namespaces, mounts, pivot_root, process lifecycle; syscalls behind a trait.
