//! ConnectWise `conditions=` / `customFieldConditions=`: tokenizer, recursive-descent parser and
//! evaluator for the grammar subset of contracts/connectwise.md.
//!
//! Semantics follow SQL Server, which the real service translates conditions into:
//! string comparisons are case-insensitive (accent-sensitive) and ignore trailing spaces for `=`,
//! any comparison with a NULL field is false except `= null` / `!= null`, and `like` knows `%`, `_`
//! and bracket sets (`[%]`, `[_]`, `[[]`, `[a-c]`, `[^x]`).
//! Strings are double-quoted; the only escapes are `\"` and `\\` (anything else is a 400, which
//! catches clients that forget to escape a backslash).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;
use std::cmp::Ordering;

/// Longest condition string accepted (the real service is bounded by its URL length limit).
pub const MAX_LEN: usize = 65_536;
/// Deepest parenthesis nesting accepted.
pub const MAX_DEPTH: usize = 32;
/// Most tokens accepted.
const MAX_TOKENS: usize = 20_000;

/// The type of a field as the schema knows it; `Any` is a custom field's `value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FType {
    Text,
    Number,
    Bool,
    Date,
    Any,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Date(DateTime<Utc>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    NotLike,
    Contains,
    NotContains,
    In,
    NotIn,
}

#[derive(Clone, Debug)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Cmp { path: Vec<String>, ftype: FType, op: Op, values: Vec<Lit>, pattern: Option<Vec<Pat>> },
}

/// Resolves a field name (as written, any case) to its canonical JSON path and type.
pub trait Resolver {
    fn resolve(&self, field: &str) -> Option<(Vec<String>, FType)>;
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Cmp(Op),
    Str(String),
    Num(f64),
    Date(DateTime<Utc>),
    Word(String),
}

fn tokenize(input: &str) -> Result<Vec<(Tok, usize)>, String> {
    let chars: Vec<char> = input.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if toks.len() > MAX_TOKENS {
            return Err("conditions too long".into());
        }
        let c = chars[i];
        let start = i;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                toks.push((Tok::LParen, start));
                i += 1
            }
            ')' => {
                toks.push((Tok::RParen, start));
                i += 1
            }
            ',' => {
                toks.push((Tok::Comma, start));
                i += 1
            }
            '=' => {
                toks.push((Tok::Cmp(Op::Eq), start));
                i += 1
            }
            '!' => {
                if chars.get(i + 1) == Some(&'=') {
                    toks.push((Tok::Cmp(Op::Ne), start));
                    i += 2
                } else {
                    return Err(format!("unexpected '!' at position {start}"));
                }
            }
            '<' | '>' => {
                let eq = chars.get(i + 1) == Some(&'=');
                let op = match (c, eq) {
                    ('<', false) => Op::Lt,
                    ('<', true) => Op::Le,
                    ('>', false) => Op::Gt,
                    _ => Op::Ge,
                };
                toks.push((Tok::Cmp(op), start));
                i += if eq { 2 } else { 1 };
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("unterminated string starting at position {start}")),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => match chars.get(i + 1) {
                            Some('"') => {
                                s.push('"');
                                i += 2
                            }
                            Some('\\') => {
                                s.push('\\');
                                i += 2
                            }
                            _ => return Err(format!("invalid escape sequence at position {i}")),
                        },
                        Some(&ch) => {
                            s.push(ch);
                            i += 1
                        }
                    }
                }
                toks.push((Tok::Str(s), start));
            }
            '[' => {
                let close = chars[i + 1..].iter().position(|&ch| ch == ']');
                let Some(rel) = close else {
                    return Err(format!("unterminated date starting at position {start}"));
                };
                let text: String = chars[i + 1..i + 1 + rel].iter().collect();
                let date =
                    parse_date(text.trim()).ok_or_else(|| format!("invalid date [{text}] at position {start}"))?;
                toks.push((Tok::Date(date), start));
                i += rel + 2;
            }
            c if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) => {
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                    j += 1;
                }
                let text: String = chars[i..j].iter().collect();
                let n: f64 = text.parse().map_err(|_| format!("invalid number {text} at position {start}"))?;
                toks.push((Tok::Num(n), start));
                i = j;
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_alphanumeric() || matches!(chars[j], '_' | '/' | '.')) {
                    j += 1;
                }
                toks.push((Tok::Word(chars[i..j].iter().collect()), start));
                i = j;
            }
            other => return Err(format!("unexpected character '{other}' at position {start}")),
        }
    }
    Ok(toks)
}

