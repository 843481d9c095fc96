//! Loads the component once (compiled form cached next to it), and runs one action per fresh
//! instance with WASI, an outbound allow-list, a time limit and a memory limit.

use crate::convert;
use crate::outbound::OutboundPolicy;
use crate::stderr::{LogSink, Progress};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{
    Component, ComponentExportIndex, InstancePre, Linker, ResourceTable, Type, Val, types::ComponentItem,
};
use wasmtime::error::Context as _;
use wasmtime::{Config, Engine, ResourceLimiter, Store};
use wasmtime::{Result, bail};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// What the component's own HTTP service answered.
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The component's stderr.
    pub log: String,
}

/// The exported interface holding the actions (without its version).
const ACTIONS_INTERFACE: &str = "psa-bridge:plugin/actions";
/// The exported interface holding the tasks (scheduled, stateful runs).
const TASKS_INTERFACE: &str = "psa-bridge:plugin/tasks";
/// The exported interface holding the polling triggers.
const TRIGGERS_INTERFACE: &str = "psa-bridge:plugin/triggers";
/// The exported interface that tells a host which origins a connection may call.
const REGISTRY_INTERFACE: &str = "psa-bridge:plugin/registry";
const ALLOWED_ORIGINS: &str = "allowed-origins";
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// One exported action function and its parameter types.
pub struct ActionExport {
    /// The WIT name, e.g. `get-accounts`.
    pub wit_name: String,
    index: ComponentExportIndex,
    pub params: Vec<(String, Type)>,
}

pub struct Plugin {
    engine: Engine,
    pre: InstancePre<HostState>,
    /// The component's `wasi:http/incoming-handler` (its own HTTP service), when it exports one.
    proxy: Option<ProxyPre<HostState>>,
    /// By platform name (`get_accounts`).
    pub actions: BTreeMap<String, ActionExport>,
    /// The tasks (`sync_pair`), by platform name; none when the component exports no tasks.
    pub tasks: BTreeMap<String, ActionExport>,
    /// The polling triggers (`new_or_changed_tickets`), by platform name.
    pub triggers: BTreeMap<String, ActionExport>,
    /// `allowed-origins(connection)`: the component's own list of the hosts a connection names.
    allowed_origins: ActionExport,
    pub component_bytes: usize,
    /// Compile (or cache load) time of this process.
    pub load_time: Duration,
    pub loaded_from_cache: bool,
    pub imports: Vec<String>,
}

/// What kind of export a call runs: they take `(connection, input)`, tasks and triggers
/// `(connection, input, state)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Action,
    Task,
    Trigger,
}

impl Kind {
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Action => "action",
            Kind::Task => "task",
            Kind::Trigger => "trigger",
        }
    }
}

/// Per-call settings.
#[derive(Clone, Default)]
pub struct CallOptions {
    /// Allow plain http to 127.0.0.0/8, ::1 and localhost (the simulators).
    pub allow_loopback: bool,
    /// Whole-call limit; default 15 minutes.
    pub timeout: Option<Duration>,
    /// Guest memory limit; default 1 GiB.
    pub max_memory_bytes: Option<usize>,
    pub progress: Option<Arc<dyn Progress>>,
    /// The operator's cap on the hosts any connection may name (`host` or `host:port`); all when `None`.
    pub allow_hosts: Option<Vec<String>>,
}

impl CallOptions {
    /// Whether the operator lets a connection name `origin` (`scheme://host:port`).
    pub fn operator_allows(&self, origin: &str) -> bool {
        let Some(allowed) = &self.allow_hosts else { return true };
        let Ok(url) = url::Url::parse(origin) else { return false };
        let host =
            url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let port = url.port_or_known_default();
        allowed.iter().any(|entry| {
            let entry = entry.trim().to_ascii_lowercase();
            // `host`, `host:port`, `[v6]`, `[v6]:port`; a bare v6 address has no port.
            let (h, p) = match entry.strip_prefix('[').and_then(|rest| rest.split_once(']')) {
                Some((h, rest)) => (h.to_string(), rest.strip_prefix(':').map(str::to_string)),
                None if entry.matches(':').count() == 1 => {
                    let (h, p) = entry.split_once(':').unwrap_or_default();
                    (h.to_string(), Some(p.to_string()))
                }
                None => (entry.clone(), None),
            };
            h == host && p.is_none_or(|p| p.parse::<u16>().ok() == port)
        })
    }
}

