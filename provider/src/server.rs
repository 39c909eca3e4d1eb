//! `poort serve`: open the store, bring keys and static clients up to date, listen (plain or
//! TLS), reload the signing keys on SIGHUP, and shut down gracefully on SIGTERM or Ctrl-C.

use crate::StartError;
use crate::{app, clients};
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use poort_config::{MailTransport, Settings};
use poort_storage::Store;
use std::net::SocketAddr;

/// A started server: where it listens, and how to stop it.
pub struct Running {
    pub local_addr: SocketAddr,
    pub handle: Handle<SocketAddr>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Prepares everything, binds the listener and starts serving in the background.
pub async fn start(settings: Settings) -> Result<(Running, Store), StartError> {
    let store = crate::open_store(&settings).await?;
    clients::sync_static_clients(&store, &settings).await.map_err(StartError::Clients)?;
    crate::federation::connectors::sync_configured(&store, &settings).await.map_err(StartError::Connectors)?;
    let state = app::state(settings.clone(), store.clone()).await?;
    state.keyring.spawn_refresher(settings.keys.reload_interval);
    #[cfg(unix)]
    state.keyring.reload_on_hangup().map_err(|e| StartError::Internal(format!("cannot listen for SIGHUP: {e}")))?;
    crate::purge::spawn(store.clone(), settings.storage.purge_interval);
    // Ten a second: each copies a few megabytes at most, a pause no request notices.
    store.spawn_checkpointer(std::time::Duration::from_millis(100));
    state.passwords.spawn_memory_release(std::time::Duration::from_secs(30));
    crate::logout::backchannel::spawn(state.clone());

    let addr = settings.server.listen_addr().map_err(StartError::Config)?;
    let listener = std::net::TcpListener::bind(addr).map_err(|e| StartError::Listen(addr, e))?;
    let local_addr = listener.local_addr().map_err(|e| StartError::Listen(addr, e))?;
    let handle = Handle::new();
    let router = app::app(state).into_make_service_with_connect_info::<SocketAddr>();
    let task = match &settings.server.tls {
        Some(tls) => {
            let config = RustlsConfig::from_pem_file(&tls.cert_file, &tls.key_file).await.map_err(|e| {
                StartError::Tls(format!(
                    "cannot load server.tls ({} and {}): {e}",
                    tls.cert_file.display(),
                    tls.key_file.display()
                ))
            })?;
            let mut server = axum_server::from_tcp_rustls(listener, config).map_err(|e| StartError::Listen(addr, e))?;
            limit_connections(server.http_builder(), &settings);
            let server = server.first_request_timeout(settings.server.header_timeout);
            tokio::spawn(server.handle(handle.clone()).serve(router))
        }
        None => {
            let mut server = axum_server::from_tcp(listener).map_err(|e| StartError::Listen(addr, e))?;
            limit_connections(server.http_builder(), &settings);
            let server = server.first_request_timeout(settings.server.header_timeout);
            tokio::spawn(server.handle(handle.clone()).serve(router))
        }
    };
    Ok((Running { local_addr, handle, task }, store))
}

/// What one connection may cost before a handler runs: the size of the request line and
/// headers, how long they may take to arrive, and (HTTP/2) how many streams run at once.
/// Bodies are bounded by `server.max_body_bytes` in the router.
fn limit_connections(builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>, settings: &Settings) {
    let server = &settings.server;
    builder
        .http1()
        .max_buf_size(server.max_header_bytes)
        .max_headers(MAX_HEADERS)
        .header_read_timeout(server.header_timeout);
    builder
        .http2()
        .max_header_list_size(u32::try_from(server.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(MAX_HTTP2_STREAMS)
        .keep_alive_interval(server.header_timeout)
        .keep_alive_timeout(server.header_timeout);
}

/// More headers than any browser or client library sends.
const MAX_HEADERS: usize = 100;
/// Concurrent requests on one HTTP/2 connection.
const MAX_HTTP2_STREAMS: u32 = 64;

/// `poort serve` until a shutdown signal, then drain in-flight requests and close the store.
pub async fn serve(settings: Settings) -> Result<(), StartError> {
    let grace = settings.server.shutdown_grace;
    let (running, store) = start(settings.clone()).await?;
    // Listen for the shutdown signals before announcing the server: a SIGTERM right after the
    // banner must drain in-flight requests, not kill the process.
    let shutdown = shutdown_signal();
    print_banner(&settings, running.local_addr, &store);
    let handle = running.handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!(grace = ?grace, "shutting down: finishing in-flight requests");
        handle.graceful_shutdown(Some(grace));
    });
    let result = running.task.await;
    store.close().await.ok();
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(StartError::Listen(running.local_addr, e)),
        Err(e) => Err(StartError::Internal(e.to_string())),
    }
}

fn print_banner(settings: &Settings, local: SocketAddr, store: &Store) {
    let issuer = settings.issuer_string();
    let mail = match settings.mail.transport {
        MailTransport::File => format!("written to {}", settings.outbox_dir().display()),
        MailTransport::Smtp => format!("sent through {}:{}", settings.mail.smtp.host, settings.mail.smtp.port),
    };
    let scheme = if settings.server.tls.is_some() { "https" } else { "http" };
    println!("Poort is listening on {scheme}://{local}");
    println!("  issuer:    {issuer}");
    println!("  discovery: {issuer}/.well-known/openid-configuration");
    println!("  database:  {:?}", store.engine());
    println!("  mail:      {mail}");
    tracing::info!(%issuer, listen = %local, "serving");
}

/// Resolves on Ctrl-C or SIGTERM. The signal handlers are installed when this is called, not
/// when the future is first polled.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (signal(SignalKind::interrupt()).ok(), signal(SignalKind::terminate()).ok())
    };
    async move {
        #[cfg(unix)]
        {
            let (interrupt, terminate) = signals;
            tokio::select! {
                () = received(interrupt) => {},
                () = received(terminate) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The first delivery of a signal (never, when its handler could not be installed).
#[cfg(unix)]
async fn received(signal: Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(mut signal) => {
            signal.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}
