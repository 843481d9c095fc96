//! The one transport that touches WASI: `wasi:http/outgoing-handler` with one pollable per
//! request, so many requests are in flight while the component waits on `wasi:io/poll`.

use super::{Request, Response, Transport, TransportError, TransportErrorKind};
use wasi::clocks::{monotonic_clock, wall_clock};
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasi::io::streams::StreamError;

const NANOS_PER_MS: u64 = 1_000_000;
/// The largest body a single write to an output stream may carry.
const WRITE_CHUNK: usize = 4096;

struct InFlight {
    id: u64,
    future: FutureIncomingResponse,
    deadline_ms: u64,
}

pub struct WasiTransport {
    in_flight: Vec<InFlight>,
    timeout_ms: u64,
    max_response_bytes: usize,
}

impl WasiTransport {
    pub fn new(timeout_ms: u64, max_response_bytes: usize) -> Self {
        WasiTransport { in_flight: Vec::new(), timeout_ms, max_response_bytes }
    }

    fn send(&self, request: &Request) -> Result<FutureIncomingResponse, TransportError> {
        let protocol = |detail: &str| TransportError::new(TransportErrorKind::Protocol, detail);
        let entries: Vec<(String, Vec<u8>)> =
            request.headers.iter().map(|(name, value)| (name.clone(), value.clone().into_bytes())).collect();
        let headers = Fields::from_list(&entries).map_err(|e| protocol(&format!("invalid header: {e:?}")))?;
        let outgoing = OutgoingRequest::new(headers);
        let method = match request.method {
            super::Method::Get => Method::Get,
            super::Method::Post => Method::Post,
            super::Method::Put => Method::Put,
            super::Method::Patch => Method::Patch,
        };
        let scheme = if request.origin.https { Scheme::Https } else { Scheme::Http };
        outgoing.set_method(&method).map_err(|()| protocol("method"))?;
        outgoing.set_scheme(Some(&scheme)).map_err(|()| protocol("scheme"))?;
        outgoing.set_authority(Some(&request.origin.authority)).map_err(|()| protocol("invalid host"))?;
        outgoing.set_path_with_query(Some(&request.full_path())).map_err(|()| protocol("invalid path"))?;
        let body = outgoing.body().map_err(|()| protocol("body"))?;

        let options = RequestOptions::new();
        let timeout = Some(self.timeout_ms * NANOS_PER_MS);
        // Hosts that don't support a timeout refuse to set it; our own deadline still applies.
        let _ = options.set_connect_timeout(timeout);
        let _ = options.set_first_byte_timeout(timeout);
        let _ = options.set_between_bytes_timeout(timeout);

        let future = outgoing_handler::handle(outgoing, Some(options)).map_err(transport_error)?;
        // An empty body is finished without a write: some hosts mishandle zero-length writes.
        // If writing fails, the host has already failed the request: the response future says
        // why (denied, refused, ...), so it is returned rather than a vaguer stream error.
        let written = request.body.is_empty() || {
            let stream = body.write().map_err(|()| protocol("body stream"))?;
            request.body.chunks(WRITE_CHUNK).all(|chunk| stream.blocking_write_and_flush(chunk).is_ok())
        };
        if written {
            // Same reasoning: a refused finish shows up on the future.
            let _ = OutgoingBody::finish(body, None);
        }
        Ok(future)
    }

    fn read(&self, future: &FutureIncomingResponse) -> Option<Result<Response, TransportError>> {
        let incoming = match future.get()? {
            Ok(Ok(response)) => response,
            Ok(Err(code)) => return Some(Err(transport_error(code))),
            Err(()) => return Some(Err(TransportError::new(TransportErrorKind::Protocol, "response read twice"))),
        };
        let status = incoming.status();
        let headers = incoming
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
            .collect();
        let body = match incoming.consume() {
            Ok(body) => body,
            Err(()) => return Some(Err(TransportError::new(TransportErrorKind::Protocol, "response body unavailable"))),
        };
        Some(self.read_body(body).map(|body| Response { status, headers, body }))
    }

