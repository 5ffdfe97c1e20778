//! `--user` and `--group-add` resolved against the container's own `/etc/passwd` and
//! `/etc/group`, with Docker's rules (moby/sys/user `GetExecUser`).
//!
//! The files are opened with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` relative
//! to the rootfs, so a symlink planted by the image (`/etc/passwd -> /host/etc/shadow`, or
//! `../../..`) resolves inside the container's root and never reaches the host.

use std::io::Read;
use std::path::Path;

use berth_model::{Error, Result};
use rustix::fs::{Mode, OFlags, ResolveFlags};

/// The identity the container process runs as.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedUser {
    /// User ID.
    pub uid: u32,
    /// Primary group ID.
    pub gid: u32,
    /// Supplementary groups: the user's memberships in `/etc/group` (only when no group
    /// was given explicitly, as Docker does), then `--group-add`.
    pub additional_gids: Vec<u32>,
    /// Home directory from `/etc/passwd` (`/` when the user has no entry); becomes `HOME`
    /// unless the environment sets it.
    pub home: String,
}

/// Files larger than this are not user databases; refusing them bounds memory use.
const MAX_DB_BYTES: u64 = 16 << 20;

/// Reads `path` (absolute, inside the container) from `rootfs` without leaving it.
/// A missing file is `Ok(None)`.
pub fn read_in_root(rootfs: &Path, path: &str) -> Result<Option<String>> {
    let root = rustix::fs::open(
        rootfs,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::internal(format!("cannot open rootfs {}: {e}", rootfs.display())))?;
    let fd = match rustix::fs::openat2(
        &root,
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::NOTDIR) => return Ok(None),
        Err(e) => {
            return Err(Error::internal(format!(
                "cannot open {path} in {}: {e}",
                rootfs.display()
            )))
        }
    };
    let mut text = String::new();
    std::fs::File::from(fd)
        .take(MAX_DB_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| Error::internal(format!("cannot read {path} in {}: {e}", rootfs.display())))?;
    Ok(Some(text))
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).map(|h| h.to_string()).unwrap_or_default(),
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|x| !x.is_empty())
                            .map(|x| x.trim().to_string())
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn parse_id(s: &str, what: &str) -> Option<Result<u32>> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match s.parse::<u32>() {
        Ok(v) if v <= i32::MAX as u32 => Ok(v),
        _ => Err(Error::invalid(format!(
            "{what} {s} is out of range (at most {})",
            i32::MAX
        ))),
    })
}

/// Resolves a Docker `User` (`""`, `name`, `uid`, `uid:gid`, `name:group`, …) and
/// `GroupAdd` against the rootfs's `/etc/passwd` and `/etc/group`.
///
/// An unknown name is an error (`unable to find user x: no matching entries in passwd
/// file`); a numeric ID without an entry is used as is, with group 0 and home `/`.
pub fn resolve_user(rootfs: &Path, user: &str, group_add: &[String]) -> Result<ResolvedUser> {
    let passwd = parse_passwd(&read_in_root(rootfs, "/etc/passwd")?.unwrap_or_default());
    let groups = parse_group(&read_in_root(rootfs, "/etc/group")?.unwrap_or_default());
    resolve_with(&passwd, &groups, user, group_add)
}