/// ISO-8601 date-time (with zone, or naive = UTC) or a plain date.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(d.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|d| d.and_utc())
}

struct Parser<'a> {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    resolver: &'a dyn Resolver,
}

fn is_kw(t: Option<&Tok>, kw: &str) -> bool {
    matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
}

const KEYWORDS: [&str; 9] = ["and", "or", "like", "contains", "in", "not", "true", "false", "null"];

/// Parse a condition string against a schema. Errors are human-readable 400 messages.
pub fn parse(input: &str, resolver: &dyn Resolver) -> Result<Expr, String> {
    if input.len() > MAX_LEN {
        return Err("conditions too long".into());
    }
    let toks = tokenize(input)?;
    if toks.is_empty() {
        return Err("empty conditions".into());
    }
    let mut p = Parser { toks, pos: 0, resolver };
    let e = p.or_expr(0)?;
    if let Some((t, at)) = p.toks.get(p.pos) {
        return Err(format!("unexpected {} at position {at}", describe(t)));
    }
    Ok(e)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Comma => "','".into(),
        Tok::Cmp(_) => "operator".into(),
        Tok::Str(_) => "string".into(),
        Tok::Num(_) => "number".into(),
        Tok::Date(_) => "date".into(),
        Tok::Word(w) => format!("'{w}'"),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }
    fn at(&self) -> usize {
        self.toks.get(self.pos).map(|(_, a)| *a).unwrap_or(usize::MAX)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|(t, _)| t.clone());
        self.pos += 1;
        t
    }
    fn err_here(&self, what: &str) -> String {
        match self.toks.get(self.pos) {
            Some((t, at)) => format!("expected {what} at position {at}, found {}", describe(t)),
            None => format!("expected {what} at end of conditions"),
        }
    }

    fn or_expr(&mut self, depth: usize) -> Result<Expr, String> {
        let mut parts = vec![self.and_expr(depth)?];
        while is_kw(self.peek(), "or") {
            self.pos += 1;
            parts.push(self.and_expr(depth)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Expr::Or(parts) })
    }

    fn and_expr(&mut self, depth: usize) -> Result<Expr, String> {
        let mut parts = vec![self.primary(depth)?];
        while is_kw(self.peek(), "and") {
            self.pos += 1;
            parts.push(self.primary(depth)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Expr::And(parts) })
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, String> {
        if depth >= MAX_DEPTH {
            return Err("conditions nested too deeply".into());
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let e = self.or_expr(depth + 1)?;
            if self.next() != Some(Tok::RParen) {
                self.pos -= 1;
                return Err(self.err_here("')'"));
            }
            return Ok(e);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let at = self.at();
        let field = match self.next() {
            Some(Tok::Word(w)) if !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(&w)) => w,
            _ => {
                self.pos -= 1;
                return Err(self.err_here("a field name"));
            }
        };
        let (path, ftype) =
            self.resolver.resolve(&field).ok_or_else(|| format!("unknown field '{field}' at position {at}"))?;
        let op = match self.next() {
            Some(Tok::Cmp(op)) => op,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("like") => Op::Like,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("contains") => Op::Contains,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => Op::In,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => match self.next() {
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("like") => Op::NotLike,
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("contains") => Op::NotContains,
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => Op::NotIn,
                _ => {
                    self.pos -= 1;
                    return Err(self.err_here("like, contains or in after not"));
                }
            },
            _ => {
                self.pos -= 1;
                return Err(self.err_here("an operator"));
            }
        };
        let values = if matches!(op, Op::In | Op::NotIn) {
            if self.next() != Some(Tok::LParen) {
                self.pos -= 1;
                return Err(self.err_here("'(' after in"));
            }
            let mut vals = vec![self.value()?];
            loop {
                match self.next() {
                    Some(Tok::Comma) => vals.push(self.value()?),
                    Some(Tok::RParen) => break,
                    _ => {
                        self.pos -= 1;
                        return Err(self.err_here("',' or ')'"));
                    }
                }
            }
            vals
        } else {
            vec![self.value()?]
        };
        let values = values.into_iter().map(|v| coerce(&field, ftype, op, v)).collect::<Result<Vec<_>, _>>()?;
        let pattern = match (op, values.first()) {
            (Op::Like | Op::NotLike, Some(Lit::Str(s))) => Some(compile_like(s)),
            _ => None,
        };
        Ok(Expr::Cmp { path, ftype, op, values, pattern })
    }

    fn value(&mut self) -> Result<Lit, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Lit::Str(s)),
            Some(Tok::Num(n)) => Ok(Lit::Num(n)),
            Some(Tok::Date(d)) => Ok(Lit::Date(d)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Ok(Lit::Bool(true)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Ok(Lit::Bool(false)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => Ok(Lit::Null),
            _ => {
                self.pos -= 1;
                Err(self.err_here("a value"))
            }
        }
    }
}

