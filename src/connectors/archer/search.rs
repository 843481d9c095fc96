//! Archer's search, the only way to find content by a field's value: the SOAP `ExecuteSearch` of
//! the web services API, with a SearchReport in and records out, both XML escaped inside the SOAP
//! envelope. Several keys go in one search, as text conditions joined by `OperatorLogic` OR.

use super::auth::SESSION_ELEMENT;
use crate::html::escape;
use std::collections::HashMap;

pub const PATH: &str = "/ws/search.asmx";
pub const ACTION: &str = "\"http://archer-tech.com/webservices/ExecuteSearch\"";
/// Records per page of a search.
pub const PAGE_SIZE: usize = 100;
/// Keys one search asks for (OperatorLogic grows with each).
pub const KEYS_PER_SEARCH: usize = 50;

/// What a search looks for: `values` of the text field `field` in application `module`.
pub struct Query<'a> {
    pub module: u64,
    pub field: u64,
    pub values: &'a [String],
    /// Fields each record comes back with.
    pub display: &'a [u64],
}

/// The SOAP body of page `page` (1-based); the session token is added when it is signed.
pub fn envelope(query: &Query, page: usize) -> String {
    let mut conditions = String::new();
    for value in query.values {
        conditions.push_str(&format!(
            "<TextFilterCondition><Operator>Equals</Operator><Field>{}</Field><Value>{}</Value></TextFilterCondition>",
            query.field,
            escape(value)
        ));
    }
    let logic = if query.values.len() > 1 {
        let terms: Vec<String> = (1..=query.values.len()).map(|n| n.to_string()).collect();
        format!("<OperatorLogic>{}</OperatorLogic>", terms.join(" OR "))
    } else {
        String::new()
    };
    let display: String = query.display.iter().map(|id| format!("<DisplayField>{id}</DisplayField>")).collect();
    let report = format!(
        "<SearchReport><PageSize>{PAGE_SIZE}</PageSize><DisplayFields>{display}</DisplayFields><Criteria>\
         <ModuleCriteria><Module>{}</Module></ModuleCriteria><Filter>{logic}<Conditions>{conditions}</Conditions>\
         </Filter></Criteria></SearchReport>",
        query.module
    );
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\
         <soap:Body><ExecuteSearch xmlns=\"http://archer-tech.com/webservices/\">{SESSION_ELEMENT}\
         <searchOptions>{}</searchOptions><pageNumber>{page}</pageNumber></ExecuteSearch></soap:Body></soap:Envelope>",
        escape(&report)
    )
}

/// One record: its content id and its fields' values by field id.
#[derive(Debug, Default, PartialEq)]
pub struct Record {
    pub content_id: u64,
    pub fields: HashMap<u64, FieldValue>,
}

/// A field as a search shows it: its text, and for a values list the ids of the values chosen.
#[derive(Debug, Default, PartialEq)]
pub struct FieldValue {
    pub text: String,
    pub value_ids: Vec<u64>,
}

/// A page of results: the records, and how many there are in all.
#[derive(Debug, Default, PartialEq)]
pub struct Results {
    pub total: usize,
    pub records: Vec<Record>,
}

