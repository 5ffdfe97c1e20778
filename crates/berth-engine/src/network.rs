//! Container networks: Docker's network objects and the kernel state that makes them real.
//!
//! - **Objects**: the built-in `bridge` (the default network, bridge device `berth0`),
//!   `host` and `none`, and user-defined bridge networks (`br-<12 hex of the id>`).
//!   Bridge networks are records in `<data-root>/network/networks/<id>.json`; addresses are
//!   handed out by `berth_net::ipam` (files in `<data-root>/network/ipam`), so no address
//!   is given twice, also across daemon crashes.
//! - **A container on bridge networks** gets a network namespace made by the engine before
//!   the runtime runs (`<exec-root>/netns/<id>`, joined through the OCI config), one veth
//!   per network (`berth_net::link::attach`), its published ports as nftables map entries
//!   (`berth_firewall`), and on user-defined networks a name in the embedded DNS server
//!   (`berth_dns`, listening on the network's gateway, port 53). All of it is undone when
//!   the container stops; addresses go back to the pool then, as in Docker.
//! - **After a crash** the daemon rebuilds berth's nftables table from the running
//!   containers (one transaction), drops address allocations of containers that no longer
//!   run, and removes namespaces and veths nothing owns.
//! - `--bridge none` (dockerd's flag) leaves the default network out: containers without a
//!   network then get a private namespace with loopback only, as with `--network none`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use berth_firewall::{Firewall, PortMapping, Proto};
use berth_model::{docker, Error};
use berth_net::ipam::{self, Cidr, Ipam, Pool};
use berth_net::{link, netns};
use serde::{Deserialize, Serialize};

use crate::util;

/// The default bridge network's device.
pub const DEFAULT_BRIDGE: &str = "berth0";
/// berth's nftables table.
const TABLE: &str = "berth";
/// Prefix of the host ends of containers' veths.
const VETH_PREFIX: &str = "vb";

/// A bridge network as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetRecord {
    /// 64 hex digits.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// RFC 3339.
    pub created: String,
    /// The bridge device.
    pub bridge: String,
    /// `a.b.c.d/n`.
    pub subnet: String,
    /// The bridge's address.
    pub gateway: String,
    /// `--ip-range`.
    #[serde(default)]
    pub ip_range: Option<String>,
    /// `--internal`: no way out.
    #[serde(default)]
    pub internal: bool,
    /// `--attachable` (recorded for inspect).
    #[serde(default)]
    pub attachable: bool,
    /// Labels.
    #[serde(default)]
    pub labels: HashMap<String, String>,
    /// Driver options.
    #[serde(default)]
    pub options: HashMap<String, String>,
}

impl NetRecord {
    fn subnet(&self) -> Result<Cidr, Error> {
        ipam::parse_cidr(&self.subnet).map_err(net_err)
    }
    fn gateway(&self) -> Result<Ipv4Addr, Error> {
        ipam::parse_ipv4(&self.gateway).map_err(net_err)
    }
    fn pool(&self) -> Result<Pool, Error> {
        Ok(Pool {
            subnet: self.subnet()?,
            ip_range: self
                .ip_range
                .as_deref()
                .map(ipam::parse_cidr)
                .transpose()
                .map_err(net_err)?,
            gateway: self.gateway()?,
        })
    }
    /// User-defined (not the default `bridge`): gets the embedded DNS.
    pub fn is_user_defined(&self) -> bool {
        self.name != "bridge"
    }
    fn firewall_net(&self) -> Result<berth_firewall::Network, Error> {
        Ok(berth_firewall::Network {
            id: self.id.clone(),
            bridge: self.bridge.clone(),
            subnet: self.subnet()?,
            internal: self.internal,
        })
    }
}

