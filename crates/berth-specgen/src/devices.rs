//! Device nodes and device cgroup rules: `--device`, `--device-cgroup-rule`, the default
//! allow list, and the host's devices for `--privileged`.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use berth_model::docker::DeviceMapping;
use berth_model::{Error, Result};
use berth_spec::{defaults, Device, DeviceRule};

/// The cgroup device rules of an unprivileged container: deny everything, then allow
/// creating any node (`m`; opening it stays denied), the standard character devices
/// (null, zero, full, random, urandom, tty, console, ptmx) and pty slaves
/// ([`defaults::default_device_allowlist`]).
///
/// Unlike Docker, `/dev/net/tun` (10:200) is not allowed: creating tunnels needs
/// `CAP_NET_ADMIN`, and a container that has it can ask for the device with `--device`.
pub fn default_device_rules() -> Vec<DeviceRule> {
    let mut v = vec![defaults::deny_all_devices()];
    v.extend(defaults::default_device_allowlist());
    v
}

/// Parses a `--device-cgroup-rule` (`c 1:3 rwm`, `b *:* m`, `a *:* rwm`).
pub fn parse_cgroup_rule(text: &str) -> Result<DeviceRule> {
    let bad = || Error::invalid(format!("invalid device cgroup rule format: '{text}'"));
    let f: Vec<&str> = text.split_whitespace().collect();
    let [typ, numbers, access] = f.as_slice() else {
        return Err(bad());
    };
    if !matches!(*typ, "a" | "b" | "c") {
        return Err(bad());
    }
    let (ma, mi) = numbers.split_once(':').ok_or_else(bad)?;
    let num = |s: &str| -> Result<Option<i64>> {
        if s == "*" {
            Ok(None)
        } else {
            s.parse::<i64>().map(Some).map_err(|_| bad())
        }
    };
    if access.is_empty() || access.len() > 3 || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(bad());
    }
    Ok(DeviceRule::new(true, typ, num(ma)?, num(mi)?, access))
}

fn device_of(path: &Path, in_container: &str) -> Option<Device> {
    let md = std::fs::metadata(path).ok()?;
    let ft = md.file_type();
    let typ = if ft.is_char_device() {
        "c"
    } else if ft.is_block_device() {
        "b"
    } else {
        return None;
    };
    let rdev = md.rdev();
    Some(Device {
        typ: typ.into(),
        path: in_container.into(),
        major: i64::from(rustix::fs::major(rdev)),
        minor: i64::from(rustix::fs::minor(rdev)),
        file_mode: Some(md.mode() & 0o7777),
        uid: Some(md.uid()),
        gid: Some(md.gid()),
    })
}

fn walk(dir: &Path, ctr_dir: &str, skip: &[&str], out: &mut Vec<Device>, depth: u32) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let ctr = format!("{}/{name}", ctr_dir.trim_end_matches('/'));
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if depth < 8 && !skip.contains(&name.as_str()) {
                walk(&e.path(), &ctr, skip, out, depth + 1);
            }
        } else if (ft.is_char_device() || ft.is_block_device()) && !skip.contains(&name.as_str()) {
            out.extend(device_of(&e.path(), &ctr));
        }
    }
}

/// A `--device` mapping: the node(s) to create and the cgroup rules allowing them.
/// A directory on the host maps every device below it, as Docker does.
pub fn mapped_devices(d: &DeviceMapping) -> Result<(Vec<Device>, Vec<DeviceRule>)> {
    let host = d.path_on_host.as_deref().unwrap_or("");
    if host.is_empty() {
        return Err(Error::invalid(
            "invalid device mapping: PathOnHost is empty",
        ));
    }
    let ctr = match d.path_in_container.as_deref() {
        None | Some("") => host,
        Some(c) => c,
    };
    if !ctr.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid device mapping {host}:{ctr}: {ctr:?} is not an absolute path"
        )));
    }
    let perms = match d.cgroup_permissions.as_deref() {
        None | Some("") => "rwm",
        Some(p) => p,
    };
    if perms.len() > 3 || !perms.chars().all(|c| "rwm".contains(c)) {
        return Err(Error::invalid(format!(
            "invalid device mode {perms:?} for {host}: use a combination of r, w and m"
        )));
    }
    let md = std::fs::metadata(host).map_err(|e| {
        Error::invalid(format!(
            "error gathering device information while adding custom device {host:?}: {e}"
        ))
    })?;
    let mut devices = Vec::new();
    if md.is_dir() {
        walk(Path::new(host), ctr, &[], &mut devices, 0);
    } else {
        devices.extend(device_of(Path::new(host), ctr));
        if devices.is_empty() {
            return Err(Error::invalid(format!(
                "error gathering device information while adding custom device {host:?}: not a device node"
            )));
        }
    }
    let rules = devices
        .iter()
        .map(|dev| DeviceRule::new(true, &dev.typ, Some(dev.major), Some(dev.minor), perms))
        .collect();
    Ok((devices, rules))
}

