//! Archer's SOAP search (`POST /ws/search.asmx`, `ExecuteSearch`), the one way to find records by a
//! field value: a SOAP 1.1 envelope with `sessionToken`, `searchOptions` (an escaped SearchReport)
//! and `pageNumber`, answered with an escaped `Records` document.
//!
//! SearchReport: `PageSize` (default 50, 1..=1000), `DisplayFields/DisplayField` (field ids),
//! `Criteria/ModuleCriteria/Module` (application id), `Criteria/Filter/Conditions` with
//! `TextFilterCondition`s (`Operator`, `Field`, `Value`) on text, IP address or tracking id fields.
//! `OperatorLogic` is Archer's real way of combining conditions ("1 OR (2 AND 3)"); the simulator
//! supports a plain list "1 OR 2 OR ..." or "1 AND 2 AND ..." (condition numbers 1-based), anything
//! else is a SOAP fault. Without it the conditions are ANDed.
//!
//! Operators: `Equals` / `DoesNotEqual` compare the whole stored text with the value, both trimmed,
//! case-insensitively; `Contains` / `DoesNotContain` look for the trimmed value, case-insensitively.
//! Records come in content id order; `count` is the total over all pages; dates are shown as stored
//! (ISO), values lists and users by name.
//!
//! Faults (HTTP 500, `soap:Server`, "Server was unable to process request. ---> ..."): an unknown or
//! expired session ("Invalid session token"), malformed XML in the envelope or the report, unknown
//! module or field ids, an unsupported condition or operator logic. A wrong `SOAPAction` is a
//! `soap:Client` fault, as ASP.NET answers it.

use crate::archer::ArcherSim;
use crate::data::{ArcherContent, ArcherField};
use crate::server::{Reply, Req};
use serde_json::Value;
use std::fmt::Write;

const NS: &str = "http://archer-tech.com/webservices/";
const ACTION: &str = "http://archer-tech.com/webservices/ExecuteSearch";
const ENVELOPE_OPEN: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><soap:Body>";
const ENVELOPE_CLOSE: &str = "</soap:Body></soap:Envelope>";

pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn soap_fault(code: &str, message: &str) -> Reply {
    let body = format!(
        "{ENVELOPE_OPEN}<soap:Fault><faultcode>{code}</faultcode><faultstring>{}</faultstring><detail /></soap:Fault>{ENVELOPE_CLOSE}",
        xml_escape(message)
    );
    Reply::text(500, "text/xml; charset=utf-8", &body)
}

fn server_fault(message: &str) -> Reply {
    soap_fault("soap:Server", &format!("Server was unable to process request. ---> {message}"))
}

struct Condition {
    operator: String,
    field: ArcherField,
    value: String,
}

enum Logic {
    All,
    Any,
}

struct Report {
    page_size: usize,
    display: Vec<ArcherField>,
    level_id: i64,
    module_id: i64,
    conditions: Vec<Condition>,
    /// None: all conditions ANDed; Some: the listed condition indexes (0-based) combined.
    logic: Option<(Logic, Vec<usize>)>,
}

fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children().find(|c| c.is_element() && c.tag_name().name() == name)
}

fn text_of(n: Option<roxmltree::Node>) -> String {
    n.map(|n| n.children().filter_map(|c| c.text()).collect::<String>()).unwrap_or_default()
}

fn parse_logic(s: &str, n: usize) -> Result<(Logic, Vec<usize>), String> {
    let unsupported =
        || format!("OperatorLogic '{s}' is not supported by the simulator (use '1 OR 2 OR ...' or '1 AND 2 AND ...')");
    let words: Vec<&str> = s.split_whitespace().collect();
    let mut idx = Vec::new();
    let mut op: Option<String> = None;
    for (i, w) in words.iter().enumerate() {
        if i % 2 == 0 {
            let k: usize = w.parse().map_err(|_| unsupported())?;
            if k == 0 || k > n {
                return Err(format!("OperatorLogic refers to condition {k}, but there are {n}"));
            }
            idx.push(k - 1);
        } else {
            let w = w.to_ascii_uppercase();
            if w != "OR" && w != "AND" || op.as_ref().is_some_and(|o| *o != w) {
                return Err(unsupported());
            }
            op = Some(w);
        }
    }
    if idx.is_empty() || words.len().is_multiple_of(2) {
        return Err(unsupported());
    }
    Ok((if op.as_deref() == Some("OR") { Logic::Any } else { Logic::All }, idx))
}