/// What a call produced.
pub struct CallOutcome {
    /// `Ok(output)` or `Err(plugin-error)`, both as JSON.
    pub result: Result<Value, Value>,
    /// The component's stderr, without progress lines.
    pub log: String,
    pub peak_memory_bytes: usize,
    pub instantiate_time: Duration,
    pub call_time: Duration,
}

impl Plugin {
    pub fn load(wasm: &Path) -> Result<Plugin> {
        let bytes = std::fs::read(wasm).with_context(|| format!("cannot read the component at {}", wasm.display()))?;
        let mut config = Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config)?;
        let started = Instant::now();
        let (component, loaded_from_cache) = load_cached(&engine, wasm, &bytes)?;
        let load_time = started.elapsed();

        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        let pre =
            linker.instantiate_pre(&component).context("the component needs imports this host does not provide")?;

        let ty = component.component_type();
        let imports = ty.imports(&engine).map(|(name, _)| name.to_string()).collect();
        let (interface_name, interface) = ty
            .exports(&engine)
            .find(|(name, _)| name.split('@').next() == Some(ACTIONS_INTERFACE))
            .with_context(|| format!("the component does not export {ACTIONS_INTERFACE}"))?;
        let by_name = |exports: Vec<ActionExport>| -> BTreeMap<String, ActionExport> {
            exports.into_iter().map(|export| (convert::json_name(&export.wit_name), export)).collect()
        };
        let actions = by_name(functions(&engine, &component, interface_name, interface.ty)?);
        let optional = |wanted: &str| -> Result<BTreeMap<String, ActionExport>> {
            match ty.exports(&engine).find(|(name, _)| name.split('@').next() == Some(wanted)) {
                Some((name, interface)) => Ok(by_name(functions(&engine, &component, name, interface.ty)?)),
                None => Ok(BTreeMap::new()),
            }
        };
        let tasks = optional(TASKS_INTERFACE)?;
        let triggers = optional(TRIGGERS_INTERFACE)?;
        let (registry_name, registry) = ty
            .exports(&engine)
            .find(|(name, _)| name.split('@').next() == Some(REGISTRY_INTERFACE))
            .with_context(|| format!("the component does not export {REGISTRY_INTERFACE}"))?;
        let allowed_origins = functions(&engine, &component, registry_name, registry.ty)?
            .into_iter()
            .find(|f| f.wit_name == ALLOWED_ORIGINS)
            .with_context(|| format!("{REGISTRY_INTERFACE} has no {ALLOWED_ORIGINS}"))?;
        let proxy = ProxyPre::new(pre.clone()).ok();
        let plugin = Plugin {
            engine,
            pre,
            proxy,
            actions,
            tasks,
            triggers,
            allowed_origins,
            component_bytes: bytes.len(),
            load_time,
            loaded_from_cache,
            imports,
        };
        plugin.start_epoch_ticker();
        Ok(plugin)
    }

    fn start_epoch_ticker(&self) {
        let engine = self.engine.weak();
        std::thread::spawn(move || {
            while let Some(engine) = engine.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        });
    }

    /// Converts the message's `connection` and `input` to the action's parameters. Errors name the field.
    pub fn params(&self, action: &str, connection: &Value, input: &Value) -> Result<Vec<Val>, String> {
        self.params_of(Kind::Action, action, connection, input, &Value::Null)
    }

    /// [`Plugin::params`] for any kind of export; `state` (null: none) is a task's or trigger's.
    pub fn params_of(
        &self,
        kind: Kind,
        name: &str,
        connection: &Value,
        input: &Value,
        state: &Value,
    ) -> Result<Vec<Val>, String> {
        let export = self.export(kind, name)?;
        export
            .params
            .iter()
            .map(|(param, ty)| match param.as_str() {
                "connection" => convert::to_val(connection, ty, "connection"),
                "input" => convert::to_val(input, ty, "input"),
                "state" => convert::to_val(state, ty, "state"),
                other => Err(format!("the component's {} {name} has an unexpected parameter `{other}`", kind.noun())),
            })
            .collect()
    }

    pub fn action(&self, action: &str) -> Result<&ActionExport, String> {
        self.export(Kind::Action, action)
    }

    /// The exported function of that kind and platform name.
    pub fn export(&self, kind: Kind, name: &str) -> Result<&ActionExport, String> {
        let exports = match kind {
            Kind::Action => &self.actions,
            Kind::Task => &self.tasks,
            Kind::Trigger => &self.triggers,
        };
        exports.get(name).ok_or_else(|| {
            format!(
                "unknown {} `{name}` (known: {})",
                kind.noun(),
                exports.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }

    /// The origins the component says `connection` may call (`Err`: its plugin-error, as JSON),
    /// asked of a fresh instance that may call nothing.
    pub async fn allowed_origins(&self, connection: &Value) -> Result<Result<Vec<String>, Value>> {
        let (_, ty) = self.allowed_origins.params.first().context("allowed-origins takes the connection")?;
        let param = convert::to_val(connection, ty, "connection").map_err(wasmtime::Error::msg)?;
        let outcome = self
            .call_export(
                &self.allowed_origins,
                ALLOWED_ORIGINS,
                vec![param],
                OutboundPolicy::deny_all(),
                &CallOptions::default(),
            )
            .await?;
        Ok(match outcome.result {
            Ok(origins) => {
                Ok(serde_json::from_value(origins).context("allowed-origins returned something other than strings")?)
            }
            Err(error) => Err(error),
        })
    }

    /// Whether the component serves HTTP itself (`wasi:http/incoming-handler`).
    pub fn serves_http(&self) -> bool {
        self.proxy.is_some()
    }

    /// One request to the component's own `wasi:http/incoming-handler`, in a fresh instance whose
    /// environment holds `env` and nothing else and which may call no host at all. `Err` only
    /// for host failures (no handler, trap, timeout).
    pub async fn handle_http(
        &self,
        request: http::Request<http_body_util::Full<bytes::Bytes>>,
        env: &[(String, String)],
        options: &CallOptions,
    ) -> Result<HttpAnswer> {
        use http_body_util::BodyExt;
        let proxy = self.proxy.clone().context("the component does not export wasi:http/incoming-handler")?;
        let sink = LogSink::new(options.progress.clone());
        let mut wasi = WasiCtxBuilder::new();
        wasi.stderr(sink.clone()).allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
        for (name, value) in env {
            wasi.env(name, value);
        }
        let limits = PeakLimiter { max_bytes: options.max_memory_bytes.unwrap_or(1 << 30), peak_bytes: 0 };
        let state = HostState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: OutboundPolicy::deny_all(),
            limits,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        let timeout = options.timeout.unwrap_or(Duration::from_secs(900));
        store.set_epoch_deadline((timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64);
        store.epoch_deadline_trap();
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let incoming = store.data_mut().http().new_incoming_request(Scheme::Http, request)?;
        let out = store.data_mut().http().new_response_outparam(sender)?;
        // The guest writes the body after handing over the response: it runs on while it is read.
        let task = tokio::spawn(async move {
            let instance = proxy.instantiate_async(&mut store).await?;
            instance.wasi_http_incoming_handler().call_handle(&mut store, incoming, out).await
        });
        let answer = async {
            match receiver.await {
                Ok(Ok(response)) => {
                    let (parts, body) = response.into_parts();
                    let body = body.collect().await.map_err(|e| wasmtime::Error::msg(format!("{e:?}")))?.to_bytes();
                    let headers = parts
                        .headers
                        .iter()
                        .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                        .collect();
                    Ok((parts.status.as_u16(), headers, body.to_vec()))
                }
                Ok(Err(code)) => bail!("the component answered an HTTP error: {code:?}"),
                Err(_) => bail!("the component never set its response"),
            }
        };
        let (status, headers, body) = match tokio::time::timeout(timeout, answer).await {
            Ok(answer) => answer?,
            Err(_) => bail!("the component's HTTP handler did not answer within {} s", timeout.as_secs()),
        };
        match tokio::time::timeout(timeout, task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(trap))) => bail!("the component failed while handling a request: {trap:#}"),
            Ok(Err(join)) => bail!("the component's HTTP handler stopped: {join}"),
            Err(_) => bail!("the component's HTTP handler did not finish within {} s", timeout.as_secs()),
        }
        Ok(HttpAnswer { status, headers, body, log: sink.log() })
    }

    /// Runs `action` in a fresh instance. `Err` only for host failures (trap, timeout, limits).
    pub async fn call(
        &self,
        action: &str,
        params: Vec<Val>,
        allowed: OutboundPolicy,
        options: &CallOptions,
    ) -> Result<CallOutcome> {
        self.call_kind(Kind::Action, action, params, allowed, options).await
    }

    /// [`Plugin::call`] for any kind of export.
    pub async fn call_kind(
        &self,
        kind: Kind,
        name: &str,
        params: Vec<Val>,
        allowed: OutboundPolicy,
        options: &CallOptions,
    ) -> Result<CallOutcome> {
        let export = self.export(kind, name).map_err(wasmtime::Error::msg)?;
        self.call_export(export, name, params, allowed, options).await
    }

    async fn call_export(
        &self,
        export: &ActionExport,
        action: &str,
        params: Vec<Val>,
        allowed: OutboundPolicy,
        options: &CallOptions,
    ) -> Result<CallOutcome> {
        let sink = LogSink::new(options.progress.clone());
        let wasi = sandbox(sink.clone());
        let limits = PeakLimiter { max_bytes: options.max_memory_bytes.unwrap_or(1 << 30), peak_bytes: 0 };
        let state = HostState { wasi, http: WasiHttpCtx::new(), table: ResourceTable::new(), hooks: allowed, limits };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        let timeout = options.timeout.unwrap_or(Duration::from_secs(900));
        store.set_epoch_deadline((timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64);
        store.epoch_deadline_trap();

        let started = Instant::now();
        let instance = self.pre.instantiate_async(&mut store).await?;
        let instantiate_time = started.elapsed();
        let func = instance.get_func(&mut store, export.index).context("action export is not a function")?;
        let mut results = [Val::Bool(false)];
        let started = Instant::now();
        let call = func.call_async(&mut store, &params, &mut results);
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok(())) => {}
            Ok(Err(trap)) => bail!("the component failed while running {action}: {trap:#}"),
            Err(_) => bail!("{action} did not finish within {} s", timeout.as_secs()),
        }
        let call_time = started.elapsed();
        let result = match &results[0] {
            Val::Result(Ok(value)) => Ok(value.as_deref().map_or(Value::Null, convert::to_json)),
            Val::Result(Err(error)) => Err(error.as_deref().map_or(Value::Null, convert::to_json)),
            other => bail!("{action} returned {other:?} instead of a result"),
        };
        let peak_memory_bytes = store.data().limits.peak_bytes;
        drop(store);
        Ok(CallOutcome { result, log: sink.log(), peak_memory_bytes, instantiate_time, call_time })
    }
}

