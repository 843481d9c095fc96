//! ConnectWise `conditions` and `customFieldConditions` strings, built from typed parts so that no
//! value can change a condition's structure (contracts/connectwise.md, "Conditions grammar").
//!
//! ```text
//! Condition::eq(NAME, "Contoso \"A\"").and(Condition::not_null(IDENTIFIER))
//!     -> name = "Contoso \"A\"" and identifier != null
//! ```
//! Strings are quoted with `\"` and `\\` escaped; `like` patterns additionally escape the SQL Server
//! wildcards `%` `_` `[` as `[%]` `[_]` `[[]`; dates are validated before they go between brackets;
//! field names are checked once, when the `Field` is made. Percent-encoding for the URL is the
//! caller's job.

use std::fmt::{self, Write as _};

/// What is wrong with a condition or a value. Reported, never panicked on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConditionError {
    /// A field name that is not `segment(/segment)*` of ASCII letters, digits and `_`, or is a keyword.
    InvalidField(&'static str),
    /// A date that is not ISO-8601 (`2024-01-01`, `2024-01-01T00:00:00Z`, with fraction or offset).
    InvalidDate(String),
    /// `in` with no values: ConnectWise refuses `field in ()`; the caller should skip the query.
    EmptyList,
}

impl fmt::Display for ConditionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConditionError::InvalidField(name) => write!(f, "{name:?} is not a ConnectWise field name"),
            ConditionError::InvalidDate(date) => write!(f, "{date:?} is not an ISO-8601 date"),
            ConditionError::EmptyList => f.write_str("an `in` condition needs at least one value"),
        }
    }
}

impl std::error::Error for ConditionError {}

/// A field name `Field::new` refused. Its own type (no heap data) so that `Field::new` can be `const`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidField(pub &'static str);

impl fmt::Display for InvalidField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        ConditionError::InvalidField(self.0).fmt(f)
    }
}

impl std::error::Error for InvalidField {}

impl From<InvalidField> for ConditionError {
    fn from(error: InvalidField) -> ConditionError {
        ConditionError::InvalidField(error.0)
    }
}

/// Words of the grammar: a field segment spelled like one would read as syntax.
const KEYWORDS: &[&[u8]] = &[b"and", b"or", b"not", b"like", b"contains", b"in", b"null", b"true", b"false"];

/// A field name, possibly nested (`company/id`). Only static names: field names are part of the
/// program, never of the data. Made with [`Field::new`] (checked, `const`) or from a `&'static str`
/// (checked too; an invalid name is written as text no server accepts, and [`Condition::check`]
/// reports it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Field {
    name: &'static str,
    valid: bool,
}

impl Field {
    /// Checks the name: segments separated by `/`, each an ASCII letter or `_` followed by letters,
    /// digits or `_`, none a keyword. `const`, so a constant field is checked at compile time:
    /// `const NAME: Field = match Field::new("name") { Ok(f) => f, Err(_) => panic!() };`
    pub const fn new(name: &'static str) -> Result<Field, InvalidField> {
        let bytes = name.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i <= bytes.len() {
            if i == bytes.len() || bytes[i] == b'/' {
                if i == start
                    || !(bytes[start].is_ascii_alphabetic() || bytes[start] == b'_')
                    || is_keyword(bytes, start, i)
                {
                    return Err(InvalidField(name));
                }
                start = i + 1;
            } else if !(bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                return Err(InvalidField(name));
            }
            i += 1;
        }
        Ok(Field { name, valid: true })
    }

    pub const fn as_str(self) -> &'static str {
        self.name
    }
}

impl From<&'static str> for Field {
    fn from(name: &'static str) -> Field {
        Field::new(name).unwrap_or(Field { name, valid: false })
    }
}

const fn is_keyword(bytes: &[u8], start: usize, end: usize) -> bool {
    let mut k = 0;
    while k < KEYWORDS.len() {
        let keyword = KEYWORDS[k];
        if keyword.len() == end - start {
            let mut j = 0;
            while j < keyword.len() && bytes[start + j].to_ascii_lowercase() == keyword[j] {
                j += 1;
            }
            if j == keyword.len() {
                return true;
            }
        }
        k += 1;
    }
    false
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A bad name is a bug in the program; written as is it could read as syntax. A leading `!`
        // makes the whole condition malformed, so the server answers 400 instead of filtering wrongly.
        f.write_str(if self.valid { self.name } else { "!invalid-field!" })
    }
}

/// A literal on the right of a comparison. Made only through the constructors, so a date is
/// always valid and text is always quoted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value(Literal);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Literal {
    Text(String),
    Number(i128),
    Bool(bool),
    Date(String),
}

impl Value {
    /// Any text: quoted and escaped when written.
    pub fn text(text: impl Into<String>) -> Value {
        Value(Literal::Text(text.into()))
    }

    /// Any integer type up to 64 bits (ids are `u64` or `i64`).
    pub fn int(number: impl Into<i128>) -> Value {
        Value(Literal::Number(number.into()))
    }

    pub fn bool(value: bool) -> Value {
        Value(Literal::Bool(value))
    }

    /// An already formatted ISO-8601 date or date-time (`2024-01-01`, `2024-01-01T00:00:00Z`,
    /// `2024-01-01T00:00:00.123+02:00`), checked so that nothing but a date lands between brackets.
    pub fn date(iso: &str) -> Result<Value, ConditionError> {
        if is_iso_date(iso) {
            Ok(Value(Literal::Date(iso.to_owned())))
        } else {
            Err(ConditionError::InvalidDate(iso.to_owned()))
        }
    }

    /// A UTC instant given as seconds since 1970-01-01, written `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn unix_seconds(seconds: u64) -> Value {
        let days = seconds / 86_400;
        let rest = seconds % 86_400;
        let (year, month, day) = civil_from_days(days);
        Value(Literal::Date(format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            rest / 3600,
            rest % 3600 / 60,
            rest % 60
        )))
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::text(text)
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::text(text)
    }
}

