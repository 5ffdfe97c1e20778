//! TLS to the daemon, decided the way the docker CLI decides it (`cli/flags`
//! `SetDefaultOptions`), so the same flags and environment reach the same daemon:
//!
//! - `--tlsverify` given at all, or `DOCKER_TLS_VERIFY` non-empty, turns TLS on and
//!   verifies the daemon against `--tlscacert` (`--tlsverify=false`: TLS, no verification);
//! - `--tls` (or `DOCKER_TLS` non-empty) alone: encrypted but the daemon's certificate is
//!   not checked, as docker's `InsecureSkipVerify`;
//! - the files default to `$DOCKER_CERT_PATH/{ca,cert,key}.pem`, else the config directory
//!   (`$DOCKER_CONFIG`, else `~/.docker`); a default client certificate or key that does not
//!   exist is simply not sent, one given by flag must exist.
//!
//! TLS applies to `tcp://` hosts; unix sockets are plain, as the daemon serves them.
//! The stack is rustls with the ring provider, the same as berthd's.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::args::Parsed;

/// What the environment contributes (read once by [`TlsEnv::from_env`]; tests build it).
#[derive(Debug, Clone, Default)]
pub struct TlsEnv {
    /// `DOCKER_TLS` is set and not empty.
    pub tls: bool,
    /// `DOCKER_TLS_VERIFY` is set and not empty (whatever its value, as docker reads it).
    pub verify: bool,
    /// Where the default `ca.pem`, `cert.pem` and `key.pem` are.
    pub cert_dir: PathBuf,
}

impl TlsEnv {
    /// Reads `DOCKER_TLS`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`, `DOCKER_CONFIG`, `HOME`.
    pub fn from_env() -> TlsEnv {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let cert_dir = var("DOCKER_CERT_PATH")
            .or_else(|| var("DOCKER_CONFIG"))
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                var("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("/"))
                    .join(".docker")
            });
        TlsEnv {
            tls: var("DOCKER_TLS").is_some(),
            verify: var("DOCKER_TLS_VERIFY").is_some(),
            cert_dir,
        }
    }
}

/// TLS as asked for by the flags and the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// Check the daemon's certificate against `ca` (and its name against the host).
    pub verify: bool,
    /// The CA the daemon's certificate must chain to (read only with `verify`).
    pub ca: PathBuf,
    /// Our client certificate, if one is to be sent.
    pub cert: Option<PathBuf>,
    /// Its key.
    pub key: Option<PathBuf>,
}

/// Docker's decision from the global flags `--tls`, `--tlsverify`, `--tlscacert`,
/// `--tlscert`, `--tlskey` and `env`: `None` when TLS is off.
pub fn options(global: &Parsed, env: &TlsEnv) -> Option<TlsOptions> {
    let verify = if global.has("tlsverify") {
        global.on("tlsverify")
    } else {
        env.verify
    };
    let tls = global.has("tlsverify")
        || verify
        || if global.has("tls") {
            global.on("tls")
        } else {
            env.tls
        };
    if !tls {
        return None;
    }
    let given = |flag: &str| global.get(flag).map(PathBuf::from);
    // A default client file that is not there is not sent; one named by flag is read
    // (and its absence reported), as docker does. An empty value names no file.
    let client_file = |flag: &str, name: &str| match given(flag) {
        Some(p) if p.as_os_str().is_empty() => None,
        Some(p) => Some(p),
        None => Some(env.cert_dir.join(name)).filter(|p| p.exists()),
    };
    Some(TlsOptions {
        verify,
        ca: given("tlscacert").unwrap_or_else(|| env.cert_dir.join("ca.pem")),
        cert: client_file("tlscert", "cert.pem"),
        key: client_file("tlskey", "key.pem"),
    })
}

/// The rustls client configuration `opts` describe. Errors name the file and what is wrong
/// with it, in docker's words where it has some.
pub fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS versions")?;
    let builder = if opts.verify {
        let mut roots = RootCertStore::empty();
        for (i, ca) in read_certs(&opts.ca, "CA certificate")?
            .into_iter()
            .enumerate()
        {
            roots.add(ca).with_context(|| {
                format!(
                    "CA certificate {:?}: certificate #{} is not usable",
                    opts.ca,
                    i + 1
                )
            })?;
        }
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)))
    };
    let config = match (&opts.cert, &opts.key) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(read_certs(cert, "client certificate")?, read_key(key)?)
            .map_err(|e| {
                let why = match e {
                    rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                        "the key does not belong to the certificate".to_string()
                    }
                    // webpki's error sits behind an opaque `OtherError`.
                    e if format!("{e:?}").contains("UnsupportedCertVersion") => {
                        "the certificate is X.509 v1, rustls needs v3: sign it with an -extfile \
                         (extendedKeyUsage = clientAuth) as Docker's guide does"
                            .to_string()
                    }
                    e => e.to_string(),
                };
                anyhow::anyhow!("client certificate {cert:?} and key {key:?}: {why}")
            })?,
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), None) => {
            bail!("client certificate {cert:?} has no key: give --tlskey too")
        }
        (None, Some(key)) => {
            bail!("client key {key:?} has no certificate: give --tlscert too")
        }
    };
    Ok(Arc::new(config))
}

