//! [`Firewall`]: berth's nftables table, changed one atomic batch at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, ErrorKind, Result};
use crate::model::{check_id, check_table, Network, PortMapping};
use crate::nft::{self, Listing, Nft};
use crate::plan::{net_comment, Plan, FAMILY};
use crate::sysctl::enable_route_localnet;

/// The packet filter the engine drives (the seam: [`Firewall`] is the nftables
/// implementation; a fake can stand in for it in engine tests).
///
/// Lifecycle: at every daemon start, [`ensure`](Self::ensure) (cheap, idempotent) and then
/// [`reconcile`](Self::reconcile) with the networks and published ports the engine's state
/// says exist, which also clears what a crash left behind. Afterwards each network creation
/// calls [`add_network`](Self::add_network) (after its bridge exists) and each removal
/// [`remove_network`](Self::remove_network); each container start with published ports
/// calls [`add_ports`](Self::add_ports), each stop [`remove_ports`](Self::remove_ports).
/// [`remove_all`](Self::remove_all) is for uninstalling. Every call is synchronous (it runs
/// `nft`): call it from `spawn_blocking`.
pub trait PacketFilter: Send + Sync {
    /// Creates the table, maps and chains if missing; rewrites the fixed rules.
    fn ensure(&self) -> Result<()>;
    /// Adds (or replaces) the rules of one network.
    fn add_network(&self, net: &Network) -> Result<()>;
    /// Removes the rules of network `id` (nothing to do is success).
    fn remove_network(&self, id: &str) -> Result<()>;
    /// Publishes ports of `container`.
    fn add_ports(&self, container: &str, ports: &[PortMapping]) -> Result<()>;
    /// Unpublishes every port of `container` (nothing to do is success).
    fn remove_ports(&self, container: &str) -> Result<()>;
    /// Replaces the whole table with exactly this state, in one transaction.
    fn reconcile(&self, networks: &[Network], ports: &[PortMapping]) -> Result<()>;
    /// Deletes the table.
    fn remove_all(&self) -> Result<()>;
    /// The published ports, read back from the kernel.
    fn published(&self) -> Result<Vec<PortMapping>>;
}

/// berth's table `ip <name>` in the kernel, driven through `nft`.
///
/// Changes are serialised by an internal lock. The firewall remembers which container owns
/// which published port (learned from a listing the first time it is needed, then kept up
/// to date by its own changes), so unpublishing is one `nft` run whatever the table's
/// size. That makes it the only writer of its table: use one `Firewall` per table, per
/// host (an element deleted behind its back is noticed and the index rebuilt; one added
/// behind its back is not).
#[derive(Debug)]
pub struct Firewall {
    table: String,
    nft: Nft,
    owners: Mutex<Option<Owners>>,
}

/// Published ports by owner container; `None` in the mutex: not known yet (or any more).
type Owners = BTreeMap<String, Vec<PortMapping>>;

impl Firewall {
    /// A firewall for table `ip <table>`, using the `nft` found in `PATH` (or /usr/sbin,
    /// /sbin). Nothing is changed until a method is called.
    pub fn new(table: &str) -> Result<Self> {
        Self::with_nft(table, nft::locate()?)
    }

    /// Like [`new`](Self::new), with the `nft` binary at `nft`.
    pub fn with_nft(table: &str, nft: impl Into<PathBuf>) -> Result<Self> {
        check_table(table)?;
        Ok(Firewall {
            table: table.to_owned(),
            nft: Nft::new(nft.into()),
            owners: Mutex::new(None),
        })
    }

    /// The table's name (its family is `ip`).
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The `nft` binary used.
    pub fn nft_path(&self) -> &std::path::Path {
        self.nft.path()
    }