/// One network a container is on, as recorded with the container: what was asked at
/// create, and (while it runs) what it got.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoint {
    /// The network's ID.
    pub network_id: String,
    /// `--network-alias`.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `--ip`.
    #[serde(default)]
    pub requested_ip: Option<String>,
    /// `--mac-address`.
    #[serde(default)]
    pub requested_mac: Option<String>,
    /// Set while running: the address.
    #[serde(default)]
    pub ip: String,
    /// Set while running: the prefix length.
    #[serde(default)]
    pub prefix: u8,
    /// Set while running: the gateway (empty on internal networks).
    #[serde(default)]
    pub gateway: String,
    /// Set while running.
    #[serde(default)]
    pub mac: String,
    /// Set while running: the host end of the veth.
    #[serde(default)]
    pub host_ifname: String,
    /// Set while running.
    #[serde(default)]
    pub endpoint_id: String,
}

/// A published port while the container runs (`NetworkSettings.Ports`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Published {
    /// `80/tcp`.
    pub container_port: String,
    /// `0.0.0.0` or the address asked for.
    pub host_ip: String,
    /// The host port.
    pub host_port: u16,
}

/// The engine's networks.
pub struct Networks {
    dir: PathBuf,
    netns_dir: PathBuf,
    nets: RwLock<BTreeMap<String, NetRecord>>,
    ipam: Ipam,
    /// None when `nft` is missing: only bridge networks need it.
    firewall: Option<Firewall>,
    dns: Arc<berth_dns::Table>,
    dns_servers: Mutex<HashMap<String, berth_dns::Handle>>,
    upstreams: String,
    bridge_enabled: bool,
    /// Serialises network create/remove.
    admin: Mutex<()>,
}

impl std::fmt::Debug for Networks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Networks")
            .field("dir", &self.dir)
            .field("bridge_enabled", &self.bridge_enabled)
            .finish_non_exhaustive()
    }
}

fn net_err(e: berth_net::Error) -> Error {
    use berth_net::ErrorKind as K;
    match e.kind {
        K::NotFound => Error::not_found(e.to_string()),
        K::Conflict => Error::conflict(e.to_string()),
        K::InvalidArgument => Error::invalid(e.to_string()),
        _ => Error::internal(e.to_string()),
    }
}

fn fw_err(e: berth_firewall::Error) -> Error {
    use berth_firewall::ErrorKind as K;
    match e.kind {
        K::NotFound => Error::not_found(e.to_string()),
        K::Conflict => Error::conflict(e.to_string()),
        K::InvalidArgument => Error::invalid(e.to_string()),
        _ => Error::internal(e.to_string()),
    }
}

impl Networks {
    /// Loads the networks, makes their bridges and berth's nftables table exist, and
    /// starts the DNS listeners of user-defined networks.
    pub fn open(
        data_root: &Path,
        exec_root: &Path,
        bridge_enabled: bool,
    ) -> Result<Networks, Error> {
        let dir = data_root.join("network");
        let nets_dir = dir.join("networks");
        std::fs::create_dir_all(&nets_dir)
            .map_err(util::io_err(format!("creating {}", nets_dir.display())))?;
        let ipam = Ipam::open(dir.join("ipam")).map_err(net_err)?;
        let firewall = Firewall::new(TABLE).ok();
        let mut nets = BTreeMap::new();
        for e in std::fs::read_dir(&nets_dir)
            .map_err(util::io_err(format!("reading {}", nets_dir.display())))?
            .flatten()
        {
            let p = e.path();
            if p.extension().is_none_or(|x| x != "json") {
                continue;
            }
            match std::fs::read(&p)
                .ok()
                .and_then(|b| serde_json::from_slice::<NetRecord>(&b).ok())
            {
                Some(n) => {
                    nets.insert(n.id.clone(), n);
                }
                None => tracing::warn!("skipping unreadable network record {}", p.display()),
            }
        }
        let upstreams = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let me = Networks {
            dir,
            netns_dir: exec_root.join("netns"),
            nets: RwLock::new(nets),
            ipam,
            firewall,
            dns: Arc::new(berth_dns::Table::new()),
            dns_servers: Mutex::new(HashMap::new()),
            upstreams,
            bridge_enabled,
            admin: Mutex::new(()),
        };
        if bridge_enabled && me.by_name("bridge").is_none() {
            let taken = me.subnets();
            let routes = link::host_routes().map_err(net_err)?;
            let subnet = ipam::pick_subnet(&taken, &routes)
                .ok_or_else(|| Error::internal("no free subnet for the default bridge network"))?;
            let gateway = first_host(subnet)?;
            me.store(NetRecord {
                id: crate::objects::network_id("bridge"),
                name: "bridge".into(),
                created: util::now_rfc3339(),
                bridge: DEFAULT_BRIDGE.into(),
                subnet: ipam::format_cidr(subnet),
                gateway: gateway.to_string(),
                ip_range: None,
                internal: false,
                attachable: false,
                labels: HashMap::new(),
                options: HashMap::new(),
            })?;
        }
        Ok(me)
    }

