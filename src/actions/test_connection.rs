//! Reaches every configured service. (Full authentication checks arrive with the connectors.)

use super::Context;
use crate::error::Error;
use crate::http::{Method, Origin, Request};
use crate::types::{ServiceCheck, TestConnectionOutput};
use std::rc::Rc;

pub fn run(ctx: &mut Context) -> Result<TestConnectionOutput, Error> {
    let mut targets = Vec::new();
    if let Some(armor) = &ctx.connection.armor {
        let url = armor.base_url.clone().unwrap_or_else(|| "https://api.armor.com".to_string());
        targets.push(("ARMOR", "connection.armor.base_url", url));
    }
    if let Some(cw) = &ctx.connection.connectwise {
        targets.push(("ConnectWise", "connection.connectwise.site", cw.site.clone()));
    }
    if targets.is_empty() {
        return Err(Error::new(
            "The connection configures no service.",
            "Add an `armor` and/or a `connectwise` section to the connection.",
            "",
        ));
    }
    let mut services = Vec::new();
    for (service, field, url) in targets {
        let origin = Origin::parse(&url)
            .map_err(|problem| Error::invalid(field, problem, "Give an https:// URL or a host name."))?;
        let response = ctx
            .http
            .send(Request::new(Method::Get, &Rc::new(origin), "/"))
            .map_err(|e| Error::unreachable(service, &e))?;
        services.push(ServiceCheck { service: service.to_string(), detail: format!("reachable (HTTP {})", response.status) });
    }
    Ok(TestConnectionOutput { success: true, services })
}
