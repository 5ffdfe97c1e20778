//! The container's own mounts: `Binds` (`-v`), `Mounts` (`--mount`), `Tmpfs` (`--tmpfs`)
//! and the anonymous volumes of `Config.Volumes`, parsed into [`MountSpec`]s the engine
//! completes (volume paths) and [`crate::generate`] turns into OCI mounts.

use berth_model::docker::{
    ContainerConfig, HostConfig, Mount, MountBindOptionsPropagationEnum, MountType,
};
use berth_model::{Error, Result};

/// Where a mount's content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSource {
    /// A host path. `create` is true for `-v /host:/ctr` binds, whose missing host
    /// directory Docker creates; `--mount type=bind` requires it to exist.
    Bind {
        /// Absolute host path.
        path: String,
        /// Whether the engine creates a missing `path` as a directory.
        create: bool,
    },
    /// A volume. The engine creates or finds it and sets `path` to its data directory
    /// (`volumes/<name>/_data`) before calling [`crate::generate`].
    Volume {
        /// The volume's name; empty for an anonymous volume (the engine names it).
        name: String,
        /// `nocopy`: do not copy the image's content at the destination into a new volume.
        nocopy: bool,
        /// The host directory, decided by the engine.
        path: Option<String>,
    },
    /// A tmpfs; `options` are fstab-style (`size=64m`, `mode=1777`, `exec`, …).
    Tmpfs {
        /// Mount options after Docker's defaults (`noexec`, `nosuid`, `nodev`).
        options: Vec<String>,
    },
}

/// One user mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    /// Absolute, clean path in the container.
    pub destination: String,
    /// The content.
    pub source: MountSource,
    /// Read-only.
    pub read_only: bool,
    /// Propagation of binds and volumes (`rprivate` unless asked otherwise).
    pub propagation: String,
    /// Bind recursively (`rbind`); `BindOptions.NonRecursive` turns it off.
    pub recursive: bool,
}

const PROPAGATIONS: [&str; 6] = [
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

fn clean_abs(path: &str, typ: &str) -> Result<String> {
    if !path.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid mount config for type \"{typ}\": invalid mount path: '{path}' mount path must be absolute"
        )));
    }
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

fn check_destination(dest: &str, typ: &str) -> Result<String> {
    let d = clean_abs(dest, typ)?;
    if d == "/" {
        return Err(Error::invalid(
            "invalid specification: destination can't be '/'",
        ));
    }
    Ok(d)
}

fn valid_volume_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric());
    first_ok
        && name.len() >= 2
        && name[1..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

/// Parses one `-v` entry: `/ctr`, `src:/ctr` or `src:/ctr:opts` (`ro`, `rw`, `z`, `Z`,
/// `nocopy`, propagation, and the ignored macOS consistency modes).
pub fn parse_bind(spec: &str) -> Result<MountSpec> {
    let invalid = || Error::invalid(format!("invalid volume specification: '{spec}'"));
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [d] => ("", *d, ""),
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        _ => return Err(invalid()),
    };
    if dst.is_empty() || (parts.len() > 1 && src.is_empty()) {
        return Err(invalid());
    }
    let bind = src.starts_with('/');
    let typ = if bind { "bind" } else { "volume" };
    let destination = check_destination(dst, typ).map_err(|e| {
        Error::invalid(format!(
            "invalid volume specification: '{spec}': {}",
            e.message
        ))
    })?;
    let mut read_only = false;
    let mut propagation = None;
    let mut nocopy = false;
    let (mut rw_seen, mut label_seen) = (false, false);
    for m in mode.split(',').filter(|m| !m.is_empty()) {
        match m {
            "ro" | "rw" if !rw_seen => {
                rw_seen = true;
                read_only = m == "ro";
            }
            "z" | "Z" if !label_seen => label_seen = true,
            "nocopy" if !bind && !nocopy => nocopy = true,
            "consistent" | "cached" | "delegated" => {}
            p if PROPAGATIONS.contains(&p) && propagation.is_none() => {
                propagation = Some(p.to_string())
            }
            _ => return Err(Error::invalid(format!("invalid mode: {mode}"))),
        }
    }
    let source = if bind {
        MountSource::Bind {
            path: clean_abs(src, "bind")?,
            create: true,
        }
    } else {
        if !src.is_empty() && !valid_volume_name(src) {
            return Err(Error::invalid(format!(
                "create {src}: \"{src}\" includes invalid characters for a local volume name, only \
                 \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
            )));
        }
        MountSource::Volume {
            name: src.to_string(),
            nocopy,
            path: None,
        }
    };
    Ok(MountSpec {
        destination,
        source,
        read_only,
        propagation: propagation.unwrap_or_else(|| "rprivate".into()),
        recursive: true,
    })
}

