//! The statements of a real client (`CONNECT CLIENT`, `LOGON CLIENT`): what
//! the licensing front decided on, as text that replays to the same
//! database without the exchange's cryptography.

use super::lex::{Res, eat, expect, expected, fail, found, name, text, uint, word, ws};
use crate::model::{Hwid, LicenseKind, Product, Time};
use crate::protocol::{ClientConnect, ClientLogon, Invalid, Presented};
use crate::query::ast::Statement;

fn hwid(i: &str) -> Res<'_, Hwid> {
    let start = ws(i);
    let (rest, h) = text(start, "40 hexadecimal digits for HWID")?;
    match Hwid::parse(&h) {
        Some(h) => Ok((rest, h)),
        None => expected(start, "40 hexadecimal digits for HWID", ""),
    }
}

/// `NAME computer AS user TO host`, shared by both statements.
fn client_names<'a>(i: &'a str, after: &str) -> Res<'a, (String, String, String)> {
    let (i, ()) = expect(i, "NAME", after)?;
    let (i, computer) = name(i, "a computer name")?;
    let (i, ()) = expect(i, "AS", "after the computer name")?;
    let (i, user) = name(i, "a user name")?;
    let (i, ()) = expect(i, "TO", "after the user name")?;
    let (i, host) = name(i, "a host name")?;
    Ok((i, (computer, user, host)))
}

/// After `CONNECT CLIENT HWID`: `'hex' NAME c AS u TO h [PRESENTING ...]`.
pub fn connect_client(i: &str) -> Res<'_, Statement> {
    let (i, hwid) = hwid(i)?;
    let (i, (computer, user, host)) = client_names(i, "after the HWID")?;
    let (i, presented) = match eat(i, "PRESENTING") {
        Some(i) => presented(i)?,
        None => (i, Presented::Nothing),
    };
    let req = ClientConnect { hwid, computer, user, host, presented };
    Ok((i, Statement::ConnectClient(Box::new(req))))
}

/// `LICENSE n ON server`.
fn license_on(i: &str) -> Res<'_, (u64, String)> {
    let (i, ()) = expect(i, "LICENSE", "after PRESENTING")?;
    number_on(i)
}

/// `n ON s`: a license as its server numbers it.
fn number_on(i: &str) -> Res<'_, (u64, String)> {
    let (i, license) = uint(i, "a license id")?;
    let (i, ()) = expect(i, "ON", "after the license id")?;
    let (i, server) = name(i, "a server name")?;
    Ok((i, (license, server)))
}

/// `LICENSE n ON s KIND k PRODUCT p EXPIRES 't'`, `INVALID 'tag'|'unknown'`
/// or `INVALID 'hwid' LICENSE n ON s`.
fn presented(i: &str) -> Res<'_, Presented> {
    if let Some(i) = eat(i, "INVALID") {
        let start = ws(i);
        let (i, why) = text(start, "'tag', 'hwid' or 'unknown'")?;
        return match why.as_str() {
            "tag" => Ok((i, Presented::Invalid(Invalid::Tag))),
            "unknown" => Ok((i, Presented::Invalid(Invalid::Unknown))),
            "hwid" => {
                let (i, (license, server)) = license_on(i)?;
                Ok((i, Presented::Misplaced { license, server }))
            }
            other => fail(start, format!("expected 'tag', 'hwid' or 'unknown', found '{other}'")),
        };
    }
    let (i, (license, server)) = license_on(i)?;
    let (i, ()) = expect(i, "KIND", "after the server name")?;
    let (i, kind) = word_of(i, "temporary or permanent", LicenseKind::parse)?;
    let (i, ()) = expect(i, "PRODUCT", "after the kind")?;
    let (i, product) = word_of(i, "a product such as WS2025", Product::parse)?;
    let (i, ()) = expect(i, "EXPIRES", "after the product")?;
    let start = ws(i);
    let (i, t) = text(start, "a time")?;
    let Some(expires) = Time::parse(&t) else {
        return fail(start, format!("expected a time 'YYYY-MM-DD HH:MM:SS', found {}", found(start)));
    };
    Ok((i, Presented::License { license, server, kind, product, expires }))
}

fn word_of<'a, T>(i: &'a str, what: &str, parse: fn(&str) -> Option<T>) -> Res<'a, T> {
    let start = ws(i);
    match word(start).and_then(|(rest, w)| parse(w).map(|v| (rest, v))) {
        Some(found) => Ok(found),
        None => expected(start, what, ""),
    }
}

/// After `LOGON`: `CLIENT NAME c AS u TO h [LICENSE n ON s] [FAILED]`.
pub fn logon_client(i: &str) -> Res<'_, Statement> {
    let (i, ()) = expect(i, "CLIENT", "after LOGON")?;
    let (i, (computer, user, host)) = client_names(i, "after LOGON CLIENT")?;
    let (i, license) = match eat(i, "LICENSE") {
        Some(i) => number_on(i).map(|(i, n)| (i, Some(n)))?,
        None => (i, None),
    };
    let (i, failed) = match eat(i, "FAILED") {
        Some(i) => (i, true),
        None => (i, false),
    };
    let req = ClientLogon { computer, user, host, license, failed };
    Ok((i, Statement::LogonClient(Box::new(req))))
}
