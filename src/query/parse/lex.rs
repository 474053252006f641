//! The lexical layer of the parser: blanks and `--` comments, words,
//! keywords, names, quoted text and numbers, and the error type that records
//! where parsing failed.

use nom::bytes::complete::{tag, take_till};
use nom::character::complete::char;
use nom::error::{ErrorKind, ParseError};
use nom::{IResult, Parser};

use crate::model::NAME_MAX_LEN;

/// A parse failure: `rem` is the length of the input left at the bad spot
/// (so its offset is `text.len() - rem`), `msg` the message for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct PErr {
    pub rem: usize,
    pub msg: String,
}

impl ParseError<&str> for PErr {
    fn from_error_kind(input: &str, _kind: ErrorKind) -> Self {
        PErr { rem: input.len(), msg: String::new() }
    }

    fn append(_input: &str, _kind: ErrorKind, other: Self) -> Self {
        other
    }

    /// Keeps the error that got furthest, preferring one with a message.
    fn or(self, other: Self) -> Self {
        match other.rem.cmp(&self.rem) {
            std::cmp::Ordering::Less => other,
            std::cmp::Ordering::Greater => self,
            std::cmp::Ordering::Equal if self.msg.is_empty() => other,
            std::cmp::Ordering::Equal => self,
        }
    }
}

pub type Res<'a, T> = IResult<&'a str, T, PErr>;

/// Every keyword of the language. A name equal to one of these (in any case)
/// is printed quoted.
pub const KEYWORDS: &[&str] = &[
    "ACTIVATE",
    "ADVANCE",
    "AND",
    "AS",
    "ASC",
    "BACKUP",
    "BEGIN",
    "BY",
    "CAL",
    "CHECK",
    "CLEAR",
    "CLOCK",
    "CLONE",
    "COMMIT",
    "CONCURRENT",
    "CONNECT",
    "COUNT",
    "CREATE",
    "CULTURE",
    "DAY",
    "DAYS",
    "DEACTIVATE",
    "DELIMITER",
    "DESC",
    "DEVICE",
    "DISCONNECT",
    "DUPLICATES",
    "ENCODING",
    "EXPIRES",
    "EXPIRING",
    "EXPORT",
    "FAILED",
    "FALSE",
    "FARM",
    "FROM",
    "GROUP",
    "HOST",
    "HOUR",
    "HOURS",
    "HWID",
    "IMPORT",
    "IN",
    "INSERT",
    "INSTALL",
    "INTO",
    "IS",
    "KEYPACK",
    "KEYPACKS",
    "LICENSE",
    "LICENSES",
    "LICENSING",
    "LIKE",
    "LIMIT",
    "LOGOFF",
    "LOGON",
    "MINUTE",
    "MINUTES",
    "MODE",
    "NOT",
    "NULL",
    "OFF",
    "OFFLINE",
    "ON",
    "ONLINE",
    "OPEN",
    "OR",
    "ORDER",
    "PRODUCT",
    "REBUILD",
    "REIMAGE",
    "REINSTALL",
    "REPAIR",
    "REPORT",
    "RETAIL",
    "REVOKE",
    "ROLLBACK",
    "SCOPE",
    "SECOND",
    "SECONDS",
    "SECURITY",
    "SEED",
    "SELECT",
    "SERVER",
    "SERVERS",
    "SESSION",
    "SET",
    "SHOW",
    "STORE",
    "TABLE",
    "TEMPORARY",
    "TIMEZONE",
    "TO",
    "TRANSACTION",
    "TRUE",
    "TYPE",
    "UNINSTALL",
    "UNSET",
    "USAGE",
    "USER",
    "USERS",
    "VALUES",
    "VOLUME",
    "WALL",
    "WHERE",
    "WITH",
    "WITHIN",
];

/// Whether `c` may appear in a bare word.
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-' || c == '.'
}

/// Whether `s` can be written as a bare name: word characters only, no `--`
/// and not a keyword.
pub fn is_bare_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(is_word_char)
        && !s.contains("--")
        && !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(s))
}

fn comment(i: &str) -> IResult<&str, &str, PErr> {
    (tag("--"), take_till(|c| c == '\n')).map(|(_, c)| c).parse(i)
}

/// A `/* ... */` comment (SQL's other comment, which sqlite3 takes too).
/// An unterminated one is not a comment here: it stays as text, so a shell
/// keeps waiting for its end and a parser reports it.
fn block_comment(i: &str) -> Option<&str> {
    let body = i.strip_prefix("/*")?;
    body.find("*/").map(|end| &body[end + 2..])
}