/// Check a literal against the field's type (400 on mismatch), converting where the service does.
fn coerce(field: &str, ftype: FType, op: Op, v: Lit) -> Result<Lit, String> {
    let bad = |why: &str| Err(format!("invalid value for '{field}': {why}"));
    if v == Lit::Null {
        return match op {
            Op::Eq | Op::Ne => Ok(Lit::Null),
            _ => bad("null can only be compared with = or !="),
        };
    }
    if matches!(op, Op::Like | Op::NotLike | Op::Contains | Op::NotContains) {
        if !matches!(ftype, FType::Text | FType::Any) {
            return bad("like/contains need a text field");
        }
        return match v {
            Lit::Str(_) => Ok(v),
            _ => bad("like/contains need a string"),
        };
    }
    match (ftype, v) {
        (FType::Any, v) => Ok(v),
        (FType::Text, Lit::Str(s)) => Ok(Lit::Str(s)),
        (FType::Text, Lit::Num(n)) => Ok(Lit::Str(num_text(n))),
        (FType::Text, _) => bad("expected a string"),
        (FType::Number, Lit::Num(n)) => Ok(Lit::Num(n)),
        (FType::Number, Lit::Str(s)) => match s.trim().parse::<f64>() {
            Ok(n) => Ok(Lit::Num(n)),
            Err(_) => bad("expected a number"),
        },
        (FType::Number, _) => bad("expected a number"),
        (FType::Bool, Lit::Bool(b)) => Ok(Lit::Bool(b)),
        (FType::Bool, _) => bad("expected true or false"),
        (FType::Date, Lit::Date(d)) => Ok(Lit::Date(d)),
        (FType::Date, Lit::Str(s)) => match parse_date(s.trim()) {
            Some(d) => Ok(Lit::Date(d)),
            None => bad("expected a date"),
        },
        (FType::Date, _) => bad("expected a date"),
    }
}

fn num_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { n.to_string() }
}

/// SQL Server string comparison: case-insensitive, trailing spaces ignored.
fn text_key(s: &str) -> String {
    s.trim_end_matches(' ').to_lowercase()
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => n.as_f64().map(num_text),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn value_num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn lookup<'a>(record: &'a Value, path: &[String]) -> &'a Value {
    let mut cur = record;
    for seg in path {
        match cur.get(seg.as_str()) {
            Some(v) => cur = v,
            None => return &Value::Null,
        }
    }
    cur
}

