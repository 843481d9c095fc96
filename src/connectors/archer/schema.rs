//! Where incidents go, by name: the application, its level and the fields `input.archer` names,
//! with their values lists and the users a users field may name — looked up once per run, since
//! every id is the instance's own.

use super::models::{FieldDefinition, Named, User, Wrapped};
use super::template::Template;
use super::values::{self, Field};
use super::{Archer, SERVICE};
use crate::actions::Context;
use crate::desk::given;
use crate::error::Error;
use crate::types::ArcherIncident;

const DEFAULT_APPLICATION: &str = "Security Incidents";
const DEFAULT_KEY_FIELD: &str = "Message ID";
const DEFAULT_TITLE_FIELD: &str = "Incident Title";
const DEFAULT_TITLE: &str = "ABUSE - {summary}";
const DEFAULT_DETAILS_FIELD: &str = "Description";
/// The summary the seed script wrote, for any source (a mailbox has every fact it names).
const DEFAULT_DETAILS: &str = "From: {from?}\nSent: {sent?}\nTo: {to?}\nCC: {cc?}\nSubject: {summary}\n\n{description}";
const DEFAULT_STATUS_FIELD: &str = "Incident Status";
const DEFAULT_PRIORITY_FIELD: &str = "Priority";

/// Everything a create needs, resolved.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    pub application: String,
    pub module_id: u64,
    pub level_id: u64,
    pub key: Field,
    pub title: (Field, Template),
    pub details: Option<(Field, Template)>,
    pub status: Option<Field>,
    pub priority: Option<Field>,
    pub fields: Vec<(Field, Template)>,
}

fn objects<T>(list: Vec<Wrapped<T>>) -> Vec<T> {
    list.into_iter().filter(|w| w.is_successful).filter_map(|w| w.requested_object).collect()
}

pub fn applications(ctx: &mut Context, archer: &mut Archer) -> Result<Vec<Named>, Error> {
    Ok(objects(archer.get::<Vec<Wrapped<Named>>>(ctx, "/core/system/application", "listing the applications")?))
}

fn names(list: &[Named]) -> String {
    list.iter().filter_map(|n| n.name.as_deref()).collect::<Vec<_>>().join(", ")
}

fn choices(named: Vec<Named>) -> Vec<(u64, Vec<String>)> {
    named.into_iter().map(|n| (n.id, n.name.into_iter().chain(n.alias).collect())).collect()
}

/// The field option names, or its default; `None` when the option is "" (no such field).
fn option<'a>(value: &'a Option<String>, default: &'a str) -> Option<&'a str> {
    match value {
        None => Some(default),
        Some(v) => Some(v.trim()).filter(|v| !v.is_empty()),
    }
}

fn template(field: &str, text: &str) -> Result<Template, Error> {
    Template::parse(text).map_err(|problem| {
        Error::invalid(field, problem, "Name ticket fields or facts in braces, e.g. \"ABUSE - {summary}\".")
    })
}

