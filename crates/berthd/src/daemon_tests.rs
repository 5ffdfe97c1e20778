//! The daemon's lifecycle with a fake engine: pid file, stale and live sockets, two
//! instances side by side, clean shutdown.

#[path = "../../berth-api/tests/fake/mod.rs"]
#[allow(clippy::unwrap_used, missing_docs)]
mod fake;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{merge, FileConfig, Flags};
use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn settings(root: &Path) -> Result<crate::Settings> {
    let flags = Flags {
        hosts: vec![format!("unix://{}", root.join("exec/berth.sock").display())],
        data_root: Some(root.join("data")),
        exec_root: Some(root.join("exec")),
        ..Default::default()
    };
    merge(flags, FileConfig::default(), Path::new("/nonexistent"))
}

async fn ping(sock: &Path) -> Result<String> {
    let mut s = tokio::net::UnixStream::connect(sock).await?;
    s.write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await??;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

async fn wait_for(path: &Path) -> Result<()> {
    for _ in 0..200 {
        if path.exists() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    anyhow::bail!("{} never appeared", path.display())
}

async fn open_fake() -> Result<Arc<dyn berth_model::Engine>> {
    Ok(fake::Fake::new() as Arc<dyn berth_model::Engine>)
}

#[tokio::test]
async fn lifecycle_side_by_side_and_clean_exit() -> Result<()> {
    let a = tempfile::tempdir()?;
    let b = tempfile::tempdir()?;
    let sa = settings(a.path())?;
    let sb = settings(b.path())?;
    let sock_a = a.path().join("exec/berth.sock");
    let sock_b = b.path().join("exec/berth.sock");

    // A stale socket (nobody listening) is replaced.
    std::fs::create_dir_all(a.path().join("exec"))?;
    drop(std::os::unix::net::UnixListener::bind(&sock_a)?);
    assert!(sock_a.exists());

    let (stop_a, stopped_a) = tokio::sync::oneshot::channel::<()>();
    let (stop_b, stopped_b) = tokio::sync::oneshot::channel::<()>();
    let run_a = {
        let sa = sa.clone();
        tokio::spawn(async move {
            crate::run(&sa, open_fake, async {
                let _ = stopped_a.await;
            })
            .await
        })
    };
    let run_b = {
        let sb = sb.clone();
        tokio::spawn(async move {
            crate::run(&sb, open_fake, async {
                let _ = stopped_b.await;
            })
            .await
        })
    };
    wait_for(&sa.pidfile).await?;
    wait_for(&sb.pidfile).await?;
    tokio::time::sleep(Duration::from_millis(50)).await;

    for sock in [&sock_a, &sock_b] {
        let reply = ping(sock).await?;
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
        assert!(reply.ends_with("OK"), "{reply}");
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(sock)?.permissions());
        assert_eq!(mode & 0o777, 0o660);
    }
    assert_eq!(
        std::fs::read_to_string(&sa.pidfile)?,
        std::process::id().to_string()
    );

    // A second daemon on A's socket is refused while A serves it; the refusal touches
    // neither A's socket nor its pid file.
    let mut clash = sb.clone();
    clash.pidfile = a.path().join("other.pid");
    clash.hosts = sa.hosts.clone();
    let err = crate::run(&clash, open_fake, async {}).await;
    let msg = format!(
        "{:#}",
        err.err().ok_or(anyhow::anyhow!("second daemon started"))?
    );
    assert!(msg.contains("in use by another daemon"), "{msg}");
    assert!(sock_a.exists() && sa.pidfile.exists());
    assert!(
        !clash.pidfile.exists(),
        "a failed start removes its pid file"
    );

    // An engine that fails to open: the daemon exits with its error and cleans up.
    let c = tempfile::tempdir()?;
    let sc = settings(c.path())?;
    let err = crate::run(
        &sc,
        || async { Err(anyhow::anyhow!("engine broken")) },
        async {},
    )
    .await;
    assert!(err.is_err());
    assert!(!sc.pidfile.exists() && !c.path().join("exec/berth.sock").exists());

    stop_a.send(()).ok();
    run_a.await??;
    assert!(!sock_a.exists(), "socket removed on exit");
    assert!(!sa.pidfile.exists(), "pid file removed on exit");
    let reply = ping(&sock_b).await?;
    assert!(reply.ends_with("OK"), "B unaffected by A's exit");
    stop_b.send(()).ok();
    run_b.await??;
    assert!(!sock_b.exists() && !sb.pidfile.exists());
    Ok(())
}

/// Writes a CA, a server certificate for 127.0.0.1 signed by it (with its key) and a
/// client identity signed by it into `dir`; returns the client's chain and key.
fn write_certs(
    dir: &Path,
) -> Result<(
    Vec<rustls::pki_types::CertificateDer<'static>>,
    rustls::pki_types::PrivateKeyDer<'static>,
)> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate()?;
    let server =
        CertificateParams::new(vec!["127.0.0.1".to_string()])?.signed_by(&server_key, &issuer)?;
    std::fs::write(dir.join("ca.pem"), ca_cert.pem())?;
    std::fs::write(dir.join("server-cert.pem"), server.pem())?;
    std::fs::write(dir.join("server-key.pem"), server_key.serialize_pem())?;
    let client_key = KeyPair::generate()?;
    let client = CertificateParams::new(Vec::<String>::new())?.signed_by(&client_key, &issuer)?;
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(client_key.serialize_der().into());
    Ok((vec![client.der().clone()], key))
}

