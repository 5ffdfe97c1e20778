//! Linux capability names ↔ numbers: the one table of berth (`berth-runtime` turns the
//! names of `process.capabilities` into numbers with it, `berth-specgen` checks Docker's
//! `--cap-add`/`--cap-drop` against it).
//!
//! Names are the canonical spelling of the runtime-spec and the kernel headers: upper case
//! with the `CAP_` prefix. [`number`] accepts only that spelling; [`normalize`] turns what
//! a user types (`net_admin`, `Cap_Chown`) into it.
//!
//! Pure data, like the rest of this crate: whether the running kernel knows a capability
//! (`cap_last_cap`) is `berth-runtime`'s business.

/// Every capability Linux defines, by number (`include/uapi/linux/capability.h`, up to
/// 6.18): `ALL[n]` is the name of capability `n`.
pub const ALL: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The highest capability number in [`ALL`].
pub const LAST: u32 = ALL.len() as u32 - 1;

/// The number of the capability named `name` in the canonical spelling
/// (`"CAP_NET_ADMIN"` → 12); `None` for anything else, `"net_admin"` included.
pub fn number(name: &str) -> Option<u32> {
    ALL.iter()
        .position(|n| *n == name)
        .and_then(|i| u32::try_from(i).ok())
}

/// The name of capability number `cap`, if it is in [`ALL`].
pub fn name(cap: u32) -> Option<&'static str> {
    ALL.get(usize::try_from(cap).ok()?).copied()
}

/// A user-typed name in the canonical spelling: trimmed, upper case, `CAP_` added when
/// missing (`" net_admin"` → `"CAP_NET_ADMIN"`). Not checked against [`ALL`]: pass the
/// result to [`number`] for that.
pub fn normalize(name: &str) -> String {
    let up = name.trim().to_ascii_uppercase();
    if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(number("CAP_CHOWN"), Some(0));
        assert_eq!(number("CAP_NET_ADMIN"), Some(12));
        assert_eq!(number("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(number("CAP_CHECKPOINT_RESTORE"), Some(LAST));
        assert_eq!(number("net_admin"), None);
        assert_eq!(number("NET_ADMIN"), None);
        assert_eq!(name(24), Some("CAP_SYS_RESOURCE"));
        assert_eq!(name(LAST + 1), None);
        for (i, n) in ALL.iter().enumerate() {
            assert_eq!(number(n), u32::try_from(i).ok());
        }
    }

    #[test]
    fn normalize_adds_the_prefix() {
        assert_eq!(normalize("net_admin"), "CAP_NET_ADMIN");
        assert_eq!(normalize(" Cap_Chown "), "CAP_CHOWN");
        assert_eq!(normalize("CAP_SYS_ADMIN"), "CAP_SYS_ADMIN");
        assert_eq!(normalize("foo"), "CAP_FOO");
    }
}