fn parse_report(sim: &ArcherSim, xml: &str) -> Result<Report, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("The search options are not valid XML: {e}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "SearchReport" {
        return Err("The search options must be a SearchReport".into());
    }
    let page_size = match text_of(child(root, "PageSize")).trim() {
        "" => 50,
        t => {
            t.parse::<usize>().ok().filter(|n| (1..=1000).contains(n)).ok_or(format!("PageSize '{t}' is not valid"))?
        }
    };
    let criteria = child(root, "Criteria").ok_or("The SearchReport has no Criteria")?;
    let module = text_of(child(criteria, "ModuleCriteria").and_then(|m| child(m, "Module")));
    let module_id: i64 = module.trim().parse().map_err(|_| format!("The module '{}' is not valid", module.trim()))?;
    let d = &sim.data;
    if !d.applications.iter().any(|a| a.id == module_id) {
        return Err(format!("The module id {module_id} is not valid"));
    }
    let level_id = d.level_of(module_id).map(|l| l.id).ok_or("The module has no level")?;
    let field = |t: &str| -> Result<ArcherField, String> {
        let id: i64 = t.trim().parse().map_err(|_| format!("The field id '{}' is not valid", t.trim()))?;
        d.fields
            .iter()
            .find(|f| f.id == id && f.level_id == level_id)
            .cloned()
            .ok_or(format!("The field id {id} is not valid for module {module_id}"))
    };
    let mut display = Vec::new();
    if let Some(df) = child(root, "DisplayFields") {
        for n in df.children().filter(|c| c.is_element() && c.tag_name().name() == "DisplayField") {
            display.push(field(&text_of(Some(n)))?);
        }
    }
    let mut conditions = Vec::new();
    let mut logic = None;
    if let Some(filter) = child(criteria, "Filter") {
        if let Some(conds) = child(filter, "Conditions") {
            for c in conds.children().filter(|c| c.is_element()) {
                if c.tag_name().name() != "TextFilterCondition" {
                    return Err(format!("{} is not supported by the simulator", c.tag_name().name()));
                }
                let f = field(&text_of(child(c, "Field")))?;
                if ![1, 6, 19].contains(&f.field_type) {
                    return Err(format!("The field '{}' cannot be used in a TextFilterCondition", f.name));
                }
                let operator = text_of(child(c, "Operator")).trim().to_string();
                if !["equals", "doesnotequal", "contains", "doesnotcontain"]
                    .contains(&operator.to_ascii_lowercase().as_str())
                {
                    return Err(format!("The operator '{operator}' is not valid"));
                }
                conditions.push(Condition { operator, field: f, value: text_of(child(c, "Value")) });
            }
        }
        let ol = text_of(child(filter, "OperatorLogic"));
        if !ol.trim().is_empty() {
            logic = Some(parse_logic(ol.trim(), conditions.len())?);
        }
    }
    Ok(Report { page_size, display, level_id, module_id, conditions, logic })
}

/// The text a condition compares: text and IP fields as stored, the tracking id as the content id.
fn text_value(c: &ArcherContent, f: &ArcherField) -> String {
    if f.field_type == 6 {
        return c.id.to_string();
    }
    c.fields.get(&f.id).and_then(Value::as_str).unwrap_or("").to_string()
}

fn holds(cond: &Condition, c: &ArcherContent) -> bool {
    let stored = text_value(c, &cond.field).trim().to_lowercase();
    let wanted = cond.value.trim().to_lowercase();
    match cond.operator.to_ascii_lowercase().as_str() {
        "equals" => stored == wanted,
        "doesnotequal" => stored != wanted,
        "contains" => stored.contains(&wanted),
        _ => !stored.contains(&wanted),
    }
}

