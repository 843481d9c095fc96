//! psa-bridge-sim: faithful, stateful simulators of the ARMOR API, the ConnectWise Manage REST API,
//! the HaloPSA/HaloITSM API, the Stellar Cyber API, Microsoft Graph mail and directory, RSA Archer
//! and Zivver SCIM on 127.0.0.1, for tests and demos (contracts/armor.md, contracts/connectwise.md,
//! contracts/halo.md, contracts/stellar-cyber.md, contracts/mailbox-archer.md, contracts/zivver-scim.md).
//!
//! ```no_run
//! let sims = psa_bridge_sim::Simulators::start(psa_bridge_sim::SimConfig::small())?;
//! let connection = sims.connection(); // hand this to the plugin
//! let cw = sims.connectwise_state();  // assert the end state
//! # Ok::<(), anyhow::Error>(())
//! ```

mod archer;
mod archer_search;
mod armor;
pub mod conditions;
mod connectwise;
pub mod data;
mod faults;
pub mod generate;
mod graph;
mod halo;
pub mod names;
mod paging;
mod server;
mod stellar;
mod zivver;

pub use archer::ArcherConfig;
pub use armor::{armor_psk_header, armor_psk_signature};
pub use data::*;
pub use faults::{Faults, Trickle};
pub use graph::GraphConfig;
pub use halo::HaloConfig;
pub use stellar::StellarConfig;
pub use zivver::ZivverConfig;

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
    pub halo_port: u16,
    /// Halo instance settings: tenancy, token lifetime, per-client rate limit, create delay, outcomes.
    pub halo: HaloConfig,
    pub stellar_port: u16,
    /// Stellar Cyber settings: token lifetime, generated case count.
    pub stellar: StellarConfig,
    /// The Microsoft Graph mail simulator (login host and Graph on one port).
    pub graph_port: u16,
    /// Graph settings: token lifetime, generated message count, throttling.
    pub graph: GraphConfig,
    pub archer_port: u16,
    /// Archer settings: session lifetime, REST prefix, the planted rejection.
    pub archer: ArcherConfig,
    /// The Zivver SCIM simulator (`/api/scim/v2` on its own port).
    pub zivver_port: u16,
    /// Zivver settings: the rate limit.
    pub zivver: ZivverConfig,
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
            halo_port: 0,
            halo: HaloConfig::default(),
            stellar_port: 0,
            stellar: StellarConfig::default(),
            graph_port: 0,
            graph: GraphConfig::default(),
            archer_port: 0,
            archer: ArcherConfig::default(),
            zivver_port: 0,
            zivver: ZivverConfig::default(),
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

