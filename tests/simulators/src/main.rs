//! `psa-bridge-sim`: run the ARMOR, ConnectWise, Halo, Stellar Cyber, Microsoft Graph and Archer
//! simulators until killed. Prints one JSON line when ready:
//! {"armor": url, "connectwise": url, "halo": url, "stellar": url, "graph": url, "archer": url,
//!  "zivver": url, "connection": {...}, "halo_connection": {...}, "stellar_connection": {...},
//!  "mail_connection": {...}, "archer_connection": {...}, "directory_connection": {...},
//!  "zivver_connection": {...}}.

use clap::Parser;
use psa_bridge_sim::{
    ArcherConfig, DataSource, Faults, GraphConfig, HaloConfig, SimConfig, Simulators, StellarConfig, Trickle,
    ZivverConfig,
};
use std::io::Write;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "psa-bridge-sim",
    about = "ARMOR + ConnectWise Manage + HaloPSA + Stellar Cyber + Microsoft Graph + Archer simulators on 127.0.0.1"
)]
struct Args {
    /// Sub-accounts under the MSP root (generated data).
    #[arg(long)]
    accounts: Option<usize>,
    /// ConnectWise companies (generated data).
    #[arg(long)]
    companies: Option<usize>,
    /// ARMOR tickets (generated data).
    #[arg(long)]
    tickets: Option<usize>,
    /// Generator seed; also the default fault seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Load a Dataset JSON file instead of generating.
    #[arg(long, conflicts_with_all = ["accounts", "companies", "tickets"])]
    data: Option<PathBuf>,
    /// Write the Dataset (incl. credentials and ground truth) to FILE and exit.
    #[arg(long)]
    write_data: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    #[arg(long, default_value_t = 0.0)]
    p5xx: f64,
    #[arg(long, default_value_t = 0.0)]
    p429: f64,
    #[arg(long, default_value_t = 0.0)]
    pdrop: f64,
    #[arg(long, default_value_t = 0.0)]
    plost: f64,
    #[arg(long)]
    rate_limit_per_min: Option<u32>,
    #[arg(long, default_value_t = 900)]
    token_ttl_s: u64,
    #[arg(long, default_value_t = 0)]
    armor_port: u16,
    #[arg(long, default_value_t = 0)]
    connectwise_port: u16,
    #[arg(long, default_value_t = 0)]
    halo_port: u16,
    /// Halo: an on-premise instance (the token request needs no `?tenant=`).
    #[arg(long)]
    halo_single_tenant: bool,
    /// Halo requests per client id per rolling window (0 = unlimited).
    #[arg(long, default_value_t = 300)]
    halo_rate_limit: u32,
    #[arg(long, default_value_t = 300)]
    halo_rate_window_s: u64,
    #[arg(long, default_value_t = 3600)]
    halo_token_ttl_s: u64,
    #[arg(long, default_value_t = 0)]
    stellar_port: u16,
    /// Generated Stellar cases (default: half the ARMOR tickets); ignored for a data file with Stellar data.
    #[arg(long)]
    stellar_cases: Option<usize>,
    /// Stellar access token (JWT) lifetime.
    #[arg(long, default_value_t = 600)]
    stellar_token_ttl_s: u64,
    /// The Microsoft Graph simulator (login host and Graph on one port).
    #[arg(long, default_value_t = 0)]
    graph_port: u16,
    /// Generated messages in the Phishing folder (default 40); ignored for a data file with mail data.
    #[arg(long)]
    mail_messages: Option<usize>,
    /// Generated directory users (default 60); ignored for a data file with a directory.
    #[arg(long)]
    directory_users: Option<usize>,
    #[arg(long, default_value_t = 0)]
    archer_port: u16,
    /// The Zivver SCIM simulator.
    #[arg(long, default_value_t = 0)]
    zivver_port: u16,
    /// Archer's REST prefix: platformapi (6.5+) or api (older instances).
    #[arg(long, default_value = "platformapi")]
    archer_prefix: String,
    /// Send ConnectWise answers on this route slowly, e.g. "GET /company/companies" (off by default).
    #[arg(long)]
    trickle_route: Option<String>,
    /// ... only the one with this `page` query parameter.
    #[arg(long, requires = "trickle_route")]
    trickle_page: Option<u64>,
    /// ... in this many pieces ...
    #[arg(long, default_value_t = 30)]
    trickle_chunks: u32,
    /// ... spread over this many milliseconds.
    #[arg(long, default_value_t = 3000)]
    trickle_ms: u64,
}

