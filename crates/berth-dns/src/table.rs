//! The names the server answers: per network, its gateway and its containers.
//!
//! One [`Table`] is shared (`Arc<Table>`) by every listener of the daemon and updated by the
//! engine while they serve. Reads and writes take a short `RwLock` (no await while held);
//! lookups scan the querier's networks, which is cheap for the few hundred containers a
//! host runs.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::error::{Error, Result};

/// One container on one network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The container's full id (the key: one entry per container per network).
    pub id: String,
    /// The names it answers to on this network: its name first (the name reverse lookups
    /// answer), then its aliases on this network, its short id (12 hex digits) and its
    /// hostname. Matched case-insensitively, with or without a trailing dot.
    pub names: Vec<String>,
    /// Its address on this network.
    pub ipv4: Ipv4Addr,
}

impl Entry {
    /// An entry for container `id` named `name` with `aliases`, at `ipv4`: the names are
    /// `name`, the aliases and the short id (the first 12 characters of `id`), without
    /// duplicates.
    pub fn new<S: Into<String>>(
        id: impl Into<String>,
        name: impl Into<String>,
        aliases: impl IntoIterator<Item = S>,
        ipv4: Ipv4Addr,
    ) -> Self {
        let id = id.into();
        let mut names: Vec<String> = Vec::new();
        let short: String = id.chars().take(12).collect();
        let candidates = std::iter::once(name.into())
            .chain(aliases.into_iter().map(Into::into))
            .chain(std::iter::once(short));
        for n in candidates {
            if !n.is_empty() && !names.iter().any(|m| normalize(m) == normalize(&n)) {
                names.push(n);
            }
        }
        Entry { id, names, ipv4 }
    }
}

/// The DNS view of every user-defined network: see the crate documentation.
#[derive(Debug, Default)]
pub struct Table {
    inner: RwLock<BTreeMap<String, Network>>,
}

#[derive(Debug)]
struct Network {
    gateway: Ipv4Addr,
    entries: BTreeMap<String, Stored>,
}

#[derive(Debug)]
struct Stored {
    entry: Entry,
    /// `entry.names`, normalized for matching.
    keys: Vec<String>,
}

/// The container a query came from, as the table saw it when the query arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Querier {
    /// Its container id.
    pub id: String,
    /// The networks it is attached to, the one the query arrived on first.
    pub networks: Vec<String>,
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Network>> {
        // A writer cannot panic halfway through an update (they are plain map operations),
        // so a poisoned lock still holds a consistent table.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Network>> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds network `id` with its gateway address (where its listener runs), or changes the
    /// gateway of a known network, keeping its entries.
    pub fn set_network(&self, id: impl Into<String>, gateway: Ipv4Addr) {
        let mut map = self.write();
        map.entry(id.into())
            .and_modify(|n| n.gateway = gateway)
            .or_insert_with(|| Network {
                gateway,
                entries: BTreeMap::new(),
            });
    }

    /// Removes network `id` and its entries; false if it was not there.
    pub fn remove_network(&self, id: &str) -> bool {
        self.write().remove(id).is_some()
    }

    /// Adds or replaces (by container id) an entry on `network`.
    pub fn upsert(&self, network: &str, entry: Entry) -> Result<()> {
        let mut map = self.write();
        let net = map
            .get_mut(network)
            .ok_or_else(|| Error::UnknownNetwork(network.to_string()))?;
        let keys = entry
            .names
            .iter()
            .map(|n| normalize(n))
            .filter(|k| !k.is_empty())
            .collect();
        net.entries.insert(entry.id.clone(), Stored { entry, keys });
        Ok(())
    }

    /// Removes container `container_id` from `network`; false if it was not there.
    pub fn remove(&self, network: &str, container_id: &str) -> bool {
        self.write()
            .get_mut(network)
            .is_some_and(|n| n.entries.remove(container_id).is_some())
    }

    /// Removes container `container_id` from every network; returns from how many.
    pub fn remove_container(&self, container_id: &str) -> usize {
        self.write()
            .values_mut()
            .map(|n| n.entries.remove(container_id))
            .filter(Option::is_some)
            .count()
    }

    /// The gateway of network `id`.
    pub fn gateway(&self, id: &str) -> Option<Ipv4Addr> {
        self.read().get(id).map(|n| n.gateway)
    }

    /// The entries of network `id`, by container id (empty for an unknown network).
    pub fn entries(&self, id: &str) -> Vec<Entry> {
        self.read()
            .get(id)
            .map(|n| n.entries.values().map(|s| s.entry.clone()).collect())
            .unwrap_or_default()
    }

    /// The container at `source` on a network whose gateway is `listener` (any network when
    /// `listener` is 0.0.0.0), with every network it is attached to.
    pub(crate) fn querier(&self, listener: Ipv4Addr, source: Ipv4Addr) -> Option<Querier> {
        let map = self.read();
        let (arrival, id) = map
            .iter()
            .filter(|(_, n)| listener.is_unspecified() || n.gateway == listener)
            .find_map(|(net_id, n)| {
                n.entries
                    .values()
                    .find(|s| s.entry.ipv4 == source)
                    .map(|s| (net_id.clone(), s.entry.id.clone()))
            })?;
        let mut networks = vec![arrival.clone()];
        networks.extend(
            map.iter()
                .filter(|(net_id, n)| **net_id != arrival && n.entries.contains_key(&id))
                .map(|(net_id, _)| net_id.clone()),
        );
        Some(Querier { id, networks })
    }

    /// The addresses of `name` (normalized, see [`normalize`]) as `querier` sees it: those
    /// of every container answering to it on the first of the querier's networks (the
    /// arrival network first) that has any. `None` when no shared network knows the name.
    pub(crate) fn lookup(&self, querier: &Querier, name: &str) -> Option<Vec<Ipv4Addr>> {
        let map = self.read();
        querier.networks.iter().find_map(|net_id| {
            let found: Vec<Ipv4Addr> = map
                .get(net_id)?
                .entries
                .values()
                .filter(|s| s.keys.iter().any(|k| k == name))
                .map(|s| s.entry.ipv4)
                .collect();
            (!found.is_empty()).then_some(found)
        })
    }

    /// The name of the container at `addr` on one of `querier`'s networks.
    pub(crate) fn reverse(&self, querier: &Querier, addr: Ipv4Addr) -> Option<String> {
        let map = self.read();
        querier.networks.iter().find_map(|net_id| {
            map.get(net_id)?
                .entries
                .values()
                .find(|s| s.entry.ipv4 == addr)
                .and_then(|s| s.entry.names.first())
                .map(|n| n.trim().trim_end_matches('.').to_string())
                .filter(|n| !n.is_empty())
        })
    }
}

