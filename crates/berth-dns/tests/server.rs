//! The server over real sockets on 127.0.0.0/8 (no root needed): every address of that
//! block is local, so a client picks its source address by binding to 127.0.0.2, .3, …
//! and each container of the table below is one such address. Listeners and the fake
//! upstream use port 0 (a free port), so tests run in parallel with anything else.
//!
//! Two networks, three containers: A on n1, B on n1 and n2, C on n2.
//!
//! | address     | what                                   |
//! |-------------|----------------------------------------|
//! | 127.0.0.1   | gateway of n1 (its listener)           |
//! | 127.0.0.2   | A on n1 (name "alpha", hostname "a-host") |
//! | 127.0.0.3   | B on n1 (name "beta", alias "db")      |
//! | 127.0.0.4   | B on n2 (name "beta", alias "bee")     |
//! | 127.0.0.5   | C on n2 (name "gamma")                 |
//! | 127.0.0.6   | gateway of n2 (its listener)           |
//! | 127.0.0.8   | a stranger                             |
//! | 127.0.0.9   | the fake upstream resolvers            |

use std::error::Error as StdError;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_dns::{Entry, Error, Handle, Server, Table, Upstreams};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

type TestResult<T = ()> = Result<T, Box<dyn StdError + Send + Sync>>;

const GW1: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const A_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const B1_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
const B2_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);
const C_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 5);
const GW2: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 6);
const STRANGER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 8);
const UPSTREAM: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 9);

const A_ID: &str = "0a1b2c3d4e5f00112233445566778899aabbccddeeff00112233445566778899";
const B_ID: &str = "bbbbbbbbbbbb00112233445566778899aabbccddeeff00112233445566778899";
const C_ID: &str = "cccccccccccc00112233445566778899aabbccddeeff00112233445566778899";

/// The fake upstream's one name, and its address.
const EXT_NAME: &str = "ext.example.";
const EXT_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 7);

fn table() -> TestResult<Arc<Table>> {
    let t = Arc::new(Table::new());
    t.set_network("n1", GW1);
    t.set_network("n2", GW2);
    let mut a = Entry::new(A_ID, "alpha", Vec::<String>::new(), A_IP);
    a.names.push("a-host".into());
    t.upsert("n1", a)?;
    t.upsert("n1", Entry::new(B_ID, "beta", ["db"], B1_IP))?;
    t.upsert("n2", Entry::new(B_ID, "beta", ["bee"], B2_IP))?;
    t.upsert("n2", Entry::new(C_ID, "gamma", Vec::<String>::new(), C_IP))?;
    Ok(t)
}

/// Both networks' listeners over `table`, forwarding to `upstreams`.
fn start(table: &Arc<Table>, upstreams: Upstreams) -> TestResult<(Handle, Handle)> {
    let n1 = Server::start(GW1, 0, Arc::clone(table), upstreams.clone())?;
    let n2 = Server::start(GW2, 0, Arc::clone(table), upstreams)?;
    Ok((n1, n2))
}

fn query(id: u16, name: &str, rtype: RecordType) -> TestResult<Vec<u8>> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name)?, rtype));
    Ok(m.to_vec()?)
}

async fn udp_exchange(from: Ipv4Addr, server: SocketAddr, packet: &[u8]) -> TestResult<Message> {
    let sock = UdpSocket::bind((from, 0)).await?;
    sock.send_to(packet, server).await?;
    let mut buf = vec![0u8; 65535];
    let (n, peer) =
        tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf)).await??;
    assert_eq!(peer, server);
    Ok(Message::from_vec(&buf[..n])?)
}

async fn ask(
    from: Ipv4Addr,
    server: &Handle,
    name: &str,
    rtype: RecordType,
) -> TestResult<Message> {
    udp_exchange(from, server.local_addr(), &query(0x5151, name, rtype)?).await
}

