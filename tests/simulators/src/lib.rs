//! psa-bridge-sim: faithful, stateful simulators of the ARMOR API and the ConnectWise Manage REST
//! API on 127.0.0.1, for tests and demos (contracts/armor.md, contracts/connectwise.md).
//!
//! ```no_run
//! let sims = psa_bridge_sim::Simulators::start(psa_bridge_sim::SimConfig::small())?;
//! let connection = sims.connection(); // hand this to the plugin
//! let cw = sims.connectwise_state();  // assert the end state
//! # Ok::<(), anyhow::Error>(())
//! ```

mod armor;
pub mod conditions;
mod connectwise;
pub mod data;
mod faults;
pub mod generate;
pub mod names;
mod paging;
mod server;

pub use armor::{armor_psk_header, armor_psk_signature};
pub use data::*;
pub use faults::{Faults, Trickle};

use anyhow::Context;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Where the initial data comes from.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum DataSource {
    /// `accounts` sub-accounts under the MSP root, `companies` ConnectWise companies (at least the
    /// counterparts), `tickets` ARMOR tickets; deterministic per seed.
    Generated {
        accounts: usize,
        companies: usize,
        tickets: usize,
        seed: u64,
    },
    /// A Dataset JSON file (the `--write-data` format).
    File(PathBuf),
    Dataset(Dataset),
}

#[derive(Clone, Debug)]
pub struct SimConfig {
    pub data: DataSource,
    pub faults: Faults,
    /// ARMOR access token lifetime (`expires_in`).
    pub token_ttl_s: u64,
    /// Requests per minute per service; None = unlimited.
    pub rate_limit_per_min: Option<u32>,
    /// 0 = any free port.
    pub armor_port: u16,
    pub connectwise_port: u16,
}

impl SimConfig {
    /// The no-flag default: a small realistic data set (40 accounts, 400 companies, 200 tickets), no faults.
    pub fn small() -> Self {
        Self::generated(40, 400, 200, 42)
    }

    pub fn generated(accounts: usize, companies: usize, tickets: usize, seed: u64) -> Self {
        SimConfig {
            data: DataSource::Generated { accounts, companies, tickets, seed },
            faults: Faults::default(),
            token_ttl_s: 900,
            rate_limit_per_min: None,
            armor_port: 0,
            connectwise_port: 0,
        }
    }

    pub fn with_dataset(dataset: Dataset) -> Self {
        SimConfig { data: DataSource::Dataset(dataset), ..Self::small() }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        Self::small()
    }
}

impl DataSource {
    pub fn load(&self) -> anyhow::Result<Dataset> {
        Ok(match self {
            DataSource::Generated { accounts, companies, tickets, seed } => {
                generate::generate(*accounts, *companies, *tickets, *seed)
            }
            DataSource::File(p) => {
                let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
                serde_json::from_str(&text).with_context(|| format!("parsing {} as a Dataset", p.display()))?
            }
            DataSource::Dataset(d) => d.clone(),
        })
    }
}