/// A name as the table compares it: trimmed, without its trailing dot, ASCII lowercase.
pub(crate) fn normalize(name: &str) -> String {
    let name = name.trim();
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, last)
    }

    /// n1 (gateway .1): a at .2, b at .3; n2 (gateway .101): b at .102, c at .103.
    fn table() -> Table {
        let t = Table::new();
        t.set_network("n1", ip(1));
        t.set_network("n2", ip(101));
        let e = |id: &str, name: &str, addr| Entry::new(id, name, Vec::<String>::new(), addr);
        t.upsert("n1", e("aaaa", "a", ip(2))).unwrap();
        t.upsert("n1", e("bbbb", "b", ip(3))).unwrap();
        t.upsert("n2", e("bbbb", "b", ip(102))).unwrap();
        t.upsert("n2", e("cccc", "c", ip(103))).unwrap();
        t
    }

    #[test]
    fn querier_is_found_on_the_listener_network_only() {
        let t = table();
        let q = t.querier(ip(1), ip(3)).unwrap();
        assert_eq!(q.id, "bbbb");
        assert_eq!(q.networks, ["n1", "n2"]);
        let q = t.querier(ip(101), ip(102)).unwrap();
        assert_eq!(q.networks, ["n2", "n1"]);
        assert_eq!(t.querier(ip(101), ip(2)), None, "a is not on n2");
        assert_eq!(t.querier(ip(1), ip(9)), None);
        assert_eq!(
            t.querier(Ipv4Addr::UNSPECIFIED, ip(103)).unwrap().id,
            "cccc"
        );
    }

    #[test]
    fn lookups_see_shared_networks_and_prefer_the_arrival_one() {
        let t = table();
        let a = t.querier(ip(1), ip(2)).unwrap();
        assert_eq!(t.lookup(&a, "b"), Some(vec![ip(3)]));
        assert_eq!(t.lookup(&a, "c"), None);
        let b1 = t.querier(ip(1), ip(3)).unwrap();
        let b2 = t.querier(ip(101), ip(102)).unwrap();
        assert_eq!(t.lookup(&b1, "b"), Some(vec![ip(3)]));
        assert_eq!(t.lookup(&b2, "b"), Some(vec![ip(102)]));
        assert_eq!(t.lookup(&b1, "c"), Some(vec![ip(103)]));
        assert_eq!(t.lookup(&b2, "a"), Some(vec![ip(2)]));
        assert_eq!(t.reverse(&b2, ip(2)).as_deref(), Some("a"));
        assert_eq!(t.reverse(&a, ip(103)), None);
    }

    #[test]
    fn shared_aliases_answer_every_container() {
        let t = table();
        t.upsert("n1", Entry::new("dddd", "d", ["web"], ip(4)))
            .unwrap();
        t.upsert("n1", Entry::new("eeee", "e", ["WEB."], ip(5)))
            .unwrap();
        let a = t.querier(ip(1), ip(2)).unwrap();
        assert_eq!(t.lookup(&a, "web"), Some(vec![ip(4), ip(5)]));
    }

    #[test]
    fn updates_and_removals() {
        let t = table();
        assert!(matches!(
            t.upsert("n9", Entry::new("x", "x", Vec::<String>::new(), ip(9))),
            Err(Error::UnknownNetwork(n)) if n == "n9"
        ));
        let a = t.querier(ip(1), ip(2)).unwrap();
        t.upsert("n1", Entry::new("bbbb", "b", Vec::<String>::new(), ip(13)))
            .unwrap();
        assert_eq!(t.lookup(&a, "b"), Some(vec![ip(13)]));
        assert!(t.remove("n1", "bbbb"));
        assert!(!t.remove("n1", "bbbb"));
        assert_eq!(t.lookup(&a, "b"), None);
        assert_eq!(t.remove_container("cccc"), 1);
        assert_eq!(t.entries("n2").len(), 1);
        t.set_network("n2", ip(201));
        assert_eq!(t.gateway("n2"), Some(ip(201)));
        assert_eq!(t.entries("n2").len(), 1, "a new gateway keeps the entries");
        assert!(t.remove_network("n2"));
        assert!(!t.remove_network("n2"));
        assert_eq!(t.entries("n2"), []);
    }

    #[test]
    fn entry_names() {
        let e = Entry::new("0123456789abcdef0123", "web", ["Web", "db", ""], ip(2));
        assert_eq!(e.names, ["web", "db", "0123456789ab"]);
        assert_eq!(normalize(" Web.Example. "), "web.example");
    }
}