async fn ask_tcp(
    from: Ipv4Addr,
    server: &Handle,
    name: &str,
    rtype: RecordType,
) -> TestResult<Message> {
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.bind((from, 0).into())?;
    let mut stream = sock.connect(server.local_addr()).await?;
    let packet = query(0x7272, name, rtype)?;
    stream.write_u16(u16::try_from(packet.len())?).await?;
    stream.write_all(&packet).await?;
    let reply = tokio::time::timeout(Duration::from_secs(5), async {
        let len = stream.read_u16().await?;
        let mut buf = vec![0u8; usize::from(len)];
        stream.read_exact(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    })
    .await??;
    let m = Message::from_vec(&reply)?;
    assert_eq!(m.metadata.id, 0x7272);
    Ok(m)
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

/// Resolves `name` from `from` through `server`: its addresses, or the response code.
async fn resolve(
    from: Ipv4Addr,
    server: &Handle,
    name: &str,
) -> TestResult<Result<Vec<Ipv4Addr>, ResponseCode>> {
    let m = ask(from, server, name, RecordType::A).await?;
    assert_eq!(m.metadata.id, 0x5151);
    Ok(match m.metadata.response_code {
        ResponseCode::NoError => Ok(addrs(&m)),
        code => Err(code),
    })
}

/// A fake upstream resolver on 127.0.0.9 (UDP and TCP, same port): `ext.example.` is
/// 192.0.2.7, every other name NXDOMAIN. Counts the queries it gets.
struct Fake {
    addr: SocketAddr,
    queries: Arc<AtomicUsize>,
}

fn fake_answer(packet: &[u8]) -> Option<Vec<u8>> {
    let q = Message::from_vec(packet).ok()?;
    let mut m = Message::response(q.metadata.id, OpCode::Query);
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.add_queries(q.queries.iter().cloned());
    let question = q.queries.first()?;
    if question.name().to_ascii().eq_ignore_ascii_case(EXT_NAME)
        && question.query_type() == RecordType::A
    {
        m.add_answer(Record::from_rdata(
            question.name().clone(),
            300,
            RData::A(A(EXT_IP)),
        ));
    } else {
        m.metadata.response_code = ResponseCode::NXDomain;
    }
    m.to_vec().ok()
}

async fn fake_upstream() -> TestResult<Fake> {
    let (udp, tcp) = loop {
        let udp = UdpSocket::bind((UPSTREAM, 0)).await?;
        if let Ok(tcp) = TcpListener::bind(udp.local_addr()?).await {
            break (udp, tcp);
        }
    };
    let addr = udp.local_addr()?;
    let queries = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&queries);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65535];
        while let Ok((n, peer)) = udp.recv_from(&mut buf).await {
            count.fetch_add(1, Ordering::SeqCst);
            if let Some(answer) = fake_answer(&buf[..n]) {
                let _ = udp.send_to(&answer, peer).await;
            }
        }
    });
    let count = Arc::clone(&queries);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = tcp.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let Ok(len) = stream.read_u16().await else {
                    return;
                };
                let mut buf = vec![0u8; usize::from(len)];
                if stream.read_exact(&mut buf).await.is_err() {
                    return;
                }
                if let Some(answer) = fake_answer(&buf) {
                    let Ok(len) = u16::try_from(answer.len()) else {
                        return;
                    };
                    let _ = stream.write_u16(len).await;
                    let _ = stream.write_all(&answer).await;
                }
            });
        }
    });
    Ok(Fake { addr, queries })
}

/// An upstream that reads queries and never answers. Keep the socket alive.
async fn black_hole() -> TestResult<(UdpSocket, SocketAddr)> {
    let sock = UdpSocket::bind((UPSTREAM, 0)).await?;
    let addr = sock.local_addr()?;
    Ok((sock, addr))
}

/// An address nothing listens on (the port is closed: ICMP port unreachable).
async fn dead_upstream() -> TestResult<SocketAddr> {
    let sock = UdpSocket::bind((UPSTREAM, 0)).await?;
    Ok(sock.local_addr()?)
}

