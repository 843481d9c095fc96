//! An in-memory transport with a virtual clock, for native tests of everything above WASI.
//! A handler answers each request; each answer arrives after its own simulated latency.

use super::{Request, Response, Transport, TransportError};
use std::cell::Cell;
use std::rc::Rc;

pub struct Reply {
    pub latency_ms: u64,
    pub result: Result<Response, TransportError>,
}

impl Reply {
    pub fn json(status: u16, body: &serde_json::Value) -> Reply {
        Reply {
            latency_ms: 10,
            result: Ok(Response {
                status,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.to_string().into_bytes(),
            }),
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply { latency_ms: 10, result: Ok(Response { status, headers: vec![], body: vec![] }) }
    }

    pub fn error(error: TransportError) -> Reply {
        Reply { latency_ms: 10, result: Err(error) }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        if let Ok(response) = &mut self.result {
            response.headers.push((name.to_string(), value.to_string()));
        }
        self
    }

    pub fn after(mut self, latency_ms: u64) -> Reply {
        self.latency_ms = latency_ms;
        self
    }
}

pub struct FakeTransport<H: FnMut(&Request) -> Reply> {
    handler: H,
    /// Virtual milliseconds; shared so a handler can read the time it answers at.
    now_ms: Rc<Cell<u64>>,
    pending: Vec<(u64, u64, Result<Response, TransportError>)>,
    /// Every request as started (after signing), in order.
    pub sent: Vec<Request>,
    /// The most requests that were ever in flight at once.
    pub peak_in_flight: usize,
    seed: u64,
}

impl<H: FnMut(&Request) -> Reply> FakeTransport<H> {
    pub fn new(handler: H) -> Self {
        Self::with_clock(Rc::new(Cell::new(1_000)), handler)
    }

    /// With a clock the handler can read too.
    pub fn with_clock(clock: Rc<Cell<u64>>, handler: H) -> Self {
        FakeTransport { handler, now_ms: clock, pending: Vec::new(), sent: Vec::new(), peak_in_flight: 0, seed: 42 }
    }
}

impl<H: FnMut(&Request) -> Reply> Transport for FakeTransport<H> {
    fn start(&mut self, id: u64, request: &Request) -> Result<(), TransportError> {
        self.sent.push(request.clone());
        let reply = (self.handler)(request);
        self.pending.push((id, self.now_ms.get() + reply.latency_ms, reply.result));
        self.peak_in_flight = self.peak_in_flight.max(self.pending.len());
        Ok(())
    }

    fn wait(&mut self, wake_at_ms: Option<u64>) -> Vec<(u64, Result<Response, TransportError>)> {
        let next_done = self.pending.iter().map(|(_, at, _)| *at).min();
        let until = match (next_done, wake_at_ms) {
            (Some(done), Some(wake)) => done.min(wake),
            (Some(done), None) => done,
            (None, Some(wake)) => wake,
            (None, None) => return Vec::new(),
        };
        self.now_ms.set(self.now_ms.get().max(until));
        let now = self.now_ms.get();
        let (done, rest): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.pending).into_iter().partition(|(_, at, _)| *at <= now);
        self.pending = rest;
        done.into_iter().map(|(id, _, result)| (id, result)).collect()
    }

    fn now_ms(&self) -> u64 {
        self.now_ms.get()
    }

    fn unix_seconds(&self) -> u64 {
        1_700_000_000 + self.now_ms.get() / 1000
    }

    fn random_u64(&mut self) -> u64 {
        // xorshift: deterministic, good enough for jitter and nonces in tests.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed
    }
}
