//! Field templates: text with `{name}` placeholders filled from a ticket — its fields, then its
//! facts — so an incident's fields are configured by name, not by code. `{name?}` may be missing
//! (it renders empty); `{{` and `}}` are braces.

use crate::types::Ticket;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    Text(String),
    Value { name: String, optional: bool },
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        name.push(c);
                    }
                    let (name, optional) = match name.trim().strip_suffix('?') {
                        Some(name) => (name.trim().to_string(), true),
                        None => (name.trim().to_string(), false),
                    };
                    if !closed || name.is_empty() || name.contains('{') {
                        return Err(format!(
                            "{text:?} has an unfinished or empty placeholder (write {{{{ for a brace)"
                        ));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Value { name: name.to_ascii_lowercase().replace('-', "_"), optional });
                }
                '}' => return Err(format!("{text:?} has a lone }} (write }}}} for a brace)")),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// The text for `ticket`, or the placeholder it has no value for.
    pub fn render(&self, ticket: &Ticket) -> Result<String, String> {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                Part::Text(literal) => text.push_str(literal),
                Part::Value { name, optional } => match value(ticket, name) {
                    Some(value) => text.push_str(value.trim()),
                    None if *optional => {}
                    None => return Err(name.clone()),
                },
            }
        }
        Ok(text)
    }
}

/// A ticket field or fact by name; `None` when the ticket has neither (an empty one is `Some("")`).
fn value<'a>(ticket: &'a Ticket, name: &str) -> Option<&'a str> {
    let field = |v: &'a Option<String>| Some(v.as_deref().unwrap_or_default());
    match name {
        "system" => Some(&ticket.system),
        "key" => Some(&ticket.key),
        "account_id" => Some(&ticket.account_id),
        "summary" => Some(&ticket.summary),
        "status" => Some(&ticket.status),
        "description" => field(&ticket.description),
        "request_type" => field(&ticket.request_type),
        "priority" => field(&ticket.priority),
        "severity" => field(&ticket.severity),
        "reporter" => field(&ticket.reporter),
        "assignee" => field(&ticket.assignee),
        "created" => field(&ticket.created),
        "updated" => field(&ticket.updated),
        "url" => field(&ticket.url),
        fact => ticket.facts.iter().flatten().find(|f| f.name.eq_ignore_ascii_case(fact)).map(|f| f.value.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::CustomField;

    fn ticket() -> Ticket {
        let mut ticket = crate::actions::hostile_tests::ticket("<m1@x>".into(), "Invoice".into(), 0);
        ticket.facts = Some(vec![
            CustomField { name: "from".into(), value: "Ann <ann@x>".into() },
            CustomField { name: "cc".into(), value: String::new() },
        ]);
        ticket
    }

    #[test]
    fn fills_fields_and_facts_and_keeps_braces() {
        let template = Template::parse("ABUSE - {summary} from {From} ({cc}) {{raw}} {missing?}.").unwrap();
        assert_eq!(template.render(&ticket()).unwrap(), "ABUSE - Invoice from Ann <ann@x> () {raw} .");
        assert_eq!(Template::parse("{Account-Id}").unwrap().render(&ticket()).unwrap(), ticket().account_id);
    }

    #[test]
    fn a_missing_value_or_a_broken_template_is_named() {
        assert_eq!(Template::parse("{sender}").unwrap().render(&ticket()), Err("sender".into()));
        assert!(Template::parse("ABUSE - {summary").is_err());
        assert!(Template::parse("{}").is_err());
        assert!(Template::parse("a } b").is_err());
    }
}