fn field_xml(sim: &ArcherSim, c: &ArcherContent, f: &ArcherField) -> String {
    let open = format!("<Field id=\"{}\" type=\"{}\"", f.id, f.field_type);
    if f.field_type == 6 {
        return format!("{open}>{}</Field>", c.id);
    }
    let Some(v) = c.fields.get(&f.id) else { return format!("{open} />") };
    let inner = match f.field_type {
        4 => {
            let mut s = String::from("<ListValues>");
            for id in v["ValuesListIds"].as_array().into_iter().flatten().filter_map(Value::as_i64) {
                let name = sim.data.values.iter().find(|x| x.id == id).map_or("", |x| x.name.as_str());
                let _ = write!(s, "<ListValue id=\"{id}\" displayName=\"{0}\">{0}</ListValue>", xml_escape(name));
            }
            s + "</ListValues>"
        }
        8 => {
            let mut s = String::from("<Users>");
            for id in v["UserList"].as_array().into_iter().flatten().filter_map(|u| u["ID"].as_i64()) {
                if let Some(u) = sim.data.users.iter().find(|x| x.id == id) {
                    let _ = write!(
                        s,
                        "<User id=\"{id}\" firstName=\"{}\" lastName=\"{}\">{}</User>",
                        xml_escape(&u.first_name),
                        xml_escape(&u.last_name),
                        xml_escape(&u.display_name)
                    );
                }
            }
            s + "</Users>"
        }
        9 => {
            let mut s = String::new();
            for id in v.as_array().into_iter().flatten().filter_map(|r| r["ContentID"].as_i64()) {
                let _ = write!(s, "<Reference id=\"{id}\">{id}</Reference>");
            }
            s
        }
        7 => {
            let mut s = String::new();
            for l in v.as_array().into_iter().flatten() {
                let _ = write!(
                    s,
                    "<Link name=\"{}\" url=\"{}\" />",
                    xml_escape(l["Name"].as_str().unwrap_or("")),
                    xml_escape(l["URL"].as_str().unwrap_or(""))
                );
            }
            s
        }
        _ => match v {
            Value::String(s) => xml_escape(s),
            other => xml_escape(&other.to_string()),
        },
    };
    format!("{open}>{inner}</Field>")
}

/// `POST /ws/search.asmx`.
pub(crate) fn execute(sim: &ArcherSim, req: &Req) -> Reply {
    let action = req.header("soapaction").unwrap_or("").trim().trim_matches('"').to_string();
    if action != ACTION {
        return soap_fault(
            "soap:Client",
            &format!("Server did not recognize the value of HTTP Header SOAPAction: {action}."),
        );
    }
    let body = String::from_utf8_lossy(&req.body);
    let doc = match roxmltree::Document::parse(&body) {
        Ok(d) => d,
        Err(e) => return server_fault(&format!("There is an error in XML document: {e}")),
    };
    let Some(call) = doc.descendants().find(|n| n.is_element() && n.tag_name().name() == "ExecuteSearch") else {
        return server_fault("The request has no ExecuteSearch element");
    };
    if call.tag_name().namespace() != Some(NS) {
        return server_fault(&format!("ExecuteSearch must be in the namespace {NS}"));
    }
    let token = text_of(child(call, "sessionToken"));
    let page = match text_of(child(call, "pageNumber")).trim() {
        "" => 1,
        t => match t.parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => return server_fault(&format!("The page number '{t}' is not valid")),
        },
    };
    if !sim.session_ok(&token) {
        return server_fault("Invalid session token");
    }
    let report = match parse_report(sim, &text_of(child(call, "searchOptions"))) {
        Ok(r) => r,
        Err(e) => return server_fault(&e),
    };
    let mut st = sim.st();
    st.searches += 1;
    let hits: Vec<&ArcherContent> = st
        .contents
        .values()
        .filter(|c| c.level_id == report.level_id)
        .filter(|c| match &report.logic {
            None => report.conditions.iter().all(|k| holds(k, c)),
            Some((Logic::All, idx)) => idx.iter().all(|i| holds(&report.conditions[*i], c)),
            Some((Logic::Any, idx)) => idx.iter().any(|i| holds(&report.conditions[*i], c)),
        })
        .collect();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-16\"?><Records count=\"{}\"><Metadata><FieldDefinitions>",
        hits.len()
    );
    for f in &report.display {
        let _ = write!(
            xml,
            "<FieldDefinition id=\"{}\" name=\"{}\" alias=\"{}\" />",
            f.id,
            xml_escape(&f.name),
            xml_escape(&f.alias)
        );
    }
    let _ = write!(
        xml,
        "</FieldDefinitions></Metadata><LevelCounts><LevelCount id=\"{}\" count=\"{}\" /></LevelCounts>",
        report.level_id,
        hits.len()
    );
    for c in hits.iter().skip((page - 1).saturating_mul(report.page_size)).take(report.page_size) {
        let _ = write!(
            xml,
            "<Record contentId=\"{}\" levelId=\"{}\" moduleId=\"{}\" parentId=\"0\">",
            c.id, c.level_id, report.module_id
        );
        for f in &report.display {
            xml.push_str(&field_xml(sim, c, f));
        }
        xml.push_str("</Record>");
    }
    xml.push_str("</Records>");
    drop(st);
    let body = format!(
        "{ENVELOPE_OPEN}<ExecuteSearchResponse xmlns=\"{NS}\"><ExecuteSearchResult>{}</ExecuteSearchResult></ExecuteSearchResponse>{ENVELOPE_CLOSE}",
        xml_escape(&xml)
    );
    Reply::text(200, "text/xml; charset=utf-8", &body)
}