/// Skips blanks, `--` and `/* */` comments, and a byte order mark (what
/// Notepad and PowerShell write at the start of a file).
pub fn ws(mut i: &str) -> &str {
    // Most calls start at a token: one byte tells.
    if let Some(&b) = i.as_bytes().first()
        && b.is_ascii()
        && b != b'-'
        && b != b'/'
        && !(b as char).is_whitespace()
    {
        return i;
    }
    loop {
        i = i.trim_start().trim_start_matches('\u{feff}');
        if let Ok((rest, _)) = comment(i) {
            i = rest;
        } else if let Some(rest) = block_comment(i) {
            i = rest;
        } else {
            return i;
        }
    }
}

/// An error at `i` (fatal: no alternative is tried after it).
pub fn fail<T>(i: &str, msg: impl Into<String>) -> Res<'_, T> {
    Err(nom::Err::Failure(PErr { rem: i.len(), msg: msg.into() }))
}

/// The next word (after blanks), without consuming it: `(rest, word)`.
/// A word stops before `--`.
pub fn word(i: &str) -> Option<(&str, &str)> {
    let i = ws(i);
    let n = word_len(i);
    if n == 0 {
        return None;
    }
    Some((&i[n..], &i[..n]))
}

/// The length in bytes of the word characters that start `i`, up to the
/// first `--`. One pass over the bytes; a character is decoded only when
/// it is not ASCII (every word of every statement goes through here).
fn word_len(i: &str) -> usize {
    let b = i.as_bytes();
    let mut n = 0;
    while let Some(&c) = b.get(n) {
        if c.is_ascii() {
            if !is_word_char(c as char) || (c == b'-' && b.get(n + 1) == Some(&b'-')) {
                break;
            }
            n += 1;
        } else {
            match i[n..].chars().next() {
                Some(ch) if is_word_char(ch) => n += ch.len_utf8(),
                _ => break,
            }
        }
    }
    n
}

/// Consumes the keyword `k` if it comes next.
pub fn eat<'a>(i: &'a str, k: &str) -> Option<&'a str> {
    match word(i) {
        Some((rest, w)) if w.eq_ignore_ascii_case(k) => Some(rest),
        _ => None,
    }
}

/// Consumes the punctuation `c` if it comes next.
pub fn eat_char(i: &str, c: char) -> Option<&str> {
    let r: Res<'_, char> = char(c).parse(ws(i));
    r.ok().map(|(rest, _)| rest)
}

/// Consumes one of `ks`, returning its index.
pub fn eat_any<'a>(i: &'a str, ks: &[&str]) -> Option<(&'a str, usize)> {
    let (rest, w) = word(i)?;
    ks.iter().position(|k| k.eq_ignore_ascii_case(w)).map(|n| (rest, n))
}

/// `A`, `A or B`, `A, B or C`.
pub fn one_of(ks: &[&str]) -> String {
    match ks {
        [] => String::new(),
        [k] => k.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Requires one of `ks`; `after` says where, e.g. `after CREATE`.
pub fn expect_any<'a>(i: &'a str, ks: &[&str], after: &str) -> Res<'a, usize> {
    match eat_any(i, ks) {
        Some((rest, n)) => Ok((rest, n)),
        None => expected(i, &one_of(ks), after),
    }
}

/// Requires the keyword `k`.
pub fn expect<'a>(i: &'a str, k: &str, after: &str) -> Res<'a, ()> {
    expect_any(i, &[k], after).map(|(rest, _)| (rest, ()))
}

/// Requires the punctuation `c`.
pub fn expect_char<'a>(i: &'a str, c: char, after: &str) -> Res<'a, ()> {
    match eat_char(i, c) {
        Some(rest) => Ok((rest, ())),
        None => expected(i, &format!("'{c}'"), after),
    }
}

/// The error `expected WHAT [AFTER], found 'TOKEN'` at the next token.
pub fn expected<'a, T>(i: &'a str, what: &str, after: &str) -> Res<'a, T> {
    let i = ws(i);
    let sep = if after.is_empty() { "" } else { " " };
    fail(i, format!("expected {what}{sep}{after}, found {}", found(i)))
}