fn resolve_with(
    passwd: &[PasswdEntry],
    groups: &[GroupEntry],
    user: &str,
    group_add: &[String],
) -> Result<ResolvedUser> {
    let (user_arg, group_arg) = match user.split_once(':') {
        Some((u, g)) => (u, g),
        None => (user, ""),
    };
    let uid_arg = parse_id(user_arg, "uid").transpose()?;
    let entry = passwd.iter().find(|p| match (user_arg, uid_arg) {
        ("", _) => p.uid == 0,
        (_, Some(uid)) => p.uid == uid,
        (name, None) => p.name == name,
    });
    let mut out = ResolvedUser {
        home: "/".into(),
        ..Default::default()
    };
    let mut name = None;
    match entry {
        Some(p) => {
            out.uid = p.uid;
            out.gid = p.gid;
            if !p.home.is_empty() {
                out.home = p.home.clone();
            }
            name = Some(p.name.clone());
        }
        None => match uid_arg {
            Some(uid) => out.uid = uid,
            None if user_arg.is_empty() => {}
            None => {
                return Err(Error::invalid(format!(
                    "unable to find user {user_arg}: no matching entries in passwd file"
                )))
            }
        },
    }
    if !group_arg.is_empty() {
        let gid_arg = parse_id(group_arg, "gid").transpose()?;
        let found = groups.iter().find(|g| match gid_arg {
            Some(gid) => g.gid == gid,
            None => g.name == group_arg,
        });
        out.gid = match (found, gid_arg) {
            (Some(g), _) => g.gid,
            (None, Some(gid)) => gid,
            (None, None) => {
                return Err(Error::invalid(format!(
                    "unable to find group {group_arg}: no matching entries in group file"
                )))
            }
        };
    } else if let Some(name) = &name {
        for g in groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == name))
        {
            if !out.additional_gids.contains(&g.gid) {
                out.additional_gids.push(g.gid);
            }
        }
    }
    // With no supplementary group of its own the process keeps its primary group in the
    // list, as under Docker (runc's GetExecUser falls back to it): `id` shows it there.
    if out.additional_gids.is_empty() {
        out.additional_gids.push(out.gid);
    }
    for ag in group_add {
        let gid = match parse_id(ag, "gid").transpose()? {
            Some(gid) => gid,
            None => groups
                .iter()
                .find(|g| g.name == *ag)
                .map(|g| g.gid)
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "Unable to find group {ag}: no matching entries in group file"
                    ))
                })?,
        };
        if !out.additional_gids.contains(&gid) {
            out.additional_gids.push(gid);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn rootfs() -> tempfile::TempDir {
        let d = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(d.path().join("etc")).expect("etc");
        std::fs::write(
            d.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\n\
             daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
             nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
             app:x:1000:1000::/home/app:/bin/sh\n",
        )
        .expect("passwd");
        std::fs::write(
            d.path().join("etc/group"),
            "root:x:0:\nwheel:x:10:root,app\nstaff:x:50:app\napp:x:1000:\nnogroup:x:65534:\n",
        )
        .expect("group");
        d
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn default_is_root_with_its_groups() {
        let r = rootfs();
        let u = resolve_user(r.path(), "", &[]).expect("root");
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        assert_eq!(u.additional_gids, vec![10]);
    }

    #[test]
    fn name_uid_and_groups() {
        let r = rootfs();
        let u = resolve_user(r.path(), "app", &[]).expect("app");
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert_eq!(u.additional_gids, vec![10, 50]);
        assert_eq!(u.home, "/home/app");
        let u = resolve_user(r.path(), "nobody", &[]).expect("nobody");
        assert_eq!((u.uid, u.gid), (65534, 65534));
        let u = resolve_user(r.path(), "1000", &[]).expect("by uid");
        assert_eq!((u.uid, u.gid), (1000, 1000));
    }

    #[test]
    fn explicit_group_drops_memberships() {
        let r = rootfs();
        let u = resolve_user(r.path(), "app:staff", &[]).expect("app:staff");
        assert_eq!((u.uid, u.gid), (1000, 50));
        assert_eq!(u.additional_gids, vec![50]);
        let u = resolve_user(r.path(), "1000:4242", &[]).expect("numeric");
        assert_eq!((u.uid, u.gid), (1000, 4242));
    }

    #[test]
    fn unknown_numeric_uid_is_fine() {
        let r = rootfs();
        let u = resolve_user(r.path(), "4321", &[]).expect("numeric");
        assert_eq!((u.uid, u.gid, u.home.as_str()), (4321, 0, "/"));
    }

    #[test]
    fn unknown_names_are_errors() {
        let r = rootfs();
        let e = resolve_user(r.path(), "x", &[]).expect_err("unknown");
        assert_eq!(
            e.message,
            "unable to find user x: no matching entries in passwd file"
        );
        let e = resolve_user(r.path(), "app:nosuch", &[]).expect_err("unknown group");
        assert_eq!(
            e.message,
            "unable to find group nosuch: no matching entries in group file"
        );
        let e = resolve_user(r.path(), "app", &s(&["ghosts"])).expect_err("unknown add");
        assert!(e.message.contains("Unable to find group ghosts"), "{e}");
    }

    #[test]
    fn group_add_by_name_and_number() {
        let r = rootfs();
        let u = resolve_user(r.path(), "nobody", &s(&["staff", "777"])).expect("ok");
        assert_eq!(u.additional_gids, vec![u.gid, 50, 777]);
    }

    #[test]
    fn missing_files_allow_numeric_only() {
        let d = tempfile::tempdir().expect("tmp");
        let u = resolve_user(d.path(), "", &[]).expect("root");
        assert_eq!((u.uid, u.gid), (0, 0));
        assert!(resolve_user(d.path(), "1:2", &[]).is_ok());
        assert!(resolve_user(d.path(), "bin", &[]).is_err());
    }

    #[test]
    fn symlinks_stay_inside_the_root() {
        // <d>/outside-passwd is a host file next to the rootfs <d>/root.
        let d = tempfile::tempdir().expect("tmp");
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("etc")).expect("etc");
        std::fs::write(
            d.path().join("outside-passwd"),
            "escaped:x:9:9::/:/bin/sh\n",
        )
        .expect("w");
        std::fs::write(root.join("inside-passwd"), "inside:x:7:7::/in:/bin/sh\n").expect("w");
        // An absolute link is resolved against the container's root.
        symlink("/inside-passwd", root.join("etc/passwd")).expect("link");
        assert_eq!(resolve_user(&root, "inside", &[]).expect("inside").uid, 7);
        // `..` stops at the root, so the host file next to it is never read.
        for target in [
            "../../outside-passwd".to_string(),
            d.path().join("outside-passwd").display().to_string(),
        ] {
            std::fs::remove_file(root.join("etc/passwd")).expect("rm");
            symlink(&target, root.join("etc/passwd")).expect("link");
            let e = resolve_user(&root, "escaped", &[]).expect_err("must not escape");
            assert!(
                e.message.contains("unable to find user escaped"),
                "{target}: {e}"
            );
        }
    }
}
