//! The WASI side of the HTTP service (`wasi:http/incoming-handler`): reads the request (its body
//! bounded by `serve::MAX_BODY`), hands it to the pure `serve::handle`, and writes the answer.
//! Actions called through it run on the one outgoing transport (`wasi.rs`).

use crate::serve::{self, Config, MAX_BODY, Response};
use wasi::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasi::io::streams::StreamError;

/// The most one blocking read asks for, and the most one write carries (WASI's write budget).
const READ_CHUNK: u64 = 64 * 1024;
const WRITE_CHUNK: usize = 4096;

enum BodyProblem {
    TooLarge,
    Unreadable(String),
}

pub fn handle(request: IncomingRequest, out: ResponseOutparam) {
    let response = match read(&request) {
        Ok(plain) => serve::handle(&plain, &Config::from_env(), None),
        Err(BodyProblem::TooLarge) => serve::too_large(),
        Err(BodyProblem::Unreadable(detail)) => Response {
            status: 400,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(&serve::protocol::plain_error(format!("the body could not be read: {detail}")))
                .unwrap_or_default(),
        },
    };
    drop(request);
    send(out, response);
}

fn read(request: &IncomingRequest) -> Result<serve::Request, BodyProblem> {
    let method = match request.method() {
        Method::Get => "GET".to_string(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(other) => other,
    };
    let headers: Vec<(String, String)> = request
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let declared = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY as u64) {
        return Err(BodyProblem::TooLarge);
    }
    let path = request.path_with_query().unwrap_or_else(|| "/".into());
    let body = read_body(request)?;
    Ok(serve::Request { method, path, headers, body })
}

fn read_body(request: &IncomingRequest) -> Result<Vec<u8>, BodyProblem> {
    let body = request.consume().map_err(|()| BodyProblem::Unreadable("the body was already taken".into()))?;
    let stream = body.stream().map_err(|()| BodyProblem::Unreadable("the body has no stream".into()))?;
    let mut bytes = Vec::new();
    let result = loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > MAX_BODY {
                    break Err(BodyProblem::TooLarge);
                }
            }
            Err(StreamError::Closed) => break Ok(bytes),
            Err(StreamError::LastOperationFailed(e)) => break Err(BodyProblem::Unreadable(e.to_debug_string())),
        }
    };
    // The stream before its body (WASI's order).
    drop(stream);
    drop(IncomingBody::finish(body));
    result
}

fn send(out: ResponseOutparam, response: Response) {
    let entries: Vec<(String, Vec<u8>)> =
        response.headers.into_iter().map(|(name, value)| (name, value.into_bytes())).collect();
    let headers = Fields::from_list(&entries).unwrap_or_else(|_| Fields::new());
    let outgoing = OutgoingResponse::new(headers);
    let _ = outgoing.set_status_code(response.status);
    let Ok(body) = outgoing.body() else { return };
    ResponseOutparam::set(out, Ok(outgoing));
    if let Ok(stream) = body.write() {
        for chunk in response.body.chunks(WRITE_CHUNK) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
        drop(stream);
    }
    let _ = OutgoingBody::finish(body, None);
}
