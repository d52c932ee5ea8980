//! A real `hookgate serve` process for tests that kill, restart or run several gateways:
//! started on a fixed address (so clients reconnect to the same place after a restart),
//! ready once `/readyz` answers 200, and killed with SIGKILL when dropped.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free `127.0.0.1:port` (bound, then released for the gateway to take).
pub fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

pub struct Gateway {
    child: Child,
    pub addr: String,
    config: PathBuf,
}

impl Gateway {
    /// Start `hookgate serve --config CONFIG` listening on `addr` and wait until it is ready.
    pub async fn start(config: &Path, addr: &str) -> Gateway {
        let child = Command::new(env!("CARGO_BIN_EXE_hookgate"))
            .args(["serve", "--config"])
            .arg(config)
            .env("HOOKGATE_SERVER__LISTEN", addr)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start hookgate");
        let gw = Gateway {
            child,
            addr: addr.to_string(),
            config: config.to_path_buf(),
        };
        gw.wait_ready(Duration::from_secs(30)).await;
        gw
    }

    /// Start on a free address.
    pub async fn start_anywhere(config: &Path) -> Gateway {
        Self::start(config, &free_addr()).await
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn wait_ready(&self, within: Duration) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + within;
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", self.base())).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "gateway at {} never became ready",
                self.addr
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown hook runs, whatever was in flight is cut.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGKILL, then start again on the same address with the same config.
    pub async fn restart(&mut self) {
        self.kill();
        let next = Gateway::start(&self.config, &self.addr).await;
        // Swap the new child in; the old one is already reaped.
        *self = next;
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
    }
}