/// Reads a search's SOAP answer; a fault or a malformed answer is an error with what it said.
pub fn results(body: &str) -> Result<Results, String> {
    let envelope = roxmltree::Document::parse(body).map_err(|e| format!("the answer is not XML ({e})"))?;
    if let Some(fault) = envelope.descendants().find(|n| n.has_tag_name("faultstring")) {
        return Err(format!("SOAP fault: {}", fault.text().unwrap_or_default().trim()));
    }
    let inner = envelope
        .descendants()
        .find(|n| n.has_tag_name("ExecuteSearchResult"))
        .ok_or("the answer has no ExecuteSearchResult")?
        .text()
        .unwrap_or_default()
        .trim()
        .to_string();
    if inner.is_empty() {
        return Ok(Results::default());
    }
    // The declaration claims utf-16 for text that arrived as utf-8: leave it out.
    let inner = match inner.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or("", |(_, records)| records).to_string(),
        None => inner,
    };
    let document = roxmltree::Document::parse(&inner).map_err(|e| format!("the records are not XML ({e})"))?;
    let root = document.root_element();
    let total = root.attribute("count").and_then(|c| c.trim().parse().ok()).unwrap_or(0);
    let mut records = Vec::new();
    for record in root.descendants().filter(|n| n.has_tag_name("Record")) {
        let Some(content_id) = record.attribute("contentId").and_then(|c| c.trim().parse().ok()) else {
            return Err("a record has no contentId".into());
        };
        let mut fields = HashMap::new();
        for field in record.children().filter(|n| n.has_tag_name("Field")) {
            let Some(id) = field.attribute("id").and_then(|i| i.trim().parse().ok()) else { continue };
            let list_values: Vec<roxmltree::Node> =
                field.descendants().filter(|n| n.has_tag_name("ListValue")).collect();
            let text = if list_values.is_empty() {
                field.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect::<String>()
            } else {
                let names: Vec<String> = list_values
                    .iter()
                    .map(|v| v.attribute("displayName").or(v.text()).unwrap_or_default().trim().to_string())
                    .collect();
                names.join(";")
            };
            let value_ids = list_values.iter().filter_map(|v| v.attribute("id")?.trim().parse().ok()).collect();
            fields.insert(id, FieldValue { text: text.trim().to_string(), value_ids });
        }
        records.push(Record { content_id, fields });
    }
    Ok(Results { total: total.max(records.len()), records })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_for_several_keys_is_one_report_with_or_logic() {
        let values = vec!["graph_mail:<a&b@x>".to_string(), "graph_mail:<c@x>".to_string()];
        let body = envelope(&Query { module: 70, field: 15003, values: &values, display: &[15003, 15010] }, 2);
        assert!(body.contains(SESSION_ELEMENT) && body.contains("<pageNumber>2</pageNumber>"));
        let report = roxmltree::Document::parse(&body).unwrap();
        let options = report.descendants().find(|n| n.has_tag_name("searchOptions")).unwrap().text().unwrap();
        let report = roxmltree::Document::parse(options).unwrap();
        let text = |tag: &str| -> Vec<String> {
            report
                .descendants()
                .filter(|n| n.has_tag_name(tag))
                .map(|n| n.text().unwrap_or_default().to_string())
                .collect()
        };
        assert_eq!(text("Value"), values, "escaped once, read back whole");
        assert_eq!(text("OperatorLogic"), ["1 OR 2"]);
        assert_eq!(text("Module"), ["70"]);
        assert_eq!(text("DisplayField"), ["15003", "15010"]);
    }

    #[test]
    fn records_come_out_of_the_escaped_answer() {
        let records = "<?xml version=\"1.0\" encoding=\"utf-16\"?><Records count=\"3\"><Metadata/>\
            <Record contentId=\"201\" levelId=\"9\"><Field id=\"15003\" type=\"1\">graph_mail:&lt;a@x&gt;</Field>\
            <Field id=\"15010\" type=\"4\"><ListValues><ListValue id=\"88\" displayName=\"New\">New</ListValue></ListValues></Field></Record>\
            <Record contentId=\"202\"><Field id=\"15003\" type=\"1\">graph_mail:&lt;c@x&gt;</Field></Record></Records>";
        let body = format!(
            "<?xml version=\"1.0\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>\
             <ExecuteSearchResponse xmlns=\"http://archer-tech.com/webservices/\"><ExecuteSearchResult>{}</ExecuteSearchResult>\
             </ExecuteSearchResponse></soap:Body></soap:Envelope>",
            escape(records)
        );
        let results = results(&body).unwrap();
        assert_eq!((results.total, results.records.len()), (3, 2));
        let first = &results.records[0];
        assert_eq!((first.content_id, first.fields[&15003].text.as_str()), (201, "graph_mail:<a@x>"));
        assert_eq!(first.fields[&15010], FieldValue { text: "New".into(), value_ids: vec![88] });
    }

    #[test]
    fn a_fault_or_garbage_is_an_error() {
        let fault = "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><soap:Fault>\
            <faultcode>soap:Server</faultcode><faultstring>Server was unable to process request. ---&gt; Invalid session token</faultstring>\
            </soap:Fault></soap:Body></soap:Envelope>";
        assert!(results(fault).unwrap_err().contains("Invalid session token"));
        assert!(results("<html>error</html>").is_err());
        assert!(results("not xml").is_err());
    }
}