async fn tls_ping(
    addr: std::net::SocketAddr,
    ca: &Path,
    identity: Option<(
        Vec<rustls::pki_types::CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    )>,
) -> Result<String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from_pem_file(ca)?)?;
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots);
    let config = match identity {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key)?,
        None => builder.with_no_client_auth(),
    };
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let mut s = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(rustls::pki_types::ServerName::try_from("127.0.0.1")?, tcp)
        .await?;
    s.write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await??;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test]
async fn tls_listener_from_the_files_of_the_flags() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let identity = write_certs(dir.path())?;
    let d = dir.path();
    let flags = Flags {
        hosts: vec![
            format!("unix://{}", d.join("exec/berth.sock").display()),
            "tcp://127.0.0.1:0".into(),
        ],
        data_root: Some(d.join("data")),
        exec_root: Some(d.join("exec")),
        tlsverify: Some(true),
        tlscacert: Some(d.join("ca.pem")),
        tlscert: Some(d.join("server-cert.pem")),
        tlskey: Some(d.join("server-key.pem")),
        ..Default::default()
    };
    let settings = merge(flags, FileConfig::default(), Path::new("/nonexistent"))?;

    let (pidfile, listeners, _sockets) = crate::prepare(&settings).await?;
    let addr = listeners
        .iter()
        .find_map(|l| match l {
            berth_api::Listener::Tls(t, _) => t.local_addr().ok(),
            _ => None,
        })
        .ok_or(anyhow::anyhow!("no TLS listener for tcp://"))?;
    assert!(
        matches!(listeners.first(), Some(berth_api::Listener::Unix(_))),
        "the unix socket stays plain"
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(berth_api::serve(
        berth_api::router(fake::Fake::new()),
        listeners,
        async {
            let _ = stopped.await;
        },
    ));

    let reply = tls_ping(addr, &d.join("ca.pem"), Some(identity)).await?;
    assert!(
        reply.starts_with("HTTP/1.1 200 OK\r\n") && reply.ends_with("OK"),
        "{reply}"
    );
    let refused = tls_ping(addr, &d.join("ca.pem"), None).await;
    assert!(refused.is_err(), "no client certificate: {refused:?}");
    let reply = ping(&d.join("exec/berth.sock")).await?;
    assert!(reply.ends_with("OK"), "unix socket: {reply}");

    stop.send(()).ok();
    served.await??;
    drop(pidfile);

    // A broken file stops the start with its name, before anything is created.
    let mut broken = settings.clone();
    broken.pidfile = d.join("broken.pid");
    broken.tls = Some(crate::config::TlsSettings {
        key: d.join("ca.pem"),
        ..broken.tls.clone().ok_or(anyhow::anyhow!("tls"))?
    });
    let err = format!(
        "{:#}",
        crate::prepare(&broken)
            .await
            .err()
            .ok_or(anyhow::anyhow!("started with a certificate as key"))?
    );
    assert!(
        err.contains("server key (--tlskey)") && err.contains("ca.pem") && err.contains("swapped"),
        "{err}"
    );
    assert!(!broken.pidfile.exists());
    Ok(())
}