/// Every device node of the host's `/dev`, for `--privileged` (as Docker's
/// `HostDevices`): skips the per-container trees (`pts`, `shm`, `mqueue`, `fd`) and the
/// nodes the runtime sets up itself (`console`, `ptmx`).
pub fn host_devices() -> Vec<Device> {
    let mut out = Vec::new();
    walk(
        Path::new("/dev"),
        "/dev",
        &[
            "pts",
            "shm",
            "mqueue",
            "fd",
            ".lxc",
            ".lxd-mounts",
            ".udev",
            "console",
            "ptmx",
        ],
        &mut out,
        0,
    );
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_have_no_tun() {
        let r = default_device_rules();
        assert!(!r[0].allow);
        assert!(!r
            .iter()
            .any(|x| x.major == Some(10) && x.minor == Some(200)));
        assert!(r
            .iter()
            .any(|x| x.allow && x.major == Some(1) && x.minor == Some(3)));
    }

    #[test]
    fn cgroup_rules() {
        let r = parse_cgroup_rule("c 1:3 rwm").expect("ok");
        assert_eq!(
            (r.typ.as_deref(), r.major, r.minor, r.access.as_deref()),
            (Some("c"), Some(1), Some(3), Some("rwm"))
        );
        let r = parse_cgroup_rule("b *:* m").expect("ok");
        assert_eq!((r.major, r.minor), (None, None));
        for bad in ["x 1:3 rwm", "c 1 rwm", "c 1:3 rwx", "c a:3 r", "c 1:3"] {
            let e = parse_cgroup_rule(bad).expect_err(bad);
            assert_eq!(
                e.message,
                format!("invalid device cgroup rule format: '{bad}'")
            );
        }
    }

    #[test]
    fn device_mapping() {
        let d = DeviceMapping {
            path_on_host: Some("/dev/null".into()),
            path_in_container: Some("/dev/mynull".into()),
            cgroup_permissions: Some("r".into()),
        };
        let (devs, rules) = mapped_devices(&d).expect("ok");
        assert_eq!(devs.len(), 1);
        assert_eq!(
            (devs[0].typ.as_str(), devs[0].major, devs[0].minor),
            ("c", 1, 3)
        );
        assert_eq!(devs[0].path, "/dev/mynull");
        assert_eq!(rules[0].access.as_deref(), Some("r"));
        let missing = DeviceMapping {
            path_on_host: Some("/dev/does-not-exist".into()),
            ..Default::default()
        };
        let e = mapped_devices(&missing).expect_err("missing");
        assert!(e.message.starts_with("error gathering device information while adding custom device \"/dev/does-not-exist\""), "{e}");
        let bad_mode = DeviceMapping {
            path_on_host: Some("/dev/null".into()),
            cgroup_permissions: Some("rwx".into()),
            ..Default::default()
        };
        assert!(mapped_devices(&bad_mode).is_err());
        let regular = DeviceMapping {
            path_on_host: Some("/etc/hostname".into()),
            ..Default::default()
        };
        assert!(mapped_devices(&regular)
            .expect_err("file")
            .message
            .contains("not a device node"));
    }

    #[test]
    fn host_devices_include_null() {
        let all = host_devices();
        assert!(all
            .iter()
            .any(|d| d.path == "/dev/null" && d.major == 1 && d.minor == 3));
        assert!(!all.iter().any(|d| d.path.starts_with("/dev/pts/")));
    }
}