/// A description of the next token for messages: `'word'` or
/// `the end of the statement`.
pub fn found(i: &str) -> String {
    let i = ws(i);
    if i.is_empty() {
        return "the end of the statement".into();
    }
    let t = token_text(i);
    if t.starts_with('\'') {
        return show(t);
    }
    format!("'{}'", show(t))
}

/// The text of the next token (`i` starts at it): a word, a quoted text or
/// one character.
pub fn token_text(i: &str) -> &str {
    if let Some((_, w)) = word(i) {
        return w;
    }
    if i.starts_with('\'') {
        return match quoted(i) {
            Ok((rest, _)) => &i[..i.len() - rest.len()],
            Err(_) => i,
        };
    }
    let n = i.chars().next().map_or(0, char::len_utf8);
    &i[..n]
}

/// `s` for a message: control characters escaped, at most 40 characters.
pub fn show(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().take(40) {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    if s.chars().nth(40).is_some() {
        out.push_str("...");
    }
    out
}

/// A quoted text `'...'` (after blanks), with `''` as one quote.
pub fn quoted(i: &str) -> Res<'_, String> {
    let i = ws(i);
    let Some(mut rest) = i.strip_prefix('\'') else {
        return Err(nom::Err::Error(PErr { rem: i.len(), msg: String::new() }));
    };
    let mut out = String::new();
    loop {
        let Some(n) = rest.find('\'') else {
            return fail(i, "unterminated quoted text");
        };
        out.push_str(&rest[..n]);
        rest = &rest[n + 1..];
        match rest.strip_prefix('\'') {
            Some(r) => {
                out.push('\'');
                rest = r;
            }
            None => return Ok((rest, out)),
        }
    }
}

/// A quoted text where one is required; `what` names it in messages.
pub fn text<'a>(i: &'a str, what: &str) -> Res<'a, String> {
    match quoted(i) {
        Err(nom::Err::Error(_)) => expected(i, &format!("{what} in quotes"), ""),
        other => other,
    }
}

/// A name: a bare word or a quoted text, at most `NAME_MAX_LEN` characters.
/// `what` names it in messages (`a server name`).
pub fn name<'a>(i: &'a str, what: &str) -> Res<'a, String> {
    let start = ws(i);
    let (rest, n) = if start.starts_with('\'') {
        quoted(start)?
    } else {
        match word(start) {
            Some((rest, w)) => (rest, w.to_string()),
            None => return expected(start, what, ""),
        }
    };
    if n.is_empty() {
        return fail(start, format!("expected {what}, found an empty name"));
    }
    // No more characters than bytes: a short name need not be counted.
    if n.len() > NAME_MAX_LEN && n.chars().count() > NAME_MAX_LEN {
        return fail(start, format!("name longer than {NAME_MAX_LEN} characters: '{}'", show(&n)));
    }
    Ok((rest, n))
}

/// An unsigned integer (a word of digits); `what` names it in messages.
pub fn uint<'a>(i: &'a str, what: &str) -> Res<'a, u64> {
    let start = ws(i);
    match word(start) {
        Some((rest, w)) if w.bytes().all(|b| b.is_ascii_digit()) => match w.parse::<u64>() {
            Ok(n) => Ok((rest, n)),
            Err(_) => fail(start, format!("number too large: '{}'", show(w))),
        },
        _ => expected(start, what, ""),
    }
}

/// A signed integer literal, if the next word is one.
pub fn int_literal(i: &str) -> Option<Res<'_, i64>> {
    let start = ws(i);
    let (rest, w) = word(start)?;
    let digits = w.strip_prefix('-').unwrap_or(w);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match w.parse::<i64>() {
        Ok(n) => Ok((rest, n)),
        Err(_) => fail(start, format!("number too large: '{}'", show(w))),
    })
}

/// A parenthesized, comma-separated list, possibly empty.
pub fn paren_list<'a, T>(i: &'a str, what: &str, mut item: impl FnMut(&'a str) -> Res<'a, T>) -> Res<'a, Vec<T>> {
    let (mut i, ()) = expect_char(i, '(', "")?;
    let mut out = Vec::new();
    if let Some(rest) = eat_char(i, ')') {
        return Ok((rest, out));
    }
    loop {
        let (rest, v) = item(i)?;
        out.push(v);
        if let Some(rest) = eat_char(rest, ',') {
            i = rest;
        } else if let Some(rest) = eat_char(rest, ')') {
            return Ok((rest, out));
        } else {
            return expected(rest, "',' or ')'", &format!("in the list of {what}"));
        }
    }
}
