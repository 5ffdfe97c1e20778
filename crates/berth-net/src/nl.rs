//! A synchronous rtnetlink socket: one request at a time, answered by an ACK or a dump.
//!
//! This is the only place that speaks the wire protocol; [`crate::link`] builds messages
//! with `netlink-packet-route` types and hands them here. A socket talks to the network
//! namespace it was *created* in, whatever thread uses it later, which is how the crate
//! configures a container's namespace without leaving any caller thread inside it (see
//! [`crate::netns::run_in`]).
//!
//! Errors are plain `io::Error`s carrying the kernel's errno (callers add what and where);
//! when the kernel sent an extended ACK message ("Nexthop has invalid gateway"), it is
//! appended to the error text.

use std::io;
use std::net::Ipv4Addr;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// `NLM_F_ACK_TLVS` on an `NLMSG_ERROR`: extended-ACK attributes follow the echoed header.
const NLM_F_ACK_TLVS: u16 = 0x200;
/// `NLMSGERR_ATTR_MSG`: the kernel's human-readable reason.
const NLMSGERR_ATTR_MSG: u16 = 1;
/// Size of `struct nlmsghdr`, the part of the request echoed back with `NETLINK_CAP_ACK`.
const NLMSG_HDRLEN: usize = 16;

/// An rtnetlink socket bound to the network namespace it was opened in.
pub(crate) struct Netlink {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Netlink {
    /// Opens a socket in the calling thread's network namespace.
    pub(crate) fn open() -> io::Result<Netlink> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        // Errors carry only the request's header (not its payload) and the kernel's text.
        // Both are best effort: old kernels lack them and the protocol works without.
        let _ = sock.set_cap_ack(true);
        let _ = sock.set_ext_ack(true);
        Ok(Netlink {
            sock,
            seq: 0,
            buf: Vec::with_capacity(32 * 1024),
        })
    }

