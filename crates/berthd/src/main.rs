//! `berthd`: the berth daemon. See the library crate for what it does.

use std::sync::Arc;

use anyhow::{Context, Result};

fn main() -> std::process::ExitCode {
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_path_buf()))
        .unwrap_or_default();
    let settings = match berthd::config::load(std::env::args_os(), &exe_dir) {
        Ok(s) => s,
        Err(e) => {
            // clap's own help/version output and its usage errors print themselves.
            if let Some(clap_err) = e.downcast_ref::<clap::Error>() {
                let _ = clap_err.print();
                return std::process::ExitCode::from(if clap_err.use_stderr() { 2 } else { 0 });
            }
            eprintln!("berthd: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(settings.log_level)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("berthd: starting the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(daemon(settings)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn daemon(settings: berthd::Settings) -> Result<()> {
    let config = berthd::engine_config(&settings);
    let open = || async move {
        let engine = berth_engine::Engine::open(config)
            .await
            .context("opening the engine")?;
        // The one place the concrete engine becomes the API's `dyn berth_model::Engine`.
        let engine: Arc<dyn berth_model::Engine> = engine;
        Ok(engine)
    };
    let shutdown = async {
        if let Err(e) = berthd::termination().await {
            tracing::error!("{e:#}");
            std::future::pending::<()>().await;
        }
    };
    berthd::run(&settings, open, shutdown).await
}