#[tokio::test]
async fn containers_see_the_names_of_the_networks_they_share() -> TestResult {
    let t = table()?;
    let fake = fake_upstream().await?;
    let (n1, n2) = start(&t, Upstreams::new([fake.addr]))?;

    // A (n1 only) sees B at its n1 address, not C nor B's n2 alias: those go upstream.
    assert_eq!(resolve(A_IP, &n1, "beta").await?, Ok(vec![B1_IP]));
    assert_eq!(resolve(A_IP, &n1, "db").await?, Ok(vec![B1_IP]));
    assert_eq!(
        resolve(A_IP, &n1, "gamma").await?,
        Err(ResponseCode::NXDomain)
    );
    assert_eq!(
        resolve(A_IP, &n1, "bee").await?,
        Err(ResponseCode::NXDomain)
    );
    assert_eq!(
        fake.queries.load(Ordering::SeqCst),
        2,
        "gamma and bee were forwarded"
    );

    // B sees both networks, each name at the address on a network it shares with B, the
    // arrival network first.
    assert_eq!(resolve(B1_IP, &n1, "alpha").await?, Ok(vec![A_IP]));
    assert_eq!(resolve(B1_IP, &n1, "gamma").await?, Ok(vec![C_IP]));
    assert_eq!(resolve(B2_IP, &n2, "alpha").await?, Ok(vec![A_IP]));
    assert_eq!(resolve(B2_IP, &n2, "gamma").await?, Ok(vec![C_IP]));
    assert_eq!(resolve(B1_IP, &n1, "beta").await?, Ok(vec![B1_IP]));
    assert_eq!(resolve(B2_IP, &n2, "beta").await?, Ok(vec![B2_IP]));

    // C sees B on n2, by name, alias and short id, case-insensitively.
    assert_eq!(resolve(C_IP, &n2, "BETA.").await?, Ok(vec![B2_IP]));
    assert_eq!(resolve(C_IP, &n2, "bee").await?, Ok(vec![B2_IP]));
    assert_eq!(resolve(C_IP, &n2, "bbbbbbbbbbbb").await?, Ok(vec![B2_IP]));
    assert_eq!(resolve(C_IP, &n2, "db").await?, Err(ResponseCode::NXDomain));

    // Short id and hostname of A, from B.
    assert_eq!(resolve(B1_IP, &n1, "0a1b2c3d4e5f").await?, Ok(vec![A_IP]));
    assert_eq!(resolve(B1_IP, &n1, "A-Host").await?, Ok(vec![A_IP]));

    // AAAA of a known name: NOERROR, nothing.
    let m = ask(A_IP, &n1, "beta", RecordType::AAAA).await?;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());

    // Updates are seen at once.
    t.upsert(
        "n1",
        Entry::new(
            C_ID,
            "gamma",
            Vec::<String>::new(),
            Ipv4Addr::new(127, 0, 0, 10),
        ),
    )?;
    assert_eq!(
        resolve(A_IP, &n1, "gamma").await?,
        Ok(vec![Ipv4Addr::new(127, 0, 0, 10)])
    );
    assert!(t.remove("n1", B_ID));
    assert_eq!(
        resolve(A_IP, &n1, "beta").await?,
        Err(ResponseCode::NXDomain)
    );
    assert_eq!(
        resolve(B1_IP, &n1, "alpha").await?,
        Err(ResponseCode::Refused),
        "B left n1"
    );
    assert_eq!(
        resolve(B2_IP, &n2, "alpha").await?,
        Err(ResponseCode::NXDomain)
    );

    n1.stop().await;
    n2.stop().await;
    Ok(())
}

#[tokio::test]
async fn ptr_answers_container_names() -> TestResult {
    let t = table()?;
    let fake = fake_upstream().await?;
    let (n1, n2) = start(&t, Upstreams::new([fake.addr]))?;
    let m = ask(A_IP, &n1, "3.0.0.127.in-addr.arpa.", RecordType::PTR).await?;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let names: Vec<String> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::PTR(p) => Some(p.0.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["beta."]);
    // C's address is not on a network A shares: forwarded (the fake says NXDOMAIN).
    let m = ask(A_IP, &n1, "5.0.0.127.in-addr.arpa.", RecordType::PTR).await?;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    n1.stop().await;
    n2.stop().await;
    Ok(())
}

#[tokio::test]
async fn unknown_names_are_forwarded_with_the_client_query_id() -> TestResult {
    let t = table()?;
    let fake = fake_upstream().await?;
    let (n1, n2) = start(&t, Upstreams::new([fake.addr]))?;
    for id in [0x0001, 0xbeef, 0xffff] {
        let m = udp_exchange(A_IP, n1.local_addr(), &query(id, EXT_NAME, RecordType::A)?).await?;
        assert_eq!(m.metadata.id, id);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(addrs(&m), [EXT_IP]);
    }
    // Over TCP as well, to the upstream over TCP.
    let m = ask_tcp(C_IP, &n2, EXT_NAME, RecordType::A).await?;
    assert_eq!(addrs(&m), [EXT_IP]);
    n1.stop().await;
    n2.stop().await;
    Ok(())
}