    fn send(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let mut packet = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(msg));
        packet.header.flags = NLM_F_REQUEST | flags;
        packet.header.sequence_number = self.seq;
        packet.finalize();
        let mut out = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut out);
        let sent = retry(|| self.sock.send(&out, 0))?;
        if sent != out.len() {
            return Err(io::Error::other("netlink: short send"));
        }
        Ok(self.seq)
    }

    /// Receives one datagram (whatever its size) into `self.buf`.
    fn recv_datagram(&mut self) -> io::Result<()> {
        let mut probe = [0u8; 0];
        let len = retry(|| {
            self.sock
                .recv(&mut &mut probe[..], libc::MSG_PEEK | libc::MSG_TRUNC)
        })?;
        self.buf.clear();
        self.buf.reserve(len.max(4096));
        let got = retry(|| self.sock.recv(&mut self.buf, 0))?;
        if got > self.buf.len() {
            return Err(io::Error::other("netlink: truncated datagram"));
        }
        Ok(())
    }

    /// Sends `msg` and collects the answer: the inner messages of a dump (until DONE), or
    /// nothing for an ACKed request. A NACK becomes the errno's `io::Error`.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let seq = self.send(msg, flags | NLM_F_ACK)?;
        let mut out = Vec::new();
        loop {
            self.recv_datagram()?;
            let mut offset = 0;
            while offset < self.buf.len() {
                let bytes = &self.buf[offset..];
                let packet = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = packet.header.length as usize;
                if len == 0 || len > bytes.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "netlink: bad message length",
                    ));
                }
                // NLMSG_ALIGN: messages in one datagram start on 4-byte boundaries.
                offset += (len + 3) & !3;
                if packet.header.sequence_number != seq {
                    continue; // a late answer to an earlier request
                }
                let ack_tlvs = packet.header.flags & NLM_F_ACK_TLVS != 0;
                match packet.payload {
                    NetlinkPayload::InnerMessage(m) => {
                        out.push(m);
                        if !dump {
                            // A GET answers with the object, then the ACK.
                            continue;
                        }
                    }
                    NetlinkPayload::Done(done) if done.code < 0 => {
                        return Err(io::Error::from_raw_os_error(-done.code));
                    }
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None if dump => continue,
                            None => Ok(out),
                            Some(_) => Err(with_ext_ack(e.to_io(), &e.header, ack_tlvs)),
                        };
                    }
                    NetlinkPayload::Noop => {}
                    NetlinkPayload::Overrun(_) => {
                        return Err(io::Error::other("netlink: overrun"));
                    }
                    _ => {}
                }
            }
        }
    }

    /// A request answered by an ACK (NEWLINK, DELADDR, …).
    pub(crate) fn ack(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.request(msg, flags).map(drop)
    }

    /// A dump request (GETLINK with `NLM_F_DUMP`, …).
    pub(crate) fn dump(
        &mut self,
        msg: RouteNetlinkMessage,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.request(msg, NLM_F_DUMP)
    }

    /// The link called `name`, or `None` when there is none.
    pub(crate) fn link_by_name(&mut self, name: &str) -> io::Result<Option<LinkMessage>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        match self.request(RouteNetlinkMessage::GetLink(msg), 0) {
            Ok(answer) => Ok(answer.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })),
            Err(e) if is_no_such_device(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every link of the namespace.
    pub(crate) fn links(&mut self) -> io::Result<Vec<LinkMessage>> {
        let answer = self.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))?;
        Ok(answer
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })
            .collect())
    }

    /// Deletes link `index` (a veth takes its peer with it).
    pub(crate) fn delete_link(&mut self, index: u32) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        self.ack(RouteNetlinkMessage::DelLink(msg), 0)
    }

    /// Sets link `index` up.
    pub(crate) fn set_up(&mut self, index: u32) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        self.ack(RouteNetlinkMessage::SetLink(msg), 0)
    }

    /// Sets attributes (MTU, MAC, …) of link `index`.
    pub(crate) fn set_link(&mut self, index: u32, attrs: Vec<LinkAttribute>) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes = attrs;
        self.ack(RouteNetlinkMessage::SetLink(msg), 0)
    }

    /// The IPv4 addresses of link `index` (or of every link when `None`), as
    /// (link index, address, prefix length).
    pub(crate) fn ipv4_addresses(
        &mut self,
        index: Option<u32>,
    ) -> io::Result<Vec<(u32, Ipv4Addr, u8)>> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        let answer = self.dump(RouteNetlinkMessage::GetAddress(msg))?;
        let mut out = Vec::new();
        for m in answer {
            let RouteNetlinkMessage::NewAddress(a) = m else {
                continue;
            };
            if a.header.family != AddressFamily::Inet || index.is_some_and(|i| i != a.header.index)
            {
                continue;
            }
            // IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer's on
            // point-to-point links); prefer it.
            let mut addr = None;
            for attr in &a.attributes {
                match attr {
                    AddressAttribute::Local(std::net::IpAddr::V4(v4)) => addr = Some(*v4),
                    AddressAttribute::Address(std::net::IpAddr::V4(v4)) if addr.is_none() => {
                        addr = Some(*v4)
                    }
                    _ => {}
                }
            }
            if let Some(addr) = addr {
                out.push((a.header.index, addr, a.header.prefix_len));
            }
        }
        Ok(out)
    }

    /// Adds or removes (`add == false`) IPv4 `addr/prefix` on link `index`, with the
    /// subnet's broadcast address as `ip addr add … brd +` would.
    pub(crate) fn ipv4_address(
        &mut self,
        add: bool,
        index: u32,
        addr: Ipv4Addr,
        prefix: u8,
    ) -> io::Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = prefix;
        msg.header.index = index;
        msg.attributes
            .push(AddressAttribute::Local(std::net::IpAddr::V4(addr)));
        msg.attributes
            .push(AddressAttribute::Address(std::net::IpAddr::V4(addr)));
        if prefix < 31 {
            let host_mask = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
            let brd = Ipv4Addr::from(u32::from(addr) | host_mask);
            msg.attributes.push(AddressAttribute::Broadcast(brd));
        }
        if add {
            self.ack(
                RouteNetlinkMessage::NewAddress(msg),
                netlink_packet_core::NLM_F_CREATE | netlink_packet_core::NLM_F_EXCL,
            )
        } else {
            self.ack(RouteNetlinkMessage::DelAddress(msg), 0)
        }
    }

    /// The IPv4 unicast routes of the main table, as (destination, prefix length,
    /// gateway, output link).
    pub(crate) fn ipv4_routes(&mut self) -> io::Result<Vec<Route4>> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        let answer = self.dump(RouteNetlinkMessage::GetRoute(msg))?;
        let mut out = Vec::new();
        for m in answer {
            let RouteNetlinkMessage::NewRoute(r) = m else {
                continue;
            };
            let mut table = u32::from(r.header.table);
            if r.header.address_family != AddressFamily::Inet || r.header.kind != RouteType::Unicast
            {
                continue;
            }
            let mut route = Route4 {
                destination: Ipv4Addr::UNSPECIFIED,
                prefix: r.header.destination_prefix_length,
                gateway: None,
                oif: None,
            };
            for attr in &r.attributes {
                match attr {
                    RouteAttribute::Destination(RouteAddress::Inet(d)) => route.destination = *d,
                    RouteAttribute::Gateway(RouteAddress::Inet(g)) => route.gateway = Some(*g),
                    RouteAttribute::Oif(i) => route.oif = Some(*i),
                    RouteAttribute::Table(t) => table = *t,
                    _ => {}
                }
            }
            if table == u32::from(RouteHeader::RT_TABLE_MAIN) {
                out.push(route);
            }
        }
        Ok(out)
    }

    /// Adds the default route via `gateway` on link `index`; fails with `EEXIST` when the
    /// table already has one (never replaces it).
    pub(crate) fn add_default_route(&mut self, gateway: Ipv4Addr, index: u32) -> io::Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        msg.header.destination_prefix_length = 0;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = netlink_packet_route::route::RouteProtocol::Boot;
        msg.header.scope = netlink_packet_route::route::RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        msg.attributes.push(RouteAttribute::Oif(index));
        self.ack(
            RouteNetlinkMessage::NewRoute(msg),
            netlink_packet_core::NLM_F_CREATE | netlink_packet_core::NLM_F_EXCL,
        )
    }
}