impl From<&String> for Value {
    fn from(text: &String) -> Value {
        Value::text(text.as_str())
    }
}

macro_rules! value_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(number: $t) -> Value {
                Value::int(number)
            }
        }
    )*};
}
value_from_int!(i32, i64, u32, u64);

impl From<bool> for Value {
    fn from(value: bool) -> Value {
        Value::bool(value)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Literal::Text(text) => write_quoted(f, text),
            Literal::Number(n) => write!(f, "{n}"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Date(date) => write!(f, "[{date}]"),
        }
    }
}

/// `"` + text with `\` and `"` escaped + `"`. Nothing else needs escaping inside a string.
fn write_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_char('"')?;
    let mut rest = text;
    while let Some(at) = rest.find(['"', '\\']) {
        // Both are one byte, so `at + 1` is a character boundary.
        let (before, special) = rest.split_at(at);
        let (special, after) = special.split_at(1);
        f.write_str(before)?;
        f.write_char('\\')?;
        f.write_str(special)?;
        rest = after;
    }
    f.write_str(rest)?;
    f.write_char('"')
}

/// A `like` pattern: literal text (wildcards escaped) and wildcards, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LikePattern(String);

impl LikePattern {
    pub fn new() -> LikePattern {
        LikePattern::default()
    }

    /// Text matched as written: `%`, `_` and `[` become `[%]`, `[_]`, `[[]` (SQL Server style).
    pub fn literal(mut self, text: &str) -> LikePattern {
        for c in text.chars() {
            match c {
                '%' => self.0.push_str("[%]"),
                '_' => self.0.push_str("[_]"),
                '[' => self.0.push_str("[[]"),
                c => self.0.push(c),
            }
        }
        self
    }

    /// `%`: any run of characters, possibly empty.
    pub fn any(mut self) -> LikePattern {
        self.0.push('%');
        self
    }

    /// `_`: exactly one character.
    pub fn one(mut self) -> LikePattern {
        self.0.push('_');
        self
    }

    /// Strings starting with `text`.
    pub fn prefix(text: &str) -> LikePattern {
        LikePattern::new().literal(text).any()
    }

    /// Strings ending with `text`.
    pub fn suffix(text: &str) -> LikePattern {
        LikePattern::new().any().literal(text)
    }

    /// Strings containing `text`.
    pub fn containing(text: &str) -> LikePattern {
        LikePattern::new().any().literal(text).any()
    }