    /// Brings the kernel in line with the records (run once the tokio runtime is up):
    /// bridges, forwarding, berth's table rebuilt from `running` (container id → its
    /// endpoints and published ports), address allocations of other containers dropped,
    /// orphaned namespaces and veths removed, DNS listeners started.
    pub fn reconcile(
        &self,
        running: &HashMap<String, (Vec<Endpoint>, Vec<Published>)>,
    ) -> Result<(), Error> {
        let nets: Vec<NetRecord> = self.all_bridges();
        for p in netns::list(&self.netns_dir).unwrap_or_default() {
            let id = p.file_name().map(|f| f.to_string_lossy().into_owned());
            if id.is_none_or(|id| !running.contains_key(&id)) {
                let _ = netns::remove(&p);
            }
        }
        if nets.is_empty() {
            // `--bridge none` and no user network: nothing of berth's in the host's
            // network stack, not even an empty table.
            return Ok(());
        }
        let mut fw_nets = Vec::new();
        for n in &nets {
            self.make_bridge(n)?;
            fw_nets.push(n.firewall_net()?);
        }
        if !nets.is_empty() {
            link::set_sysctl("net.ipv4.ip_forward", "1").map_err(net_err)?;
        }
        self.fw()?.ensure().map_err(fw_err)?;
        let mut ports = Vec::new();
        for (id, (eps, published)) in running {
            ports.extend(self.mappings(id, eps, published)?);
        }
        self.fw()?.reconcile(&fw_nets, &ports).map_err(fw_err)?;
        for n in &nets {
            let _ = berth_firewall::enable_route_localnet(&n.bridge);
        }
        let live: HashSet<String> = running.keys().cloned().collect();
        for n in &nets {
            self.ipam.retain(&n.id, &live).map_err(net_err)?;
        }
        let owned: HashSet<String> = running
            .values()
            .flat_map(|(eps, _)| eps.iter().map(|e| e.host_ifname.clone()))
            .collect();
        for l in link::links_with_prefix(VETH_PREFIX).unwrap_or_default() {
            if !owned.contains(&l) {
                let _ = link::detach(&l);
            }
        }
        for n in nets.iter().filter(|n| n.is_user_defined()) {
            self.start_dns(n);
        }
        Ok(())
    }

    /// Names of a running container for the DNS table (done by the engine, which knows
    /// the container's name).
    pub fn dns_add(&self, id: &str, name: &str, eps: &[Endpoint]) {
        for e in eps {
            let Some(n) = self.get(&e.network_id) else {
                continue;
            };
            if !n.is_user_defined() {
                continue;
            }
            let Ok(ip) = e.ip.parse::<Ipv4Addr>() else {
                continue;
            };
            let _ = self.dns.upsert(
                &n.id,
                berth_dns::Entry::new(id, name, e.aliases.clone(), ip),
            );
        }
    }