/// Compare a non-null field value with a non-null literal; None = not comparable (false).
fn compare(v: &Value, lit: &Lit, ftype: FType) -> Option<Ordering> {
    match ftype {
        FType::Text => match lit {
            Lit::Str(s) => Some(text_key(&value_text(v)?).cmp(&text_key(s))),
            _ => None,
        },
        FType::Number => match lit {
            Lit::Num(n) => value_num(v)?.partial_cmp(n),
            _ => None,
        },
        FType::Bool => match lit {
            Lit::Bool(b) => Some(v.as_bool()?.cmp(b)),
            _ => None,
        },
        FType::Date => match lit {
            Lit::Date(d) => Some(parse_date(v.as_str()?.trim())?.cmp(d)),
            _ => None,
        },
        FType::Any => {
            // A custom field value: numbers compare numerically when both sides are numbers,
            // dates chronologically, anything else as text.
            let lit_num = match lit {
                Lit::Num(n) => Some(*n),
                Lit::Str(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            if let (Some(a), Some(b)) = (value_num(v), lit_num) {
                return a.partial_cmp(&b);
            }
            match lit {
                Lit::Date(d) => Some(parse_date(v.as_str()?.trim())?.cmp(d)),
                Lit::Bool(b) => Some(v.as_bool()?.cmp(b)),
                Lit::Num(n) => Some(text_key(&value_text(v)?).cmp(&text_key(&num_text(*n)))),
                Lit::Str(s) => Some(text_key(&value_text(v)?).cmp(&text_key(s))),
                Lit::Null => None,
            }
        }
    }
}

/// Evaluate against one record (a JSON object in the service's shape).
pub fn eval(expr: &Expr, record: &Value) -> bool {
    match expr {
        Expr::And(parts) => parts.iter().all(|p| eval(p, record)),
        Expr::Or(parts) => parts.iter().any(|p| eval(p, record)),
        Expr::Cmp { path, ftype, op, values, pattern } => {
            let v = lookup(record, path);
            let is_null = v.is_null();
            if values.first() == Some(&Lit::Null) {
                return match op {
                    Op::Eq => is_null,
                    _ => !is_null,
                };
            }
            if is_null {
                return false;
            }
            let first = &values[0];
            match op {
                Op::Eq => compare(v, first, *ftype) == Some(Ordering::Equal),
                Op::Ne => matches!(compare(v, first, *ftype), Some(o) if o != Ordering::Equal),
                Op::Lt => compare(v, first, *ftype) == Some(Ordering::Less),
                Op::Le => matches!(compare(v, first, *ftype), Some(Ordering::Less | Ordering::Equal)),
                Op::Gt => compare(v, first, *ftype) == Some(Ordering::Greater),
                Op::Ge => matches!(compare(v, first, *ftype), Some(Ordering::Greater | Ordering::Equal)),
                Op::In => values.iter().any(|l| compare(v, l, *ftype) == Some(Ordering::Equal)),
                Op::NotIn => values.iter().all(|l| matches!(compare(v, l, *ftype), Some(o) if o != Ordering::Equal)),
                Op::Like | Op::NotLike => {
                    let Some(text) = value_text(v) else { return false };
                    let hit = pattern.as_ref().is_some_and(|p| like_match(p, &text));
                    if *op == Op::Like { hit } else { !hit }
                }
                Op::Contains | Op::NotContains => {
                    let (Some(text), Lit::Str(needle)) = (value_text(v), first) else { return false };
                    let hit = text.to_lowercase().contains(&needle.to_lowercase());
                    if *op == Op::Contains { hit } else { !hit }
                }
            }
        }
    }
}

/// One element of a compiled LIKE pattern.
#[derive(Clone, Debug)]
pub enum Pat {
    Char(char),
    One,
    Many,
    Set { negate: bool, ranges: Vec<(char, char)> },
}

fn lower(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

/// Compile a SQL Server LIKE pattern (lower-cased: the collation is case-insensitive).
fn compile_like(p: &str) -> Vec<Pat> {
    let chars: Vec<char> = p.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '%' => {
                if !matches!(out.last(), Some(Pat::Many)) {
                    out.push(Pat::Many);
                }
                i += 1;
            }
            '_' => {
                out.push(Pat::One);
                i += 1;
            }
            '[' => {
                // The first character after '[' (or '[^') is always a member, so "[[]" and "[]]" work.
                let mut j = i + 1;
                let negate = chars.get(j) == Some(&'^');
                if negate {
                    j += 1;
                }
                let body_start = j;
                let close = chars.iter().skip(body_start + 1).position(|&c| c == ']').map(|r| r + body_start + 1);
                match close {
                    Some(end) if body_start < chars.len() => {
                        let body = &chars[body_start..end];
                        let mut ranges = Vec::new();
                        let mut k = 0;
                        while k < body.len() {
                            if k + 2 < body.len() && body[k + 1] == '-' {
                                ranges.push((lower(body[k]), lower(body[k + 2])));
                                k += 3;
                            } else {
                                ranges.push((lower(body[k]), lower(body[k])));
                                k += 1;
                            }
                        }
                        out.push(Pat::Set { negate, ranges });
                        i = end + 1;
                    }
                    _ => {
                        // Unterminated bracket: a literal '['.
                        out.push(Pat::Char('['));
                        i += 1;
                    }
                }
            }
            c => {
                out.push(Pat::Char(lower(c)));
                i += 1;
            }
        }
    }
    out
}

/// LIKE match by dynamic programming over (pattern, text): O(len(p) * len(t)), no backtracking blow-up.
fn like_match(pat: &[Pat], text: &str) -> bool {
    let t: Vec<char> = text.chars().map(lower).collect();
    // prev[j] = pattern prefix matches text prefix of length j.
    let mut prev = vec![false; t.len() + 1];
    prev[0] = true;
    for p in pat {
        let mut cur = vec![false; t.len() + 1];
        if matches!(p, Pat::Many) {
            cur[0] = prev[0];
        }
        for j in 1..=t.len() {
            cur[j] = match p {
                Pat::Many => cur[j - 1] || prev[j],
                Pat::One => prev[j - 1],
                Pat::Char(c) => prev[j - 1] && t[j - 1] == *c,
                Pat::Set { negate, ranges } => {
                    let inside = ranges.iter().any(|(a, b)| *a <= t[j - 1] && t[j - 1] <= *b);
                    prev[j - 1] && (inside != *negate)
                }
            };
        }
        prev = cur;
    }
    prev[t.len()]
}

/// A resolver over a static list of (canonical path, type) plus aliases.
pub struct Schema {
    pub fields: &'static [(&'static str, FType)],
    pub aliases: &'static [(&'static str, &'static str)],
}

