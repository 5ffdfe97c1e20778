//! Typed arguments from parsed options: numbers, user specs, update resources.

use super::{CreateArgs, ExecArgs, Format, ResourcesSource};
use crate::args::{Matches, ParseError};
use crate::units::parse_size;
use berth_spec::{BlockIo, Cpu, Memory, Pids, Resources};
use std::path::PathBuf;

pub(super) fn create_args(m: &Matches, id: String) -> Result<CreateArgs, ParseError> {
    Ok(CreateArgs {
        id,
        bundle: PathBuf::from(m.value("bundle").filter(|b| !b.is_empty()).unwrap_or(".")),
        console_socket: path_opt(m, "console-socket"),
        pid_file: path_opt(m, "pid-file"),
        no_pivot: m.flag("no-pivot"),
        no_new_keyring: m.flag("no-new-keyring"),
        preserve_fds: number(m, "preserve-fds")?.unwrap_or(0),
    })
}

pub(super) fn exec_args(m: &Matches) -> Result<ExecArgs, ParseError> {
    let process = path_opt(m, "process");
    if m.positionals.is_empty() {
        return Err(ParseError::new("\"exec\" requires a container ID"));
    }
    if process.is_none() && m.positionals.len() < 2 {
        return Err(ParseError::new(
            "\"exec\" requires a command after the container ID (or --process)",
        ));
    }
    let user = match m.value("user") {
        None | Some("") => None,
        Some(u) => Some(parse_user(u)?),
    };
    let mut additional_gids = Vec::new();
    for v in m.values("additional-gids") {
        for g in v.split(',').filter(|g| !g.is_empty()) {
            additional_gids.push(parse_num::<u32>("additional-gids", g)?);
        }
    }
    Ok(ExecArgs {
        id: m.positionals[0].clone(),
        command: if process.is_some() {
            Vec::new()
        } else {
            m.positionals[1..].to_vec()
        },
        process,
        tty: m.switch("tty"),
        detach: m.flag("detach"),
        pid_file: path_opt(m, "pid-file"),
        console_socket: path_opt(m, "console-socket"),
        cwd: non_empty(m, "cwd"),
        env: m.values("env").into_iter().map(str::to_string).collect(),
        user,
        additional_gids,
        caps: m.values("cap").into_iter().map(str::to_string).collect(),
        no_new_privs: m.switch("no-new-privs"),
        apparmor: non_empty(m, "apparmor"),
        process_label: non_empty(m, "process-label"),
        preserve_fds: number(m, "preserve-fds")?.unwrap_or(0),
        cgroup: match m.values("cgroup").as_slice() {
            [] => None,
            [one] => Some((*one).to_string()),
            _ => return Err(ParseError::new("--cgroup may be given only once")),
        },
        ignore_paused: m.flag("ignore-paused"),
    })
}

/// `uid[:gid]`, numeric as in runc.
fn parse_user(u: &str) -> Result<(u32, Option<u32>), ParseError> {
    let (uid, gid) = match u.split_once(':') {
        Some((uid, gid)) => (uid, Some(gid)),
        None => (u, None),
    };
    let uid = parse_num::<u32>("user", uid)?;
    let gid = gid.map(|g| parse_num::<u32>("user", g)).transpose()?;
    Ok((uid, gid))
}

pub(super) fn update_source(m: &Matches) -> Result<ResourcesSource, ParseError> {
    for rdt in ["l3-cache-schema", "mem-bw-schema"] {
        if m.value(rdt).is_some_and(|v| !v.is_empty()) {
            return Err(ParseError::new(format!(
                "--{rdt}: Intel RDT is not supported"
            )));
        }
    }
    if let Some(file) = m.value("resources").filter(|f| !f.is_empty()) {
        return Ok(ResourcesSource::File(file.to_string()));
    }
    let mut r = Resources::default();
    let mut mem = Memory::default();
    let size = |name: &str| -> Result<Option<i64>, ParseError> {
        match m.value(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => parse_size(v)
                .map(Some)
                .map_err(|e| ParseError::new(format!("invalid value for --{name}: {e}"))),
        }
    };
    mem.limit = size("memory")?;
    mem.reservation = size("memory-reservation")?;
    mem.swap = size("memory-swap")?;
    mem.kernel = size("kernel-memory")?;
    mem.kernel_tcp = size("kernel-memory-tcp")?;
    if mem.limit == Some(-1) && mem.swap.is_none() {
        // As runc: an unlimited memory limit lifts the swap limit too, else the kernel
        // rejects a memory+swap limit below the (now unlimited) memory limit.
        mem.swap = Some(-1);
    }
    if mem != Memory::default() {
        r.memory = Some(mem);
    }
    let cpu = Cpu {
        shares: number(m, "cpu-share")?,
        quota: number(m, "cpu-quota")?,
        period: number(m, "cpu-period")?,
        realtime_runtime: number(m, "cpu-rt-runtime")?,
        realtime_period: number(m, "cpu-rt-period")?,
        cpus: non_empty(m, "cpuset-cpus"),
        mems: non_empty(m, "cpuset-mems"),
        ..Cpu::default()
    };
    if cpu != Cpu::default() {
        r.cpu = Some(cpu);
    }
    // runc treats 0 as "leave unchanged" for these two.
    if let Some(limit) = number::<i64>(m, "pids-limit")?.filter(|l| *l != 0) {
        r.pids = Some(Pids { limit });
    }
    if let Some(weight) = number::<u16>(m, "blkio-weight")?.filter(|w| *w != 0) {
        r.block_io = Some(BlockIo {
            weight: Some(weight),
            ..BlockIo::default()
        });
    }
    Ok(ResourcesSource::Flags(Box::new(r)))
}

pub(super) fn format(m: &Matches) -> Result<Format, ParseError> {
    match m.value("format").unwrap_or("table") {
        "table" => Ok(Format::Table),
        "json" => Ok(Format::Json),
        other => Err(ParseError::new(format!("invalid format option {other:?}"))),
    }
}

pub(super) fn path_opt(m: &Matches, name: &str) -> Option<PathBuf> {
    m.value(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

fn non_empty(m: &Matches, name: &str) -> Option<String> {
    m.value(name).filter(|v| !v.is_empty()).map(str::to_string)
}

fn number<T: std::str::FromStr>(m: &Matches, name: &str) -> Result<Option<T>, ParseError> {
    m.value(name)
        .filter(|v| !v.is_empty())
        .map(|v| parse_num(name, v))
        .transpose()
}

fn parse_num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ParseError> {
    v.trim().parse().map_err(|_| {
        ParseError::new(format!(
            "invalid value {v:?} for --{name}: not a valid number"
        ))
    })
}