    /// Starts the embedded DNS listener of a user-defined network (once).
    pub fn start_dns(&self, n: &NetRecord) {
        let Ok(gw) = n.gateway() else { return };
        self.dns.set_network(n.id.clone(), gw);
        let mut servers = self.dns_servers.lock().unwrap_or_else(|p| p.into_inner());
        if servers.contains_key(&n.id) {
            return;
        }
        let upstreams = berth_dns::Upstreams::from_resolv_conf(&self.upstreams);
        match berth_dns::Server::start(gw, 53, self.dns.clone(), upstreams) {
            Ok(h) => {
                servers.insert(n.id.clone(), h);
            }
            Err(e) => tracing::warn!("network {}: embedded DNS not started: {e}", n.name),
        }
    }

    fn fw(&self) -> Result<&Firewall, Error> {
        self.firewall.as_ref().ok_or_else(|| {
            Error::internal(
                "bridge networks need nftables' nft program, which is not installed (apt-get install nftables)",
            )
        })
    }

    fn make_bridge(&self, n: &NetRecord) -> Result<(), Error> {
        let (_, prefix) = n.subnet()?;
        link::ensure_bridge(&link::Bridge {
            name: n.bridge.clone(),
            address: n.gateway()?,
            prefix,
            mtu: None,
        })
        .map_err(net_err)
    }

    fn store(&self, n: NetRecord) -> Result<(), Error> {
        let path = self.dir.join("networks").join(format!("{}.json", n.id));
        let data = serde_json::to_vec_pretty(&n)
            .map_err(|e| Error::internal(format!("encoding network {}: {e}", n.name)))?;
        util::write_atomic(&path, &data)
            .map_err(util::io_err(format!("writing {}", path.display())))?;
        self.nets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(n.id.clone(), n);
        Ok(())
    }

    fn subnets(&self) -> Vec<Cidr> {
        self.nets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter_map(|n| n.subnet().ok())
            .collect()
    }