/// Every function an exported interface holds, with its parameter types.
fn functions(
    engine: &Engine,
    component: &Component,
    interface_name: &str,
    interface: ComponentItem,
) -> Result<Vec<ActionExport>> {
    let ComponentItem::ComponentInstance(interface) = interface else { bail!("{interface_name} is not an interface") };
    let (_, interface_index) =
        component.get_export(None, interface_name).with_context(|| format!("cannot find export {interface_name}"))?;
    let mut functions = Vec::new();
    for (name, item) in interface.exports(engine) {
        let ComponentItem::ComponentFunc(func) = item.ty else { continue };
        let (_, index) =
            component.get_export(Some(&interface_index), name).with_context(|| format!("cannot find export {name}"))?;
        let params = func.params().map(|(n, t)| (n.to_string(), t)).collect();
        functions.push(ActionExport { wit_name: name.to_string(), index, params });
    }
    Ok(functions)
}

/// The guest's WASI: stderr (the log) and clocks and randomness only. No environment, arguments
/// or working directory, no preopened directory, so no file at all, and no sockets: its only
/// way out is `wasi:http`, through the outbound policy.
fn sandbox(sink: LogSink) -> WasiCtx {
    WasiCtxBuilder::new().stderr(sink).allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false).build()
}

/// Compiles the component, or loads the compiled form cached as `<name>.<hash>.cwasm` beside it.
fn load_cached(engine: &Engine, wasm: &Path, bytes: &[u8]) -> Result<(Component, bool)> {
    let hash = hex::encode(&Sha256::digest(bytes)[..8]);
    let cache: PathBuf = wasm.with_extension(format!("{hash}.cwasm"));
    if cache.exists() {
        // SAFETY: the file was written by `Component::serialize` below for exactly these bytes
        // (its name carries their hash); wasmtime itself rejects files from another version or config.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &cache) } {
            return Ok((component, true));
        }
    }
    let component = Component::new(engine, bytes).context("the file is not a valid WebAssembly component")?;
    if let Ok(serialized) = component.serialize() {
        // A read-only location only costs the next run a compile.
        let _ = write_atomically(&cache, &serialized);
    }
    Ok((component, false))
}

