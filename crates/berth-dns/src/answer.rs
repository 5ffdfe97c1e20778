//! One query in, one decision out: answer it from the table, refuse it, or forward it.
//!
//! Pure (no I/O): the listeners call [`handle`] with the packet, the address they listen on
//! and the peer's address, then send the reply or run the forwarder.

use std::net::Ipv4Addr;

use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::table::{normalize, Table};

/// TTL of the records answered from the table: short, since containers come and go.
pub(crate) const TTL: u32 = 60;

/// The largest UDP answer we build ourselves (RFC 9715's advice, DNS flag day 2020).
const UDP_EDNS_MAX: u16 = 1232;

/// The transport a query came over: it bounds the size of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    Udp,
    Tcp,
}

/// What to do with one packet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Not a query we can read: send nothing.
    Drop,
    /// Send these bytes back.
    Reply(Vec<u8>),
    /// A name we do not own: relay the packet to the upstream resolvers, and answer
    /// `servfail` when none answers. `udp_size` is the largest UDP answer the client takes.
    Forward { servfail: Vec<u8>, udp_size: u16 },
}

/// Decides what to do with `packet`, received on `listener` from `source`.
pub(crate) fn handle(
    packet: &[u8],
    listener: Ipv4Addr,
    source: Ipv4Addr,
    table: &Table,
    transport: Transport,
) -> Outcome {
    let Ok(request) = Message::from_vec(packet) else {
        return Outcome::Drop;
    };
    if request.metadata.message_type != MessageType::Query {
        return Outcome::Drop;
    }
    let Some(querier) = table.querier(listener, source) else {
        return reply(&request, ResponseCode::Refused, Vec::new(), transport);
    };
    if request.metadata.op_code != OpCode::Query {
        return reply(&request, ResponseCode::NotImp, Vec::new(), transport);
    }
    let [query] = request.queries.as_slice() else {
        return reply(&request, ResponseCode::FormErr, Vec::new(), transport);
    };
    let udp_size = request
        .edns
        .as_ref()
        .map_or(512, |e| e.max_payload().max(512));
    let forward = || match encode(
        &response(&request, ResponseCode::ServFail, Vec::new()),
        transport,
    ) {
        Some(servfail) => Outcome::Forward { servfail, udp_size },
        None => Outcome::Drop,
    };
    if query.query_class() != DNSClass::IN {
        return forward();
    }
    let qname = query.name();
    if query.query_type() == RecordType::PTR {
        let target = arpa_v4(qname)
            .and_then(|addr| table.reverse(&querier, addr))
            .and_then(|name| fqdn(&name));
        return match target {
            Some(target) => {
                let record = Record::from_rdata(qname.clone(), TTL, RData::PTR(PTR(target)));
                reply(&request, ResponseCode::NoError, vec![record], transport)
            }
            None => forward(),
        };
    }
    let Some(addrs) = query_name(qname).and_then(|name| table.lookup(&querier, &name)) else {
        return forward();
    };
    // A known name has only A records: any other type (AAAA included) is an empty answer,
    // so that resolvers do not go on to the upstreams or the search domains.
    let records = if matches!(query.query_type(), RecordType::A | RecordType::ANY) {
        addrs
            .into_iter()
            .map(|a| Record::from_rdata(qname.clone(), TTL, RData::A(A(a))))
            .collect()
    } else {
        Vec::new()
    };
    reply(&request, ResponseCode::NoError, records, transport)
}

/// The response to `request` with `code` and `answers`: the request's id, question and RD
/// and CD bits; RA set (we recurse through the upstreams); AA set on our own answers; an OPT
/// record when the request had one.
fn response(request: &Message, code: ResponseCode, answers: Vec<Record>) -> Message {
    let mut msg = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
    msg.metadata = Metadata::response_from_request(&request.metadata);
    msg.metadata.response_code = code;
    msg.metadata.recursion_available = true;
    msg.metadata.authoritative = code == ResponseCode::NoError;
    msg.add_queries(request.queries.iter().cloned());
    msg.add_answers(answers);
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(UDP_EDNS_MAX);
        msg.set_edns(edns);
    }
    msg
}

fn reply(
    request: &Message,
    code: ResponseCode,
    answers: Vec<Record>,
    transport: Transport,
) -> Outcome {
    match encode(&response(request, code, answers), transport) {
        Some(bytes) => Outcome::Reply(bytes),
        None => Outcome::Drop,
    }
}

