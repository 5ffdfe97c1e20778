//! IP address management: which container holds which address on which network, on disk.
//!
//! One JSON file per network, `<dir>/<network id>.json`:
//!
//! ```json
//! {"version":1,"subnet":"172.18.0.0/16","last":"172.18.0.3",
//!  "allocations":{"<owner>":"172.18.0.2","<owner 2>":"172.18.0.3"}}
//! ```
//!
//! `owner` is whatever the engine names an endpoint by (a container ID); `last` is the last
//! address handed out without being asked for, where the next search starts (Docker's
//! sequential allocation: a released address is not reused until the range wraps around,
//! so a restarted peer does not inherit a stale ARP/DNS entry's address at once).
//!
//! Crash safety: a file is replaced whole (write `.<id>.json.tmp`, fsync, rename, fsync the
//! directory), so a reader sees the old state or the new one, never a torn one; temp files
//! left by a crash are removed by [`Ipam::open`]. An allocation is on disk before
//! [`Ipam::allocate`] returns it. Allocations whose owner died with the daemon are dropped
//! by [`Ipam::retain`] at the next start.
//!
//! Concurrency: one [`Ipam`] per data root, shared by the engine's blocking threads; a
//! `Mutex` serialises its operations (and its in-memory cache of the files).

mod pool;

pub use pool::{
    broadcast_of, contains, default_pools, format_cidr, netmask, network_of, overlaps, parse_cidr,
    parse_ipv4, parse_subnet, pick_subnet, Cidr, Pool,
};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, IoContext, Result};

/// The on-disk format's version; a newer one is refused rather than misread.
const VERSION: u32 = 1;
const TMP_SUFFIX: &str = ".json.tmp";

/// One network's state file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct NetState {
    version: u32,
    /// The subnet the addresses belong to (`a.b.c.d/n`): a pool for another subnet is refused.
    subnet: String,
    /// The last address handed out dynamically.
    #[serde(default)]
    last: Option<Ipv4Addr>,
    /// Owner → address.
    #[serde(default)]
    allocations: BTreeMap<String, Ipv4Addr>,
}

/// The address allocator of one daemon: see the module documentation.
#[derive(Debug)]
pub struct Ipam {
    dir: PathBuf,
    /// Network id → state, loaded from disk on first use; `None`: no file.
    cache: Mutex<HashMap<String, Option<NetState>>>,
}

