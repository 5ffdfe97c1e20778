//! The berth daemon, as a library so it can be driven in tests: settings from dockerd's
//! flags and `daemon.json` ([`config`]), sockets and the pid file ([`listen`]), the TLS
//! files of TCP listeners ([`tls`]), and [`run`], which serves the Docker API of any
//! [`berth_model::Engine`] until a signal.
//!
//! The binary (`src/main.rs`) opens `berth_engine::Engine` and hands it to [`run`].
//! Invariants: the pid file exists exactly while the daemon runs; sockets are removed on
//! a clean exit; containers outlive the daemon (their shims own them).

pub mod config;
pub mod listen;
pub mod tls;

#[cfg(test)]
mod daemon_tests;

use std::future::Future;
use std::sync::Arc;

use anyhow::{Context, Result};
use berth_api::Listener;

pub use config::Settings;
use listen::{Address, PidFile};

/// The engine configuration `settings` describe.
pub fn engine_config(settings: &Settings) -> berth_engine::Config {
    berth_engine::Config {
        data_root: settings.data_root.clone(),
        exec_root: settings.exec_root.clone(),
        runtime: settings.runtime.clone(),
        shim: settings.shim.clone(),
        init: settings.init.clone(),
        storage_driver: settings.storage_driver.clone(),
        default_ulimits: settings.default_ulimits.clone(),
        insecure_registries: settings.insecure_registries.clone(),
        hosts: settings.hosts.clone(),
        bridge: settings.bridge,
    }
}

/// Reads the TLS files, takes the pid file and binds every `-H` address; nothing is left
/// behind on failure.
///
/// TLS applies to TCP addresses only (unix sockets are guarded by their file mode, as
/// dockerd's are). The TLS files are read even when no address is TCP, as dockerd does:
/// a broken TLS setup is reported at the start, not when a TCP host is added later.
pub async fn prepare(
    settings: &Settings,
) -> Result<(PidFile, Vec<Listener>, Vec<std::path::PathBuf>)> {
    let tls = settings.tls.as_ref().map(tls::server_config).transpose()?;
    let pidfile = PidFile::create(&settings.pidfile)?;
    let mut listeners = Vec::new();
    let mut sockets = Vec::new();
    let result: Result<()> = async {
        for host in &settings.hosts {
            match Address::parse(host)? {
                Address::Unix(path) => {
                    listeners.push(Listener::Unix(listen::bind_unix(&path).await?));
                    sockets.push(path);
                }
                Address::Tcp(addr) => {
                    let l = tokio::net::TcpListener::bind(&addr)
                        .await
                        .with_context(|| format!("listening on {host}"))?;
                    let verified = settings.tls.as_ref().is_some_and(|t| t.ca.is_some());
                    match &tls {
                        Some(config) if verified => {
                            tracing::info!("{host}: TLS, client certificates required");
                            listeners.push(Listener::Tls(l, config.clone()));
                        }
                        Some(config) => {
                            tracing::warn!(
                                "{host}: TLS without --tlsverify: clients are not \
                                 authenticated: anyone who can reach it is root on this host"
                            );
                            listeners.push(Listener::Tls(l, config.clone()));
                        }
                        None => {
                            tracing::warn!(
                                "{host}: the API is served over plain TCP without \
                                 authentication: anyone who can reach it is root on this host"
                            );
                            listeners.push(Listener::Tcp(l));
                        }
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        for s in &sockets {
            let _ = std::fs::remove_file(s);
        }
        return Err(e);
    }
    Ok((pidfile, listeners, sockets))
}

/// Runs the daemon: takes the pid file and the sockets, opens the engine with `open`,
/// serves its API until `shutdown`, then removes the sockets and the pid file (also when
/// opening the engine fails).
pub async fn run<F, Fut>(
    settings: &Settings,
    open: F,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Arc<dyn berth_model::Engine>>>,
{
    let (pidfile, listeners, sockets) = prepare(settings).await?;
    let served = match open().await {
        Ok(engine) => {
            tracing::info!(hosts = ?settings.hosts, "API listening");
            berth_api::serve(berth_api::router(engine), listeners, shutdown)
                .await
                .context("serving the API")
        }
        Err(e) => Err(e),
    };
    for s in &sockets {
        let _ = std::fs::remove_file(s);
    }
    drop(pidfile);
    served
}

/// Resolves on the first SIGTERM or SIGINT.
pub async fn termination() -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    Ok(())
}