/// `msg` on the wire; over UDP, truncated (TC set, no records) when it exceeds what the
/// client can take.
fn encode(msg: &Message, transport: Transport) -> Option<Vec<u8>> {
    let bytes = msg.to_vec().ok()?;
    let limit = match (transport, &msg.edns) {
        (Transport::Tcp, _) => usize::from(u16::MAX),
        (Transport::Udp, None) => 512,
        (Transport::Udp, Some(_)) => usize::from(UDP_EDNS_MAX),
    };
    if bytes.len() <= limit {
        return Some(bytes);
    }
    msg.truncate().to_vec().ok()
}

/// The query name as the table compares it (see [`normalize`]); `None` for names no table
/// entry can hold (a label that is not UTF-8 or that contains a dot).
fn query_name(name: &Name) -> Option<String> {
    let mut labels = Vec::new();
    for label in name.iter() {
        let label = std::str::from_utf8(label).ok()?;
        if label.contains('.') {
            return None;
        }
        labels.push(label);
    }
    Some(normalize(&labels.join(".")))
}

/// The address of `d.c.b.a.in-addr.arpa.`, if `name` is a full IPv4 reverse name.
fn arpa_v4(name: &Name) -> Option<Ipv4Addr> {
    let labels: Vec<&[u8]> = name.iter().collect();
    let [d, c, b, a, inaddr, arpa] = labels.as_slice() else {
        return None;
    };
    if !inaddr.eq_ignore_ascii_case(b"in-addr") || !arpa.eq_ignore_ascii_case(b"arpa") {
        return None;
    }
    let octet = |l: &[u8]| -> Option<u8> {
        let s = std::str::from_utf8(l).ok()?;
        if s.is_empty()
            || !s.bytes().all(|c| c.is_ascii_digit())
            || (s.len() > 1 && s.starts_with('0'))
        {
            return None;
        }
        s.parse().ok()
    };
    Some(Ipv4Addr::new(octet(a)?, octet(b)?, octet(c)?, octet(d)?))
}