#[tokio::test]
async fn tcp_queries_are_answered() -> TestResult {
    let t = table()?;
    let fake = fake_upstream().await?;
    let (n1, n2) = start(&t, Upstreams::new([fake.addr]))?;
    let m = ask_tcp(A_IP, &n1, "beta", RecordType::A).await?;
    assert_eq!(addrs(&m), [B1_IP]);
    let m = ask_tcp(STRANGER, &n1, "beta", RecordType::A).await?;
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    n1.stop().await;
    n2.stop().await;
    Ok(())
}

#[tokio::test]
async fn strangers_are_refused() -> TestResult {
    let t = table()?;
    let fake = fake_upstream().await?;
    let (n1, n2) = start(&t, Upstreams::new([fake.addr]))?;
    for name in ["beta", EXT_NAME] {
        assert_eq!(
            resolve(STRANGER, &n1, name).await?,
            Err(ResponseCode::Refused)
        );
    }
    // A container of n1 asking n2's listener is a stranger there.
    assert_eq!(
        resolve(A_IP, &n2, "beta").await?,
        Err(ResponseCode::Refused)
    );
    assert_eq!(
        fake.queries.load(Ordering::SeqCst),
        0,
        "nothing was forwarded"
    );
    n1.stop().await;
    n2.stop().await;
    Ok(())
}

#[tokio::test]
async fn no_upstream_answering_is_servfail_within_the_timeout() -> TestResult {
    let t = table()?;
    let (_hole, hole) = black_hole().await?;
    let dead = dead_upstream().await?;
    let limit = Duration::from_millis(300);
    let (n1, n2) = start(&t, Upstreams::new([dead, hole]).with_timeout(limit))?;
    let started = Instant::now();
    assert_eq!(
        resolve(A_IP, &n1, EXT_NAME).await?,
        Err(ResponseCode::ServFail)
    );
    let took = started.elapsed();
    assert!(took >= limit - Duration::from_millis(50), "{took:?}");
    assert!(took < limit + Duration::from_secs(2), "{took:?}");
    let m = ask_tcp(A_IP, &n1, EXT_NAME, RecordType::A).await?;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    // No upstream at all: SERVFAIL at once.
    let lone = Server::start(GW1, 0, Arc::clone(&t), Upstreams::new([]))?;
    assert_eq!(
        resolve(A_IP, &lone, EXT_NAME).await?,
        Err(ResponseCode::ServFail)
    );
    lone.stop().await;
    n1.stop().await;
    n2.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_failing_upstream_falls_back_to_the_next() -> TestResult {
    let t = table()?;
    let (_hole, hole) = black_hole().await?;
    let dead = dead_upstream().await?;
    let fake = fake_upstream().await?;
    let up = Upstreams::new([dead, hole, fake.addr]).with_timeout(Duration::from_millis(200));
    let (n1, n2) = start(&t, up)?;
    assert_eq!(resolve(A_IP, &n1, EXT_NAME).await?, Ok(vec![EXT_IP]));
    let m = ask_tcp(A_IP, &n1, EXT_NAME, RecordType::A).await?;
    assert_eq!(addrs(&m), [EXT_IP]);
    n1.stop().await;
    n2.stop().await;
    Ok(())
}

#[tokio::test]
async fn forwarded_queries_are_bounded() -> TestResult {
    let t = table()?;
    let (_hole, hole) = black_hole().await?;
    let up = Upstreams::new([hole])
        .with_timeout(Duration::from_secs(10))
        .with_max_in_flight(1);
    let (n1, n2) = start(&t, up)?;
    // The first forward waits for the black hole; the second finds the bound reached.
    let pending = UdpSocket::bind((A_IP, 0)).await?;
    let first = query(1, EXT_NAME, RecordType::A)?;
    pending.send_to(&first, n1.local_addr()).await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    assert_eq!(
        resolve(A_IP, &n1, "second.example.").await?,
        Err(ResponseCode::ServFail)
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered before the timeout"
    );
    // Names from the table are still answered.
    assert_eq!(resolve(A_IP, &n1, "beta").await?, Ok(vec![B1_IP]));
    n1.stop().await;
    n2.stop().await;
    Ok(())
}

#[tokio::test]
async fn garbage_does_not_kill_the_server() -> TestResult {
    let t = table()?;
    let fake = fake_upstream().await?;
    let (n1, n2) = start(&t, Upstreams::new([fake.addr]))?;
    let sock = UdpSocket::bind((A_IP, 0)).await?;
    let good = query(9, "beta", RecordType::A)?;
    let mut flipped = good.clone();
    flipped[5] = 0xff; // 255 questions announced, one present
    let garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0xff; 11],
        vec![0xff; 12],
        vec![0x00; 512],
        good[..good.len() - 3].to_vec(),
        flipped,
        (0..=255u8).collect(),
    ];
    for g in &garbage {
        sock.send_to(g, n1.local_addr()).await?;
    }
    // Over TCP: a bogus length and a short read.
    let mut stream = TcpStream::connect(n1.local_addr()).await?;
    stream.write_all(&[0x00, 0x05, 1, 2, 3, 4, 5]).await?;
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut rest)).await;
    drop(stream);
    let mut stream = TcpStream::connect(n1.local_addr()).await?;
    stream.write_all(&[0xff, 0xff, 1]).await?;
    drop(stream);

    assert_eq!(resolve(A_IP, &n1, "beta").await?, Ok(vec![B1_IP]));
    let m = ask_tcp(A_IP, &n1, "beta", RecordType::A).await?;
    assert_eq!(addrs(&m), [B1_IP]);
    n1.stop().await;
    n2.stop().await;
    Ok(())
}