/// The seven simulators, running on a background thread with their own tokio runtime.
/// They stop when this value is dropped (or on `shutdown()`).
pub struct Simulators {
    armor: Arc<armor::ArmorSim>,
    cw: Arc<connectwise::CwSim>,
    halo: Arc<halo::HaloSim>,
    stellar: Arc<stellar::StellarSim>,
    graph: Arc<graph::GraphSim>,
    archer: Arc<archer::ArcherSim>,
    zivver: Arc<zivver::ZivverSim>,
    zivver_addr: SocketAddr,
    graph_addr: SocketAddr,
    archer_addr: SocketAddr,
    armor_addr: SocketAddr,
    cw_addr: SocketAddr,
    halo_addr: SocketAddr,
    stellar_addr: SocketAddr,
    dataset: Arc<Dataset>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl Simulators {
    /// Start the seven servers; returns once they listen.
    pub fn start(config: SimConfig) -> anyhow::Result<Simulators> {
        let generated = matches!(config.data, DataSource::Generated { .. });
        let mut dataset = match config.data {
            DataSource::Dataset(d) => d,
            other => other.load()?,
        };
        // Data files from before the Halo simulator: derive Halo from their ConnectWise companies.
        if dataset.halo.is_empty() {
            dataset.halo = generate::halo_from_connectwise(&dataset.connectwise, dataset.seed.unwrap_or(0));
        }
        // ...and from before members, board teams/types and ticket custom fields.
        generate::fill_ticket_reference(&mut dataset.connectwise, dataset.seed.unwrap_or(0));
        // Stellar: generated for the seed when the data has none, or another case count is asked for.
        let stellar_cases = config.stellar.cases.unwrap_or_else(|| generate::stellar_default_cases(&dataset));
        if dataset.stellar.is_empty() || (generated && dataset.stellar.cases.len() != stellar_cases) {
            dataset.stellar = generate::stellar_from(&dataset, dataset.seed.unwrap_or(0), stellar_cases);
        }
        // The mailbox and Archer: generated for the seed when the data has none (or, generated, when
        // another message count is asked for).
        let mail_messages = config.graph.messages.unwrap_or(generate::MAIL_DEFAULT_MESSAGES);
        if dataset.mail.is_empty() || (generated && dataset.mail.truth.len() != mail_messages) {
            dataset.mail = generate::mail_from(dataset.seed.unwrap_or(0), mail_messages);
        }
        if dataset.archer.is_empty() {
            dataset.archer = generate::archer_from(dataset.seed.unwrap_or(0));
        }
        // The directory and Zivver (generated from the directory): the same way.
        let dir_users = config.graph.directory_users.unwrap_or(generate::DIRECTORY_DEFAULT_USERS);
        if dataset.directory.is_empty() || (generated && dataset.directory.users.len() != dir_users) {
            dataset.directory = generate::directory_from(dataset.seed.unwrap_or(0), dir_users);
            dataset.zivver = ZivverData::default();
        }
        if dataset.zivver.is_empty() {
            dataset.zivver = generate::zivver_from(dataset.seed.unwrap_or(0), &dataset.directory);
        }
        // Stellar Cyber's tenants are linked to companies and clients through link fields of their own.
        generate::add_other_sources_link_fields(&mut dataset);
        let dataset = Arc::new(dataset);
        let armor_l =
            std::net::TcpListener::bind(("127.0.0.1", config.armor_port)).context("binding the ARMOR simulator")?;
        let cw_l = std::net::TcpListener::bind(("127.0.0.1", config.connectwise_port))
            .context("binding the ConnectWise simulator")?;
        let halo_l =
            std::net::TcpListener::bind(("127.0.0.1", config.halo_port)).context("binding the Halo simulator")?;
        let stellar_l = std::net::TcpListener::bind(("127.0.0.1", config.stellar_port))
            .context("binding the Stellar Cyber simulator")?;
        let (armor_addr, cw_addr, halo_addr) = (armor_l.local_addr()?, cw_l.local_addr()?, halo_l.local_addr()?);
        let stellar_addr = stellar_l.local_addr()?;
        let graph_l =
            std::net::TcpListener::bind(("127.0.0.1", config.graph_port)).context("binding the Graph simulator")?;
        let archer_l =
            std::net::TcpListener::bind(("127.0.0.1", config.archer_port)).context("binding the Archer simulator")?;
        let (graph_addr, archer_addr) = (graph_l.local_addr()?, archer_l.local_addr()?);
        let zivver_l =
            std::net::TcpListener::bind(("127.0.0.1", config.zivver_port)).context("binding the Zivver simulator")?;
        let zivver_addr = zivver_l.local_addr()?;
        for l in [&armor_l, &cw_l, &halo_l, &stellar_l, &graph_l, &archer_l, &zivver_l] {
            l.set_nonblocking(true)?;
        }

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
        let halo = Arc::new(halo::HaloSim::new(
            dataset.clone(),
            faults::Control::new(config.faults, config.rate_limit_per_min, 0x4A),
            config.halo,
            format!("http://{halo_addr}"),
        ));
        let stellar = Arc::new(stellar::StellarSim::new(
            dataset.clone(),
            faults::Control::new(config.faults, config.rate_limit_per_min, 0x57),
            config.stellar,
        ));
        let graph = Arc::new(graph::GraphSim::new(
            dataset.clone(),
            faults::Control::new(config.faults, config.rate_limit_per_min, 0x6A),
            config.graph,
            format!("http://{graph_addr}"),
        ));
        let archer = Arc::new(archer::ArcherSim::new(
            dataset.clone(),
            faults::Control::new(config.faults, config.rate_limit_per_min, 0xAC),
            config.archer,
        ));
        let zivver = Arc::new(zivver::ZivverSim::new(
            dataset.clone(),
            faults::Control::new(config.faults, config.rate_limit_per_min, 0x21),
            config.zivver,
            format!("http://{zivver_addr}{}", zivver::BASE),
        ));

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("psa-bridge-sim")
            .enable_all()
            .build()
            .context("building the simulators' runtime")?;
        let listeners = {
            let _guard = rt.enter();
            [
                (tokio::net::TcpListener::from_std(armor_l)?, armor.clone() as Arc<dyn server::App>),
                (tokio::net::TcpListener::from_std(cw_l)?, cw.clone() as Arc<dyn server::App>),
                (tokio::net::TcpListener::from_std(halo_l)?, halo.clone() as Arc<dyn server::App>),
                (tokio::net::TcpListener::from_std(stellar_l)?, stellar.clone() as Arc<dyn server::App>),
                (tokio::net::TcpListener::from_std(graph_l)?, graph.clone() as Arc<dyn server::App>),
                (tokio::net::TcpListener::from_std(archer_l)?, archer.clone() as Arc<dyn server::App>),
                (tokio::net::TcpListener::from_std(zivver_l)?, zivver.clone() as Arc<dyn server::App>),
            ]
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let thread = std::thread::Builder::new().name("psa-bridge-sim".into()).spawn(move || {
            rt.block_on(async move {
                let tasks: Vec<_> = listeners
                    .into_iter()
                    .map(|(l, app)| tokio::spawn(server::serve(l, app, stop_rx.clone())))
                    .collect();
                for t in tasks {
                    let _ = t.await;
                }
            });
            rt.shutdown_timeout(Duration::from_secs(2));
        })?;
        Ok(Simulators {
            armor,
            cw,
            halo,
            stellar,
            graph,
            archer,
            zivver,
            zivver_addr,
            graph_addr,
            archer_addr,
            armor_addr,
            cw_addr,
            halo_addr,
            stellar_addr,
            dataset,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
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

    /// "http://127.0.0.1:R": the Halo base URL (auth at `{base}/auth`, resources at `{base}/api`).
    pub fn halo_url(&self) -> String {
        format!("http://{}", self.halo_addr)
    }

    /// The plugin's Halo connection section (kept out of `connection()`, which has one destination).
    pub fn halo_connection(&self) -> Value {
        let c = &self.dataset.halo.credentials;
        json!({"base_url": self.halo_url(), "tenant": c.tenant, "client_id": c.client_id,
               "client_secret": c.client_secret, "scope": "all"})
    }

    /// A ready-to-use plugin connection (the WIT `connection` record in snake_case): ARMOR and ConnectWise.
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

    fn apps(&self) -> [&dyn server::App; 7] {
        [&*self.armor, &*self.cw, &*self.halo, &*self.stellar, &*self.graph, &*self.archer, &*self.zivver]
    }

    /// Faults for all seven services (restarts their random sequences from `f.seed`).
    pub fn set_faults(&self, f: Faults) {
        for app in self.apps() {
            app.control().set_faults(f);
        }
    }

    /// Faults for the Halo simulator only.
    pub fn set_halo_faults(&self, f: Faults) {
        server::App::control(&*self.halo).set_faults(f);
    }

    /// Faults for the Stellar Cyber simulator only.
    pub fn set_stellar_faults(&self, f: Faults) {
        server::App::control(&*self.stellar).set_faults(f);
    }

    /// The shared per-minute limiter of all seven services (Halo's own per-client limit is in `HaloConfig`).
    pub fn set_rate_limit(&self, per_min: Option<u32>) {
        for app in self.apps() {
            app.control().set_rate_limit(per_min);
        }
    }

    pub fn halo_config(&self) -> HaloConfig {
        self.halo.config()
    }

    /// Replace the Halo instance settings (survives `reset`, like faults; clears the rate windows).
    pub fn set_halo_config(&self, c: HaloConfig) {
        self.halo.set_config(c);
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

    /// Same as `GET /_sim/state` on the Halo simulator.
    pub fn halo_state(&self) -> Value {
        server::App::state(&*self.halo)
    }

    /// "http://127.0.0.1:S": the Stellar host (the API is below `{host}/connect/api/v1`).
    pub fn stellar_url(&self) -> String {
        format!("http://{}", self.stellar_addr)
    }

    /// "http://127.0.0.1:S/connect/api/v1"
    pub fn stellar_api_url(&self) -> String {
        format!("{}{}", self.stellar_url(), stellar::BASE)
    }

    /// The legacy-token connection: `{"host", "user", "api_key"}` (Basic user:api_key on the token request).
    pub fn stellar_connection(&self) -> Value {
        let c = &self.dataset.stellar.credentials;
        json!({"host": self.stellar_url(), "user": c.user, "api_key": c.api_key})
    }

    /// The scoped-key connection: `{"host", "api_key"}` (Bearer key on the token request; same user).
    pub fn stellar_scoped_connection(&self) -> Value {
        json!({"host": self.stellar_url(), "api_key": self.dataset.stellar.credentials.scoped_key})
    }

    /// Same as `GET /_sim/state` on the Stellar simulator.
    pub fn stellar_state(&self) -> Value {
        server::App::state(&*self.stellar)
    }

    pub fn stellar_config(&self) -> StellarConfig {
        self.stellar.config()
    }

    /// Replace the Stellar settings (survives `reset`; `cases` only matters at start).
    pub fn set_stellar_config(&self, c: StellarConfig) {
        self.stellar.set_config(c);
    }

    /// Analyst #1 changes a case, as `POST /_sim/stellar/analyst` (without `case_id` in `change`):
    /// `{"status"?, "assignee"?, "severity"?, "resolution"?, "tags"?, "comment"?, "at_ms"?}` →
    /// `{"case": Case, "comment": Comment|null}`.
    pub fn stellar_analyst(&self, case_id: &str, change: Value) -> anyhow::Result<Value> {
        self.stellar.analyst_change(case_id, &change).map_err(|(s, m)| anyhow::anyhow!("{s}: {m}"))
    }

    /// A new case by analyst #1, as `POST /_sim/stellar/cases`; returns its `_id`.
    pub fn stellar_add_case(&self, spec: Value) -> anyhow::Result<String> {
        let c = self.stellar.add_case(&spec).map_err(|(s, m)| anyhow::anyhow!("{s}: {m}"))?;
        Ok(c["_id"].as_str().unwrap_or_default().to_string())
    }

    /// "http://127.0.0.1:G": the login host and Graph (`{url}/{tenant}/oauth2/v2.0/token`, `{url}/v1.0/...`).
    pub fn graph_url(&self) -> String {
        format!("http://{}", self.graph_addr)
    }

    /// The mailbox source's connection: `{"login_url", "graph_url", "tenant", "client_id",
    /// "client_secret", "mailbox", "folder"}`.
    pub fn mail_connection(&self) -> Value {
        let m = &self.dataset.mail;
        let c = &m.credentials;
        json!({"login_url": self.graph_url(), "graph_url": self.graph_url(), "tenant": c.tenant,
               "client_id": c.client_id, "client_secret": c.client_secret, "mailbox": m.mailbox, "folder": m.folder})
    }

    /// Same as `GET /_sim/state` on the Graph simulator.
    pub fn graph_state(&self) -> Value {
        server::App::state(&*self.graph)
    }

    /// Faults for the Graph simulator only.
    pub fn set_graph_faults(&self, f: Faults) {
        server::App::control(&*self.graph).set_faults(f);
    }

    pub fn graph_config(&self) -> GraphConfig {
        self.graph.config()
    }

    /// Replace the Graph settings (survives `reset`; `messages` only matters at start).
    pub fn set_graph_config(&self, c: GraphConfig) {
        self.graph.set_config(c);
    }

    /// New mail now, as `POST /_sim/graph/messages`: `{"count"?: n, "same_second"?: bool,
    /// "folder"?: name, "subject"?: s}` → `{"messages": [{"id", "restId", "internetMessageId", ...}]}`.
    pub fn graph_deliver(&self, spec: Value) -> anyhow::Result<Value> {
        self.graph.deliver(&spec).map_err(|(s, m)| anyhow::anyhow!("{s}: {m}"))
    }

    /// "http://127.0.0.1:A": Archer's base (REST below `{url}/{prefix}`, SOAP at `{url}/ws/search.asmx`).
    pub fn archer_url(&self) -> String {
        format!("http://{}", self.archer_addr)
    }

    /// The Archer destination's connection: `{"base_url", "prefix", "instance", "user", "domain", "password"}`.
    pub fn archer_connection(&self) -> Value {
        let c = &self.dataset.archer.credentials;
        json!({"base_url": self.archer_url(), "prefix": self.archer.config().prefix, "instance": c.instance,
               "user": c.user, "domain": c.domain, "password": c.password})
    }

    /// Same as `GET /_sim/state` on the Archer simulator.
    pub fn archer_state(&self) -> Value {
        server::App::state(&*self.archer)
    }

    /// Faults for the Archer simulator only.
    pub fn set_archer_faults(&self, f: Faults) {
        server::App::control(&*self.archer).set_faults(f);
    }

    pub fn archer_config(&self) -> ArcherConfig {
        self.archer.config()
    }

    /// Replace the Archer settings (survives `reset`).
    pub fn set_archer_config(&self, c: ArcherConfig) {
        self.archer.set_config(c);
    }

    /// Every Archer session expires now (the next call with one gets 401 / a SOAP fault).
    pub fn archer_expire_sessions(&self) {
        self.archer.expire_sessions();
    }

    /// The directory source's connection: `{"tenant", "client_id", "client_secret", "login_url",
    /// "graph_url"}` (the Graph simulator; the same app registration as the mailbox).
    pub fn directory_connection(&self) -> Value {
        let c = &self.dataset.mail.credentials;
        json!({"tenant": c.tenant, "client_id": c.client_id, "client_secret": c.client_secret,
               "login_url": self.graph_url(), "graph_url": self.graph_url()})
    }

    /// One change to the Graph directory, as `POST /_sim/graph/directory`: `{"op": "rename", "id",
    /// "display_name"} | {"op": "add_alias"|"remove_alias", "id", "address"} | {"op":
    /// "add_delegate"|"remove_delegate", "id", "upn"} | {"op": "disable"|"enable"|"delete", "id"} |
    /// {"op": "add_user", "display_name", "address", "shared"?: bool, "in_group"?: bool}` (`id` is an
    /// object id or UPN) → the user after the change (the state's shape).
    pub fn directory_change(&self, spec: Value) -> anyhow::Result<Value> {
        self.graph.directory_change(&spec).map_err(|(s, m)| anyhow::anyhow!("{s}: {m}"))
    }

    /// The directory now (users with purpose and FullAccess, groups).
    pub fn directory(&self) -> DirectoryData {
        self.graph.directory_snapshot()
    }

    /// "http://127.0.0.1:Z/api/scim/v2": the SCIM base URL.
    pub fn zivver_url(&self) -> String {
        format!("http://{}{}", self.zivver_addr, zivver::BASE)
    }

    /// The Zivver destination's connection: `{"base_url", "api_key"}`.
    pub fn zivver_connection(&self) -> Value {
        json!({"base_url": self.zivver_url(), "api_key": self.dataset.zivver.api_key})
    }

    /// Same as `GET /_sim/state` on the Zivver simulator.
    pub fn zivver_state(&self) -> Value {
        server::App::state(&*self.zivver)
    }

    /// What Zivver must hold after a full sync of the directory as it is now (see
    /// `zivver/expected.rs`): `{"users", "groups", "deactivated_users", "emptied_groups"}`.
    pub fn zivver_expected(&self) -> Value {
        let (users, groups) = self.zivver.names();
        zivver::expected(&self.graph.directory_snapshot(), self.zivver.initial(), &users, &groups)
    }

    /// Faults for the Zivver simulator only.
    pub fn set_zivver_faults(&self, f: Faults) {
        server::App::control(&*self.zivver).set_faults(f);
    }

    pub fn zivver_config(&self) -> ZivverConfig {
        self.zivver.config()
    }

    /// Replace the Zivver settings (survives `reset`; clears the rate window).
    pub fn set_zivver_config(&self, c: ZivverConfig) {
        self.zivver.set_config(c);
    }

    /// All services back to the initial data; counters zeroed (the fault/rate config stays).
    pub fn reset(&self) {
        for app in self.apps() {
            app.reset();
        }
    }

    /// Stop the servers and wait for their thread.
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
