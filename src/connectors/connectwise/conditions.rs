//! ConnectWise `conditions` and `customFieldConditions` strings, built from typed parts so that no
//! value can change a condition's structure (contracts/connectwise.md, "Conditions grammar").
//!
//! ```text
//! Condition::eq(Field::Name, "Contoso \"A\"")                -> name = "Contoso \"A\""
//! Condition::custom_field_in("ARMORcompanyId", ["7001"])      -> caption="ARMORcompanyId" AND value in ("7001")
//! ```
//! Field names are a closed enum, so a misspelt name is a compile error, not a runtime `400`.
//! Text (values and custom field captions) is quoted with `\"` and `\\` escaped. Percent-encoding
//! for the URL is the caller's job ([`super::query`]).

use std::fmt::{self, Write as _};

/// The record fields the plugin filters on: exactly these, spelled as ConnectWise spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Name,
    DeletedFlag,
    Id,
    Identifier,
    ExternalXRef,
    OfficeEmail,
    Summary,
    ClosedFlag,
    LastUpdated,
    CompanyId,
    CompanyIdentifier,
    StatusName,
    OwnerIdentifier,
    TeamName,
    BoardName,
}

impl Field {
    pub const fn as_str(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::DeletedFlag => "deletedFlag",
            Field::Id => "id",
            Field::Identifier => "identifier",
            Field::ExternalXRef => "externalXRef",
            Field::OfficeEmail => "officeEmail",
            Field::Summary => "summary",
            Field::ClosedFlag => "closedFlag",
            Field::LastUpdated => "lastUpdated",
            Field::CompanyId => "company/id",
            Field::CompanyIdentifier => "company/identifier",
            Field::StatusName => "status/name",
            Field::OwnerIdentifier => "owner/identifier",
            Field::TeamName => "team/name",
            Field::BoardName => "board/name",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A literal on the right of a comparison: text is always quoted and escaped when written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Int(u64),
    Bool(bool),
    /// Written `[2024-05-01T12:00:00Z]`; a parsed instant, so nothing else can get inside the brackets.
    Instant(chrono::DateTime<chrono::Utc>),
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::Text(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Text(text)
    }
}

impl From<u64> for Value {
    fn from(number: u64) -> Value {
        Value::Int(number)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Value {
        Value::Bool(value)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(text) => write_quoted(f, text),
            Value::Int(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Instant(t) => write!(f, "[{}]", t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        }
    }
}

/// `"` + text with `\` and `"` escaped + `"`. Nothing else needs escaping inside a string.
fn write_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

/// One condition. `Display` writes the `conditions` text or, for the `custom_field*`
/// constructors, the `customFieldConditions` text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    Eq(Field, Value),
    In(Field, Vec<Value>),
    /// `caption="..." AND value in (...)`
    CustomIn(String, Vec<Value>),
    /// `caption="..." AND value != null`
    CustomSet(String),
    /// `field contains "text"`
    Contains(Field, Value),
    /// `field >= [instant]`
    AtOrAfter(Field, Value),
    /// `a and b and ...`
    All(Vec<Condition>),
}

impl Condition {
    /// `field = value`
    pub fn eq(field: Field, value: impl Into<Value>) -> Condition {
        Condition::Eq(field, value.into())
    }

    /// `field in (v1,v2,...)`. Give at least one value: ConnectWise refuses `field in ()`.
    pub fn is_in<V: Into<Value>>(field: Field, values: impl IntoIterator<Item = V>) -> Condition {
        Condition::In(field, values.into_iter().map(Into::into).collect())
    }

    /// For `customFieldConditions`: `caption="<caption>" AND value in (<v1>,<v2>,...)`; at least
    /// one value, as for [`Condition::is_in`].
    pub fn custom_field_in<V: Into<Value>>(caption: &str, values: impl IntoIterator<Item = V>) -> Condition {
        Condition::CustomIn(caption.to_owned(), values.into_iter().map(Into::into).collect())
    }

    /// `field contains "text"`
    pub fn contains(field: Field, text: &str) -> Condition {
        Condition::Contains(field, Value::from(text))
    }

    /// `field >= [instant]`
    pub fn at_or_after(field: Field, instant: chrono::DateTime<chrono::Utc>) -> Condition {
        Condition::AtOrAfter(field, Value::Instant(instant))
    }

