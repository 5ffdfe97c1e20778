//! Listen addresses, the API sockets and the pid file.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// A `-H` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `unix:///path`.
    Unix(PathBuf),
    /// `tcp://host:port`.
    Tcp(String),
}

impl Address {
    /// Parses `unix:///path` or `tcp://host:port`.
    pub fn parse(raw: &str) -> Result<Address> {
        if let Some(path) = raw.strip_prefix("unix://") {
            if !path.starts_with('/') {
                bail!("invalid host {raw:?}: a unix socket needs an absolute path (unix:///path)");
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        if let Some(addr) = raw.strip_prefix("tcp://") {
            let addr = addr.trim_end_matches('/');
            if addr
                .rsplit_once(':')
                .is_none_or(|(_, port)| port.parse::<u16>().is_err())
            {
                bail!("invalid host {raw:?}: expected tcp://address:port");
            }
            return Ok(Address::Tcp(addr.to_string()));
        }
        bail!("invalid host {raw:?}: expected unix:///path or tcp://address:port")
    }
}

/// Binds a unix API socket: creates the directory, removes a stale socket (one nobody
/// answers on), refuses one a live daemon serves, and sets mode 0660.
pub async fn bind_unix(path: &Path) -> Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if path.exists() {
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            bail!(
                "{} is in use by another daemon; stop it or choose another -H",
                path.display()
            );
        }
        std::fs::remove_file(path)
            .with_context(|| format!("removing the stale socket {}", path.display()))?;
    }
    let listener = tokio::net::UnixListener::bind(path)
        .with_context(|| format!("listening on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("chmod 0660 {}", path.display()))?;
    Ok(listener)
}

/// The pid file, removed on drop.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes our PID to `path` (atomically), refusing when it names another live process.
    pub fn create(path: &Path) -> Result<PidFile> {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse::<u32>() {
                if pid != std::process::id() && Path::new(&format!("/proc/{pid}")).exists() {
                    bail!(
                        "pid file found, ensure berthd is not running or delete {} (process {pid} is alive)",
                        path.display()
                    );
                }
            }
        }
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = dir.join(format!(
            ".{}.tmp",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("berthd.pid")
        ));
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        write!(f, "{}", std::process::id())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        Ok(PidFile {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            Address::parse("unix:///run/b.sock").ok(),
            Some(Address::Unix("/run/b.sock".into()))
        );
        assert_eq!(
            Address::parse("tcp://127.0.0.1:2375").ok(),
            Some(Address::Tcp("127.0.0.1:2375".into()))
        );
        assert!(Address::parse("unix://rel.sock").is_err());
        assert!(Address::parse("tcp://host").is_err());
        assert!(Address::parse("fd://").is_err());
    }

    #[test]
    fn pidfile_refuses_a_live_owner() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("d.pid");
        std::fs::write(&path, "1")?; // PID 1 is always alive
        assert!(PidFile::create(&path).is_err());
        std::fs::write(&path, "999999999")?; // beyond pid_max: dead
        let pf = PidFile::create(&path)?;
        assert_eq!(
            std::fs::read_to_string(&path)?,
            std::process::id().to_string()
        );
        drop(pf);
        assert!(!path.exists());
        Ok(())
    }
}
