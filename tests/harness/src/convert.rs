//! JSON <-> WIT values, driven by the component's own types: record fields and enum cases are
//! the WIT names in snake_case, `option` is an absent key or null, and every error names the path.

use serde_json::{Map, Value};
use wasmtime::component::{Type, Val};

pub fn json_name(wit_name: &str) -> String {
    wit_name.replace('-', "_")
}

/// Converts `value` (found at `path`, e.g. `input.accounts[2].id`) to a value of type `ty`.
pub fn to_val(value: &Value, ty: &Type, path: &str) -> Result<Val, String> {
    let wrong = |expected: &str| Err(format!("`{path}` must be {expected}, not {}", describe(value)));
    macro_rules! int {
        ($variant:ident, $t:ty) => {{
            let n = value.as_i64().map(i128::from).or_else(|| value.as_u64().map(i128::from));
            match n.and_then(|n| <$t>::try_from(n).ok()) {
                Some(n) => Ok(Val::$variant(n)),
                None if n.is_some() => Err(format!("`{path}` is out of range for {}", stringify!($t))),
                None => wrong("an integer"),
            }
        }};
    }
    match ty {
        Type::Bool => value.as_bool().map(Val::Bool).map_or_else(|| wrong("true or false"), Ok),
        Type::U8 => int!(U8, u8),
        Type::U16 => int!(U16, u16),
        Type::U32 => int!(U32, u32),
        Type::U64 => int!(U64, u64),
        Type::S8 => int!(S8, i8),
        Type::S16 => int!(S16, i16),
        Type::S32 => int!(S32, i32),
        Type::S64 => int!(S64, i64),
        Type::Float32 => value.as_f64().map(|f| Val::Float32(f as f32)).map_or_else(|| wrong("a number"), Ok),
        Type::Float64 => value.as_f64().map(Val::Float64).map_or_else(|| wrong("a number"), Ok),
        Type::Char => match value.as_str().map(|s| (s.chars().next(), s.chars().count())) {
            Some((Some(c), 1)) => Ok(Val::Char(c)),
            _ => wrong("a single character"),
        },
        Type::String => value.as_str().map(|s| Val::String(s.to_string())).map_or_else(|| wrong("a string"), Ok),
        Type::List(list) => {
            let Some(items) = value.as_array() else { return wrong("an array") };
            let element = list.ty();
            items
                .iter()
                .enumerate()
                .map(|(i, item)| to_val(item, &element, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()
                .map(Val::List)
        }
        Type::Record(record) => {
            let Some(object) = value.as_object() else { return wrong("an object") };
            let mut fields = Vec::new();
            for field in record.fields() {
                let key = json_name(field.name);
                let field_path = format!("{path}.{key}");
                let val = match (object.get(&key), &field.ty) {
                    (None | Some(Value::Null), Type::Option(_)) => Val::Option(None),
                    (None | Some(Value::Null), _) => return Err(format!("`{field_path}` is required but missing")),
                    (Some(v), ty) => to_val(v, ty, &field_path)?,
                };
                fields.push((field.name.to_string(), val));
            }
            let known: Vec<String> = record.fields().map(|f| json_name(f.name)).collect();
            if let Some(unknown) = object.keys().find(|k| !known.contains(k)) {
                return Err(format!("`{path}.{unknown}` is not a known field (known: {})", known.join(", ")));
            }
            Ok(Val::Record(fields))
        }
        Type::Enum(cases) => {
            let names: Vec<&str> = cases.names().collect();
            match value.as_str().and_then(|s| names.iter().find(|n| json_name(n) == s || **n == s)) {
                Some(name) => Ok(Val::Enum(name.to_string())),
                None => wrong(&format!("one of {}", names.iter().map(|n| json_name(n)).collect::<Vec<_>>().join(", "))),
            }
        }
        Type::Option(option) => match value {
            Value::Null => Ok(Val::Option(None)),
            v => Ok(Val::Option(Some(Box::new(to_val(v, &option.ty(), path)?)))),
        },
        Type::Variant(variant) => {
            // `"case"` for a case without payload, `{"case": payload}` otherwise.
            let (name, payload) = match value {
                Value::String(s) => (s.as_str(), None),
                Value::Object(o) if o.len() == 1 => {
                    o.iter().next().map(|(k, v)| (k.as_str(), Some(v))).unwrap_or(("", None))
                }
                _ => return wrong("a case name or an object with one case"),
            };
            let Some(case) = variant.cases().find(|c| json_name(c.name) == name) else {
                return wrong("a known case");
            };
            let val = match (case.ty, payload) {
                (Some(ty), Some(p)) => Some(Box::new(to_val(p, &ty, &format!("{path}.{name}"))?)),
                (None, None) => None,
                _ => return wrong("a case with the right payload"),
            };
            Ok(Val::Variant(case.name.to_string(), val))
        }
        Type::Tuple(tuple) => {
            let types: Vec<Type> = tuple.types().collect();
            match value.as_array() {
                Some(items) if items.len() == types.len() => items
                    .iter()
                    .zip(&types)
                    .enumerate()
                    .map(|(i, (item, ty))| to_val(item, ty, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()
                    .map(Val::Tuple),
                _ => wrong(&format!("an array of {}", types.len())),
            }
        }
        Type::Flags(flags) => {
            let names: Vec<&str> = flags.names().collect();
            let Some(items) = value.as_array() else { return wrong("an array of flag names") };
            items
                .iter()
                .map(|item| match item.as_str().and_then(|s| names.iter().find(|n| json_name(n) == s)) {
                    Some(n) => Ok(n.to_string()),
                    None => Err(format!("`{path}` has an unknown flag {item}")),
                })
                .collect::<Result<_, _>>()
                .map(Val::Flags)
        }
        other => Err(format!("`{path}` has a type the harness cannot express in JSON: {other:?}")),
    }
}

/// The JSON form of a value the component returned. Absent options are left out of records.
pub fn to_json(val: &Val) -> Value {
    match val {
        Val::Bool(b) => Value::Bool(*b),
        Val::U8(n) => (*n).into(),
        Val::U16(n) => (*n).into(),
        Val::U32(n) => (*n).into(),
        Val::U64(n) => (*n).into(),
        Val::S8(n) => (*n).into(),
        Val::S16(n) => (*n).into(),
        Val::S32(n) => (*n).into(),
        Val::S64(n) => (*n).into(),
        Val::Float32(f) => serde_json::Number::from_f64(f64::from(*f)).map_or(Value::Null, Value::Number),
        Val::Float64(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Val::Char(c) => Value::String(c.to_string()),
        Val::String(s) => Value::String(s.clone()),
        Val::List(items) | Val::Tuple(items) | Val::FixedLengthList(items) => {
            Value::Array(items.iter().map(to_json).collect())
        }
        Val::Record(fields) => Value::Object(
            fields
                .iter()
                .filter(|(_, v)| !matches!(v, Val::Option(None)))
                .map(|(k, v)| (json_name(k), to_json(v)))
                .collect::<Map<_, _>>(),
        ),
        Val::Enum(name) => Value::String(json_name(name)),
        Val::Option(inner) => inner.as_deref().map_or(Value::Null, to_json),
        Val::Variant(name, payload) => match payload {
            None => Value::String(json_name(name)),
            Some(p) => Value::Object(Map::from_iter([(json_name(name), to_json(p))])),
        },
        Val::Result(result) => {
            let (key, inner) = match result {
                Ok(v) => ("ok", v),
                Err(e) => ("error", e),
            };
            Value::Object(Map::from_iter([(key.to_string(), inner.as_deref().map_or(Value::Null, to_json))]))
        }
        Val::Flags(names) => Value::Array(names.iter().map(|n| Value::String(json_name(n))).collect()),
        Val::Map(pairs) => {
            Value::Array(pairs.iter().map(|(k, v)| Value::Array(vec![to_json(k), to_json(v)])).collect())
        }
        Val::Resource(_) | Val::Future(_) | Val::Stream(_) | Val::ErrorContext(_) => Value::Null,
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}