    /// The pattern as ConnectWise reads it once unquoted.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A condition: comparisons combined with `and` / `or`. `Display` writes the `conditions` text
/// (or, for the `custom_field*` constructors, the `customFieldConditions` text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition(Node);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Compare(Field, &'static str, Value),
    Like(Field, LikePattern),
    Contains(Field, String),
    In(Field, Vec<Value>),
    /// `field = null` or `field != null`
    Null(Field, &'static str),
    /// `caption="..." AND value...`: the condition on one custom field.
    Custom(String, CustomValue),
    All(Vec<Node>),
    Any(Vec<Node>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum CustomValue {
    Is(Value),
    In(Vec<Value>),
    Set,
}

impl Condition {
    /// `field = value`
    pub fn eq(field: impl Into<Field>, value: impl Into<Value>) -> Condition {
        Condition(Node::Compare(field.into(), "=", value.into()))
    }

    /// `field != value`
    pub fn ne(field: impl Into<Field>, value: impl Into<Value>) -> Condition {
        Condition(Node::Compare(field.into(), "!=", value.into()))
    }

    /// `field < value`
    pub fn lt(field: impl Into<Field>, value: impl Into<Value>) -> Condition {
        Condition(Node::Compare(field.into(), "<", value.into()))
    }

    /// `field <= value`
    pub fn le(field: impl Into<Field>, value: impl Into<Value>) -> Condition {
        Condition(Node::Compare(field.into(), "<=", value.into()))
    }

    /// `field > value`
    pub fn gt(field: impl Into<Field>, value: impl Into<Value>) -> Condition {
        Condition(Node::Compare(field.into(), ">", value.into()))
    }

    /// `field >= value`
    pub fn ge(field: impl Into<Field>, value: impl Into<Value>) -> Condition {
        Condition(Node::Compare(field.into(), ">=", value.into()))
    }

    /// `field = null`
    pub fn is_null(field: impl Into<Field>) -> Condition {
        Condition(Node::Null(field.into(), "="))
    }

    /// `field != null`
    pub fn not_null(field: impl Into<Field>) -> Condition {
        Condition(Node::Null(field.into(), "!="))
    }

    /// `field like "pattern"`
    pub fn like(field: impl Into<Field>, pattern: LikePattern) -> Condition {
        Condition(Node::Like(field.into(), pattern))
    }

    /// `field like "text%"`, with the wildcards in `text` escaped: the strings starting with `text`.
    pub fn like_prefix(field: impl Into<Field>, text: &str) -> Condition {
        Condition::like(field, LikePattern::prefix(text))
    }

    /// `field contains "text"`. How ConnectWise treats wildcards inside `contains` is not part of
    /// the contract: for text that may hold `%`, `_` or `[`, `like` with
    /// [`LikePattern::containing`] is exact.
    pub fn contains(field: impl Into<Field>, text: &str) -> Condition {
        Condition(Node::Contains(field.into(), text.to_owned()))
    }

    /// `field in (v1,v2,...)`. With no values it writes `field in ()`, which the server refuses
    /// (there is no "false" to write): skip the query instead; [`Condition::check`] reports it.
    pub fn is_in<V: Into<Value>>(field: impl Into<Field>, values: impl IntoIterator<Item = V>) -> Condition {
        Condition(Node::In(field.into(), values.into_iter().map(Into::into).collect()))
    }

    /// For `customFieldConditions`: `caption="<caption>" AND value=<value>`.
    pub fn custom_field(caption: &str, value: impl Into<Value>) -> Condition {
        Condition(Node::Custom(caption.to_owned(), CustomValue::Is(value.into())))
    }

    /// For `customFieldConditions`: `caption="<caption>" AND value in (<v1>,<v2>,...)`; no values
    /// is refused by the server, as for [`Condition::is_in`].
    pub fn custom_field_in<V: Into<Value>>(caption: &str, values: impl IntoIterator<Item = V>) -> Condition {
        Condition(Node::Custom(caption.to_owned(), CustomValue::In(values.into_iter().map(Into::into).collect())))
    }

    /// For `customFieldConditions`: `caption="<caption>" AND value != null` — the field is set.
    pub fn custom_field_set(caption: &str) -> Condition {
        Condition(Node::Custom(caption.to_owned(), CustomValue::Set))
    }

    /// Both conditions.
    pub fn and(self, other: Condition) -> Condition {
        Condition(Node::All(join(self.0, other.0, true)))
    }

    /// Either condition.
    pub fn or(self, other: Condition) -> Condition {
        Condition(Node::Any(join(self.0, other.0, false)))
    }

    /// All of the conditions; `None` for none (there is no "true" to write).
    pub fn all(conditions: impl IntoIterator<Item = Condition>) -> Option<Condition> {
        conditions.into_iter().reduce(Condition::and)
    }

    /// Any of the conditions; `None` for none.
    pub fn any(conditions: impl IntoIterator<Item = Condition>) -> Option<Condition> {
        conditions.into_iter().reduce(Condition::or)
    }

    /// Whether the server will accept it: every field name valid, no empty `in` list. `Display`
    /// never fails; what this reports is written so that the server refuses it.
    pub fn check(&self) -> Result<(), ConditionError> {
        check_node(&self.0)
    }
}

fn check_node(node: &Node) -> Result<(), ConditionError> {
    let field = |f: &Field| if f.valid { Ok(()) } else { Err(ConditionError::InvalidField(f.name)) };
    match node {
        Node::Compare(f, ..) | Node::Like(f, _) | Node::Contains(f, _) | Node::Null(f, _) => field(f),
        Node::In(f, values) => {
            field(f)?;
            if values.is_empty() { Err(ConditionError::EmptyList) } else { Ok(()) }
        }
        Node::Custom(_, CustomValue::In(values)) if values.is_empty() => Err(ConditionError::EmptyList),
        Node::Custom(..) => Ok(()),
        Node::All(children) | Node::Any(children) => children.iter().try_for_each(check_node),
    }
}

/// Flattens `(a and b) and c` into one list, so that only mixed `and`/`or` need parentheses.
fn join(left: Node, right: Node, all: bool) -> Vec<Node> {
    let mut nodes = Vec::new();
    for node in [left, right] {
        match node {
            Node::All(children) if all => nodes.extend(children),
            Node::Any(children) if !all => nodes.extend(children),
            node => nodes.push(node),
        }
    }
    nodes
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_node(f, &self.0)
    }
}

fn write_node(f: &mut fmt::Formatter<'_>, node: &Node) -> fmt::Result {
    match node {
        Node::Compare(field, op, value) => write!(f, "{field} {op} {value}"),
        Node::Null(field, op) => write!(f, "{field} {op} null"),
        Node::Like(field, pattern) => {
            write!(f, "{field} like ")?;
            write_quoted(f, pattern.as_str())
        }
        Node::Contains(field, text) => {
            write!(f, "{field} contains ")?;
            write_quoted(f, text)
        }
        Node::In(field, values) => {
            write!(f, "{field} in ")?;
            write_list(f, values)
        }
        Node::Custom(caption, value) => {
            // The contract's spelling: no spaces around `=`, upper-case AND.
            f.write_str("caption=")?;
            write_quoted(f, caption)?;
            match value {
                CustomValue::Is(value) => write!(f, " AND value={value}"),
                CustomValue::In(values) => {
                    f.write_str(" AND value in ")?;
                    write_list(f, values)
                }
                CustomValue::Set => f.write_str(" AND value != null"),
            }
        }
        Node::All(children) | Node::Any(children) => {
            let joiner = if matches!(node, Node::All(_)) { " and " } else { " or " };
            for (i, child) in children.iter().enumerate() {
                if i > 0 {
                    f.write_str(joiner)?;
                }
                // Every nested group is parenthesised: correct whatever precedence the server gives and/or.
                if matches!(child, Node::All(_) | Node::Any(_) | Node::Custom(..)) {
                    f.write_str("(")?;
                    write_node(f, child)?;
                    f.write_str(")")?;
                } else {
                    write_node(f, child)?;
                }
            }
            Ok(())
        }
    }
}

/// `(v1,v2,...)`
fn write_list(f: &mut fmt::Formatter<'_>, values: &[Value]) -> fmt::Result {
    f.write_str("(")?;
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write!(f, "{value}")?;
    }
    f.write_str(")")
}

/// `YYYY-MM-DD`, optionally `THH:MM`, `:SS`, `.fraction`, then `Z` or `±HH:MM`.
fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, n: usize| -> Option<u32> {
        let part = b.get(from..from + n)?;
        part.iter().try_fold(0u32, |acc, &d| d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0')))
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let (Some(_year), Some(month), Some(day)) = (digits(0, 4), digits(5, 2), digits(8, 2)) else { return false };
    if !at(4, b'-') || !at(7, b'-') || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return false;
    }
    if b.len() == 10 {
        return true;
    }
    let (Some(hour), Some(minute)) = (digits(11, 2), digits(14, 2)) else { return false };
    if !at(10, b'T') || !at(13, b':') || hour > 23 || minute > 59 {
        return false;
    }
    let mut i = 16;
    if at(i, b':') {
        match digits(i + 1, 2) {
            Some(second) if second <= 60 => i += 3,
            _ => return false,
        }
        if at(i, b'.') {
            let fraction = b.get(i + 1..).unwrap_or_default().iter().take_while(|d| d.is_ascii_digit()).count();
            if fraction == 0 || fraction > 9 {
                return false;
            }
            i += 1 + fraction;
        }
    }
    match b.get(i) {
        None => true,
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            matches!((digits(i + 1, 2), digits(i + 4, 2)), (Some(h), Some(m)) if h <= 23 && m <= 59)
                && at(i + 3, b':')
                && i + 6 == b.len()
        }
        _ => false,
    }
}

