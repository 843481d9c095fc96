//! The one transport that touches WASI: `wasi:http/outgoing-handler` with one pollable per
//! request, so many requests are in flight while the component waits on `wasi:io/poll`. A
//! request's pollable watches its response future until the headers are in, then its body stream:
//! bodies are read without blocking as they arrive, so one slow body holds up no other request.

use super::{Request, Response, Transport, TransportError, TransportErrorKind};
use wasi::clocks::{monotonic_clock, wall_clock};
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasi::io::streams::{InputStream, StreamError};

const NANOS_PER_MS: u64 = 1_000_000;
/// The largest body a single write to an output stream may carry.
const WRITE_CHUNK: usize = 4096;
/// The most one non-blocking read asks for.
const READ_CHUNK: u64 = 64 * 1024;

/// A request whose answer has begun: its headers are in, its body is read as it arrives.
/// Fields drop in declaration order, which is the order WASI requires: the stream before its
/// body, the body before its response.
struct Reading {
    stream: InputStream,
    body: IncomingBody,
    response: IncomingResponse,
    status: u16,
    headers: Vec<(String, String)>,
    bytes: Vec<u8>,
}

struct InFlight {
    id: u64,
    deadline_ms: u64,
    /// `Some` once the headers are in. Declared before `future` so that it drops first.
    reading: Option<Reading>,
    future: FutureIncomingResponse,
}

/// What one turn did with a request that was ready.
enum Step {
    /// Still waiting for headers or for more of the body.
    Pending,
    Done(Result<Response, TransportError>),
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

    /// The headers are in: keep the body's stream to read it as it arrives.
    fn begin(&self, future: &FutureIncomingResponse) -> Result<Option<Reading>, TransportError> {
        let protocol = |detail: &str| TransportError::new(TransportErrorKind::Protocol, detail);
        let response = match future.get() {
            None => return Ok(None),
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(transport_error(code)),
            Some(Err(())) => return Err(protocol("response read twice")),
        };
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
            .collect();
        let body = response.consume().map_err(|()| protocol("response body unavailable"))?;
        let stream = match body.stream() {
            Ok(stream) => stream,
            Err(()) => {
                drop(body);
                return Err(protocol("response body stream"));
            }
        };
        Ok(Some(Reading { stream, body, response, status, headers, bytes: Vec::new() }))
    }

    /// Reads whatever the body has now, without blocking: `Ok(true)` once the stream is closed.
    fn drain(&self, reading: &mut Reading) -> Result<bool, TransportError> {
        loop {
            match reading.stream.read(READ_CHUNK) {
                Ok(chunk) if chunk.is_empty() => return Ok(false),
                Ok(chunk) => {
                    if reading.bytes.len() + chunk.len() > self.max_response_bytes {
                        let detail = format!("over {} bytes", self.max_response_bytes);
                        return Err(TransportError::new(TransportErrorKind::TooLarge, detail));
                    }
                    reading.bytes.extend_from_slice(&chunk);
                }
                Err(StreamError::Closed) => return Ok(true),
                Err(error) => return Err(stream_error(error, "reading the response")),
            }
        }
    }

    /// One ready request: its headers if they are in, then as much of its body as there is.
    fn advance(&self, flight: &mut InFlight) -> Step {
        if flight.reading.is_none() {
            match self.begin(&flight.future) {
                Ok(None) => return Step::Pending,
                Ok(Some(reading)) => flight.reading = Some(reading),
                Err(error) => return Step::Done(Err(error)),
            }
        }
        let Some(reading) = flight.reading.as_mut() else { return Step::Pending };
        match self.drain(reading) {
            Ok(false) => Step::Pending,
            Err(error) => Step::Done(Err(error)),
            Ok(true) => {
                let Some(Reading { stream, body, response, status, headers, bytes }) = flight.reading.take() else {
                    return Step::Pending;
                };
                drop(stream);
                drop(IncomingBody::finish(body));
                drop(response);
                Step::Done(Ok(Response { status, headers, body: bytes }))
            }
        }
    }

    /// One `wasi:io/poll` over every response future, every body being read and the wake-up
    /// time; returns the requests that completed (or failed, or ran out of time).
    fn turn(&mut self, wake: Option<u64>) -> Vec<(u64, Result<Response, TransportError>)> {
        // Pollables must be dropped before the futures and streams they watch, hence this scope.
        let ready: Vec<usize> = {
            let mut pollables: Vec<_> = self
                .in_flight
                .iter()
                .map(|f| match &f.reading {
                    Some(reading) => reading.stream.subscribe(),
                    None => f.future.subscribe(),
                })
                .collect();
            if let Some(wake) = wake {
                pollables.push(monotonic_clock::subscribe_instant(wake * NANOS_PER_MS));
            }
            if pollables.is_empty() {
                return Vec::new();
            }
            let refs: Vec<_> = pollables.iter().collect();
            wasi::io::poll::poll(&refs).into_iter().map(|i| i as usize).filter(|&i| i < self.in_flight.len()).collect()
        };
        let mut done = Vec::new();
        for (position, mut flight) in std::mem::take(&mut self.in_flight).into_iter().enumerate() {
            let mut step = if ready.contains(&position) { self.advance(&mut flight) } else { Step::Pending };
            // The deadline covers the whole answer: a body that trickles too long times out too.
            if matches!(step, Step::Pending) && self.now_ms() >= flight.deadline_ms {
                let detail = match flight.reading {
                    Some(_) => format!("the answer did not finish within {} ms", self.timeout_ms),
                    None => format!("no answer within {} ms", self.timeout_ms),
                };
                step = Step::Done(Err(TransportError::new(TransportErrorKind::Timeout, detail)));
            }
            match step {
                Step::Done(result) => done.push((flight.id, result)),
                Step::Pending => self.in_flight.push(flight),
            }
        }
        done
    }
}

impl Transport for WasiTransport {
    fn start(&mut self, id: u64, request: &Request) -> Result<(), TransportError> {
        let future = self.send(request)?;
        let deadline_ms = self.now_ms() + self.timeout_ms;
        self.in_flight.push(InFlight { id, deadline_ms, reading: None, future });
        Ok(())
    }

    fn wait(&mut self, wake_at_ms: Option<u64>) -> Vec<(u64, Result<Response, TransportError>)> {
        // Body chunks arriving are not completions: keep polling until a request completes, the
        // wake-up time passes or nothing is left in flight.
        loop {
            let earliest_deadline = self.in_flight.iter().map(|f| f.deadline_ms).min();
            let wake = match (wake_at_ms, earliest_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let done = self.turn(wake);
            let woken = wake_at_ms.is_some_and(|at| self.now_ms() >= at);
            if !done.is_empty() || woken || self.in_flight.is_empty() {
                return done;
            }
        }
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
        ErrorCode::TlsProtocolError | ErrorCode::TlsAlertReceived(_) => "the TLS handshake failed".to_string(),
        ErrorCode::ConnectionTimeout => "no connection within the time limit".to_string(),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            "no answer within the time limit".to_string()
        }
        ErrorCode::HttpResponseBodySize(_) => "the answer is larger than allowed".to_string(),
        // The other codes' Debug text would add several KB to the component for rare cases.
        _ => "the request failed on the way (a transport error)".to_string(),
    };
    TransportError::new(kind, detail)
}