/// `name` as a fully qualified DNS name, whatever characters it holds (container names may
/// have underscores).
fn fqdn(name: &str) -> Option<Name> {
    let mut n = Name::from_labels(name.split('.').map(str::as_bytes)).ok()?;
    n.set_fqdn(true);
    Some(n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::table::Entry;
    use hickory_proto::op::Query;

    const GW: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const A_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const B_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);

    fn table() -> Table {
        let t = Table::new();
        t.set_network("n1", GW);
        t.upsert("n1", Entry::new("a0a0a0a0a0a0a0a0", "alpha", ["al"], A_IP))
            .unwrap();
        t.upsert(
            "n1",
            Entry::new("b0b0b0b0b0b0b0b0", "my_beta", Vec::<String>::new(), B_IP),
        )
        .unwrap();
        t
    }

    fn query(name: &str, rtype: RecordType, edns: bool) -> Vec<u8> {
        let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
        if edns {
            m.set_edns(Edns::new());
        }
        m.to_vec().unwrap()
    }

    fn ask(t: &Table, packet: &[u8], from: Ipv4Addr) -> Message {
        match handle(packet, GW, from, t, Transport::Udp) {
            Outcome::Reply(bytes) => Message::from_vec(&bytes).unwrap(),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    fn addrs(m: &Message) -> Vec<Ipv4Addr> {
        m.answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn answers_names_case_insensitively() {
        let t = table();
        for name in ["alpha.", "ALPHA", "Al.", "a0a0a0a0a0a0"] {
            let m = ask(&t, &query(name, RecordType::A, false), B_IP);
            assert_eq!(m.metadata.id, 0x4242);
            assert_eq!(m.metadata.response_code, ResponseCode::NoError);
            assert!(m.metadata.authoritative && m.metadata.recursion_available);
            assert!(m.metadata.recursion_desired);
            assert_eq!(addrs(&m), [A_IP], "{name}");
            assert_eq!(m.answers[0].ttl, TTL);
        }
    }

    #[test]
    fn aaaa_of_a_known_name_is_empty() {
        let t = table();
        let m = ask(&t, &query("alpha", RecordType::AAAA, true), B_IP);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
        assert!(m.edns.is_some(), "an EDNS query gets an OPT record back");
    }

    #[test]
    fn ptr_answers_the_container_name() {
        let t = table();
        let m = ask(
            &t,
            &query("3.0.0.10.in-addr.arpa.", RecordType::PTR, false),
            A_IP,
        );
        let RData::PTR(ptr) = &m.answers[0].data else {
            panic!("not a PTR: {m:?}")
        };
        assert_eq!(ptr.0.to_string(), "my_beta.");
        let unknown = query("9.0.0.10.in-addr.arpa.", RecordType::PTR, false);
        assert!(matches!(
            handle(&unknown, GW, A_IP, &t, Transport::Udp),
            Outcome::Forward { .. }
        ));
    }

    #[test]
    fn unknown_names_are_forwarded_with_a_servfail_ready() {
        let t = table();
        let Outcome::Forward { servfail, udp_size } = handle(
            &query("example.org", RecordType::A, false),
            GW,
            A_IP,
            &t,
            Transport::Udp,
        ) else {
            panic!("not forwarded")
        };
        assert_eq!(udp_size, 512);
        let m = Message::from_vec(&servfail).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
        assert_eq!(m.metadata.id, 0x4242);
    }

    #[test]
    fn strangers_are_refused() {
        let t = table();
        let m = ask(
            &t,
            &query("alpha", RecordType::A, false),
            Ipv4Addr::new(10, 0, 0, 99),
        );
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        assert!(m.answers.is_empty());
        // The listener of another network does not serve n1's containers.
        let other = handle(
            &query("alpha", RecordType::A, false),
            Ipv4Addr::new(10, 9, 0, 1),
            A_IP,
            &t,
            Transport::Udp,
        );
        let Outcome::Reply(bytes) = other else {
            panic!("{other:?}")
        };
        assert_eq!(
            Message::from_vec(&bytes).unwrap().metadata.response_code,
            ResponseCode::Refused
        );
    }

    #[test]
    fn big_answers_are_truncated_over_udp_only() {
        let t = table();
        for i in 0..60u8 {
            let e = Entry::new(
                format!("s{i:016}"),
                format!("s{i}"),
                ["svc"],
                Ipv4Addr::new(10, 0, 1, i),
            );
            t.upsert("n1", e).unwrap();
        }
        let q = query("svc", RecordType::A, false);
        let m = ask(&t, &q, A_IP);
        assert!(m.metadata.truncation && m.answers.is_empty());
        let Outcome::Reply(bytes) = handle(&q, GW, A_IP, &t, Transport::Tcp) else {
            panic!()
        };
        let m = Message::from_vec(&bytes).unwrap();
        assert!(!m.metadata.truncation);
        assert_eq!(m.answers.len(), 60);
    }

    #[test]
    fn garbage_is_dropped_without_panicking() {
        let t = table();
        let good = query("alpha", RecordType::A, true);
        for len in 0..good.len() {
            let _ = handle(&good[..len], GW, A_IP, &t, Transport::Udp);
        }
        for i in 0..good.len() {
            for bit in 0..8 {
                let mut p = good.clone();
                p[i] ^= 1 << bit;
                let _ = handle(&p, GW, A_IP, &t, Transport::Udp);
            }
        }
        assert_eq!(
            handle(b"\xff\xff", GW, A_IP, &t, Transport::Udp),
            Outcome::Drop
        );
        // A response is never answered (no loops between servers).
        let mut resp = good.clone();
        resp[2] |= 0x80;
        assert_eq!(handle(&resp, GW, A_IP, &t, Transport::Udp), Outcome::Drop);
    }

    #[test]
    fn reverse_names() {
        let n = |s| Name::from_ascii(s).unwrap();
        assert_eq!(
            arpa_v4(&n("4.3.2.1.in-addr.arpa.")),
            Some(Ipv4Addr::new(1, 2, 3, 4))
        );
        assert_eq!(
            arpa_v4(&n("4.3.2.1.IN-ADDR.ARPA")),
            Some(Ipv4Addr::new(1, 2, 3, 4))
        );
        assert_eq!(arpa_v4(&n("3.2.1.in-addr.arpa.")), None);
        assert_eq!(arpa_v4(&n("256.3.2.1.in-addr.arpa.")), None);
        assert_eq!(arpa_v4(&n("04.3.2.1.in-addr.arpa.")), None);
        assert_eq!(arpa_v4(&n("4.3.2.1.ip6.arpa.")), None);
    }
}