impl Ipam {
    /// Opens (creating, mode 0700) the state directory `dir` and removes the temp files a
    /// crash may have left there.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Ipam> {
        let dir = dir.into();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .ctx(|| format!("create IPAM directory {}", dir.display()))?;
        for entry in fs::read_dir(&dir).ctx(|| format!("read IPAM directory {}", dir.display()))? {
            let entry = entry.ctx(|| format!("read IPAM directory {}", dir.display()))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && name.ends_with(TMP_SUFFIX) {
                let path = entry.path();
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(format!("remove {}", path.display()), e)),
                }
            }
        }
        Ok(Ipam {
            dir,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Gives `owner` an address on network `net_id` and records it before returning it.
    ///
    /// - An owner that already holds an address on the network gets it again (a restart
    ///   calls this again); asking for a different one then is a Conflict.
    /// - `want`: that address, if it is inside the subnet (else `invalid address …: It does
    ///   not belong to any of this network's subnets`) and free (else `Address already in
    ///   use`; the gateway, network and broadcast addresses never are). It may lie outside
    ///   the ip-range, as in Docker.
    /// - Otherwise the next free address after the last one handed out, inside the ip-range
    ///   when there is one, wrapping around; when none is left: `no available IPv4
    ///   addresses on this network's address pools` (kind [`ErrorKind::Exhausted`]).
    pub fn allocate(
        &self,
        net_id: &str,
        pool: &Pool,
        owner: &str,
        want: Option<Ipv4Addr>,
    ) -> Result<Ipv4Addr> {
        check_owner(owner)?;
        pool.validate()?;
        let mut cache = self.lock();
        let subnet = format_cidr(pool.subnet);
        let mut state = match self.load(&mut cache, net_id)? {
            Some(state) if state.subnet != subnet => {
                return Err(Error::conflict(format!(
                    "IPAM state of network {net_id} is for subnet {}, not {subnet}",
                    state.subnet
                )));
            }
            Some(state) => state.clone(),
            None => NetState {
                version: VERSION,
                subnet,
                ..NetState::default()
            },
        };
        if let Some(held) = state.allocations.get(owner).copied() {
            return match want {
                Some(w) if w != held => Err(Error::conflict(format!(
                    "{owner} already holds address {held} on network {net_id}, not {w}"
                ))),
                _ => Ok(held),
            };
        }
        let used: HashSet<Ipv4Addr> = state.allocations.values().copied().collect();
        let ip = match want {
            Some(w) => {
                if !contains(pool.subnet, w) {
                    return Err(Error::invalid(format!(
                        "invalid address {w}: It does not belong to any of this network's subnets"
                    )));
                }
                if pool.is_reserved(w) || used.contains(&w) {
                    return Err(Error::conflict("Address already in use"));
                }
                w
            }
            None => {
                let ip = next_free(pool, state.last, &used).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Exhausted,
                        format!(
                            "no available IPv4 addresses on this network's address pools: {net_id}"
                        ),
                    )
                })?;
                state.last = Some(ip);
                ip
            }
        };
        state.allocations.insert(owner.to_owned(), ip);
        self.store(&mut cache, net_id, state)?;
        Ok(ip)
    }

    /// Frees `owner`'s address on `net_id`, returning it (`None`: it held none).
    pub fn release(&self, net_id: &str, owner: &str) -> Result<Option<Ipv4Addr>> {
        let mut cache = self.lock();
        let Some(state) = self.load(&mut cache, net_id)? else {
            return Ok(None);
        };
        if !state.allocations.contains_key(owner) {
            return Ok(None);
        }
        let mut state = state.clone();
        let ip = state.allocations.remove(owner);
        self.store(&mut cache, net_id, state)?;
        Ok(ip)
    }

    /// Drops the allocations on `net_id` whose owner is not in `live_owners` (crash
    /// recovery: containers removed while the daemon was down), returning what was dropped.
    pub fn retain(
        &self,
        net_id: &str,
        live_owners: &HashSet<String>,
    ) -> Result<Vec<(String, Ipv4Addr)>> {
        let mut cache = self.lock();
        let Some(state) = self.load(&mut cache, net_id)? else {
            return Ok(Vec::new());
        };
        let dropped: Vec<(String, Ipv4Addr)> = state
            .allocations
            .iter()
            .filter(|(owner, _)| !live_owners.contains(*owner))
            .map(|(o, ip)| (o.clone(), *ip))
            .collect();
        if dropped.is_empty() {
            return Ok(dropped);
        }
        let mut state = state.clone();
        state
            .allocations
            .retain(|owner, _| live_owners.contains(owner));
        self.store(&mut cache, net_id, state)?;
        Ok(dropped)
    }

    /// Forgets network `net_id` entirely (its file is removed; a missing one is fine).
    pub fn remove_network(&self, net_id: &str) -> Result<()> {
        check_net_id(net_id)?;
        let mut cache = self.lock();
        let path = self.path(net_id);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("remove {}", path.display()), e)),
        }
        sync_dir(&self.dir)?;
        cache.insert(net_id.to_owned(), None);
        Ok(())
    }

    /// Owner → address on `net_id` (empty for an unknown network).
    pub fn allocations(&self, net_id: &str) -> Result<BTreeMap<String, Ipv4Addr>> {
        let mut cache = self.lock();
        Ok(self
            .load(&mut cache, net_id)?
            .map(|s| s.allocations.clone())
            .unwrap_or_default())
    }

    /// The networks that have a state file, sorted (to reconcile with the engine's list).
    pub fn networks(&self) -> Result<Vec<String>> {
        let _cache = self.lock();
        let mut out = Vec::new();
        for entry in
            fs::read_dir(&self.dir).ctx(|| format!("read IPAM directory {}", self.dir.display()))?
        {
            let entry = entry.ctx(|| format!("read IPAM directory {}", self.dir.display()))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(id) = name.strip_suffix(".json") {
                if check_net_id(id).is_ok() {
                    out.push(id.to_owned());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Option<NetState>>> {
        // The cache is only replaced after a successful write, so a panic elsewhere while
        // holding the lock cannot leave it inconsistent with the disk.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn path(&self, net_id: &str) -> PathBuf {
        self.dir.join(format!("{net_id}.json"))
    }

    fn load<'a>(
        &self,
        cache: &'a mut HashMap<String, Option<NetState>>,
        net_id: &str,
    ) -> Result<Option<&'a NetState>> {
        check_net_id(net_id)?;
        if !cache.contains_key(net_id) {
            let state = self.read(net_id)?;
            cache.insert(net_id.to_owned(), state);
        }
        Ok(cache.get(net_id).and_then(|s| s.as_ref()))
    }

    fn read(&self, net_id: &str) -> Result<Option<NetState>> {
        let path = self.path(net_id);
        let data = match fs::read(&path) {
            Ok(data) => data,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("read {}", path.display()), e)),
        };
        let state: NetState = serde_json::from_slice(&data).map_err(|e| {
            Error::internal(format!("IPAM state {} is corrupt: {e}", path.display()))
        })?;
        if state.version != VERSION {
            return Err(Error::internal(format!(
                "IPAM state {} has version {}, this berth reads version {VERSION}",
                path.display(),
                state.version
            )));
        }
        Ok(Some(state))
    }

    /// Writes `state` atomically, then caches it.
    fn store(
        &self,
        cache: &mut HashMap<String, Option<NetState>>,
        net_id: &str,
        state: NetState,
    ) -> Result<()> {
        let path = self.path(net_id);
        let tmp = self.dir.join(format!(".{net_id}{TMP_SUFFIX}"));
        let data = serde_json::to_vec(&state)
            .map_err(|e| Error::internal(format!("encode IPAM state of {net_id}: {e}")))?;
        let written = (|| -> io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&data)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io(format!("write {}", path.display()), e));
        }
        sync_dir(&self.dir)?;
        cache.insert(net_id.to_owned(), Some(state));
        Ok(())
    }
}