/// The name the daemon's certificate must carry: the host part of `host:port`, an IP
/// address (matched against IP SANs) or a DNS name.
pub fn server_name(addr: &str) -> Result<ServerName<'static>> {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string())
        .map_err(|e| anyhow::anyhow!("{host:?} cannot be checked against a certificate: {e}"))
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("could not read {what} {path:?}"))
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = read(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{what} {path:?}: not valid PEM: {e}"))?;
    if certs.is_empty() {
        bail!("{what} {path:?}: no \"BEGIN CERTIFICATE\" block in it");
    }
    Ok(certs)
}

/// PKCS#8, PKCS#1 RSA or SEC1 EC, unencrypted.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let bytes = read(path, "client key")?;
    let text = String::from_utf8_lossy(&bytes);
    if text.contains("BEGIN ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
        bail!("client key {path:?} is encrypted; berth needs it unencrypted (openssl pkey -in KEY -out PLAIN-KEY)");
    }
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "client key {path:?}: no usable private key (PKCS#8, RSA or EC PEM expected): {e}"
        )
    })
}

/// `--tls` without `--tlsverify`: any certificate is accepted (docker's
/// `InsecureSkipVerify`), but the handshake signatures are still checked, so the session
/// is bound to the key the daemon presented.
#[derive(Debug)]
struct AnyServerCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{b, parse, v, Flag};

    const FLAGS: &[Flag] = &[
        b("tls", None, ""),
        b("tlsverify", None, ""),
        v("tlscacert", None, ""),
        v("tlscert", None, ""),
        v("tlskey", None, ""),
    ];

    fn opts(args: &[&str], env: &TlsEnv) -> Option<TlsOptions> {
        let argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let parsed = parse(FLAGS, &argv, false).ok()?;
        options(&parsed, env)
    }

    #[test]
    fn docker_rules() {
        let dir = tempfile::tempdir().ok();
        let dir = dir
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_default();
        let env = TlsEnv {
            cert_dir: dir.clone(),
            ..TlsEnv::default()
        };
        assert_eq!(opts(&[], &env), None, "off by default");
        assert_eq!(
            opts(&["--tlscacert", "/x/ca.pem"], &env),
            None,
            "a file alone does not turn TLS on (docker ignores it too)"
        );
        let o = opts(&["--tls"], &env);
        assert_eq!(
            o,
            Some(TlsOptions {
                verify: false,
                ca: dir.join("ca.pem"),
                cert: None,
                key: None
            }),
            "--tls: no verification; absent default client files are not sent"
        );
        let o = opts(&["--tlsverify=false"], &env);
        assert_eq!(
            o.map(|o| o.verify),
            Some(false),
            "--tlsverify=false still means TLS"
        );
        std::fs::write(dir.join("cert.pem"), "").ok();
        let o = opts(&["--tlsverify", "--tlskey", "/k.pem"], &env);
        assert_eq!(
            o,
            Some(TlsOptions {
                verify: true,
                ca: dir.join("ca.pem"),
                cert: Some(dir.join("cert.pem")),
                key: Some(PathBuf::from("/k.pem")),
            }),
            "defaults from the cert dir when present, flags win"
        );
        let env_verify = TlsEnv {
            verify: true,
            ..env.clone()
        };
        assert_eq!(opts(&[], &env_verify).map(|o| o.verify), Some(true));
        assert_eq!(
            opts(&["--tlsverify=false"], &env_verify).map(|o| o.verify),
            Some(false),
            "the flag overrides DOCKER_TLS_VERIFY"
        );
        let env_tls = TlsEnv {
            tls: true,
            ..env.clone()
        };
        assert_eq!(opts(&[], &env_tls).map(|o| o.verify), Some(false));
        assert_eq!(opts(&["--tls=false"], &env_tls), None);
    }

    #[test]
    fn names_and_file_errors() -> Result<()> {
        assert!(matches!(
            server_name("127.0.0.1:2376")?,
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]:2376")?,
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("docker.example:2376")?,
            ServerName::DnsName(_)
        ));

        let dir = tempfile::tempdir()?;
        let missing = TlsOptions {
            verify: true,
            ca: dir.path().join("ca.pem"),
            cert: None,
            key: None,
        };
        let err = format!(
            "{:#}",
            client_config(&missing).err().ok_or(anyhow::anyhow!("ok"))?
        );
        assert!(
            err.contains("could not read CA certificate") && err.contains("ca.pem"),
            "{err}"
        );
        // Without verification the CA is not read at all.
        client_config(&TlsOptions {
            verify: false,
            ..missing.clone()
        })?;
        let half = TlsOptions {
            verify: false,
            cert: Some(dir.path().join("cert.pem")),
            ..missing
        };
        std::fs::write(dir.path().join("cert.pem"), "x")?;
        let err = format!(
            "{:#}",
            client_config(&half).err().ok_or(anyhow::anyhow!("ok"))?
        );
        assert!(err.contains("no key"), "{err}");
        Ok(())
    }
}
