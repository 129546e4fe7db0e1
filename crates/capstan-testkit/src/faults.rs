//! A TCP proxy between capstan and the API server that injects faults on demand: it passes
//! bytes through, holds them (a hung connection: nothing moves until it is released, then
//! everything held is delivered, as a stalled network path does), or resets every connection
//! and refuses new ones (an API server restarting, a load balancer failing over).
//!
//! TLS passes through untouched (the proxy sees only bytes), so a client given
//! [`FaultProxy::kubeconfig`] talks to the real API server with its real certificates.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does to traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Bytes flow both ways.
    None,
    /// Bytes are held: connections stay open, nothing is delivered until the fault ends.
    Hang,
    /// Every open connection is reset, and new ones are reset as soon as they are accepted.
    Reset,
}

/// A running fault-injection proxy (stopped on drop).
pub struct FaultProxy {
    address: SocketAddr,
    fault: watch::Sender<Fault>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FaultProxy {
    /// A proxy to the local control plane's API server, on a free port of 127.0.0.1.
    pub async fn to_local_cluster() -> anyhow::Result<FaultProxy> {
        crate::client().await?;
        let upstream = api_server_address(&crate::kubeconfig_path())?;
        FaultProxy::start(upstream).await
    }

    /// A proxy to `upstream`, on a free port of 127.0.0.1. It runs on a thread of its own, so a
    /// test may block its own runtime (waiting for a child process) while the proxy serves.
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<FaultProxy> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let (fault, watcher) = watch::channel(Fault::None);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name(format!("fault-proxy-{}", address.port()))
            .spawn(move || runtime.block_on(serve(listener, upstream, watcher, stopped)))?;
        Ok(FaultProxy {
            address,
            fault,
            stop: Some(stop),
        })
    }

    /// Where clients connect.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Starts (or ends, with [`Fault::None`]) a fault.
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// Writes, in `dir`, a copy of the local control plane's kubeconfig whose server is this
    /// proxy, and returns its path.
    pub fn kubeconfig(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        let original = crate::kubeconfig_path();
        let text = std::fs::read_to_string(&original)
            .with_context(|| format!("reading {}", original.display()))?;
        let upstream = api_server_address(&original)?;
        let rewritten = text.replace(
            &format!("https://{upstream}"),
            &format!("https://{}", self.address),
        );
        if rewritten == text {
            bail!("no server https://{upstream} in {}", original.display());
        }
        let path = dir.join(format!("kubeconfig-via-{}", self.address.port()));
        std::fs::write(&path, rewritten)?;
        Ok(path)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.set(Fault::Reset);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Accepts and relays connections until `stopped`.
async fn serve(
    listener: std::net::TcpListener,
    upstream: SocketAddr,
    watcher: watch::Receiver<Fault>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let client = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => client,
                Err(_) => continue,
            },
            _ = &mut stopped => return,
        };
        let watcher = watcher.clone();
        tokio::spawn(async move {
            if *watcher.borrow() == Fault::Reset {
                reset(client);
                return;
            }
            if let Ok(server) = TcpStream::connect(upstream).await {
                relay(client, server, watcher).await;
            }
        });
    }
}

/// The `host:port` of the first cluster's server in `kubeconfig`.
fn api_server_address(kubeconfig: &Path) -> anyhow::Result<SocketAddr> {
    let text = std::fs::read_to_string(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let server = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("server:"))
        .context("no server in the kubeconfig")?
        .trim()
        .trim_matches('"');
    let address = server
        .strip_prefix("https://")
        .context("the server is not https")?;
    address
        .parse()
        .with_context(|| format!("the server {server} is not an IP address and port"))
}

/// Closes `stream` with a reset rather than an orderly shutdown. (`SO_LINGER` of zero does not
/// block on close, which is what the deprecation warns of: it discards and resets at once.)
#[allow(deprecated)]
fn reset(stream: TcpStream) {
    let _ = stream.set_linger(Some(std::time::Duration::ZERO));
    drop(stream);
}

/// Moves bytes both ways until both sides close or a reset fault begins (then resets both).
async fn relay(mut client: TcpStream, mut server: TcpStream, watcher: watch::Receiver<Fault>) {
    let reset_both = {
        let (mut client_read, mut client_write) = client.split();
        let (mut server_read, mut server_write) = server.split();
        let (up, down) = tokio::join!(
            pump(&mut client_read, &mut server_write, watcher.clone()),
            pump(&mut server_read, &mut client_write, watcher),
        );
        up || down
    };
    if reset_both {
        reset(client);
        reset(server);
    }
}

/// Copies `from` to `to`, holding bytes while the fault is [`Fault::Hang`]; returns whether it
/// stopped for a reset (rather than the end of the stream).
async fn pump(
    from: &mut tokio::net::tcp::ReadHalf<'_>,
    to: &mut tokio::net::tcp::WriteHalf<'_>,
    mut watcher: watch::Receiver<Fault>,
) -> bool {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            _ = watcher.wait_for(|f| *f == Fault::Reset) => return true,
        };
        let n = match read {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return false;
            }
            Ok(n) => n,
        };
        // Held while hung; dropped (the connection reset) if a reset comes first.
        let fault = match watcher.wait_for(|f| *f != Fault::Hang).await {
            Ok(fault) => *fault,
            Err(_) => Fault::Reset,
        };
        if fault == Fault::Reset {
            return true;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return false;
        }
    }
}