    fn all_bridges(&self) -> Vec<NetRecord> {
        self.nets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|n| self.bridge_enabled || n.name != "bridge")
            .cloned()
            .collect()
    }

    /// A bridge network by ID.
    pub fn get(&self, id: &str) -> Option<NetRecord> {
        self.nets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    fn by_name(&self, name: &str) -> Option<NetRecord> {
        self.nets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .find(|n| n.name == name)
            .cloned()
    }

    /// Finds a bridge network by name, full ID or unique ID prefix (Docker's order).
    pub fn find(&self, reference: &str) -> Option<NetRecord> {
        if reference == "bridge" && !self.bridge_enabled {
            return None;
        }
        let nets = self.nets.read().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = nets.values().find(|n| n.name == reference) {
            return Some(n.clone());
        }
        if let Some(n) = nets.get(reference) {
            return Some(n.clone());
        }
        let mut hits = nets.values().filter(|n| n.id.starts_with(reference));
        match (hits.next(), hits.next()) {
            (Some(n), None) if !reference.is_empty() => Some(n.clone()),
            _ => None,
        }
    }

    /// Whether containers without a network get the default bridge.
    pub fn bridge_enabled(&self) -> bool {
        self.bridge_enabled
    }

    /// Every bridge network, for list and inspect.
    pub fn records(&self) -> Vec<NetRecord> {
        self.all_bridges()
    }

    /// `network create` of a bridge network.
    pub fn create(&self, req: &docker::NetworkCreateRequest) -> Result<NetRecord, Error> {
        let _g = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let name = req.name.trim();
        if name.is_empty() {
            return Err(Error::invalid("network name cannot be empty"));
        }
        // Docker's rule for object names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
        let valid = name
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_alphanumeric() || (i > 0 && matches!(b, b'_' | b'.' | b'-')));
        if !valid {
            return Err(Error::invalid(format!(
                "invalid network name \"{name}\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        if ["bridge", "host", "none", "default"].contains(&name) && self.find(name).is_some()
            || ["host", "none", "default"].contains(&name)
        {
            return Err(Error::invalid(format!(
                "{name} is a pre-defined network and cannot be created"
            )));
        }
        if self.by_name(name).is_some() {
            return Err(Error::conflict(format!(
                "network with name {name} already exists"
            )));
        }
        match req.driver.as_deref().unwrap_or("bridge") {
            "" | "bridge" => {}
            d => {
                return Err(Error::not_found(format!(
                    "plugin \"{d}\" not found: berth has the bridge driver only"
                )))
            }
        }
        let cfg = req
            .ipam
            .as_ref()
            .and_then(|i| i.config.as_ref())
            .and_then(|c| c.first())
            .cloned()
            .unwrap_or_default();
        let taken = self.subnets();
        let subnet = match cfg.subnet.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => {
                let c = ipam::parse_subnet(s).map_err(net_err)?;
                if let Some(o) = taken.iter().find(|t| ipam::overlaps(**t, c)) {
                    return Err(Error::invalid(format!(
                        "invalid pool request: Pool overlaps with other one on this address space ({})",
                        ipam::format_cidr(*o)
                    )));
                }
                c
            }
            None => {
                let routes = link::host_routes().map_err(net_err)?;
                ipam::pick_subnet(&taken, &routes).ok_or_else(|| {
                    Error::internal(
                        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
                    )
                })?
            }
        };
        let gateway = match cfg.gateway.as_deref().filter(|s| !s.is_empty()) {
            Some(g) => {
                let g = ipam::parse_ipv4(g).map_err(net_err)?;
                if !ipam::contains(subnet, g) {
                    return Err(Error::invalid(format!(
                        "invalid gateway {g}: not in subnet {}",
                        ipam::format_cidr(subnet)
                    )));
                }
                g
            }
            None => first_host(subnet)?,
        };
        let ip_range = cfg.ip_range.clone().filter(|s| !s.is_empty());
        let id = util::new_id()?;
        let n = NetRecord {
            bridge: format!("br-{}", &id[..12]),
            id,
            name: name.to_string(),
            created: util::now_rfc3339(),
            subnet: ipam::format_cidr(subnet),
            gateway: gateway.to_string(),
            ip_range,
            internal: req.internal.unwrap_or(false),
            attachable: req.attachable.unwrap_or(false),
            labels: req.labels.clone().unwrap_or_default(),
            options: req.options.clone().unwrap_or_default(),
        };
        n.pool()?.validate().map_err(net_err)?;
        self.make_bridge(&n)?;
        let res = (|| {
            link::set_sysctl("net.ipv4.ip_forward", "1").map_err(net_err)?;
            self.fw()?.ensure().map_err(fw_err)?;
            self.fw()?.add_network(&n.firewall_net()?).map_err(fw_err)?;
            self.store(n.clone())
        })();
        if let Err(e) = res {
            if let Some(fw) = &self.firewall {
                let _ = fw.remove_network(&n.id);
            }
            let _ = link::delete_link(&n.bridge);
            return Err(e);
        }
        Ok(n)
    }

    /// `network rm` of a user-defined network nobody uses (`in_use` says who does).
    pub fn remove(&self, n: &NetRecord) -> Result<(), Error> {
        let _g = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        if !n.is_user_defined() {
            return Err(Error::invalid(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )));
        }
        if let Some(h) = self
            .dns_servers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&n.id)
        {
            drop(h);
        }
        self.dns.remove_network(&n.id);
        self.fw()?.remove_network(&n.id).map_err(fw_err)?;
        link::delete_link(&n.bridge).map_err(net_err)?;
        let _ = self.ipam.remove_network(&n.id);
        let path = self.dir.join("networks").join(format!("{}.json", n.id));
        std::fs::remove_file(&path)
            .map_err(util::io_err(format!("removing {}", path.display())))?;
        self.nets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&n.id);
        Ok(())
    }

    /// The namespace file a container on bridge networks runs in.
    pub fn netns_path(&self, id: &str) -> PathBuf {
        self.netns_dir.join(id)
    }

    /// Makes a container's network: namespace, one veth per endpoint, addresses,
    /// published ports. Returns the endpoints filled in; undoes everything on failure.
    pub fn setup(
        &self,
        id: &str,
        eps: &[Endpoint],
        host: &docker::HostConfig,
        exposed: &[String],
    ) -> Result<(Vec<Endpoint>, Vec<Published>), Error> {
        let ns = self.netns_path(id);
        let _ = netns::remove(&ns);
        netns::create(&ns).map_err(net_err)?;
        let mut done: Vec<Endpoint> = Vec::new();
        let res = (|| {
            for (i, e) in eps.iter().enumerate() {
                done.push(self.attach_one(id, &ns, i, e)?);
            }
            let published = self.publish(id, &done, host, exposed)?;
            Ok(published)
        })();
        match res {
            Ok(published) => Ok((done, published)),
            Err(e) => {
                self.release(id, &done, true);
                Err(e)
            }
        }
    }

    /// Connects a container's namespace `ns` to one network as interface `eth<index>`.
    fn attach_one(
        &self,
        id: &str,
        ns: &Path,
        index: usize,
        e: &Endpoint,
    ) -> Result<Endpoint, Error> {
        let n = self
            .get(&e.network_id)
            .ok_or_else(|| Error::not_found(format!("network {} not found", e.network_id)))?;
        let pool = n.pool()?;
        let want = e
            .requested_ip
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(ipam::parse_ipv4)
            .transpose()
            .map_err(net_err)?;
        let ip = self
            .ipam
            .allocate(&n.id, &pool, id, want)
            .map_err(net_err)?;
        let undo = |err: Error| {
            let _ = self.ipam.release(&n.id, id);
            err
        };
        let mac = e
            .requested_mac
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(parse_mac)
            .transpose()
            .map_err(undo)?;
        let host_ifname = link::random_host_ifname().map_err(net_err).map_err(undo)?;
        let attached = link::attach(&link::Endpoint {
            netns: ns,
            bridge: &n.bridge,
            host_ifname,
            ifname: format!("eth{index}"),
            mac,
            address: ip,
            prefix: pool.subnet.1,
            gateway: (!n.internal).then_some(pool.gateway),
            mtu: None,
            hairpin: true,
        })
        .map_err(net_err)
        .map_err(undo)?;
        let mut filled = e.clone();
        filled.ip = ip.to_string();
        filled.prefix = pool.subnet.1;
        filled.gateway = if n.internal {
            String::new()
        } else {
            pool.gateway.to_string()
        };
        filled.mac = link::format_mac(attached.mac);
        filled.host_ifname = attached.host_ifname;
        filled.endpoint_id = util::new_id()?;
        Ok(filled)
    }

    /// `network connect` of a running container: one more interface in its namespace.
    pub fn connect_live(&self, id: &str, index: usize, e: &Endpoint) -> Result<Endpoint, Error> {
        let ns = self.netns_path(id);
        if !ns.exists() {
            return Err(Error::conflict(
                "container has no network namespace of berth's (it runs with --network none, host or container:)",
            ));
        }
        self.attach_one(id, &ns, index, e)
    }

    /// `network disconnect` of a running container from one network.
    pub fn disconnect_live(&self, id: &str, e: &Endpoint) {
        if !e.host_ifname.is_empty() {
            let _ = link::detach(&e.host_ifname);
        }
        let _ = self.ipam.release(&e.network_id, id);
        self.dns.remove(&e.network_id, id);
    }

    /// Undoes [`Networks::setup`] (also for a container that died while the daemon was
    /// away): ports, DNS names, veths, addresses, the namespace.
    /// `had_ports`: the container published ports (else the nft run, ~15 ms, is skipped).
    pub fn release(&self, id: &str, eps: &[Endpoint], had_ports: bool) {
        if let (true, Some(fw)) = (had_ports, &self.firewall) {
            let _ = fw.remove_ports(id);
        }
        self.dns.remove_container(id);
        for e in eps {
            if !e.host_ifname.is_empty() {
                let _ = link::detach(&e.host_ifname);
            }
            let _ = self.ipam.release(&e.network_id, id);
        }
        let _ = netns::remove(&self.netns_path(id));
    }

    fn publish(
        &self,
        id: &str,
        eps: &[Endpoint],
        host: &docker::HostConfig,
        exposed: &[String],
    ) -> Result<Vec<Published>, Error> {
        let mut wanted: Vec<(String, String, String)> = Vec::new(); // (port/proto, host ip, host port)
        if let Some(b) = &host.port_bindings {
            let mut keys: Vec<&String> = b.keys().collect();
            keys.sort();
            for k in keys {
                let list = b.get(k).cloned().flatten().unwrap_or_default();
                if list.is_empty() {
                    wanted.push((k.clone(), String::new(), String::new()));
                }
                for pb in list {
                    wanted.push((
                        k.clone(),
                        pb.host_ip.unwrap_or_default(),
                        pb.host_port.unwrap_or_default(),
                    ));
                }
            }
        }
        if host.publish_all_ports.unwrap_or(false) {
            for p in exposed {
                if !wanted.iter().any(|w| &w.0 == p) {
                    wanted.push((p.clone(), String::new(), String::new()));
                }
            }
        }
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let Some(first) = eps.first() else {
            return Ok(Vec::new());
        };
        let n = self
            .get(&first.network_id)
            .ok_or_else(|| Error::not_found("network not found"))?;
        let container_ip: Ipv4Addr = first
            .ip
            .parse()
            .map_err(|_| Error::internal("container has no address"))?;
        // Reading the table back costs an `nft` run: only `-P` and `-p :80` need it, to
        // pick free host ports.
        let mut taken: HashSet<u16> = if wanted.iter().any(|w| w.2.is_empty() || w.2 == "0") {
            self.fw()?
                .published()
                .map_err(fw_err)?
                .iter()
                .map(|m| m.host_port)
                .collect()
        } else {
            HashSet::new()
        };
        let mut maps = Vec::new();
        let mut out = Vec::new();
        for (key, host_ip, host_port) in wanted {
            let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
            let proto = match proto {
                "tcp" => Proto::Tcp,
                "udp" => Proto::Udp,
                p => {
                    return Err(Error::invalid(format!(
                        "invalid proto '{p}' in port {key}: berth publishes tcp and udp"
                    )))
                }
            };
            let container_port: u16 = port
                .parse()
                .map_err(|_| Error::invalid(format!("invalid port specification: \"{key}\"")))?;
            let host_ip_v4 = match host_ip.as_str() {
                "" | "0.0.0.0" => None,
                "::" => None,
                s => Some(s.parse::<Ipv4Addr>().map_err(|_| {
                    Error::invalid(format!(
                        "invalid host IP {s:?} for port {key}: berth publishes on IPv4"
                    ))
                })?),
            };
            let hp: u16 = if host_port.is_empty() || host_port == "0" {
                berth_firewall::free_host_port(proto, &taken)
                    .ok_or_else(|| Error::internal("no free host port for -P"))?
            } else {
                let first = host_port.split('-').next().unwrap_or(&host_port);
                first.parse().map_err(|_| {
                    Error::invalid(format!("invalid host port {host_port:?} for {key}"))
                })?
            };
            taken.insert(hp);
            maps.push(PortMapping {
                container: id.to_string(),
                proto,
                host_ip: host_ip_v4,
                host_port: hp,
                container_ip,
                container_port,
                bridge: n.bridge.clone(),
            });
            out.push(Published {
                container_port: format!("{container_port}/{}", proto.as_str()),
                host_ip: host_ip_v4
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "0.0.0.0".into()),
                host_port: hp,
            });
        }
        self.fw()?.add_ports(id, &maps).map_err(|e| {
            if e.kind == berth_firewall::ErrorKind::Conflict {
                let m = &maps[0];
                Error::conflict(format!(
                    "Bind for {}:{} failed: port is already allocated ({e})",
                    m.host_ip
                        .map(|i| i.to_string())
                        .unwrap_or_else(|| "0.0.0.0".into()),
                    m.host_port
                ))
            } else {
                fw_err(e)
            }
        })?;
        Ok(out)
    }

    fn mappings(
        &self,
        id: &str,
        eps: &[Endpoint],
        published: &[Published],
    ) -> Result<Vec<PortMapping>, Error> {
        let Some(first) = eps.first() else {
            return Ok(Vec::new());
        };
        let Some(n) = self.get(&first.network_id) else {
            return Ok(Vec::new());
        };
        let Ok(container_ip) = first.ip.parse::<Ipv4Addr>() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for p in published {
            let (port, proto) = p
                .container_port
                .split_once('/')
                .unwrap_or((&p.container_port, "tcp"));
            let proto = if proto == "udp" {
                Proto::Udp
            } else {
                Proto::Tcp
            };
            let Ok(container_port) = port.parse() else {
                continue;
            };
            out.push(PortMapping {
                container: id.to_string(),
                proto,
                host_ip: p
                    .host_ip
                    .parse::<Ipv4Addr>()
                    .ok()
                    .filter(|i| !i.is_unspecified()),
                host_port: p.host_port,
                container_ip,
                container_port,
                bridge: n.bridge.clone(),
            });
        }
        Ok(out)
    }

    /// `network inspect`/`ls` JSON of a bridge network; `containers`: (id, name, endpoint)
    /// of the running containers on it.
    pub fn json(
        &self,
        n: &NetRecord,
        containers: &[(String, String, Endpoint)],
    ) -> serde_json::Value {
        let mut cs = serde_json::Map::new();
        for (id, name, e) in containers {
            cs.insert(
                id.clone(),
                serde_json::json!({
                    "Name": name,
                    "EndpointID": e.endpoint_id,
                    "MacAddress": e.mac,
                    "IPv4Address": format!("{}/{}", e.ip, e.prefix),
                    "IPv6Address": "",
                }),
            );
        }
        let mut cfg = serde_json::json!({"Subnet": n.subnet, "Gateway": n.gateway});
        if let Some(r) = &n.ip_range {
            cfg["IPRange"] = serde_json::json!(r);
        }
        let mut options = n.options.clone();
        if !n.is_user_defined() {
            options.insert("com.docker.network.bridge.name".into(), n.bridge.clone());
            options.insert(
                "com.docker.network.bridge.default_bridge".into(),
                "true".into(),
            );
        }
        serde_json::json!({
            "Name": n.name,
            "Id": n.id,
            "Created": n.created,
            "Scope": "local",
            "Driver": "bridge",
            "EnableIPv4": true,
            "EnableIPv6": false,
            "IPAM": {"Driver": "default", "Options": null, "Config": [cfg]},
            "Internal": n.internal,
            "Attachable": n.attachable,
            "Ingress": false,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": false,
            "Containers": cs,
            "Options": options,
            "Labels": n.labels,
        })
    }
}

/// The first host address of a subnet: Docker's default gateway.
fn first_host(subnet: Cidr) -> Result<Ipv4Addr, Error> {
    u32::from(subnet.0)
        .checked_add(1)
        .map(Ipv4Addr::from)
        .filter(|g| ipam::contains(subnet, *g) && subnet.1 <= 30)
        .ok_or_else(|| {
            Error::invalid(format!(
                "subnet {} is too small for a gateway and containers (at most /30)",
                ipam::format_cidr(subnet)
            ))
        })
}

impl Endpoint {
    /// What was asked at create or connect, without what a start filled in.
    pub fn config_only(&self) -> Endpoint {
        Endpoint {
            network_id: self.network_id.clone(),
            aliases: self.aliases.clone(),
            requested_ip: self.requested_ip.clone(),
            requested_mac: self.requested_mac.clone(),
            ..Default::default()
        }
    }
}

fn parse_mac(s: &str) -> Result<[u8; 6], Error> {
    let parts: Vec<&str> = s.split(':').collect();
    let bad = || Error::invalid(format!("invalid MAC address: {s}"));
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        mac[i] = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    Ok(mac)
}
