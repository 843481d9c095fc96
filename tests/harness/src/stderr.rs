//! The component's stderr: `PROGRESS {json}` lines go to a progress display, the rest is the log.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// The log kept per call; a runaway writer is cut off, never trapped.
const MAX_LOG_BYTES: usize = 4 << 20;

/// Receives progress reports (`step`, `done`, `total`).
pub trait Progress: Send + Sync {
    fn report(&self, step: &str, done: u64, total: u64);
}

#[derive(Clone)]
pub struct LogSink {
    state: Arc<Mutex<SinkState>>,
}

struct SinkState {
    partial: Vec<u8>,
    log: String,
    truncated: bool,
    progress: Option<Arc<dyn Progress>>,
}

impl LogSink {
    pub fn new(progress: Option<Arc<dyn Progress>>) -> LogSink {
        LogSink {
            state: Arc::new(Mutex::new(SinkState {
                partial: Vec::new(),
                log: String::new(),
                truncated: false,
                progress,
            })),
        }
    }

    pub fn log(&self) -> String {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let rest = std::mem::take(&mut state.partial);
        if !rest.is_empty() {
            state.line(&rest);
        }
        state.log.clone()
    }
}

impl SinkState {
    fn write(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            self.line(&line[..line.len() - 1]);
        }
    }

    fn line(&mut self, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        if let Some(json) = line.strip_prefix("PROGRESS ") {
            if let (Some(progress), Ok(report)) = (&self.progress, serde_json::from_str::<serde_json::Value>(json)) {
                let step = report["step"].as_str().unwrap_or("working");
                progress.report(step, report["done"].as_u64().unwrap_or(0), report["total"].as_u64().unwrap_or(0));
            }
            return;
        }
        if self.log.len() + line.len() > MAX_LOG_BYTES {
            if !self.truncated {
                self.log.push_str("[log truncated]\n");
                self.truncated = true;
            }
            return;
        }
        self.log.push_str(&line);
        self.log.push('\n');
    }
}

impl IsTerminal for LogSink {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogSink {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for LogSink {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).write(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