    /// Every one of `conditions`, joined by `and` (none: `None`).
    pub fn all(mut conditions: Vec<Condition>) -> Option<Condition> {
        match conditions.len() {
            0 => None,
            1 => conditions.pop(),
            _ => Some(Condition::All(conditions)),
        }
    }

    /// For `customFieldConditions`: `caption="<caption>" AND value != null` — the field is set.
    pub fn custom_field_set(caption: &str) -> Condition {
        Condition::CustomSet(caption.to_owned())
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Eq(field, value) => write!(f, "{field} = {value}"),
            Condition::In(field, values) => {
                write!(f, "{field} in ")?;
                write_list(f, values)
            }
            // The contract's spelling for custom fields: no spaces around `=`, upper-case AND.
            Condition::CustomIn(caption, values) => {
                f.write_str("caption=")?;
                write_quoted(f, caption)?;
                f.write_str(" AND value in ")?;
                write_list(f, values)
            }
            Condition::CustomSet(caption) => {
                f.write_str("caption=")?;
                write_quoted(f, caption)?;
                f.write_str(" AND value != null")
            }
            Condition::Contains(field, value) => write!(f, "{field} contains {value}"),
            Condition::AtOrAfter(field, value) => write!(f, "{field} >= {value}"),
            Condition::All(conditions) => {
                for (i, condition) in conditions.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" and ")?;
                    }
                    write!(f, "{condition}")?;
                }
                Ok(())
            }
        }
    }
}

