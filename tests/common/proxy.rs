//! A TCP proxy the test controls: pass traffic through, cut every connection (and refuse new
//! ones), or stall (hold connections open but forward nothing). Used to take Postgres away
//! from one gateway without touching the machine's shared server.

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Cut,
    Stall,
}

pub struct Proxy {
    pub addr: SocketAddr,
    mode: Arc<watch::Sender<Mode>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        Proxy::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), upstream)
            .await
            .expect("bind a loopback port")
    }

    pub async fn start_on(listen: SocketAddr, upstream: SocketAddr) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let mode = Arc::new(watch::channel(Mode::Pass).0);
        let m = mode.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                if *m.borrow() == Mode::Cut {
                    drop(client);
                    continue;
                }
                let rx = m.subscribe();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    // Forward each write as it comes: with Nagle on, the tail of a large
                    // statement waited for the peer's delayed ACK (tens of ms per batch).
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    pipe(client, server, rx).await;
                });
            }
        });
        Ok(Proxy { addr, mode, task })
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.set(Mode::Cut);
        self.task.abort();
    }
}

async fn pipe(client: TcpStream, server: TcpStream, rx: watch::Receiver<Mode>) {
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    tokio::select! {
        _ = copy(cr, sw, rx.clone()) => {}
        _ = copy(sr, cw, rx) => {}
    }
}

async fn copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut rx: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // Wait while stalled; stop on cut.
        let mode = rx
            .wait_for(|m| *m != Mode::Stall)
            .await
            .map(|m| *m)
            .unwrap_or(Mode::Cut);
        if mode == Mode::Cut {
            return;
        }
        tokio::select! {
            n = from.read(&mut buf) => {
                let Ok(n) = n else { return };
                if n == 0 { return; }
                // Data read just as a stall begins is held until the stall ends.
                if rx.wait_for(|m| *m != Mode::Stall).await.map(|m| *m == Mode::Cut).unwrap_or(true) {
                    return;
                }
                if to.write_all(&buf[..n]).await.is_err() { return; }
            }
            _ = rx.changed() => {}
        }
    }
}