/// Writes beside `path` and renames into place. Another process may be mapping the cache file
/// while this one writes it (tests run in parallel): a plain write would let it map code that is
/// half written or truncated, which runs as random memory faults in the guest.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let unique = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let partial = path.with_extension(format!("{}.{unique}.partial", std::process::id()));
    std::fs::write(&partial, bytes).and_then(|()| std::fs::rename(&partial, path)).inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })
}

pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: OutboundPolicy,
    limits: PeakLimiter,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// Caps guest memory and remembers the largest size it reached.
struct PeakLimiter {
    max_bytes: usize,
    peak_bytes: usize,
}

impl ResourceLimiter for PeakLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> Result<bool> {
        if desired > self.max_bytes {
            return Ok(false);
        }
        self.peak_bytes = self.peak_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::{CallOptions, LogSink, sandbox, write_atomically};
    use std::io::Read;
    use wasmtime::component::ResourceTable;
    use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

    struct Guest {
        ctx: WasiCtx,
        table: ResourceTable,
    }

    impl WasiView for Guest {
        fn ctx(&mut self) -> WasiCtxView<'_> {
            WasiCtxView { ctx: &mut self.ctx, table: &mut self.table }
        }
    }

    /// What the component would get if it asked WASI for files or the environment: nothing,
    /// while this very process has both.
    #[test]
    fn the_guest_sees_no_environment_and_no_files() {
        use wasmtime_wasi::cli::WasiCliView;
        use wasmtime_wasi::filesystem::WasiFilesystemView;
        use wasmtime_wasi::p2::bindings::cli::environment::Host as _;
        use wasmtime_wasi::p2::bindings::filesystem::preopens::Host as _;
        assert!(std::env::vars().count() > 0 && std::path::Path::new("/").read_dir().is_ok());
        let mut guest = Guest { ctx: sandbox(LogSink::new(None)), table: ResourceTable::new() };
        assert!(guest.cli().get_environment().unwrap().is_empty(), "no environment variable");
        assert!(guest.cli().get_arguments().unwrap().is_empty(), "no arguments");
        assert_eq!(guest.cli().initial_cwd().unwrap(), None, "no working directory");
        assert!(guest.filesystem().get_directories().unwrap().is_empty(), "no directory, so no file can be opened");
    }

    #[test]
    fn a_reader_of_the_cache_never_sees_a_rewrite_half_done() {
        let dir = std::env::temp_dir().join(format!("psa-bridge-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cache = dir.join("c.0123.cwasm");
        write_atomically(&cache, &[1; 4096]).unwrap();
        let mut reader = std::fs::File::open(&cache).unwrap();
        write_atomically(&cache, &[2; 10]).unwrap();
        let mut seen = Vec::new();
        reader.read_to_end(&mut seen).unwrap();
        assert_eq!(seen, vec![1; 4096], "the open file was changed under its reader");
        assert_eq!(std::fs::read(&cache).unwrap(), vec![2; 10]);
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 1, "partial files left behind: {left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_operator_list_caps_hosts_with_or_without_ports() {
        let options = |hosts: &[&str]| CallOptions {
            allow_hosts: Some(hosts.iter().map(|h| h.to_string()).collect()),
            ..CallOptions::default()
        };
        let list = options(&["API.armor.com", "127.0.0.1:8080", "[::1]:9000", "fe80::1"]);
        assert!(list.operator_allows("https://api.armor.com:443"));
        assert!(list.operator_allows("http://127.0.0.1:8080"));
        assert!(!list.operator_allows("http://127.0.0.1:8081"));
        assert!(list.operator_allows("http://[::1]:9000"));
        assert!(list.operator_allows("https://[fe80::1]:443"), "a bare v6 address: any port");
        assert!(!list.operator_allows("https://evil.example:443"));
        assert!(
            CallOptions::default().operator_allows("https://anything.example:443"),
            "no list: the connection decides"
        );
    }
}