impl Schema {
    /// Canonical path for a field name written in any case (aliases applied).
    pub fn canonical(&self, field: &str) -> Option<(&'static str, FType)> {
        let name = self.aliases.iter().find(|(a, _)| a.eq_ignore_ascii_case(field)).map(|(_, c)| *c).unwrap_or(field);
        self.fields.iter().find(|(f, _)| f.eq_ignore_ascii_case(name)).copied()
    }
}

impl Resolver for Schema {
    fn resolve(&self, field: &str) -> Option<(Vec<String>, FType)> {
        self.canonical(field).map(|(f, t)| (f.split('/').map(str::to_string).collect(), t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const S: Schema = Schema {
        fields: &[
            ("id", FType::Number),
            ("name", FType::Text),
            ("deletedFlag", FType::Bool),
            ("company/id", FType::Number),
            ("_info/lastUpdated", FType::Date),
            ("value", FType::Any),
        ],
        aliases: &[("lastUpdated", "_info/lastUpdated")],
    };

    fn m(cond: &str, rec: &Value) -> bool {
        eval(&parse(cond, &S).unwrap_or_else(|e| panic!("{cond}: {e}")), rec)
    }

    #[test]
    fn basics() {
        let r = json!({"id": 7, "name": "Contoso \"Big\" \\ Ltd ", "deletedFlag": false, "company": {"id": 3},
                       "_info": {"lastUpdated": "2024-05-01T12:00:00Z"}});
        assert!(m(r#"name = "contoso \"big\" \\ ltd""#, &r));
        assert!(m(r#"NAME like "Cont%""#, &r));
        assert!(m(r#"id >= 7 AND id < 8 and deletedFlag = false"#, &r));
        assert!(m(r#"company/id in (1, 2, 3)"#, &r));
        assert!(m(r#"company/id not in (1, 2)"#, &r));
        assert!(m(r#"(id = 1 or id = 7) and (name contains "BIG")"#, &r));
        assert!(m(r#"lastUpdated > [2024-01-01T00:00:00Z] and lastUpdated < [2024-06-01]"#, &r));
        assert!(m(r#"name != null"#, &r));
        assert!(!m(r#"name = null"#, &r));
        assert!(m(r#"id = "7""#, &r));
    }

    #[test]
    fn like_patterns() {
        let p = |pat: &str, t: &str| like_match(&compile_like(pat), t);
        assert!(p("100[%] Organic%", "100% Organic Farms"));
        assert!(!p("100[%] Organic%", "1000 Organic Farms"));
        assert!(p("Data[_]Stream", "Data_Stream"));
        assert!(!p("Data[_]Stream", "DataXStream"));
        assert!(p("[[]x]", "[x]"));
        assert!(p("a_c", "ABC"));
        assert!(p("%", ""));
        assert!(p("[a-c]x", "bx"));
        assert!(p("[^a-c]x", "dx"));
        assert!(!p("[^a-c]x", "bx"));
        assert!(p("%%%a%%", "banana"));
    }

    #[test]
    fn nulls_are_sql_like() {
        let r = json!({"id": 1, "name": null});
        assert!(!m(r#"name != "x""#, &r));
        assert!(!m(r#"name not in ("x")"#, &r));
        assert!(m(r#"name = null"#, &r));
    }

    #[test]
    fn malformed() {
        for bad in [
            "",
            "name",
            "name =",
            "name = \"abc",
            "name = \"a\\b\"",
            "nope = 1",
            "id = \"x\"",
            "(id = 1",
            "id = 1)",
            "id = 1 and",
            "id in 1",
            "id in (1,",
            "deletedFlag = 1",
            "id like \"1\"",
            "id < null",
            "lastUpdated > [yesterday]",
            "id = 1 id = 2",
            "name ! \"x\"",
            "name = 'x'",
        ] {
            assert!(parse(bad, &S).is_err(), "{bad:?} should fail");
        }
        let deep = format!("{}id = 1{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep, &S).is_err());
        let ok = format!("{}id = 1{}", "(".repeat(10), ")".repeat(10));
        assert!(parse(&ok, &S).is_ok());
    }
}