/// One IPv4 route of the main table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route4 {
    pub(crate) destination: Ipv4Addr,
    pub(crate) prefix: u8,
    pub(crate) gateway: Option<Ipv4Addr>,
    pub(crate) oif: Option<u32>,
}

/// Repeats a syscall interrupted by a signal (the engine's process has signal handlers).
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// The kernel's answer for a link name or index that does not exist.
pub(crate) fn is_no_such_device(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENODEV)
}

/// Appends the kernel's extended-ACK text (if any) to a NACK's errno.
fn with_ext_ack(err: io::Error, payload: &[u8], has_tlvs: bool) -> io::Error {
    if !has_tlvs {
        return err;
    }
    // With NETLINK_CAP_ACK the payload is the request's nlmsghdr, then the attributes.
    let mut rest = payload.get(NLMSG_HDRLEN..).unwrap_or(&[]);
    while rest.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([rest[0], rest[1]]));
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < 4 || len > rest.len() {
            break;
        }
        if kind == NLMSGERR_ATTR_MSG {
            let text = &rest[4..len];
            let text = text.split(|b| *b == 0).next().unwrap_or(&[]);
            let text = String::from_utf8_lossy(text);
            if !text.is_empty() {
                let code = err.raw_os_error();
                let msg = format!("{err} ({text})");
                return match code {
                    Some(c) => io::Error::new(io::Error::from_raw_os_error(c).kind(), msg),
                    None => io::Error::other(msg),
                };
            }
        }
        rest = &rest[((len + 3) & !3).min(rest.len())..];
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ext_ack_text_is_appended() {
        let mut payload = vec![0u8; NLMSG_HDRLEN];
        let text = b"Nexthop has invalid gateway\0";
        let len = (4 + text.len()) as u16;
        payload.extend_from_slice(&len.to_ne_bytes());
        payload.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        payload.extend_from_slice(text);
        let err = with_ext_ack(
            io::Error::from_raw_os_error(libc::ENETUNREACH),
            &payload,
            true,
        );
        assert!(
            err.to_string().contains("(Nexthop has invalid gateway)"),
            "{err}"
        );
        let plain = with_ext_ack(io::Error::from_raw_os_error(libc::EEXIST), &payload, false);
        assert_eq!(plain.raw_os_error(), Some(libc::EEXIST));
    }

    #[test]
    fn garbage_ext_ack_is_ignored() {
        let payload = vec![0xffu8; NLMSG_HDRLEN + 3];
        let err = with_ext_ack(io::Error::from_raw_os_error(libc::EINVAL), &payload, true);
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }
}