const TMPFS_FLAGS: [&str; 22] = [
    "ro",
    "rw",
    "exec",
    "noexec",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "sync",
    "async",
    "dirsync",
    "mand",
    "nomand",
    "lazytime",
];
const TMPFS_DATA: [&str; 8] = [
    "size",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "mpol",
    "huge",
];

/// Docker's tmpfs options: `noexec,nosuid,nodev` first, then the user's, where a later
/// flag replaces its opposite (`exec` undoes `noexec`) and a later `size=` its earlier one.
/// Returns the options and whether the mount is read-only.
pub fn tmpfs_options(user: &str, dest: &str) -> Result<(Vec<String>, bool)> {
    let mut out: Vec<String> = vec!["noexec".into(), "nosuid".into(), "nodev".into()];
    let mut read_only = false;
    for o in user.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        if let Some((k, v)) = o.split_once('=') {
            if !TMPFS_DATA.contains(&k) || v.is_empty() {
                return Err(Error::invalid(format!(
                    "invalid tmpfs option {o:?} for {dest}"
                )));
            }
            if k == "size" && !valid_size(v) {
                return Err(Error::invalid(format!(
                    "invalid tmpfs size {v:?} for {dest}"
                )));
            }
            out.retain(|x| !x.starts_with(&format!("{k}=")));
            out.push(o.to_string());
        } else if TMPFS_FLAGS.contains(&o) {
            let opposite = o
                .strip_prefix("no")
                .map(str::to_string)
                .unwrap_or_else(|| format!("no{o}"));
            if o == "ro" || o == "rw" {
                read_only = o == "ro";
                continue;
            }
            out.retain(|x| x != &opposite && x != o);
            out.push(o.to_string());
        } else {
            return Err(Error::invalid(format!(
                "invalid tmpfs option {o:?} for {dest}"
            )));
        }
    }
    Ok((out, read_only))
}

