//! Authenticates to every configured service and reads one small thing from each.

use super::Context;
use crate::armor::{Armor, ArmorApi};
use crate::connectwise::ConnectWise;
use crate::error::Error;
use crate::types::{ServiceCheck, TestConnectionOutput};

pub fn run(ctx: &mut Context) -> Result<TestConnectionOutput, Error> {
    const ACTION: &str = "test_connection";
    if ctx.connection.armor.is_none() && ctx.connection.connectwise.is_none() {
        return Err(Error::new(
            "The connection configures no service.",
            "Add an `armor` and/or a `connectwise` section to the connection.",
            "",
        ));
    }
    let mut services = Vec::new();
    if ctx.connection.armor.is_some() {
        let mut armor = Armor::from_connection(ctx.connection, ACTION)?;
        let account = armor.api.account_id;
        let request = armor.api.get(ArmorApi::path(&["accounts", &account.to_string()]), account);
        let outcome = ctx.http.send_with(&mut armor.auth, request)?;
        armor.api.decode::<serde_json::Value>("reading the connection's own account", outcome)?;
        let mode = if armor.api.api_key { "API key" } else { "username and password" };
        services.push(ServiceCheck { service: "armor".into(), detail: format!("authenticated with {mode}; account {account} readable") });
    }
    if ctx.connection.connectwise.is_some() {
        let cw = ConnectWise::from_connection(ctx.connection, ACTION)?;
        let outcome = ctx.http.send(cw.get("/company/companies?pageSize=1&fields=id"));
        cw.decode::<serde_json::Value>("reading one company", outcome)?;
        services.push(ServiceCheck { service: "connectwise".into(), detail: "authenticated; companies readable".into() });
    }
    Ok(TestConnectionOutput { success: true, services })
}