/// `(v1,v2,...)`
fn write_list(f: &mut fmt::Formatter<'_>, values: &[Value]) -> fmt::Result {
    f.write_char('(')?;
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            f.write_char(',')?;
        }
        write!(f, "{value}")?;
    }
    f.write_char(')')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FIELDS: [Field; 5] = [Field::Name, Field::DeletedFlag, Field::Id, Field::Identifier, Field::ExternalXRef];

    fn text(condition: Condition) -> String {
        condition.to_string()
    }

    #[test]
    fn conditions_are_written_as_the_contract_shows() {
        assert_eq!(text(Condition::eq(Field::Name, "ARMORtickets")), r#"name = "ARMORtickets""#);
        assert_eq!(text(Condition::eq(Field::DeletedFlag, false)), "deletedFlag = false");
        assert_eq!(text(Condition::eq(Field::Id, 250u64)), "id = 250");
        assert_eq!(text(Condition::eq(Field::Id, u64::MAX)), "id = 18446744073709551615");
        assert_eq!(text(Condition::eq(Field::Identifier, "ContosoLtd")), r#"identifier = "ContosoLtd""#);
        assert_eq!(text(Condition::eq(Field::ExternalXRef, "ATS-1234")), r#"externalXRef = "ATS-1234""#);
        assert_eq!(text(Condition::is_in(Field::ExternalXRef, ["A", "B"])), r#"externalXRef in ("A","B")"#);
        // The text is "null", not null.
        assert_eq!(text(Condition::eq(Field::Name, "null")), r#"name = "null""#);
        let names: Vec<&str> = FIELDS.iter().map(|f| f.as_str()).collect();
        assert_eq!(names, ["name", "deletedFlag", "id", "identifier", "externalXRef"]);
    }

    #[test]
    fn ticket_searches_combine_conditions() {
        let since = chrono::DateTime::parse_from_rfc3339("2024-05-01T14:00:00+02:00").unwrap().to_utc();
        let all = Condition::all(vec![
            Condition::eq(Field::CompanyId, 250u64),
            Condition::eq(Field::ClosedFlag, false),
            Condition::contains(Field::Summary, r#"vpn "down""#),
            Condition::at_or_after(Field::LastUpdated, since),
            Condition::eq(Field::OwnerIdentifier, "jsmith"),
        ]);
        assert_eq!(
            text(all.unwrap()),
            r#"company/id = 250 and closedFlag = false and summary contains "vpn \"down\"" and lastUpdated >= [2024-05-01T12:00:00Z] and owner/identifier = "jsmith""#
        );
        assert_eq!(Condition::all(vec![]), None);
        assert_eq!(text(Condition::all(vec![Condition::eq(Field::TeamName, "SOC")]).unwrap()), r#"team/name = "SOC""#);
    }

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        let eq = |s: &str| text(Condition::eq(Field::Name, s));
        assert_eq!(eq(r#"He said "hi" \ bye"#), r#"name = "He said \"hi\" \\ bye""#);
        assert_eq!(eq(r#"\""#), r#"name = "\\\"""#);
        assert_eq!(eq(r#"" or name != ""#), r#"name = "\" or name != \"""#);
        assert_eq!(eq(r#""or 1=1"#), r#"name = "\"or 1=1""#);
        assert_eq!(eq("50% & more"), r#"name = "50% & more""#);
        assert_eq!(eq(""), r#"name = """#);
        assert_eq!(eq("北京 ☕\n"), "name = \"北京 ☕\n\"");
        assert_eq!(text(Condition::is_in(Field::Identifier, [r#"a"b"#, r"c\"])), r#"identifier in ("a\"b","c\\")"#);
    }

    #[test]
    fn custom_field_conditions() {
        assert_eq!(
            text(Condition::custom_field_in("ARMORcompanyId", ["7001", "7002"])),
            r#"caption="ARMORcompanyId" AND value in ("7001","7002")"#
        );
        assert_eq!(
            text(Condition::custom_field_in("ARMORcompanyId", [String::from("7001")])),
            r#"caption="ARMORcompanyId" AND value in ("7001")"#
        );
        assert_eq!(
            text(Condition::custom_field_set("ARMORcompanyId")),
            r#"caption="ARMORcompanyId" AND value != null"#
        );
        assert_eq!(text(Condition::custom_field_set(r#"A "q" \"#)), r#"caption="A \"q\" \\" AND value != null"#);
        assert_eq!(
            text(Condition::custom_field_in(r#"x" AND value != null or caption="y"#, ["v"])),
            r#"caption="x\" AND value != null or caption=\"y" AND value in ("v")"#
        );
    }

    // ------------------------------------------------------------------ a reference parser

    #[derive(Clone, Debug, PartialEq)]
    enum Lit {
        Str(String),
        Num(u64),
        Bool(bool),
        Null,
    }

    #[derive(Clone, Debug, PartialEq)]
    enum Ast {
        And(Vec<Ast>),
        Cmp(String, &'static str, Lit),
        In(String, Vec<Lit>),
    }

    #[derive(Clone, Debug, PartialEq)]
    enum Tok {
        Word(String),
        Str(String),
        Num(u64),
        Op(&'static str),
        Open,
        Close,
        Comma,
    }

    /// The part of the contract's grammar these conditions use, strictly: only spaces between
    /// tokens, only `\"` and `\\` as escapes, no `or`, no parentheses but around `in` lists.
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
                '0'..='9' => {
                    let mut number: String = c.to_string();
                    while let Some(&d) = chars.get(i).filter(|d| d.is_ascii_digit()) {
                        number.push(d);
                        i += 1;
                    }
                    tokens.push(Tok::Num(number.parse().map_err(|e| format!("{number}: {e}"))?));
                }
                c if c.is_ascii_alphabetic() => {
                    let mut word = c.to_string();
                    while let Some(&w) = chars.get(i).filter(|w| w.is_ascii_alphanumeric()) {
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

    const KEYWORDS: [&str; 6] = ["and", "or", "in", "null", "true", "false"];

    struct Parser {
        tokens: Vec<Tok>,
        at: usize,
    }

    impl Parser {
        fn next(&mut self) -> Option<Tok> {
            let tok = self.tokens.get(self.at).cloned();
            self.at += 1;
            tok
        }

        fn expr(&mut self) -> Result<Ast, String> {
            let mut items = vec![self.atom()?];
            while matches!(self.tokens.get(self.at), Some(Tok::Word(w)) if w.eq_ignore_ascii_case("and")) {
                self.at += 1;
                items.push(self.atom()?);
            }
            Ok(if items.len() == 1 { items.remove(0) } else { Ast::And(items) })
        }

        fn atom(&mut self) -> Result<Ast, String> {
            match self.next() {
                Some(Tok::Word(field)) if !KEYWORDS.iter().any(|k| field.eq_ignore_ascii_case(k)) => {
                    match self.next() {
                        Some(Tok::Op(op)) => Ok(Ast::Cmp(field, op, self.literal()?)),
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

    #[test]
    fn the_reference_parser_works() {
        assert_eq!(
            parse(r#"caption="x\"" AND value in ("p",5,true)"#),
            Ok(Ast::And(vec![
                Ast::Cmp("caption".into(), "=", Lit::Str("x\"".into())),
                Ast::In("value".into(), vec![Lit::Str("p".into()), Lit::Num(5), Lit::Bool(true)]),
            ]))
        );
        assert_eq!(parse("value != null"), Ok(Ast::Cmp("value".into(), "!=", Lit::Null)));
        assert!(parse(r#"a = "x" or 1=1"#).is_err());
        assert!(parse(r#"a = "x"or 1=1"#).is_err());
        assert!(parse(r#"a = "x\""#).is_err());
        assert!(parse("a in ()").is_err());
    }

    // ------------------------------------------------------------------ properties

    fn config() -> ProptestConfig {
        // No regression files: the tests run from a source tree other sessions share.
        ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
    }

    /// Arbitrary text, and text made of the characters that would break a careless builder (or,
    /// once in the URL, a careless encoder).
    fn nasty() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            r#"(\\|"|"or 1=1|\)|\(| or | and | AND |%|%26|&|#|\+|\?|_|\[|\]|,|=|!=|null|true|value|caption|x|é|北|☕|\x00|\n|\t| |'|/){0,16}"#,
        ]
    }

    #[derive(Clone, Debug)]
    enum Spec {
        Text(usize, String),
        Int(usize, u64),
        Bool(usize, bool),
        In(usize, Vec<String>),
        CustomIn(String, Vec<String>),
        CustomSet(String),
    }

    fn spec() -> impl Strategy<Value = Spec> {
        let f = 0..FIELDS.len();
        let values = || prop::collection::vec(nasty(), 1..4);
        prop_oneof![
            (f.clone(), nasty()).prop_map(|(f, s)| Spec::Text(f, s)),
            (f.clone(), any::<u64>()).prop_map(|(f, n)| Spec::Int(f, n)),
            (f.clone(), any::<bool>()).prop_map(|(f, b)| Spec::Bool(f, b)),
            (f, values()).prop_map(|(f, v)| Spec::In(f, v)),
            (nasty(), values()).prop_map(|(c, v)| Spec::CustomIn(c, v)),
            nasty().prop_map(Spec::CustomSet),
        ]
    }

    fn build(spec: &Spec) -> Condition {
        match spec {
            Spec::Text(f, s) => Condition::eq(FIELDS[*f], s.as_str()),
            Spec::Int(f, n) => Condition::eq(FIELDS[*f], *n),
            Spec::Bool(f, b) => Condition::eq(FIELDS[*f], *b),
            Spec::In(f, v) => Condition::is_in(FIELDS[*f], v.iter().map(String::as_str)),
            Spec::CustomIn(c, v) => Condition::custom_field_in(c, v.iter().cloned()),
            Spec::CustomSet(c) => Condition::custom_field_set(c),
        }
    }

    /// The tree the condition is meant to have (written independently of the builder).
    fn expected(spec: &Spec) -> Ast {
        let name = |f: &usize| FIELDS[*f].as_str().to_owned();
        let strs = |v: &[String]| v.iter().cloned().map(Lit::Str).collect();
        let caption = |c: &str| Ast::Cmp("caption".into(), "=", Lit::Str(c.to_owned()));
        match spec {
            Spec::Text(f, s) => Ast::Cmp(name(f), "=", Lit::Str(s.clone())),
            Spec::Int(f, n) => Ast::Cmp(name(f), "=", Lit::Num(*n)),
            Spec::Bool(f, b) => Ast::Cmp(name(f), "=", Lit::Bool(*b)),
            Spec::In(f, v) => Ast::In(name(f), strs(v)),
            Spec::CustomIn(c, v) => Ast::And(vec![caption(c), Ast::In("value".into(), strs(v))]),
            Spec::CustomSet(c) => Ast::And(vec![caption(c), Ast::Cmp("value".into(), "!=", Lit::Null)]),
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn no_value_or_caption_changes_the_structure(spec in spec()) {
            let written = build(&spec).to_string();
            let parsed = parse(&written).map_err(|e| TestCaseError::fail(format!("{e} in {written:?}")))?;
            prop_assert_eq!(parsed, expected(&spec), "{}", written);
        }

        #[test]
        fn in_the_url_a_condition_stays_one_parameter(spec in spec()) {
            let written = build(&spec).to_string();
            let url = super::super::query(&[("conditions", &written), ("fields", "id")]);
            let (first, rest) = url.split_once('&').expect("two parameters");
            prop_assert_eq!(rest, "fields=id");
            let encoded = first.strip_prefix("conditions=").expect("the conditions parameter");
            prop_assert!(!encoded.contains(['&', '=', '#', '+', '?', ' ']), "{}", encoded);
            let decoded = percent_encoding::percent_decode_str(encoded).decode_utf8().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(decoded, written.as_str());
        }
    }
}