pub fn resolve(
    ctx: &mut Context,
    archer: &mut Archer,
    options: Option<&ArcherIncident>,
    with_priorities: bool,
) -> Result<Schema, Error> {
    let none = ArcherIncident {
        application: None,
        level: None,
        key_field: None,
        title_field: None,
        title: None,
        details_field: None,
        details: None,
        status_field: None,
        priority_field: None,
        fields: None,
    };
    let options = options.unwrap_or(&none);
    let application = given(&options.application).unwrap_or(DEFAULT_APPLICATION).to_string();
    let all = applications(ctx, archer)?;
    let module = all.iter().find(|a| a.is(&application)).ok_or_else(|| {
        Error::invalid(
            "input.archer.application",
            format!("Archer has no application {application:?}"),
            format!("Name one of: {}.", names(&all)),
        )
    })?;
    let module_id = module.id;
    let levels: Vec<Named> = objects(archer.get(
        ctx,
        &format!("/core/system/level/module/{module_id}"),
        &format!("listing the levels of {application}"),
    )?);
    let level = match (given(&options.level), levels.as_slice()) {
        (Some(name), _) => levels.iter().find(|l| l.is(name)),
        (None, [only]) => Some(only),
        (None, _) => None,
    }
    .ok_or_else(|| {
        Error::invalid(
            "input.archer.level",
            format!("{application} has levels {}", names(&levels)),
            "Name the level incidents go to.",
        )
    })?;
    let level_id = level.id;
    let definitions: Vec<FieldDefinition> = objects(archer.get(
        ctx,
        &format!("/core/system/fielddefinition/level/{level_id}"),
        &format!("listing the fields of {application}"),
    )?);
    let mut users: Option<Vec<(u64, Vec<String>)>> = None;
    let mut field = |ctx: &mut Context,
                     archer: &mut Archer,
                     option: &str,
                     name: &str,
                     wanted: &[i64]|
     -> Result<Field, Error> {
        let known = || definitions.iter().filter_map(|d| d.name.clone()).collect::<Vec<_>>().join(", ");
        let definition = definitions.iter().find(|d| d.is(name)).ok_or_else(|| {
            Error::invalid(option, format!("{application} has no field {name:?}"), format!("Name one of: {}.", known()))
        })?;
        let field_type = definition.field_type.unwrap_or_default();
        if !values::writable(field_type) || (!wanted.is_empty() && !wanted.contains(&field_type)) {
            let want: Vec<String> = wanted.iter().map(|t| values::type_name(*t)).collect();
            return Err(Error::invalid(
                option,
                format!("{name:?} is a {} field", values::type_name(field_type)),
                if want.is_empty() {
                    "Name a field psa-bridge can write (text, numeric, date, values list, users, cross-reference, \
                     external links, IP address)."
                        .to_string()
                } else {
                    format!("Name a {} field.", want.join(" or "))
                },
            ));
        }
        let choices = match field_type {
            values::VALUES_LIST => {
                let list = definition.values_list_id.unwrap_or_default();
                choices(objects(archer.get(
                    ctx,
                    &format!("/core/system/valueslistvalue/valueslist/{list}"),
                    &format!("listing the values of {name}"),
                )?))
            }
            values::USERS_GROUPS => match &users {
                Some(users) => users.clone(),
                None => {
                    let list: Vec<User> = objects(archer.get(ctx, "/core/system/user", "listing the users")?);
                    let list: Vec<(u64, Vec<String>)> = list
                        .into_iter()
                        .map(|u| (u.id, u.user_name.into_iter().chain(u.display_name).collect()))
                        .collect();
                    users = Some(list.clone());
                    list
                }
            },
            _ => Vec::new(),
        };
        Ok(Field { id: definition.id, name: definition.label(), field_type, choices })
    };

    let text = [values::TEXT];
    let key_name = given(&options.key_field).unwrap_or(DEFAULT_KEY_FIELD);
    let key = field(ctx, archer, "input.archer.key_field", key_name, &text)?;
    let title_name = given(&options.title_field).unwrap_or(DEFAULT_TITLE_FIELD);
    let title = (
        field(ctx, archer, "input.archer.title_field", title_name, &text)?,
        template("input.archer.title", given(&options.title).unwrap_or(DEFAULT_TITLE))?,
    );
    let details = match option(&options.details_field, DEFAULT_DETAILS_FIELD) {
        Some(name) => Some((
            field(ctx, archer, "input.archer.details_field", name, &text)?,
            template("input.archer.details", given(&options.details).unwrap_or(DEFAULT_DETAILS))?,
        )),
        None => None,
    };
    let list = [values::VALUES_LIST];
    let status = match option(&options.status_field, DEFAULT_STATUS_FIELD) {
        Some(name) => Some(field(ctx, archer, "input.archer.status_field", name, &list)?),
        None => None,
    };
    let priority = match option(&options.priority_field, DEFAULT_PRIORITY_FIELD) {
        Some(name) if with_priorities => Some(field(ctx, archer, "input.archer.priority_field", name, &list)?),
        _ => None,
    };
    let mut fields = Vec::new();
    for (i, extra) in options.fields.iter().flatten().enumerate() {
        let option = format!("input.archer.fields[{i}]");
        let resolved = field(ctx, archer, &format!("{option}.name"), &extra.name, &[])?;
        if [Some(key.id), Some(title.0.id), details.as_ref().map(|d| d.0.id)].contains(&Some(resolved.id)) {
            return Err(Error::invalid(
                &format!("{option}.name"),
                format!("{:?} is already written as the key, title or details field", extra.name),
                "Leave it out of fields, or set it through key_field, title/title_field or details/details_field.",
            ));
        }
        fields.push((resolved, template(&format!("{option}.value"), &extra.value)?));
    }
    crate::log::info(format!("{SERVICE}: incidents go to {application} (level {level_id}), keyed by {:?}", key.name));
    Ok(Schema { application, module_id, level_id, key, title, details, status, priority, fields })
}