#[tokio::test]
async fn stop_frees_the_address_and_bind_errors_are_clear() -> TestResult {
    let t = table()?;
    let n1 = Server::start(GW1, 0, Arc::clone(&t), Upstreams::new([]))?;
    let addr = n1.local_addr();
    let Err(e) = Server::start(GW1, addr.port(), Arc::clone(&t), Upstreams::new([])) else {
        return Err("a second server on the same port started".into());
    };
    assert!(matches!(e, Error::Bind { proto: "udp", .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(&addr.to_string()) && msg.contains("another DNS server"),
        "{msg}"
    );

    let Err(e) = Server::start(
        Ipv4Addr::new(192, 0, 2, 1),
        0,
        Arc::clone(&t),
        Upstreams::new([]),
    ) else {
        return Err("bound an address no interface has".into());
    };
    assert!(
        e.to_string().contains("not assigned to any interface"),
        "{e}"
    );

    n1.stop().await;
    let again = Server::start(GW1, addr.port(), Arc::clone(&t), Upstreams::new([]))?;
    assert_eq!(resolve(A_IP, &again, "beta").await?, Ok(vec![B1_IP]));
    again.stop().await;
    Ok(())
}

#[test]
fn start_needs_a_runtime() {
    let t = Arc::new(Table::new());
    let r = Server::start(GW1, 0, t, Upstreams::new([]));
    assert!(matches!(r, Err(Error::NoRuntime)), "{r:?}");
}

/// `dig` (Debian's dnsutils) against the server, when it is installed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dig_resolves_through_the_server() -> TestResult {
    if std::process::Command::new("dig")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("dig is not installed (apt-get install dnsutils): skipped");
        return Ok(());
    }
    let t = table()?;
    let fake = fake_upstream().await?;
    let (n1, n2) = start(&t, Upstreams::new([fake.addr]))?;
    let port = n1.local_addr().port().to_string();
    let dig = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || std::process::Command::new("dig").args(args).output())
    };
    let base = |name: &str, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "@127.0.0.1",
            "-p",
            &port,
            "-b",
            "127.0.0.2",
            "+short",
            "+tries=1",
            "+time=3",
            name,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    for (args, want) in [
        (base("beta", &[]), "127.0.0.3"),
        (base("beta", &["+tcp"]), "127.0.0.3"),
        (base(EXT_NAME, &[]), "192.0.2.7"),
        (base("db.", &["+tcp"]), "127.0.0.3"),
        (base("-x", &["127.0.0.3"]), "beta."),
    ] {
        let out = dig(args.clone()).await??;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout.trim(),
            want,
            "dig {args:?}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    n1.stop().await;
    n2.stop().await;
    Ok(())
}
