//! The TLS files of `--tlscert`, `--tlskey` and `--tlscacert`, read into berth-api's
//! server configuration. Every error names the file, the flag it came from and what is
//! wrong with it, because it is the whole of what the user sees when berthd will not start.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsSettings;

/// Reads the files `tls` names and builds the server configuration of the TCP listeners.
pub fn server_config(tls: &TlsSettings) -> Result<Arc<rustls::ServerConfig>> {
    let certs = read_certs(&tls.cert, "server certificate (--tlscert)")?;
    let key = read_key(&tls.key)?;
    let cas = match &tls.ca {
        Some(ca) => Some(read_certs(ca, "CA certificate (--tlscacert)")?),
        None => None,
    };
    let config = berth_api::tls::server_config(certs, key, cas).with_context(|| {
        let mut files = format!("{} and {}", tls.cert.display(), tls.key.display());
        if let Some(ca) = &tls.ca {
            files.push_str(&format!(" with the CA {}", ca.display()));
        }
        format!("invalid TLS configuration ({files})")
    })?;
    Ok(Arc::new(config))
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{what} {}: cannot read it", path.display()))
}

/// Every `CERTIFICATE` block of a PEM file, in order.
fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = read(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, pem::Error>>()
        .map_err(|e| anyhow::anyhow!("{what} {}: not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        let hint = if contains(&bytes, b"PRIVATE KEY-----") {
            " (it holds a private key: are the certificate and key swapped?)"
        } else {
            ""
        };
        bail!(
            "{what} {}: no \"BEGIN CERTIFICATE\" block in it{hint}",
            path.display()
        );
    }
    Ok(certs)
}

/// The first private key of a PEM file: PKCS#8 (`BEGIN PRIVATE KEY`, what OpenSSL 3
/// writes), PKCS#1 (`BEGIN RSA PRIVATE KEY`, `openssl genrsa -traditional` and OpenSSL 1.1)
/// or SEC1 (`BEGIN EC PRIVATE KEY`). Encrypted keys are refused with the way out, since
/// dockerd cannot read them either and Docker's guide encrypts the CA key.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let what = "server key (--tlskey)";
    let bytes = read(path, what)?;
    if contains(&bytes, b"BEGIN ENCRYPTED PRIVATE KEY")
        || contains(&bytes, b"Proc-Type: 4,ENCRYPTED")
    {
        bail!(
            "{what} {}: the key is encrypted; berthd needs it unencrypted (openssl pkey -in KEY -out PLAIN-KEY)",
            path.display()
        );
    }
    match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) => {
            let hint = if contains(&bytes, b"BEGIN CERTIFICATE") {
                " (it holds a certificate: are the certificate and key swapped?)"
            } else {
                ""
            };
            bail!(
                "{what} {}: no private key in it: expected \"BEGIN PRIVATE KEY\", \"BEGIN RSA PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\"{hint}",
                path.display()
            )
        }
        Err(e) => bail!("{what} {}: not valid PEM: {e}", path.display()),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// Fixtures made with OpenSSL 3 (see testdata/tls/README): a PKCS#1 RSA key and a SEC1
    /// EC key, each with a self-signed certificate, as `openssl genrsa -traditional` and
    /// `openssl ecparam -genkey` write them; rcgen only writes PKCS#8.
    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/tls")
            .join(name)
    }

    fn settings(cert: PathBuf, key: PathBuf, ca: Option<PathBuf>) -> TlsSettings {
        TlsSettings { ca, cert, key }
    }

    fn err_of(tls: &TlsSettings) -> String {
        match server_config(tls) {
            Ok(_) => "<no error>".into(),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn pkcs1_sec1_and_pkcs8_keys_load() -> Result<()> {
        server_config(&settings(
            testdata("rsa-cert.pem"),
            testdata("rsa-key-pkcs1.pem"),
            Some(testdata("rsa-cert.pem")),
        ))?;
        server_config(&settings(
            testdata("ec-cert.pem"),
            testdata("ec-key-sec1.pem"),
            None,
        ))?;
        let dir = tempfile::tempdir()?;
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
        std::fs::write(dir.path().join("c.pem"), ck.cert.pem())?;
        std::fs::write(dir.path().join("k.pem"), ck.signing_key.serialize_pem())?;
        assert!(std::fs::read_to_string(dir.path().join("k.pem"))?.contains("BEGIN PRIVATE KEY"));
        server_config(&settings(
            dir.path().join("c.pem"),
            dir.path().join("k.pem"),
            Some(dir.path().join("c.pem")),
        ))?;
        Ok(())
    }

    #[test]
    fn bad_files_name_the_file_and_the_fault() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let missing = dir.path().join("missing.pem");
        let err = err_of(&settings(
            missing.clone(),
            testdata("ec-key-sec1.pem"),
            None,
        ));
        assert!(
            err.contains("server certificate (--tlscert)")
                && err.contains(&missing.display().to_string())
                && err.contains("cannot read it")
                && err.contains("No such file"),
            "{err}"
        );

        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "hello\n")?;
        let err = err_of(&settings(
            garbage.clone(),
            testdata("ec-key-sec1.pem"),
            None,
        ));
        assert!(
            err.contains(&garbage.display().to_string())
                && err.contains("no \"BEGIN CERTIFICATE\""),
            "{err}"
        );

        let err = err_of(&settings(
            testdata("ec-key-sec1.pem"),
            testdata("ec-cert.pem"),
            None,
        ));
        assert!(err.contains("swapped"), "{err}");

        let err = err_of(&settings(testdata("ec-cert.pem"), garbage.clone(), None));
        assert!(
            err.contains("server key (--tlskey)") && err.contains("no private key"),
            "{err}"
        );

        let encrypted = dir.path().join("enc.pem");
        std::fs::write(
            &encrypted,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )?;
        let err = err_of(&settings(testdata("ec-cert.pem"), encrypted, None));
        assert!(err.contains("encrypted"), "{err}");

        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\n!!!notbase64\n-----END CERTIFICATE-----\n",
        )?;
        let err = err_of(&settings(broken.clone(), testdata("ec-key-sec1.pem"), None));
        assert!(
            err.contains(&broken.display().to_string()) && err.contains("not valid PEM"),
            "{err}"
        );

        // A key that is not the certificate's.
        let err = err_of(&settings(
            testdata("ec-cert.pem"),
            testdata("rsa-key-pkcs1.pem"),
            None,
        ));
        assert!(
            err.contains("invalid TLS configuration")
                && err.contains("ec-cert.pem")
                && err.contains("does not belong"),
            "{err}"
        );
        let err = err_of(&settings(
            testdata("ec-cert-v1.pem"),
            testdata("ec-key-sec1.pem"),
            None,
        ));
        assert!(err.contains("X.509 v1"), "{err}");

        let err = err_of(&settings(
            testdata("ec-cert.pem"),
            testdata("ec-key-sec1.pem"),
            Some(missing.clone()),
        ));
        assert!(
            err.contains("CA certificate (--tlscacert)") && err.contains("missing.pem"),
            "{err}"
        );
        Ok(())
    }
}
