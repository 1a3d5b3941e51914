//! Capability names as `--cap-add`/`--cap-drop` take them (`NET_ADMIN`, `CAP_NET_ADMIN`,
//! `ALL`), and the bounding set they produce from Docker's default set.

use crate::DEFAULT_CAPS;

/// Capability numbers by name (linux/capability.h).
pub const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// An unknown capability name.
#[derive(Debug, thiserror::Error)]
#[error("invalid capability {0:?}: not a Linux capability name (e.g. NET_ADMIN)")]
pub struct UnknownCapability(pub String);

/// The number of a capability name (`CAP_` prefix optional, case-insensitive).
pub fn number(name: &str) -> Result<u32, UnknownCapability> {
    let up = name.to_ascii_uppercase();
    let bare = up.strip_prefix("CAP_").unwrap_or(&up);
    NAMES
        .iter()
        .position(|n| *n == bare)
        .map(|i| i as u32)
        .ok_or_else(|| UnknownCapability(name.to_string()))
}

/// The name of a capability number (`CAP_CHOWN`).
pub fn name(cap: u32) -> String {
    match NAMES.get(cap as usize) {
        Some(n) => format!("CAP_{n}"),
        None => format!("CAP_{cap}"),
    }
}

/// Docker's rule: start from the default set, add `add`, then remove `drop` (`ALL` in
/// `add` means every capability, in `drop` none of the defaults).
pub fn bounding_set(add: &[String], drop: &[String]) -> Result<Vec<u32>, UnknownCapability> {
    let all = |v: &[String]| v.iter().any(|c| c.eq_ignore_ascii_case("ALL"));
    let mut set: Vec<u32> = if all(drop) {
        Vec::new()
    } else {
        DEFAULT_CAPS.to_vec()
    };
    if all(add) {
        set = (0..NAMES.len() as u32).collect();
    }
    for c in add.iter().filter(|c| !c.eq_ignore_ascii_case("ALL")) {
        let n = number(c)?;
        if !set.contains(&n) {
            set.push(n);
        }
    }
    for c in drop.iter().filter(|c| !c.eq_ignore_ascii_case("ALL")) {
        let n = number(c)?;
        set.retain(|x| *x != n);
    }
    set.sort_unstable();
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sets() {
        assert_eq!(number("net_admin").unwrap(), 12);
        assert_eq!(number("CAP_SYS_ADMIN").unwrap(), 21);
        assert!(number("NOPE").is_err());
        let s = bounding_set(&["NET_ADMIN".into()], &["CHOWN".into()]).unwrap();
        assert!(s.contains(&12) && !s.contains(&0) && s.contains(&1));
        assert_eq!(
            bounding_set(&[], &["ALL".into()]).unwrap(),
            Vec::<u32>::new()
        );
        assert_eq!(
            bounding_set(&["ALL".into()], &[]).unwrap().len(),
            NAMES.len()
        );
        assert_eq!(name(21), "CAP_SYS_ADMIN");
    }
}
