//! Which hosts the component may call: only the origins the component itself says the
//! connection names (its registry of systems is the one list), only over https, plain http only
//! to loopback and only when the harness was told so (tests, simulators).

use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

#[derive(Clone, Debug, Default)]
pub struct OutboundPolicy {
    /// (host, port) pairs, lower-case host.
    allowed: Vec<(String, u16)>,
    allow_loopback: bool,
}

impl OutboundPolicy {
    /// Requests to `origins` (`scheme://host:port`) only.
    pub fn from_origins(origins: &[String], allow_loopback: bool) -> OutboundPolicy {
        OutboundPolicy { allowed: origins.iter().filter_map(|u| host_and_port(u)).collect(), allow_loopback }
    }

    /// No request at all.
    pub fn deny_all() -> OutboundPolicy {
        OutboundPolicy::default()
    }

    /// `Err(reason)` when the request may not leave.
    pub fn check(&self, uri: &http::Uri) -> Result<(), String> {
        let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        if !self.allowed.iter().any(|(h, p)| *h == host && *p == port) {
            return Err(format!("{host}:{port} is not a host named in the connection"));
        }
        if !(https || (self.allow_loopback && is_loopback(&host))) {
            return Err(format!("plain http to {host} is not allowed: use https"));
        }
        Ok(())
    }
}

fn host_and_port(url: &str) -> Option<(String, u16)> {
    let url = if url.contains("://") { url.to_string() } else { format!("https://{url}") };
    let parsed = url::Url::parse(&url).ok()?;
    let host = parsed.host_str()?.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    Some((host, parsed.port_or_known_default()?))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>), Error>,
            > + Send,
    > {
        if let Err(reason) = self.check(request.uri()) {
            crate::progress::print_line(&format!("psa-bridge-host: refused an outbound request: {reason}"));
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        drop(fut);
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((response.map(BodyExt::boxed_unsync), Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}