    fn read_body(&self, body: IncomingBody) -> Result<Vec<u8>, TransportError> {
        let mut bytes = Vec::new();
        {
            let stream = body
                .stream()
                .map_err(|()| TransportError::new(TransportErrorKind::Protocol, "response body stream"))?;
            loop {
                match stream.blocking_read(64 * 1024) {
                    Ok(chunk) => {
                        if bytes.len() + chunk.len() > self.max_response_bytes {
                            return Err(TransportError::new(
                                TransportErrorKind::TooLarge,
                                format!("over {} bytes", self.max_response_bytes),
                            ));
                        }
                        bytes.extend_from_slice(&chunk);
                    }
                    Err(StreamError::Closed) => break,
                    Err(error) => return Err(stream_error(error, "reading the response")),
                }
            }
        }
        drop(IncomingBody::finish(body));
        Ok(bytes)
    }
}

impl Transport for WasiTransport {
    fn start(&mut self, id: u64, request: &Request) -> Result<(), TransportError> {
        let future = self.send(request)?;
        let deadline_ms = self.now_ms() + self.timeout_ms;
        self.in_flight.push(InFlight { id, future, deadline_ms });
        Ok(())
    }

    fn wait(&mut self, wake_at_ms: Option<u64>) -> Vec<(u64, Result<Response, TransportError>)> {
        let earliest_deadline = self.in_flight.iter().map(|f| f.deadline_ms).min();
        let wake = match (wake_at_ms, earliest_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // Pollables must be dropped before the futures they watch, hence this scope.
        let ready: Vec<usize> = {
            let mut pollables: Vec<_> = self.in_flight.iter().map(|f| f.future.subscribe()).collect();
            if let Some(wake) = wake {
                pollables.push(monotonic_clock::subscribe_instant(wake * NANOS_PER_MS));
            }
            if pollables.is_empty() {
                return Vec::new();
            }
            let refs: Vec<_> = pollables.iter().collect();
            wasi::io::poll::poll(&refs).into_iter().map(|i| i as usize).filter(|&i| i < self.in_flight.len()).collect()
        };
        let now = self.now_ms();
        let mut done = Vec::new();
        for (position, flight) in std::mem::take(&mut self.in_flight).into_iter().enumerate() {
            let result = if ready.contains(&position) {
                self.read(&flight.future)
            } else if now >= flight.deadline_ms {
                let detail = format!("no answer within {} ms", self.timeout_ms);
                Some(Err(TransportError::new(TransportErrorKind::Timeout, detail)))
            } else {
                None
            };
            match result {
                Some(result) => done.push((flight.id, result)),
                None => self.in_flight.push(flight),
            }
        }
        done
    }

    fn now_ms(&self) -> u64 {
        monotonic_clock::now() / NANOS_PER_MS
    }

    fn unix_seconds(&self) -> u64 {
        wall_clock::now().seconds
    }

    fn random_u64(&mut self) -> u64 {
        wasi::random::random::get_random_u64()
    }
}

fn stream_error(error: StreamError, doing: &str) -> TransportError {
    let detail = match error {
        StreamError::Closed => "stream closed".to_string(),
        StreamError::LastOperationFailed(e) => e.to_debug_string(),
    };
    TransportError::new(TransportErrorKind::Connection, format!("{doing}: {detail}"))
}

fn transport_error(code: ErrorCode) -> TransportError {
    use TransportErrorKind::*;
    let kind = match &code {
        ErrorCode::HttpRequestDenied => Denied,
        ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout | ErrorCode::ConnectionWriteTimeout => Timeout,
        ErrorCode::HttpResponseTimeout | ErrorCode::DnsTimeout => Timeout,
        ErrorCode::HttpResponseBodySize(_) => TooLarge,
        // A request we built wrongly; a protocol error on the wire (a connection cut mid-answer)
        // is a connection failure and falls through.
        ErrorCode::HttpRequestMethodInvalid | ErrorCode::HttpRequestUriInvalid => Protocol,
        _ => Connection,
    };
    let detail = match code {
        ErrorCode::HttpRequestDenied => "the host does not allow requests to this address".to_string(),
        ErrorCode::ConnectionRefused => "connection refused".to_string(),
        ErrorCode::ConnectionTerminated | ErrorCode::HttpProtocolError | ErrorCode::HttpResponseIncomplete => {
            "connection closed before a complete answer".to_string()
        }
        ErrorCode::DnsError(_) => "the host name could not be resolved".to_string(),
        ErrorCode::TlsCertificateError => "the TLS certificate was not accepted".to_string(),
        other => format!("{other:?}"),
    };
    TransportError::new(kind, detail)
}