/// Days since 1970-01-01 -> (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const fn field(name: &'static str) -> Field {
        match Field::new(name) {
            Ok(field) => field,
            Err(_) => panic!("invalid field name in a test"),
        }
    }

    const NAME: Field = field("name");
    const IDENTIFIER: Field = field("identifier");
    const COMPANY_ID: Field = field("company/id");
    const UPDATED: Field = field("_info/lastUpdated");
    const DELETED: Field = field("deletedFlag");
    const XREF: Field = field("externalXRef");

    fn text(condition: &Condition) -> String {
        condition.to_string()
    }

    #[test]
    fn comparisons_are_written_as_the_contract_shows() {
        assert_eq!(text(&Condition::eq(NAME, "Contoso")), r#"name = "Contoso""#);
        assert_eq!(text(&Condition::ne(COMPANY_ID, 5u64)), "company/id != 5");
        assert_eq!(text(&Condition::gt(COMPANY_ID, -3i64)), "company/id > -3");
        assert_eq!(text(&Condition::le(COMPANY_ID, u64::MAX)), "company/id <= 18446744073709551615");
        assert_eq!(text(&Condition::ge(COMPANY_ID, i64::MIN)), "company/id >= -9223372036854775808");
        let date = Value::date("2024-01-01T00:00:00Z").unwrap();
        assert_eq!(text(&Condition::lt(UPDATED, date)), "_info/lastUpdated < [2024-01-01T00:00:00Z]");
        assert_eq!(text(&Condition::eq(DELETED, false)), "deletedFlag = false");
        assert_eq!(text(&Condition::is_null(XREF)), "externalXRef = null");
        assert_eq!(text(&Condition::not_null(XREF)), "externalXRef != null");
        assert_eq!(text(&Condition::contains(NAME, "x")), r#"name contains "x""#);
        assert_eq!(text(&Condition::like(NAME, LikePattern::new().literal("Cont").any())), r#"name like "Cont%""#);
        assert_eq!(text(&Condition::is_in(IDENTIFIER, ["A", "B"])), r#"identifier in ("A","B")"#);
        assert_eq!(text(&Condition::is_in(COMPANY_ID, [1u64, 2, 3])), "company/id in (1,2,3)");
        // Plain static names work as fields too.
        assert_eq!(text(&Condition::eq("company/id", 7u64)), "company/id = 7");
        // The text is "null", not null.
        assert_eq!(text(&Condition::eq(NAME, "null")), r#"name = "null""#);
    }

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        assert_eq!(text(&Condition::eq(NAME, r#"He said "hi" \ bye"#)), r#"name = "He said \"hi\" \\ bye""#);
        assert_eq!(text(&Condition::eq(NAME, r#"\""#)), r#"name = "\\\"""#);
        assert_eq!(text(&Condition::eq(NAME, r#"" or name != ""#)), r#"name = "\" or name != \"""#);
        assert_eq!(text(&Condition::eq(NAME, "")), r#"name = """#);
        assert_eq!(text(&Condition::eq(NAME, "北京 ☕\n")), "name = \"北京 ☕\n\"");
    }

    #[test]
    fn like_wildcards_in_the_text_are_literal() {
        assert_eq!(text(&Condition::like_prefix(NAME, "50%_off[1]")), r#"name like "50[%][_]off[[]1]%""#);
        assert_eq!(text(&Condition::like_prefix(NAME, r#"a"b\"#)), r#"name like "a\"b\\%""#);
        assert_eq!(LikePattern::suffix("x_").as_str(), "%x[_]");
        assert_eq!(LikePattern::containing("%").as_str(), "%[%]%");
        assert_eq!(LikePattern::new().literal("a").one().literal("b").as_str(), "a_b");
    }

    #[test]
    fn and_or_nest_with_parentheses_only_where_mixed() {
        let a = || Condition::eq(NAME, "a");
        let b = || Condition::eq(NAME, "b");
        let c = || Condition::eq(NAME, "c");
        let d = || Condition::eq(NAME, "d");
        assert_eq!(text(&a().and(b()).and(c())), r#"name = "a" and name = "b" and name = "c""#);
        assert_eq!(text(&a().and(b().and(c()))), r#"name = "a" and name = "b" and name = "c""#);
        assert_eq!(text(&a().or(b()).or(c())), r#"name = "a" or name = "b" or name = "c""#);
        assert_eq!(text(&a().and(b().or(c()))), r#"name = "a" and (name = "b" or name = "c")"#);
        assert_eq!(text(&a().and(b()).or(c())), r#"(name = "a" and name = "b") or name = "c""#);
        assert_eq!(text(&a().or(b()).and(c().or(d()))), r#"(name = "a" or name = "b") and (name = "c" or name = "d")"#);
        assert_eq!(Condition::all([]), None);
        assert_eq!(Condition::any([a()]), Some(a()));
        assert_eq!(Condition::all([a(), b(), c()]), Some(a().and(b()).and(c())));
    }

    #[test]
    fn custom_field_conditions() {
        let text = |c: Condition| c.to_string();
        assert_eq!(
            text(Condition::custom_field("ARMORcompanyId", "7001")),
            r#"caption="ARMORcompanyId" AND value="7001""#
        );
        assert_eq!(
            text(Condition::custom_field("ARMORcompanyId", 7001u64)),
            r#"caption="ARMORcompanyId" AND value=7001"#
        );
        assert_eq!(
            text(Condition::custom_field_in("ARMORcompanyId", ["7001", "7002"])),
            r#"caption="ARMORcompanyId" AND value in ("7001","7002")"#
        );
        assert_eq!(
            text(Condition::custom_field_set("ARMORcompanyId")),
            r#"caption="ARMORcompanyId" AND value != null"#
        );
        assert_eq!(text(Condition::custom_field(r#"A "q" \"#, "v")), r#"caption="A \"q\" \\" AND value="v""#);
        // Combined, it is one group.
        assert_eq!(
            text(Condition::custom_field("A", 1u64).or(Condition::custom_field("B", 2u64))),
            r#"(caption="A" AND value=1) or (caption="B" AND value=2)"#
        );
        assert_eq!(Condition::custom_field_in("X", Vec::<String>::new()).check(), Err(ConditionError::EmptyList));
        assert_eq!(Condition::custom_field_set("X").check(), Ok(()));
    }

    #[test]
    fn what_the_server_would_refuse_is_reported_and_written_malformed() {
        let empty = Condition::is_in(COMPANY_ID, Vec::<u64>::new());
        assert_eq!(empty.check(), Err(ConditionError::EmptyList));
        assert_eq!(text(&empty), "company/id in ()");
        assert!(parse(&text(&empty)).is_err());
        for bad in ["bad field", "name = \"x\" or id", "", "and"] {
            let condition = Condition::eq(NAME, "ok").and(Condition::eq(bad, "x"));
            assert_eq!(condition.check(), Err(ConditionError::InvalidField(bad)));
            assert_eq!(text(&condition), r#"name = "ok" and !invalid-field! = "x""#);
            assert!(parse(&text(&condition)).is_err());
        }
        assert_eq!(Condition::eq(NAME, "x").or(Condition::not_null(XREF)).check(), Ok(()));
    }

    #[test]
    fn field_names_are_checked() {
        for ok in ["name", "company/id", "_info/lastUpdated", "customFields2", "a_b/c_d/e1", "andrew", "order"] {
            assert!(Field::new(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            "a b",
            "a//b",
            "/a",
            "a/",
            "1abc",
            "company/1id",
            "name;drop",
            "and",
            "company/OR",
            "Null",
            "naïve",
            "a-b",
            "a.b",
            "a\"b",
        ] {
            assert_eq!(Field::new(bad), Err(InvalidField(bad)), "{bad:?}");
        }
    }

    #[test]
    fn dates_are_checked() {
        for ok in [
            "2024-01-01",
            "2024-01-01T00:00Z",
            "2024-01-01T00:00:00Z",
            "2024-12-31T23:59:60Z",
            "2024-01-01T00:00:00.123Z",
            "2024-01-01T00:00:00.123456789+02:00",
            "2024-01-01T00:00:00-05:30",
            "2024-01-01T00:00:00",
        ] {
            assert!(Value::date(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            "2024-1-1",
            "2024-13-01",
            "2024-01-00",
            "2024-01-01T24:00:00Z",
            "2024-01-01 00:00:00",
            "2024-01-01T00:00:00Z]",
            "2024-01-01T00:00:00Z or name = 1",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00+0200",
            "] or 1=1",
            "２０２４-01-01",
        ] {
            assert_eq!(Value::date(bad), Err(ConditionError::InvalidDate(bad.to_owned())), "{bad:?}");
        }
        assert_eq!(Value::unix_seconds(0).to_string(), "[1970-01-01T00:00:00Z]");
        assert_eq!(Value::unix_seconds(951_782_400).to_string(), "[2000-02-29T00:00:00Z]");
        assert_eq!(Value::unix_seconds(1_704_067_199).to_string(), "[2023-12-31T23:59:59Z]");
        assert!(Value::unix_seconds(u64::MAX).to_string().ends_with("Z]"));
    }

    // ------------------------------------------------------------------ a reference parser

    #[derive(Clone, Debug, PartialEq)]
    enum Lit {
        Str(String),
        Num(i128),
        Date(String),
        Bool(bool),
        Null,
    }

    #[derive(Clone, Debug, PartialEq)]
    enum Ast {
        And(Vec<Ast>),
        Or(Vec<Ast>),
        Cmp(String, String, Lit),
        In(String, Vec<Lit>),
    }

    #[derive(Clone, Debug, PartialEq)]
    enum Tok {
        Word(String),
        Str(String),
        Num(i128),
        Date(String),
        Op(&'static str),
        Open,
        Close,
        Comma,
    }

    /// The grammar of the contract, strictly: only spaces between tokens, only `\"` and `\\` as
    /// escapes, and (stricter than any server) `and` and `or` never mixed without parentheses.
    fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
        let chars: Vec<char> = s.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while let Some(&c) = chars.get(i) {
            i += 1;
            match c {
                ' ' => {}
                '(' => tokens.push(Tok::Open),
                ')' => tokens.push(Tok::Close),
                ',' => tokens.push(Tok::Comma),
                '=' => tokens.push(Tok::Op("=")),
                '!' if chars.get(i) == Some(&'=') => {
                    i += 1;
                    tokens.push(Tok::Op("!="));
                }
                '<' | '>' => {
                    let eq = chars.get(i) == Some(&'=');
                    i += usize::from(eq);
                    tokens.push(Tok::Op(match (c, eq) {
                        ('<', false) => "<",
                        ('<', true) => "<=",
                        (_, false) => ">",
                        (_, true) => ">=",
                    }));
                }
                '"' => {
                    let mut value = String::new();
                    loop {
                        match chars.get(i) {
                            None => return Err("unterminated string".into()),
                            Some('"') => break,
                            Some('\\') => match chars.get(i + 1) {
                                Some(&e @ ('"' | '\\')) => {
                                    value.push(e);
                                    i += 1;
                                }
                                other => return Err(format!("bad escape {other:?}")),
                            },
                            Some(&other) => value.push(other),
                        }
                        i += 1;
                    }
                    i += 1;
                    tokens.push(Tok::Str(value));
                }
                '[' => {
                    let end = chars[i..].iter().position(|&c| c == ']').ok_or("unterminated date")?;
                    tokens.push(Tok::Date(chars[i..i + end].iter().collect()));
                    i += end + 1;
                }
                '-' | '0'..='9' => {
                    let mut number: String = c.to_string();
                    while let Some(&d) = chars.get(i).filter(|d| d.is_ascii_digit()) {
                        number.push(d);
                        i += 1;
                    }
                    tokens.push(Tok::Num(number.parse().map_err(|e| format!("{number}: {e}"))?));
                }
                c if c.is_ascii_alphabetic() || c == '_' => {
                    let mut word = c.to_string();
                    while let Some(&w) = chars.get(i).filter(|w| w.is_ascii_alphanumeric() || **w == '_' || **w == '/')
                    {
                        word.push(w);
                        i += 1;
                    }
                    tokens.push(Tok::Word(word));
                }
                other => return Err(format!("unexpected {other:?}")),
            }
        }
        Ok(tokens)
    }

    struct Parser {
        tokens: Vec<Tok>,
        at: usize,
    }

    fn keyword(tok: Option<&Tok>, word: &str) -> bool {
        matches!(tok, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    impl Parser {
        fn next(&mut self) -> Option<Tok> {
            let tok = self.tokens.get(self.at).cloned();
            self.at += 1;
            tok
        }

        fn expr(&mut self) -> Result<Ast, String> {
            let mut items = vec![self.atom()?];
            let mut connective: Option<&str> = None;
            loop {
                let word = match self.tokens.get(self.at) {
                    t if keyword(t, "and") => "and",
                    t if keyword(t, "or") => "or",
                    _ => break,
                };
                if connective.is_some_and(|c| c != word) {
                    return Err("and/or mixed without parentheses".into());
                }
                connective = Some(word);
                self.at += 1;
                items.push(self.atom()?);
            }
            Ok(match connective {
                None => items.remove(0),
                Some("and") => Ast::And(items),
                Some(_) => Ast::Or(items),
            })
        }

        fn atom(&mut self) -> Result<Ast, String> {
            match self.next() {
                Some(Tok::Open) => {
                    let inner = self.expr()?;
                    match self.next() {
                        Some(Tok::Close) => Ok(inner),
                        other => Err(format!("expected ), got {other:?}")),
                    }
                }
                Some(Tok::Word(field)) if !KEYWORDS.iter().any(|k| field.as_bytes().eq_ignore_ascii_case(k)) => {
                    match self.next() {
                        Some(Tok::Op(op)) => Ok(Ast::Cmp(field, op.to_owned(), self.literal()?)),
                        Some(Tok::Word(w)) if w == "like" || w == "contains" => match self.next() {
                            Some(Tok::Str(s)) => Ok(Ast::Cmp(field, w, Lit::Str(s))),
                            other => Err(format!("expected a string, got {other:?}")),
                        },
                        Some(Tok::Word(w)) if w == "in" => {
                            if self.next() != Some(Tok::Open) {
                                return Err("expected (".into());
                            }
                            let mut values = vec![self.literal()?];
                            loop {
                                match self.next() {
                                    Some(Tok::Comma) => values.push(self.literal()?),
                                    Some(Tok::Close) => return Ok(Ast::In(field, values)),
                                    other => return Err(format!("expected , or ), got {other:?}")),
                                }
                            }
                        }
                        other => Err(format!("expected an operator, got {other:?}")),
                    }
                }
                other => Err(format!("expected a condition, got {other:?}")),
            }
        }

        fn literal(&mut self) -> Result<Lit, String> {
            match self.next() {
                Some(Tok::Str(s)) => Ok(Lit::Str(s)),
                Some(Tok::Num(n)) => Ok(Lit::Num(n)),
                Some(Tok::Date(d)) => Ok(Lit::Date(d)),
                Some(Tok::Word(w)) if w == "true" => Ok(Lit::Bool(true)),
                Some(Tok::Word(w)) if w == "false" => Ok(Lit::Bool(false)),
                Some(Tok::Word(w)) if w == "null" => Ok(Lit::Null),
                other => Err(format!("expected a value, got {other:?}")),
            }
        }
    }

    fn parse(text: &str) -> Result<Ast, String> {
        let mut parser = Parser { tokens: tokenize(text)?, at: 0 };
        let ast = parser.expr()?;
        if parser.at != parser.tokens.len() {
            return Err(format!("trailing tokens after {ast:?}"));
        }
        Ok(ast)
    }

    /// SQL Server `LIKE`: `%` any run, `_` one character, `[...]` a set (`[^...]` its complement,
    /// `a-z` a range), anything else itself.
    fn like_matches(pattern: &str, subject: &str) -> Result<bool, String> {
        enum P {
            Any,
            One,
            Set(Vec<(char, char)>, bool),
            Char(char),
        }
        let chars: Vec<char> = pattern.chars().collect();
        let mut parts = Vec::new();
        let mut i = 0;
        while let Some(&c) = chars.get(i) {
            i += 1;
            parts.push(match c {
                '%' => P::Any,
                '_' => P::One,
                '[' => {
                    let negated = chars.get(i) == Some(&'^');
                    i += usize::from(negated);
                    let mut ranges = Vec::new();
                    // The first character is always a member, even a `]`.
                    let mut first = true;
                    loop {
                        match chars.get(i) {
                            None => return Err(format!("unterminated [ in {pattern:?}")),
                            Some(']') if !first => break,
                            Some(&lo) => {
                                if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&hi| hi != ']') {
                                    ranges.push((lo, chars[i + 2]));
                                    i += 3;
                                } else {
                                    ranges.push((lo, lo));
                                    i += 1;
                                }
                            }
                        }
                        first = false;
                    }
                    i += 1;
                    P::Set(ranges, negated)
                }
                c => P::Char(c),
            });
        }
        let s: Vec<char> = subject.chars().collect();
        // matched[j]: the parts so far can consume exactly s[..j].
        let mut matched = vec![false; s.len() + 1];
        matched[0] = true;
        for part in &parts {
            let mut next = vec![false; s.len() + 1];
            for j in 0..=s.len() {
                match part {
                    P::Any => next[j] = matched[..=j].iter().any(|&m| m),
                    P::One => next[j] = j > 0 && matched[j - 1],
                    P::Set(ranges, negated) => {
                        next[j] = j > 0
                            && matched[j - 1]
                            && ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&s[j - 1])) != *negated
                    }
                    P::Char(c) => next[j] = j > 0 && matched[j - 1] && s[j - 1] == *c,
                }
            }
            matched = next;
        }
        Ok(matched[s.len()])
    }

    #[test]
    fn the_reference_parser_and_like_work() {
        assert_eq!(
            parse(r#"a = "x" and (b != 5 or c in ("p","q\"")) and d like "Cont%""#),
            Ok(Ast::And(vec![
                Ast::Cmp("a".into(), "=".into(), Lit::Str("x".into())),
                Ast::Or(vec![
                    Ast::Cmp("b".into(), "!=".into(), Lit::Num(5)),
                    Ast::In("c".into(), vec![Lit::Str("p".into()), Lit::Str("q\"".into())]),
                ]),
                Ast::Cmp("d".into(), "like".into(), Lit::Str("Cont%".into())),
            ]))
        );
        assert!(parse(r#"a = 1 and b = 2 or c = 3"#).is_err());
        assert!(parse(r#"a = "x" or 1=1"#).is_err());
        assert!(parse(r#"a = "x\""#).is_err());
        assert_eq!(like_matches("Cont%", "Contoso"), Ok(true));
        assert_eq!(like_matches("50[%]%", "50% off"), Ok(true));
        assert_eq!(like_matches("50[%]%", "500"), Ok(false));
        assert_eq!(like_matches("a_c", "abc"), Ok(true));
        assert_eq!(like_matches("[[]x", "[x"), Ok(true));
        assert_eq!(like_matches("[a-c]x", "bx"), Ok(true));
        assert_eq!(like_matches("[^a]x", "ax"), Ok(false));
    }

    // ------------------------------------------------------------------ properties

    fn config() -> ProptestConfig {
        // No regression files: the tests run from a source tree other sessions share.
        ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
    }

    /// Arbitrary text, and text made of the characters that would break a careless builder.
    fn nasty() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            r#"(\\|"|\)|\(| or | and |%|_|\[|\]|\^|-|,|=|!=|<|null|true|x|é|北|☕|\x00|\x07|\n|\r|\t| |'|/){0,16}"#,
        ]
    }

    const FIELDS: [Field; 6] = [NAME, IDENTIFIER, COMPANY_ID, UPDATED, DELETED, XREF];
    const DATES: [&str; 3] = ["2024-01-01", "2024-01-01T00:00:00Z", "1999-12-31T23:59:59.5-05:00"];

    #[derive(Clone, Debug)]
    enum Spec {
        Eq(usize, String),
        Ne(usize, i64),
        Lt(usize, usize),
        Bool(usize, bool),
        Like(usize, String),
        Contains(usize, String),
        In(usize, Vec<String>),
        Null(usize, bool),
        And(Box<Spec>, Box<Spec>),
        Or(Box<Spec>, Box<Spec>),
    }

    fn spec() -> impl Strategy<Value = Spec> {
        let f = 0..FIELDS.len();
        let leaf = prop_oneof![
            (f.clone(), nasty()).prop_map(|(f, s)| Spec::Eq(f, s)),
            (f.clone(), any::<i64>()).prop_map(|(f, n)| Spec::Ne(f, n)),
            (f.clone(), 0..DATES.len()).prop_map(|(f, d)| Spec::Lt(f, d)),
            (f.clone(), any::<bool>()).prop_map(|(f, b)| Spec::Bool(f, b)),
            (f.clone(), nasty()).prop_map(|(f, s)| Spec::Like(f, s)),
            (f.clone(), nasty()).prop_map(|(f, s)| Spec::Contains(f, s)),
            (f.clone(), prop::collection::vec(nasty(), 1..4)).prop_map(|(f, v)| Spec::In(f, v)),
            (f, any::<bool>()).prop_map(|(f, b)| Spec::Null(f, b)),
        ];
        leaf.prop_recursive(4, 24, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| Spec::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner).prop_map(|(a, b)| Spec::Or(Box::new(a), Box::new(b))),
            ]
        })
    }

    fn build(spec: &Spec) -> Condition {
        match spec {
            Spec::Eq(f, s) => Condition::eq(FIELDS[*f], s.as_str()),
            Spec::Ne(f, n) => Condition::ne(FIELDS[*f], *n),
            Spec::Lt(f, d) => Condition::lt(FIELDS[*f], Value::date(DATES[*d]).unwrap()),
            Spec::Bool(f, b) => Condition::eq(FIELDS[*f], *b),
            Spec::Like(f, s) => Condition::like_prefix(FIELDS[*f], s),
            Spec::Contains(f, s) => Condition::contains(FIELDS[*f], s),
            Spec::In(f, v) => Condition::is_in(FIELDS[*f], v),
            Spec::Null(f, true) => Condition::is_null(FIELDS[*f]),
            Spec::Null(f, false) => Condition::not_null(FIELDS[*f]),
            Spec::And(a, b) => build(a).and(build(b)),
            Spec::Or(a, b) => build(a).or(build(b)),
        }
    }

    /// The tree the condition is meant to have (written independently of the builder).
    fn expected(spec: &Spec) -> Ast {
        let name = |f: &usize| FIELDS[*f].as_str().to_owned();
        let cmp = |f: &usize, op: &str, lit: Lit| Ast::Cmp(name(f), op.to_owned(), lit);
        match spec {
            Spec::Eq(f, s) => cmp(f, "=", Lit::Str(s.clone())),
            Spec::Ne(f, n) => cmp(f, "!=", Lit::Num(i128::from(*n))),
            Spec::Lt(f, d) => cmp(f, "<", Lit::Date(DATES[*d].to_owned())),
            Spec::Bool(f, b) => cmp(f, "=", Lit::Bool(*b)),
            Spec::Like(f, _) => cmp(f, "like", Lit::Str(String::from("<pattern>"))),
            Spec::Contains(f, s) => cmp(f, "contains", Lit::Str(s.clone())),
            Spec::In(f, v) => Ast::In(name(f), v.iter().cloned().map(Lit::Str).collect()),
            Spec::Null(f, is) => cmp(f, if *is { "=" } else { "!=" }, Lit::Null),
            Spec::And(a, b) => Ast::And(flatten([expected(a), expected(b)], true)),
            Spec::Or(a, b) => Ast::Or(flatten([expected(a), expected(b)], false)),
        }
    }

    fn flatten(items: [Ast; 2], and: bool) -> Vec<Ast> {
        let mut out = Vec::new();
        for item in items {
            match item {
                Ast::And(children) if and => out.extend(children),
                Ast::Or(children) if !and => out.extend(children),
                other => out.push(other),
            }
        }
        out
    }

    /// Replaces every like pattern by a placeholder, after checking it with `check`.
    fn strip_patterns(ast: Ast, check: &mut dyn FnMut(&str)) -> Ast {
        match ast {
            Ast::Cmp(field, op, Lit::Str(pattern)) if op == "like" => {
                check(&pattern);
                Ast::Cmp(field, op, Lit::Str(String::from("<pattern>")))
            }
            Ast::And(children) => Ast::And(children.into_iter().map(|c| strip_patterns(c, check)).collect()),
            Ast::Or(children) => Ast::Or(children.into_iter().map(|c| strip_patterns(c, check)).collect()),
            other => other,
        }
    }

    fn like_texts(spec: &Spec, out: &mut Vec<String>) {
        match spec {
            Spec::Like(_, s) => out.push(s.clone()),
            Spec::And(a, b) | Spec::Or(a, b) => {
                like_texts(a, out);
                like_texts(b, out);
            }
            _ => {}
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn no_value_changes_the_structure(spec in spec()) {
            let written = build(&spec).to_string();
            let parsed = parse(&written).map_err(|e| TestCaseError::fail(format!("{e} in {written:?}")))?;
            // Like patterns, in order, must be the escaped prefixes.
            let mut texts = Vec::new();
            like_texts(&spec, &mut texts);
            let mut patterns = Vec::new();
            let parsed = strip_patterns(parsed, &mut |p| patterns.push(p.to_owned()));
            let escaped: Vec<String> = texts.iter().map(|t| LikePattern::prefix(t).as_str().to_owned()).collect();
            prop_assert_eq!(patterns, escaped);
            prop_assert_eq!(parsed, expected(&spec), "{}", written);
        }

        #[test]
        fn a_like_prefix_matches_exactly_the_strings_starting_with_the_text(
            prefix in nasty(),
            suffix in nasty(),
            other in nasty(),
            cut in any::<prop::sample::Index>(),
            replacement in any::<char>(),
        ) {
            let written = Condition::like_prefix(NAME, &prefix).to_string();
            let Ok(Ast::Cmp(_, op, Lit::Str(pattern))) = parse(&written) else {
                return Err(TestCaseError::fail(format!("not one like condition: {written:?}")));
            };
            prop_assert_eq!(op, "like");
            let matches = |s: &str| like_matches(&pattern, s).map_err(TestCaseError::fail);
            prop_assert!(matches(&prefix)?);
            let longer = format!("{prefix}{suffix}");
            prop_assert!(matches(&longer)?);
            // Strings not starting with the prefix: an unrelated one, the prefix cut short, or
            // with one character changed.
            let chars: Vec<char> = prefix.chars().collect();
            let mut changed = chars.clone();
            if !changed.is_empty() {
                let at = cut.index(changed.len());
                changed[at] = replacement;
            }
            let shortened: String = chars[..chars.len().saturating_sub(1)].iter().collect();
            for s in [other, changed.into_iter().collect::<String>() + &suffix, shortened] {
                prop_assert_eq!(matches(&s)?, s.starts_with(&prefix), "{:?} vs {:?}", pattern, s);
            }
        }

        #[test]
        fn custom_field_conditions_keep_their_shape(caption in nasty(), values in prop::collection::vec(nasty(), 1..4)) {
            let written = Condition::custom_field_in(&caption, &values).to_string();
            let caption_is = Ast::Cmp("caption".into(), "=".into(), Lit::Str(caption.clone()));
            let value = Ast::In("value".into(), values.iter().cloned().map(Lit::Str).collect());
            prop_assert_eq!(parse(&written).map_err(TestCaseError::fail)?, Ast::And(vec![caption_is.clone(), value]));
            let single = Condition::custom_field(&caption, values[0].as_str()).to_string();
            let value = Ast::Cmp("value".into(), "=".into(), Lit::Str(values[0].clone()));
            prop_assert_eq!(parse(&single).map_err(TestCaseError::fail)?, Ast::And(vec![caption_is, value]));
        }

        #[test]
        fn only_dates_get_between_brackets(
            text in prop_oneof![
                nasty(),
                r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,10})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?.{0,2}",
            ]
        ) {
            if let Ok(value) = Value::date(&text) {
                prop_assert!(text.bytes().all(|b| b.is_ascii_digit() || b"-:T.Z+".contains(&b)), "{:?}", text);
                prop_assert_eq!(value.to_string(), format!("[{text}]"));
            }
        }
    }
}