/// Both simulators, running on a background thread with their own tokio runtime.
/// They stop when this value is dropped (or on `shutdown()`).
pub struct Simulators {
    armor: Arc<armor::ArmorSim>,
    cw: Arc<connectwise::CwSim>,
    armor_addr: SocketAddr,
    cw_addr: SocketAddr,
    dataset: Arc<Dataset>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl Simulators {
    /// Start both servers; returns once both listen.
    pub fn start(config: SimConfig) -> anyhow::Result<Simulators> {
        let dataset = Arc::new(match config.data {
            DataSource::Dataset(d) => d,
            other => other.load()?,
        });
        let armor_l =
            std::net::TcpListener::bind(("127.0.0.1", config.armor_port)).context("binding the ARMOR simulator")?;
        let cw_l = std::net::TcpListener::bind(("127.0.0.1", config.connectwise_port))
            .context("binding the ConnectWise simulator")?;
        let (armor_addr, cw_addr) = (armor_l.local_addr()?, cw_l.local_addr()?);
        armor_l.set_nonblocking(true)?;
        cw_l.set_nonblocking(true)?;

        let armor = Arc::new(armor::ArmorSim::new(
            dataset.clone(),
            faults::Control::new(config.faults, config.rate_limit_per_min, 0xA4),
            config.token_ttl_s,
        ));
        let cw = Arc::new(connectwise::CwSim::new(
            dataset.clone(),
            faults::Control::new(config.faults, config.rate_limit_per_min, 0xC3),
            format!("http://{cw_addr}"),
        ));

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("psa-bridge-sim")
            .enable_all()
            .build()
            .context("building the simulators' runtime")?;
        let (armor_tl, cw_tl) = {
            let _guard = rt.enter();
            (tokio::net::TcpListener::from_std(armor_l)?, tokio::net::TcpListener::from_std(cw_l)?)
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let (a, c) = (armor.clone() as Arc<dyn server::App>, cw.clone() as Arc<dyn server::App>);
        let thread = std::thread::Builder::new().name("psa-bridge-sim".into()).spawn(move || {
            rt.block_on(async move {
                let armor_task = tokio::spawn(server::serve(armor_tl, a, stop_rx.clone()));
                let cw_task = tokio::spawn(server::serve(cw_tl, c, stop_rx));
                let _ = armor_task.await;
                let _ = cw_task.await;
            });
            rt.shutdown_timeout(Duration::from_secs(2));
        })?;
        Ok(Simulators { armor, cw, armor_addr, cw_addr, dataset, stop: Some(stop_tx), thread: Some(thread) })
    }

    /// "http://127.0.0.1:P"
    pub fn armor_url(&self) -> String {
        format!("http://{}", self.armor_addr)
    }

    /// "http://127.0.0.1:Q" (the plugin's `site`).
    pub fn connectwise_site(&self) -> String {
        format!("http://{}", self.cw_addr)
    }

    /// "http://127.0.0.1:Q/v4_6_release/apis/3.0"
    pub fn connectwise_url(&self) -> String {
        format!("{}{}", self.connectwise_site(), connectwise::base_path(&self.dataset.connectwise.codebase))
    }

    /// A ready-to-use plugin connection (the WIT `connection` record in snake_case).
    pub fn connection(&self) -> Value {
        let c = &self.dataset.credentials;
        json!({
            "armor": {
                "base_url": self.armor_url(),
                "account_id": c.armor.account_id,
                "login": {"username": c.armor.username, "password": c.armor.password},
                "api_key": {"key_id": c.armor.key_id, "secret_key": c.armor.secret_key},
            },
            "connectwise": {
                "site": self.connectwise_site(),
                "codebase": self.dataset.connectwise.codebase,
                "company_id": c.connectwise.company_id,
                "api_key": {"public_key": c.connectwise.public_key, "private_key": c.connectwise.private_key},
                "client_id": c.connectwise.client_id,
            }
        })
    }

    /// The initial data, including credentials and ground truth.
    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }

    /// Faults for both services (restarts their random sequences from `f.seed`).
    pub fn set_faults(&self, f: Faults) {
        server::App::control(&*self.armor).set_faults(f);
        server::App::control(&*self.cw).set_faults(f);
    }

    pub fn set_rate_limit(&self, per_min: Option<u32>) {
        server::App::control(&*self.armor).set_rate_limit(per_min);
        server::App::control(&*self.cw).set_rate_limit(per_min);
    }

    /// Send one chosen ConnectWise answer slowly (None: stop). Survives `reset`, like faults.
    pub fn set_connectwise_trickle(&self, t: Option<Trickle>) {
        server::App::control(&*self.cw).set_trickle(t);
    }

    pub fn set_token_ttl(&self, s: u64) {
        self.armor.set_token_ttl(s);
    }

    /// Same as `GET /_sim/state` on the ARMOR simulator.
    pub fn armor_state(&self) -> Value {
        server::App::state(&*self.armor)
    }

    /// Same as `GET /_sim/state` on the ConnectWise simulator.
    pub fn connectwise_state(&self) -> Value {
        server::App::state(&*self.cw)
    }

    /// Both services back to the initial data; counters zeroed (the fault/rate config stays).
    pub fn reset(&self) {
        server::App::reset(&*self.armor);
        server::App::reset(&*self.cw);
    }

    /// Stop both servers and wait for their thread.
    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Simulators {
    fn drop(&mut self) {
        self.shutdown();
    }
}