fn valid_size(v: &str) -> bool {
    let digits = v.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G', '%']);
    !digits.is_empty() && digits.len() + 1 >= v.len() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn from_mount(m: &Mount) -> Result<MountSpec> {
    let typ = m.typ.as_ref().map(|t| t.to_string()).unwrap_or_default();
    let bad = |msg: &str| Error::invalid(format!("invalid mount config for type \"{typ}\": {msg}"));
    let target = m.target.as_deref().unwrap_or("");
    if target.is_empty() {
        return Err(bad("field Target must not be empty"));
    }
    let destination = check_destination(target, &typ)?;
    let source = m.source.as_deref().unwrap_or("");
    let read_only = m.read_only.unwrap_or(false);
    let mut propagation = "rprivate".to_string();
    let mut recursive = true;
    let source = match m.typ {
        Some(MountType::BIND) => {
            if m.volume_options.is_some() {
                return Err(bad("field VolumeOptions must not be specified"));
            }
            if m.tmpfs_options.is_some() {
                return Err(bad("field TmpfsOptions must not be specified"));
            }
            if source.is_empty() {
                return Err(bad("field Source must not be empty"));
            }
            let path = clean_abs(source, "bind")?;
            let create = m
                .bind_options
                .as_ref()
                .and_then(|b| b.create_mountpoint)
                .unwrap_or(false);
            if !create && std::fs::symlink_metadata(&path).is_err() {
                return Err(bad(&format!("bind source path does not exist: {path}")));
            }
            if let Some(b) = &m.bind_options {
                if let Some(p) = b
                    .propagation
                    .filter(|p| *p != MountBindOptionsPropagationEnum::EMPTY)
                {
                    propagation = p.to_string();
                }
                recursive = !b.non_recursive.unwrap_or(false);
            }
            MountSource::Bind { path, create }
        }
        Some(MountType::VOLUME) => {
            if m.bind_options.is_some() {
                return Err(bad("field BindOptions must not be specified"));
            }
            if m.tmpfs_options.is_some() {
                return Err(bad("field TmpfsOptions must not be specified"));
            }
            if !source.is_empty() && !valid_volume_name(source) {
                return Err(bad(&format!("invalid volume name {source:?}")));
            }
            let vo = m.volume_options.as_ref();
            if let Some(driver) = vo
                .and_then(|v| v.driver_config.as_ref())
                .and_then(|d| d.name.as_deref())
            {
                if driver != "local" && !driver.is_empty() {
                    return Err(bad(&format!(
                        "volume driver {driver:?} is not supported (only \"local\")"
                    )));
                }
            }
            MountSource::Volume {
                name: source.to_string(),
                nocopy: vo.and_then(|v| v.no_copy).unwrap_or(false),
                path: None,
            }
        }
        Some(MountType::TMPFS) => {
            if !source.is_empty() {
                return Err(bad("field Source must not be specified"));
            }
            if m.bind_options.is_some() {
                return Err(bad("field BindOptions must not be specified"));
            }
            if m.volume_options.is_some() {
                return Err(bad("field VolumeOptions must not be specified"));
            }
            let mut user: Vec<String> = Vec::new();
            if let Some(t) = &m.tmpfs_options {
                match t.size_bytes {
                    Some(s) if s < 0 => return Err(bad(&format!("invalid tmpfs size {s}"))),
                    Some(s) if s > 0 => user.push(format!("size={s}")),
                    _ => {}
                }
                if let Some(mode) = t.mode.filter(|m| *m != 0) {
                    if !(0..=0o7777).contains(&mode) {
                        return Err(bad(&format!("invalid tmpfs mode {mode:o}")));
                    }
                    user.push(format!("mode={mode:o}"));
                }
                for o in t.options.iter().flatten() {
                    user.push(o.join("="));
                }
            }
            let (options, ro) = tmpfs_options(&user.join(","), &destination)?;
            return Ok(MountSpec {
                destination,
                source: MountSource::Tmpfs { options },
                read_only: read_only || ro,
                propagation,
                recursive,
            });
        }
        _ => return Err(bad("mount type not supported (use bind, volume or tmpfs)")),
    };
    Ok(MountSpec {
        destination,
        source,
        read_only,
        propagation,
        recursive,
    })
}

/// All user mounts of a container, in Docker's precedence: `Binds`, then `Mounts`, then
/// `Tmpfs`; then an anonymous volume for each `Config.Volumes` path none of those covers.
/// Two user mounts at one destination are an error (`Duplicate mount point: /x`).
pub fn parse_mounts(config: &ContainerConfig, host: &HostConfig) -> Result<Vec<MountSpec>> {
    let mut out: Vec<MountSpec> = Vec::new();
    let push = |m: MountSpec, out: &mut Vec<MountSpec>| -> Result<()> {
        if out.iter().any(|o| o.destination == m.destination) {
            return Err(Error::invalid(format!(
                "Duplicate mount point: {}",
                m.destination
            )));
        }
        out.push(m);
        Ok(())
    };
    for b in host.binds.iter().flatten() {
        push(parse_bind(b)?, &mut out)?;
    }
    for m in host.mounts.iter().flatten() {
        push(from_mount(m)?, &mut out)?;
    }
    let mut tmpfs: Vec<(&String, &String)> = host.tmpfs.iter().flatten().collect();
    tmpfs.sort();
    for (dest, opts) in tmpfs {
        let destination = check_destination(dest, "tmpfs")?;
        let (options, read_only) = tmpfs_options(opts, &destination)?;
        push(
            MountSpec {
                destination,
                source: MountSource::Tmpfs { options },
                read_only,
                propagation: "rprivate".into(),
                recursive: true,
            },
            &mut out,
        )?;
    }
    for v in config.volumes.iter().flatten() {
        let destination = check_destination(v, "volume")?;
        if !out.iter().any(|o| o.destination == destination) {
            out.push(MountSpec {
                destination,
                source: MountSource::Volume {
                    name: String::new(),
                    nocopy: false,
                    path: None,
                },
                read_only: false,
                propagation: "rprivate".into(),
                recursive: true,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_model::docker::{MountBindOptions, MountTmpfsOptions};
    use std::collections::HashMap;

    #[test]
    fn bind_specs() {
        let m = parse_bind("/host/dir:/ctr:ro,z,rshared").expect("ok");
        assert_eq!(m.destination, "/ctr");
        assert!(m.read_only);
        assert_eq!(m.propagation, "rshared");
        assert_eq!(
            m.source,
            MountSource::Bind {
                path: "/host/dir".into(),
                create: true
            }
        );
        let m = parse_bind("data:/var/lib/data:nocopy").expect("ok");
        assert_eq!(
            m.source,
            MountSource::Volume {
                name: "data".into(),
                nocopy: true,
                path: None
            }
        );
        let m = parse_bind("/anon").expect("ok");
        assert_eq!(
            m.source,
            MountSource::Volume {
                name: String::new(),
                nocopy: false,
                path: None
            }
        );
        assert_eq!(
            parse_bind("/a:/b:bogus").expect_err("mode").message,
            "invalid mode: bogus"
        );
        assert_eq!(
            parse_bind("/a:/b:ro,rw").expect_err("mode").message,
            "invalid mode: ro,rw"
        );
        assert_eq!(
            parse_bind("a:b:c:d").expect_err("spec").message,
            "invalid volume specification: 'a:b:c:d'"
        );
        let e = parse_bind("/a:rel").expect_err("relative");
        assert!(e.message.contains("mount path must be absolute"), "{e}");
        let e = parse_bind("/a:/").expect_err("root");
        assert!(e.message.contains("destination can't be '/'"), "{e}");
        let e = parse_bind("bad$name:/x").expect_err("name");
        assert!(e.message.contains("includes invalid characters"), "{e}");
    }

    #[test]
    fn tmpfs_defaults_and_overrides() {
        let (o, ro) = tmpfs_options("rw,size=64m", "/run").expect("ok");
        assert_eq!(o, ["noexec", "nosuid", "nodev", "size=64m"]);
        assert!(!ro);
        let (o, _) = tmpfs_options("exec,size=1m,size=2m,mode=1777", "/run").expect("ok");
        assert_eq!(o, ["nosuid", "nodev", "exec", "size=2m", "mode=1777"]);
        assert!(tmpfs_options("bogus", "/run").is_err());
        assert!(tmpfs_options("size=lots", "/run").is_err());
        assert!(tmpfs_options("ro", "/run").expect("ok").1);
    }

    #[test]
    fn mounts_api() {
        let dir = tempfile::tempdir().expect("tmp");
        let src = dir.path().display().to_string();
        let host = HostConfig {
            mounts: Some(vec![
                Mount {
                    target: Some("/b".into()),
                    source: Some(src.clone()),
                    typ: Some(MountType::BIND),
                    read_only: Some(true),
                    bind_options: Some(MountBindOptions {
                        propagation: Some(MountBindOptionsPropagationEnum::RSLAVE),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                Mount {
                    target: Some("/t".into()),
                    typ: Some(MountType::TMPFS),
                    tmpfs_options: Some(MountTmpfsOptions {
                        size_bytes: Some(1 << 20),
                        mode: Some(0o700),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ]),
            tmpfs: Some(HashMap::from([("/run".to_string(), "size=1m".to_string())])),
            ..Default::default()
        };
        let config = ContainerConfig {
            volumes: Some(vec!["/b".into(), "/data".into()]),
            ..Default::default()
        };
        let ms = parse_mounts(&config, &host).expect("ok");
        assert_eq!(ms.len(), 4, "{ms:?}");
        assert_eq!(ms[0].propagation, "rslave");
        assert!(ms[0].read_only);
        assert_eq!(
            ms[1].source,
            MountSource::Tmpfs {
                options: vec![
                    "noexec".into(),
                    "nosuid".into(),
                    "nodev".into(),
                    "size=1048576".into(),
                    "mode=700".into()
                ]
            }
        );
        assert_eq!(ms[2].destination, "/run");
        assert_eq!(ms[3].destination, "/data");
    }

    #[test]
    fn mounts_api_errors() {
        let bind = |src: &str| HostConfig {
            mounts: Some(vec![Mount {
                target: Some("/ctr".into()),
                source: Some(src.into()),
                typ: Some(MountType::BIND),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let e = parse_mounts(&ContainerConfig::default(), &bind("/x/does/not/exist"))
            .expect_err("missing");
        assert_eq!(
            e.message,
            "invalid mount config for type \"bind\": bind source path does not exist: /x/does/not/exist"
        );
        let e = parse_mounts(&ContainerConfig::default(), &bind("")).expect_err("empty");
        assert_eq!(
            e.message,
            "invalid mount config for type \"bind\": field Source must not be empty"
        );
        let tmpfs_with_source = HostConfig {
            mounts: Some(vec![Mount {
                target: Some("/t".into()),
                source: Some("x".into()),
                typ: Some(MountType::TMPFS),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let e = parse_mounts(&ContainerConfig::default(), &tmpfs_with_source).expect_err("src");
        assert_eq!(
            e.message,
            "invalid mount config for type \"tmpfs\": field Source must not be specified"
        );
        let dup = HostConfig {
            binds: Some(vec!["/a:/x".into(), "vol:/x".into()]),
            ..Default::default()
        };
        let e = parse_mounts(&ContainerConfig::default(), &dup).expect_err("dup");
        assert_eq!(e.message, "Duplicate mount point: /x");
    }
}