    fn locked(&self) -> MutexGuard<'_, Option<Owners>> {
        // A panic while holding the lock may have left the index half-updated: forget it.
        self.owners.lock().unwrap_or_else(|p| {
            let mut g = p.into_inner();
            *g = None;
            g
        })
    }

    fn what(&self, action: impl std::fmt::Display) -> String {
        format!("{action} in table {FAMILY} {}", self.table)
    }

    fn listing(&self) -> Result<Listing> {
        self.nft.list_table(&self.table)?.ok_or_else(|| {
            Error::not_found(format!(
                "nftables table {FAMILY} {} does not exist: call Firewall::ensure first",
                self.table
            ))
        })
    }

    /// Creates the table with its maps and chains if they are missing, and writes the base
    /// chains' fixed rules again (flushed and re-added in the same transaction, so calling
    /// it twice leaves one copy and packets never see a half-written chain). Networks and
    /// published ports already in the table stay. One `nft` run.
    pub fn ensure(&self) -> Result<()> {
        let mut owners = self.locked();
        // The table may have been made afresh (or by an older berth): learn its ports again.
        *owners = None;
        let mut plan = Plan::new(&self.table);
        plan.skeleton();
        self.nft
            .apply(&self.what("create the table"), &plan.finish())
    }

    /// Adds the rules of `net` (see the crate doc), replacing any it already has, in one
    /// transaction; then sets `route_localnet=1` on a non-internal network's bridge, which
    /// must exist by then. Needs [`ensure`](Self::ensure) first. Two `nft` runs (a listing to
    /// find rules to replace, then the batch).
    pub fn add_network(&self, net: &Network) -> Result<()> {
        let subnet = net.validate()?;
        let _g = self.locked();
        let listing = self.listing()?;
        let mut plan = Plan::new(&self.table);
        delete_network_rules(&mut plan, &listing, &net.id);
        plan.network(net, subnet);
        self.nft.apply(
            &self.what(format_args!("add the rules of network {}", net.id)),
            &plan.finish(),
        )?;
        if !net.internal {
            enable_route_localnet(&net.bridge)?;
        }
        Ok(())
    }

    /// Removes every rule of network `id` (published ports stay until
    /// [`remove_ports`](Self::remove_ports) of their containers). A network, or a table,
    /// that is not there is success.
    pub fn remove_network(&self, id: &str) -> Result<()> {
        check_id("network id", id)?;
        let _g = self.locked();
        let Some(listing) = self.nft.list_table(&self.table)? else {
            return Ok(());
        };
        let mut plan = Plan::new(&self.table);
        delete_network_rules(&mut plan, &listing, id);
        if plan.is_empty() {
            return Ok(());
        }
        self.nft.apply(
            &self.what(format_args!("remove the rules of network {id}")),
            &plan.finish(),
        )
    }

    /// Publishes `ports` (each one's `container` must be `container`): map elements only,
    /// no rules, in one transaction.
    ///
    /// The usual case is one `nft` run (`create element`). If a host port is already in
    /// the table, a listing shows by whom: a mapping identical to the requested one (a
    /// retry, or a stale entry of a container that died unseen) is taken over by
    /// `container`; a host port published to a different container address is an
    /// [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) naming its owner, and nothing
    /// changes.
    pub fn add_ports(&self, container: &str, ports: &[PortMapping]) -> Result<()> {
        check_id("container id", container)?;
        let ports = dedup_ports(ports)?;
        if let Some(m) = ports.iter().find(|m| m.container != container) {
            return Err(Error::invalid(format!(
                "mapping {m} belongs to container {:?}, not {container:?}",
                m.container
            )));
        }
        if ports.is_empty() {
            return Ok(());
        }
        let mut owners = self.locked();
        let what = self.what(format_args!("publish ports of container {container}"));
        let mut plan = Plan::new(&self.table);
        plan.create_ports(&ports);
        match self.nft.apply(&what, &plan.finish()) {
            Ok(()) => {}
            Err(e) if e.kind == ErrorKind::Conflict => {
                self.add_ports_over_existing(&what, &ports)?;
            }
            Err(e) => {
                *owners = None;
                return Err(e);
            }
        }
        if let Some(index) = owners.as_mut() {
            for list in index.values_mut() {
                list.retain(|old| ports.iter().all(|new| new.key() != old.key()));
            }
            index.retain(|_, list| !list.is_empty());
            index
                .entry(container.to_owned())
                .or_default()
                .extend(ports.into_iter().cloned());
        }
        Ok(())
    }

    /// The slow path of [`add_ports`](Self::add_ports): some keys exist already.
    fn add_ports_over_existing(&self, what: &str, ports: &[&PortMapping]) -> Result<()> {
        let listing = self.listing()?;
        let existing: BTreeMap<_, &PortMapping> =
            listing.ports.iter().map(|m| (m.key(), m)).collect();
        let (mut fresh, mut taken_over) = (Vec::new(), Vec::new());
        for &m in ports {
            match existing.get(&m.key()) {
                None => fresh.push(m),
                Some(old)
                    if old.container_ip == m.container_ip
                        && old.container_port == m.container_port =>
                {
                    taken_over.push(m)
                }
                Some(old) => {
                    return Err(Error::conflict(format!(
                        "cannot publish {m} for container {}: host port {}/{} is published \
                         to {}:{} by container {:?}",
                        m.container,
                        m.host_port,
                        m.proto,
                        old.container_ip,
                        old.container_port,
                        old.container
                    )))
                }
            }
        }
        let mut plan = Plan::new(&self.table);
        plan.add_ports(&fresh);
        plan.replace_ports(&taken_over);
        self.nft.apply(what, &plan.finish())
    }

    /// Unpublishes every port whose owner is `container`: one `nft` run (plus a listing the
    /// first time, to learn the owners, e.g. after a daemon restart). Nothing published is
    /// success.
    pub fn remove_ports(&self, container: &str) -> Result<()> {
        check_id("container id", container)?;
        let mut owners = self.locked();
        let what = self.what(format_args!("unpublish ports of container {container}"));
        for attempt in 0..2 {
            let index = match owners.as_mut() {
                Some(index) => index,
                None => match self.nft.list_table(&self.table)? {
                    Some(listing) => owners.insert(index_of(listing.ports)),
                    None => return Ok(()),
                },
            };
            let Some(mine) = index.get(container) else {
                return Ok(());
            };
            let mut plan = Plan::new(&self.table);
            plan.delete_ports(&mine.iter().collect::<Vec<_>>());
            match self.nft.apply(&what, &plan.finish()) {
                Ok(()) => {
                    index.remove(container);
                    return Ok(());
                }
                // The index was wrong (an element deleted behind our back): once more,
                // from a fresh listing.
                Err(_) if attempt == 0 => *owners = None,
                Err(e) => {
                    *owners = None;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Replaces the table with exactly `networks` and `ports`, in one transaction (the old
    /// table is deleted and the new one built in the same batch: packets see one or the
    /// other, and nothing from before survives, so stale rules of dead containers go and
    /// nothing is duplicated). Then sets `route_localnet=1` on every non-internal network's
    /// bridge. Duplicate identical inputs are merged; two networks with one ID or bridge, or
    /// one host port published to two addresses, are errors.
    pub fn reconcile(&self, networks: &[Network], ports: &[PortMapping]) -> Result<()> {
        let mut nets: BTreeMap<&str, (&Network, _)> = BTreeMap::new();
        let mut bridges: BTreeMap<&str, &str> = BTreeMap::new();
        for net in networks {
            let subnet = net.validate()?;
            if let Some((other, _)) = nets.insert(&net.id, (net, subnet)) {
                if other != net {
                    return Err(Error::invalid(format!(
                        "network {} is given twice, differently",
                        net.id
                    )));
                }
            }
            if let Some(other) = bridges.insert(&net.bridge, &net.id) {
                if other != net.id {
                    return Err(Error::invalid(format!(
                        "networks {other} and {} share bridge {}",
                        net.id, net.bridge
                    )));
                }
            }
        }
        let ports = dedup_ports(ports)?;
        let mut owners = self.locked();
        let mut plan = Plan::new(&self.table);
        plan.drop_table();
        plan.skeleton();
        for (net, subnet) in nets.values() {
            plan.network(net, *subnet);
        }
        plan.add_ports(&ports);
        *owners = None;
        self.nft
            .apply(&self.what("rebuild everything"), &plan.finish())?;
        *owners = Some(index_of(ports.into_iter().cloned().collect()));
        for (net, _) in nets.values() {
            if !net.internal {
                enable_route_localnet(&net.bridge)?;
            }
        }
        Ok(())
    }

    /// Deletes the whole table (nothing else is touched). A missing table is success.
    /// `route_localnet` stays as it is on bridges (they go with their networks).
    pub fn remove_all(&self) -> Result<()> {
        let mut owners = self.locked();
        *owners = None;
        let mut plan = Plan::new(&self.table);
        plan.drop_table();
        self.nft
            .apply(&self.what("delete the table"), &plan.finish())
    }

    /// The published ports, read back from the kernel (sorted). A mapping whose element
    /// carries no owner comment (not written by berth) has empty `container` and `bridge`.
    /// An absent table publishes nothing.
    pub fn published(&self) -> Result<Vec<PortMapping>> {
        let mut ports = match self.nft.list_table(&self.table)? {
            Some(l) => l.ports,
            None => Vec::new(),
        };
        ports.sort();
        Ok(ports)
    }

    /// The IDs of the networks that have rules in the table, read back from the kernel.
    pub fn networks(&self) -> Result<BTreeSet<String>> {
        let Some(listing) = self.nft.list_table(&self.table)? else {
            return Ok(BTreeSet::new());
        };
        Ok(listing
            .rules
            .iter()
            .filter_map(|r| r.comment.as_deref()?.strip_prefix("net:"))
            .map(str::to_owned)
            .collect())
    }
}

fn index_of(ports: Vec<PortMapping>) -> Owners {
    let mut index = Owners::new();
    for m in ports {
        index.entry(m.container.clone()).or_default().push(m);
    }
    index
}

impl PacketFilter for Firewall {
    fn ensure(&self) -> Result<()> {
        Firewall::ensure(self)
    }
    fn add_network(&self, net: &Network) -> Result<()> {
        Firewall::add_network(self, net)
    }
    fn remove_network(&self, id: &str) -> Result<()> {
        Firewall::remove_network(self, id)
    }
    fn add_ports(&self, container: &str, ports: &[PortMapping]) -> Result<()> {
        Firewall::add_ports(self, container, ports)
    }
    fn remove_ports(&self, container: &str) -> Result<()> {
        Firewall::remove_ports(self, container)
    }
    fn reconcile(&self, networks: &[Network], ports: &[PortMapping]) -> Result<()> {
        Firewall::reconcile(self, networks, ports)
    }
    fn remove_all(&self) -> Result<()> {
        Firewall::remove_all(self)
    }
    fn published(&self) -> Result<Vec<PortMapping>> {
        Firewall::published(self)
    }
}

fn delete_network_rules(plan: &mut Plan<'_>, listing: &Listing, id: &str) {
    let comment = net_comment(id);
    for r in &listing.rules {
        if r.comment.as_deref() == Some(comment.as_str()) {
            plan.delete_rule(&r.chain, r.handle);
        }
    }
}

/// Validates `ports` and merges identical ones; one key mapped twice differently is a
/// conflict (a batch with both would fail in nft with a less clear message).
fn dedup_ports(ports: &[PortMapping]) -> Result<Vec<&PortMapping>> {
    let mut by_key: BTreeMap<_, &PortMapping> = BTreeMap::new();
    for m in ports {
        m.validate()?;
        if let Some(other) = by_key.insert(m.key(), m) {
            if other.container_ip != m.container_ip
                || other.container_port != m.container_port
                || other.container != m.container
            {
                return Err(Error::conflict(format!(
                    "host port {}/{} on {} is given twice: {other} (container {}) and {m} \
                     (container {})",
                    m.host_port,
                    m.proto,
                    m.host_addr()
                        .map_or_else(|| "all addresses".to_owned(), |ip| ip.to_string()),
                    other.container,
                    m.container
                )));
            }
        }
    }
    Ok(by_key.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Proto;
    use std::net::Ipv4Addr;

    fn m(container: &str, port: u16, ip: [u8; 4]) -> PortMapping {
        PortMapping {
            container: container.into(),
            proto: Proto::Tcp,
            host_ip: None,
            host_port: port,
            container_ip: Ipv4Addr::from(ip),
            container_port: 80,
            bridge: "br0".into(),
        }
    }

    #[test]
    fn duplicate_ports_merge_and_conflicts_are_reported() {
        let a = m("c1", 8080, [10, 98, 0, 2]);
        let b = m("c1", 8081, [10, 98, 0, 2]);
        let input = [a.clone(), b.clone(), a.clone()];
        let merged = dedup_ports(&input).expect("merge");
        assert_eq!(merged, vec![&a, &b]);
        let clash = m("c2", 8080, [10, 98, 0, 3]);
        let err = dedup_ports(&[a.clone(), clash]).expect_err("conflict");
        assert_eq!(err.kind, crate::ErrorKind::Conflict);
        assert!(err.message.contains("8080/tcp"), "{}", err.message);
        // The same port on a different address, or another protocol, is another key.
        let udp = PortMapping {
            proto: Proto::Udp,
            ..a.clone()
        };
        let lo = PortMapping {
            host_ip: Some(Ipv4Addr::LOCALHOST),
            ..m("c2", 8080, [10, 98, 0, 3])
        };
        assert_eq!(dedup_ports(&[a, udp, lo]).map(|v| v.len()).ok(), Some(3));
    }

    #[test]
    fn inputs_are_checked_before_nft_runs() {
        // A binary that does not exist: any call reaching nft would fail with Internal or
        // NotFound, not InvalidArgument.
        let fw = Firewall::with_nft("berth", "/nonexistent/nft").expect("firewall");
        let err = fw
            .add_ports("c1", &[m("c2", 8080, [10, 98, 0, 2])])
            .expect_err("owner mismatch");
        assert_eq!(err.kind, crate::ErrorKind::InvalidArgument);
        assert!(fw.remove_ports("c\"1").is_err());
        assert!(
            fw.add_ports("c1", &[]).is_ok(),
            "nothing to publish runs nothing"
        );
        assert!(Firewall::with_nft("bad name", "/usr/sbin/nft").is_err());
        let err = fw.ensure().expect_err("no nft");
        assert!(err.message.contains("/nonexistent/nft"), "{}", err.message);
    }
}