fn probability(name: &str, p: f64) -> anyhow::Result<f64> {
    anyhow::ensure!((0.0..=1.0).contains(&p), "--{name} must be between 0 and 1");
    Ok(p)
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let seed = a.seed.unwrap_or(42);
    let data = match &a.data {
        Some(p) => DataSource::File(p.clone()),
        None => DataSource::Generated {
            accounts: a.accounts.unwrap_or(40),
            companies: a.companies.unwrap_or(400),
            tickets: a.tickets.unwrap_or(200),
            seed,
        },
    };
    if let Some(out) = &a.write_data {
        let mut dataset = data.load()?;
        if let (Some(n), DataSource::Generated { seed, .. }) = (a.stellar_cases, &data) {
            dataset.stellar = psa_bridge_sim::generate::stellar_from(&dataset, *seed, n);
        }
        if let (Some(n), DataSource::Generated { seed, .. }) = (a.mail_messages, &data) {
            dataset.mail = psa_bridge_sim::generate::mail_from(*seed, n);
        }
        if let (Some(n), DataSource::Generated { seed, .. }) = (a.directory_users, &data) {
            dataset.directory = psa_bridge_sim::generate::directory_from(*seed, n);
            dataset.zivver = psa_bridge_sim::generate::zivver_from(*seed, &dataset.directory);
        }
        std::fs::write(out, serde_json::to_vec_pretty(&dataset)?)?;
        eprintln!("wrote {}", out.display());
        return Ok(());
    }
    let faults = Faults {
        latency_ms: a.latency_ms,
        p5xx: probability("p5xx", a.p5xx)?,
        p429: probability("p429", a.p429)?,
        pdrop: probability("pdrop", a.pdrop)?,
        plost: probability("plost", a.plost)?,
        seed,
    };
    let config = SimConfig {
        data,
        faults,
        token_ttl_s: a.token_ttl_s,
        rate_limit_per_min: a.rate_limit_per_min,
        armor_port: a.armor_port,
        connectwise_port: a.connectwise_port,
        halo_port: a.halo_port,
        halo: HaloConfig {
            multi_tenant: !a.halo_single_tenant,
            token_ttl_s: a.halo_token_ttl_s,
            client_rate_limit: (a.halo_rate_limit > 0).then_some(a.halo_rate_limit),
            client_rate_window_ms: a.halo_rate_window_s.saturating_mul(1000),
            ..HaloConfig::default()
        },
        stellar_port: a.stellar_port,
        stellar: StellarConfig { token_ttl_s: a.stellar_token_ttl_s, cases: a.stellar_cases },
        graph_port: a.graph_port,
        graph: GraphConfig { messages: a.mail_messages, directory_users: a.directory_users, ..GraphConfig::default() },
        archer_port: a.archer_port,
        archer: ArcherConfig { prefix: a.archer_prefix, ..ArcherConfig::default() },
        zivver_port: a.zivver_port,
        zivver: ZivverConfig::default(),
    };
    let sims = Simulators::start(config)?;
    if let Some(route) = a.trickle_route {
        sims.set_connectwise_trickle(Some(Trickle {
            route,
            page: a.trickle_page,
            chunks: a.trickle_chunks,
            duration_ms: a.trickle_ms,
        }));
    }
    let ready = serde_json::json!({"armor": sims.armor_url(), "connectwise": sims.connectwise_url(), "halo": sims.halo_url(),
                                   "stellar": sims.stellar_url(), "connection": sims.connection(),
                                   "halo_connection": sims.halo_connection(),
                                   "stellar_connection": sims.stellar_connection(),
                                   "graph": sims.graph_url(), "archer": sims.archer_url(),
                                   "mail_connection": sims.mail_connection(),
                                   "archer_connection": sims.archer_connection(),
                                   "zivver": sims.zivver_url(),
                                   "zivver_connection": sims.zivver_connection(),
                                   "directory_connection": sims.directory_connection()});
    let mut out = std::io::stdout().lock();
    writeln!(out, "{ready}")?;
    out.flush()?;
    drop(out);
    eprintln!(
        "psa-bridge-sim: ARMOR {} / ConnectWise {} / Halo {} / Stellar {} / Graph {} / Archer {} / Zivver {} (Ctrl-C or SIGTERM to stop)",
        sims.armor_url(),
        sims.connectwise_url(),
        sims.halo_url(),
        sims.stellar_url(),
        sims.graph_url(),
        sims.archer_url(),
        sims.zivver_url()
    );
    // Serve until the process is killed (SIGTERM/SIGINT end it; stdin may be /dev/null under make).
    loop {
        std::thread::park();
    }
}