/// The next address after `last` (or from the start of the span) that is neither reserved
/// nor used, wrapping around once.
fn next_free(pool: &Pool, last: Option<Ipv4Addr>, used: &HashSet<Ipv4Addr>) -> Option<Ipv4Addr> {
    let (first, end) = pool.dynamic_span();
    let size = u64::from(end - first) + 1;
    let start = match last.map(u32::from) {
        Some(l) if l >= first && l < end => l + 1,
        _ => first,
    };
    (0..size)
        .map(|i| {
            let off = (u64::from(start - first) + i) % size;
            // off < size ≤ 2^32, and first + off ≤ end.
            Ipv4Addr::from(first + off as u32)
        })
        .find(|ip| !pool.is_reserved(*ip) && !used.contains(ip))
}

/// Network ids become file names: plain `[A-Za-z0-9_.-]`, not starting with a dot.
fn check_net_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid network id for IPAM: {id:?}"
        )))
    }
}

fn check_owner(owner: &str) -> Result<()> {
    if owner.is_empty() {
        return Err(Error::invalid("IPAM owner must not be empty"));
    }
    Ok(())
}

/// fsync of a directory, so that a rename or unlink in it is durable.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .ctx(|| format!("sync directory {}", dir.display()))
}

#[cfg(test)]
mod tests;
