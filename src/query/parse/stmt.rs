//! Every statement but SELECT: dispatch on the first keyword, then one small
//! function per statement family.

use super::lex::{
    Res, eat, eat_any, expect, expect_any, expected, fail, found, one_of, paren_list, text, uint, word, ws,
};
use super::select::{condition, select};
use crate::model::{CalType, Hwid, KeypackType, Mode, Product, Time};
use crate::query::ast::{Exportable, ImportOptions, Statement, Target, TimeUnit};
use crate::query::suggest::did_you_mean;

/// Parses one statement, without its end.
pub fn statement(i: &str) -> Res<'_, Statement> {
    let start = ws(i);
    let Some((rest, w)) = word(start) else {
        return fail(start, format!("expected a statement, found {}", found(start)));
    };
    // Upper-cased on the stack: no keyword is longer than 16 bytes, so a
    // longer word is no statement.
    let mut buf = [0u8; 16];
    let upper = match buf.get_mut(..w.len()) {
        Some(b) => {
            b.copy_from_slice(w.as_bytes());
            b.make_ascii_uppercase();
            std::str::from_utf8(b).unwrap_or("")
        }
        None => "",
    };
    match upper {
        "CREATE" => create(rest),
        "ACTIVATE" | "DEACTIVATE" => activate(rest, w.eq_ignore_ascii_case("ACTIVATE")),
        "SET" => set(rest),
        "INSTALL" => install(rest),
        "UNINSTALL" => uninstall(rest),
        "CLONE" | "REIMAGE" | "CLEAR" => device_op(rest, w),
        "CONNECT" => connect(rest),
        "LOGON" => super::client::logon_client(rest),
        "DISCONNECT" | "LOGOFF" => session_op(rest, w.eq_ignore_ascii_case("LOGOFF")),
        "ADVANCE" => advance(rest),
        "REVOKE" => revoke(rest),
        "REBUILD" => rebuild(rest),
        "CHECK" => Ok((rest, Statement::Check)),
        "REPAIR" => Ok((rest, Statement::Repair)),
        "BACKUP" => backup(rest),
        "BEGIN" | "COMMIT" | "ROLLBACK" => transaction(rest, w),
        "SELECT" => select(rest).map(|(r, s)| (r, Statement::Select(s))),
        "EXPLAIN" => {
            let (rest, ()) = expect(rest, "SELECT", "after EXPLAIN")?;
            select(rest).map(|(r, s)| (r, Statement::Explain(s)))
        }
        "WITH" => fail(start, "WITH (common table expressions) is not supported"),
        "SHOW" => show_stmt(rest),
        "REPORT" => report(rest),
        "EXPORT" => export(rest),
        "IMPORT" => import(rest),
        "INSERT" => super::restore::insert(rest),
        _ => fail(start, format!("expected a statement, found {}{}", found(start), did_you_mean(w, STATEMENT_WORDS))),
    }
}

/// The words a statement starts with, for "did you mean".
const STATEMENT_WORDS: [&str; 28] = [
    "CREATE", "ACTIVATE", "DEACTIVATE", "SET", "INSTALL", "UNINSTALL", "CLONE", "REIMAGE", "CLEAR", "CONNECT",
    "DISCONNECT", "LOGOFF", "ADVANCE", "REVOKE", "REBUILD", "CHECK", "REPAIR", "BACKUP", "BEGIN", "COMMIT",
    "ROLLBACK", "SELECT", "EXPLAIN", "SHOW", "REPORT", "EXPORT", "IMPORT", "LOGON",
];

/// Whether only blanks, comments and at most one `;` are left.
pub fn at_end(i: &str) -> bool {
    let i = ws(i);
    i.is_empty() || i.strip_prefix(';').is_some_and(|r| ws(r).is_empty())
}

/// Optional clauses in any order, each at most once. `names` are the clauses
/// as shown in messages; the first word of each is what is matched. `f` parses
/// the rest of clause `n`.
fn clauses<'a>(mut i: &'a str, names: &[&str], mut f: impl FnMut(&'a str, usize) -> Res<'a, ()>) -> Res<'a, ()> {
    let firsts: Vec<&str> = names.iter().map(|n| n.split(' ').next().unwrap_or(n)).collect();
    let mut seen = vec![false; names.len()];
    loop {
        let start = ws(i);
        if at_end(start) {
            return Ok((start, ()));
        }
        let Some((rest, n)) = eat_any(start, &firsts) else {
            let mut left: Vec<&str> = names.iter().zip(&seen).filter(|(_, s)| !**s).map(|(n, _)| *n).collect();
            left.push("the end of the statement");
            return expected(start, &one_of(&left), "");
        };
        if seen[n] {
            return fail(start, format!("duplicate {} clause", names[n]));
        }
        seen[n] = true;
        i = f(rest, n)?.0;
    }
}

/// A name (bare or quoted); `what` like `a server name`.
fn name<'a>(i: &'a str, what: &str) -> Res<'a, String> {
    super::lex::name(i, what)
}

fn product(i: &str) -> Res<'_, Product> {
    let start = ws(i);
    let Some((rest, w)) = word(start) else {
        return expected(start, "a product such as WS2025", "");
    };
    match Product::parse(w) {
        Some(p) => Ok((rest, p)),
        None => fail(start, format!("unknown product '{}'", super::lex::show(w))),
    }
}

fn mode(i: &str) -> Res<'_, Mode> {
    let (rest, n) = expect_any(i, &["DEVICE", "USER", "UNSET"], "after MODE")?;
    Ok((rest, [Mode::Device, Mode::User, Mode::Unset][n]))
}

fn time(i: &str) -> Res<'_, Time> {
    let start = ws(i);
    let (rest, t) = text(start, "a time")?;
    match Time::parse(&t) {
        Some(t) => Ok((rest, t)),
        None => fail(start, format!("expected a time 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS', found {}", found(start))),
    }
}

fn create(i: &str) -> Res<'_, Statement> {
    let (i, n) = expect_any(i, &["SERVER", "HOST", "DEVICE", "TABLE"], "after CREATE")?;
    match n {
        0 => create_server(i),
        1 => create_host(i),
        2 => create_device(i),
        _ => super::restore::create_table(i),
    }
}

fn create_server(i: &str) -> Res<'_, Statement> {
    let (i, name) = name(i, "a server name")?;
    let (mut product, mut scope) = (None, None);
    let (i, ()) = clauses(i, &["PRODUCT", "SCOPE"], |i, n| {
        if n == 0 {
            let (i, p) = self::product(i)?;
            product = Some(p);
            Ok((i, ()))
        } else {
            let (i, s) = self::name(i, "a scope name")?;
            scope = Some(s);
            Ok((i, ()))
        }
    })?;
    Ok((i, Statement::CreateServer { name, product, scope }))
}

fn create_host(i: &str) -> Res<'_, Statement> {
    let (i, name) = name(i, "a host name")?;
    let (mut product, mut mode, mut scope, mut servers, mut farm) = (None, None, None, None, None);
    let names = ["PRODUCT", "MODE", "SCOPE", "LICENSE SERVERS", "FARM"];
    let (i, ()) = clauses(i, &names, |i, n| match n {
        0 => self::product(i).map(|(i, p)| (i, product = Some(p))),
        1 => self::mode(i).map(|(i, m)| (i, mode = Some(m))),
        2 => self::name(i, "a scope name").map(|(i, s)| (i, scope = Some(s))),
        3 => server_list(i, "after LICENSE").map(|(i, l)| (i, servers = Some(l))),
        _ => self::name(i, "a farm name").map(|(i, f)| (i, farm = Some(f))),
    })?;
    let license_servers = servers;
    Ok((i, Statement::CreateHost { name, product, mode, scope, license_servers, farm }))
}

/// `SERVERS (name, ...)` after LICENSE.
fn server_list<'a>(i: &'a str, after: &str) -> Res<'a, Vec<String>> {
    let (i, ()) = expect(i, "SERVERS", after)?;
    paren_list(i, "license servers", |i| name(i, "a server name"))
}

fn create_device(i: &str) -> Res<'_, Statement> {
    let (i, name) = name(i, "a device name")?;
    let mut hwid = None;
    let (i, ()) = clauses(i, &["HWID"], |i, _| {
        let start = ws(i);
        let (rest, h) = match super::lex::quoted(start) {
            Err(nom::Err::Error(_)) => match word(start) {
                Some((rest, w)) => (rest, w.to_string()),
                None => return expected(start, "40 hexadecimal digits for HWID", ""),
            },
            other => other?,
        };
        match Hwid::parse(&h) {
            Some(h) => Ok((rest, hwid = Some(h))),
            None => expected(start, "40 hexadecimal digits for HWID", ""),
        }
    })?;
    Ok((i, Statement::CreateDevice { name, hwid }))
}

fn activate(i: &str, on: bool) -> Res<'_, Statement> {
    let after = if on { "after ACTIVATE" } else { "after DEACTIVATE" };
    let (i, ()) = expect(i, "SERVER", after)?;
    let (i, name) = name(i, "a server name")?;
    let s = if on { Statement::ActivateServer { name } } else { Statement::DeactivateServer { name } };
    Ok((i, s))
}

fn set(i: &str) -> Res<'_, Statement> {
    let (i, n) = expect_any(i, &["SERVER", "HOST", "CLOCK", "SEED", "KEYPACK"], "after SET")?;
    match n {
        0 => set_server(i),
        1 => set_host(i),
        4 => set_keypack(i),
        2 => match eat(i, "WALL") {
            Some(i) => Ok((i, Statement::SetClockWall)),
            None if super::lex::quoted(ws(i)).is_err_and(|e| matches!(e, nom::Err::Error(_))) => {
                expected(i, "a time in quotes or WALL", "after CLOCK")
            }
            None => time(i).map(|(i, at)| (i, Statement::SetClock { at })),
        },
        _ => uint(i, "a seed (a number)").map(|(i, seed)| (i, Statement::SetSeed { seed })),
    }
}

fn set_server(i: &str) -> Res<'_, Statement> {
    let (i, name) = name(i, "a server name")?;
    let Some((i, n)) = eat_any(i, &["ONLINE", "OFFLINE", "SECURITY", "PREVENT"]) else {
        return expected(i, "ONLINE, OFFLINE, SECURITY GROUP or PREVENT UPGRADE", "after the server name");
    };
    if n < 2 {
        return Ok((i, Statement::SetServerOnline { name, online: n == 0 }));
    }
    if n == 3 {
        let (i, ()) = expect(i, "UPGRADE", "after PREVENT")?;
        let Some((i, off)) = eat_any(i, &["ON", "OFF"]) else {
            return expected(i, "ON or OFF", "after PREVENT UPGRADE");
        };
        return Ok((i, Statement::SetServerPreventUpgrade { name, on: off == 0 }));
    }
    let (i, ()) = expect(i, "GROUP", "after SECURITY")?;
    if let Some(i) = eat(i, "OFF") {
        return Ok((i, Statement::SetServerSecurityGroup { name, hosts: None }));
    }
    if super::lex::eat_char(i, '(').is_none() {
        return expected(i, "'(' or OFF", "after SECURITY GROUP");
    }
    let (i, hosts) = paren_list(i, "hosts", |i| self::name(i, "a host name"))?;
    Ok((i, Statement::SetServerSecurityGroup { name, hosts: Some(hosts) }))
}

fn set_host(i: &str) -> Res<'_, Statement> {
    let (i, name) = name(i, "a host name")?;
    let Some((i, n)) = eat_any(i, &["MODE", "LICENSE"]) else {
        return expected(i, "MODE or LICENSE SERVERS", "after the host name");
    };
    if n == 0 {
        let (i, mode) = mode(i)?;
        return Ok((i, Statement::SetHostMode { name, mode }));
    }
    let (i, servers) = server_list(i, "after LICENSE")?;
    Ok((i, Statement::SetHostLicenseServers { name, servers }))
}

fn install(i: &str) -> Res<'_, Statement> {
    let (i, ()) = expect(i, "KEYPACK", "after INSTALL")?;
    let (i, ()) = expect(i, "ON", "after KEYPACK")?;
    let (i, server) = name(i, "a server name")?;
    let (i, ()) = expect(i, "PRODUCT", "after the server name")?;
    let (i, (product, cal)) = product_and_cal(i)?;
    let (i, ()) = expect(i, "COUNT", "after the CAL type")?;
    let (i, count) = count(i)?;
    let (mut kind, mut expires) = (None, None);
    let (i, ()) = clauses(i, &["TYPE", "EXPIRES"], |i, n| {
        if n == 1 {
            return time(i).map(|(i, t)| (i, expires = Some(t)));
        }
        keypack_type(i).map(|(i, t)| (i, kind = Some(t)))
    })?;
    Ok((i, Statement::InstallKeypack { server, product, cal, count, kind, expires }))
}

/// `SET KEYPACK n [ON server] PRODUCT p CAL DEVICE|USER [COUNT n] [TYPE t]
/// [EXPIRES 't']`.
fn set_keypack(i: &str) -> Res<'_, Statement> {
    let (i, id) = uint(i, "a key pack id (a number)")?;
    let (i, server) = on_server(i)?;
    let (i, ()) = expect(i, "PRODUCT", "after the key pack")?;
    let (i, (product, cal)) = product_and_cal(i)?;
    let (mut count, mut kind, mut expires) = (None, None, None);
    let (i, ()) = clauses(i, &["COUNT", "TYPE", "EXPIRES"], |i, n| match n {
        0 => self::count(i).map(|(i, c)| (i, count = Some(c))),
        1 => keypack_type(i).map(|(i, t)| (i, kind = Some(t))),
        _ => time(i).map(|(i, t)| (i, expires = Some(t))),
    })?;
    Ok((i, Statement::SetKeypack { id, server, product, cal, count, kind, expires }))
}

/// `p CAL DEVICE|USER`, after PRODUCT.
fn product_and_cal(i: &str) -> Res<'_, (Product, CalType)> {
    let (i, product) = product(i)?;
    let (i, ()) = expect(i, "CAL", "after the product")?;
    let (i, n) = expect_any(i, &["DEVICE", "USER"], "after CAL")?;
    Ok((i, (product, [CalType::Device, CalType::User][n])))
}

/// A key pack's count of CALs, after COUNT: at least 1.
fn count(i: &str) -> Res<'_, u64> {
    let start = ws(i);
    let (i, count) = uint(start, "a count (a number)")?;
    if count == 0 {
        return fail(start, "expected a count of at least 1 after COUNT, found '0'");
    }
    Ok((i, count))
}

fn keypack_type(i: &str) -> Res<'_, KeypackType> {
    let start = ws(i);
    if eat(start, "TEMPORARY").is_some() {
        return fail(start, "cannot install TYPE TEMPORARY: only the license server makes temporary key packs");
    }
    let kinds = ["RETAIL", "VOLUME", "OPEN", "CONCURRENT"];
    let (i, n) = expect_any(start, &kinds, "after TYPE")?;
    let all = [KeypackType::Retail, KeypackType::Volume, KeypackType::Open, KeypackType::Concurrent];
    Ok((i, all[n]))
}

fn uninstall(i: &str) -> Res<'_, Statement> {
    let (i, ()) = expect(i, "KEYPACK", "after UNINSTALL")?;
    let (i, id) = uint(i, "a key pack id (a number)")?;
    let (i, server) = on_server(i)?;
    Ok((i, Statement::UninstallKeypack { id, server }))
}

/// `ON server` after a key pack's or license's number: which server's
/// (each server numbers its own from 1).
fn on_server(i: &str) -> Res<'_, Option<String>> {
    match eat(i, "ON") {
        Some(i) => {
            let (i, server) = name(i, "a server name after ON")?;
            Ok((i, Some(server)))
        }
        None => Ok((i, None)),
    }
}

fn device_op<'a>(i: &'a str, verb: &str) -> Res<'a, Statement> {
    let verb = verb.to_ascii_uppercase();
    let (i, ()) = expect(i, "DEVICE", &format!("after {verb}"))?;
    let (i, name) = name(i, "a device name")?;
    match verb.as_str() {
        "REIMAGE" => Ok((i, Statement::ReimageDevice { name })),
        "CLEAR" => {
            let (i, n) = expect_any(i, &["STORE", "LICENSING"], "after the device name")?;
            let s =
                if n == 0 { Statement::ClearDeviceStore { name } } else { Statement::ClearDeviceLicensing { name } };
            Ok((i, s))
        }
        _ => {
            let (i, ()) = expect(i, "AS", "after the device name")?;
            let (i, new_name) = self::name(i, "a new device name")?;
            let (i, with_store) = match eat(i, "WITH") {
                Some(i) => (expect(i, "STORE", "after WITH")?.0, true),
                None => (i, false),
            };
            Ok((i, Statement::CloneDevice { name, new_name, with_store }))
        }
    }
}

fn connect(i: &str) -> Res<'_, Statement> {
    // `CONNECT CLIENT HWID ...` is a real client; a device may still be
    // named CLIENT (`CONNECT CLIENT AS ...`).
    if let Some(rest) = eat(i, "CLIENT").and_then(|r| eat(r, "HWID")) {
        return super::client::connect_client(rest);
    }
    let (i, device) = name(i, "a device name")?;
    let (i, ()) = expect(i, "AS", "after the device name")?;
    let (i, user) = name(i, "a user name")?;
    let (i, ()) = expect(i, "TO", "after the user name")?;
    let (i, target) = match eat(i, "FARM") {
        Some(i) => name(i, "a farm name").map(|(i, f)| (i, Target::Farm(f)))?,
        None => name(i, "a host name or FARM").map(|(i, h)| (i, Target::Host(h)))?,
    };
    let (i, admin) = match eat(i, "ADMIN") {
        Some(i) => (i, true),
        None => (i, false),
    };
    let (i, logon_failed) = match eat(i, "LOGON") {
        Some(i) => (expect(i, "FAILED", "after LOGON")?.0, true),
        None => (i, false),
    };
    Ok((i, Statement::Connect { device, user, target, admin, logon_failed }))
}

fn session_op(i: &str, logoff: bool) -> Res<'_, Statement> {
    let after = if logoff { "after LOGOFF" } else { "after DISCONNECT" };
    let (i, ()) = expect(i, "SESSION", after)?;
    let (i, id) = uint(i, "a session id (a number)")?;
    let s = if logoff { Statement::LogoffSession { id } } else { Statement::DisconnectSession { id } };
    Ok((i, s))
}

fn advance(i: &str) -> Res<'_, Statement> {
    let (i, amount) = uint(i, "a number")?;
    let units = ["DAYS", "HOURS", "MINUTES", "SECONDS", "DAY", "HOUR", "MINUTE", "SECOND"];
    let (i, n) = match eat_any(i, &units) {
        Some(found) => found,
        None => return expected(i, &one_of(&units[..4]), "after the number"),
    };
    let unit = [TimeUnit::Days, TimeUnit::Hours, TimeUnit::Minutes, TimeUnit::Seconds][n % 4];
    Ok((i, Statement::Advance { amount, unit }))
}

fn revoke(i: &str) -> Res<'_, Statement> {
    let (i, n) = expect_any(i, &["LICENSE", "LICENSES"], "after REVOKE")?;
    if n == 0 {
        let (i, id) = uint(i, "a license id (a number)")?;
        let (i, server) = on_server(i)?;
        return Ok((i, Statement::RevokeLicense { id, server }));
    }
    let (i, ()) = expect(i, "WHERE", "after LICENSES")?;
    let (i, filter) = condition(i)?;
    Ok((i, Statement::RevokeLicenses { filter }))
}

fn rebuild(i: &str) -> Res<'_, Statement> {
    let (i, ()) = expect(i, "SERVER", "after REBUILD")?;
    let (i, name) = name(i, "a server name")?;
    let (i, reinstall_keypacks) = match eat(i, "REINSTALL") {
        Some(i) => (expect(i, "KEYPACKS", "after REINSTALL")?.0, true),
        None => (i, false),
    };
    Ok((i, Statement::RebuildServer { name, reinstall_keypacks }))
}

fn backup(i: &str) -> Res<'_, Statement> {
    let (i, ()) = expect(i, "TO", "after BACKUP")?;
    let (i, file) = file(i)?;
    Ok((i, Statement::Backup { file }))
}

/// A file name in quotes, not empty.
fn file(i: &str) -> Res<'_, String> {
    let start = ws(i);
    let (i, f) = text(start, "a file name")?;
    if f.is_empty() {
        return fail(start, "expected a file name, found an empty text");
    }
    Ok((i, f))
}

fn transaction<'a>(i: &'a str, verb: &str) -> Res<'a, Statement> {
    let i = eat(i, "TRANSACTION").unwrap_or(i);
    let s = match verb.to_ascii_uppercase().as_str() {
        "BEGIN" => Statement::Begin,
        "COMMIT" => Statement::Commit,
        _ => Statement::Rollback,
    };
    Ok((i, s))
}

fn show_stmt(i: &str) -> Res<'_, Statement> {
    let (i, n) = expect_any(i, &["DEVICE", "HOST", "CLOCK"], "after SHOW")?;
    if n == 2 {
        return Ok((i, Statement::ShowClock));
    }
    if n == 0 {
        let (i, name) = name(i, "a device name")?;
        return Ok((i, Statement::ShowDevice { name }));
    }
    let (i, name) = name(i, "a host name")?;
    Ok((i, Statement::ShowHost { name }))
}

fn report(i: &str) -> Res<'_, Statement> {
    let kinds = ["USAGE", "DUPLICATES", "USERS", "EXPIRING"];
    let (i, n) = expect_any(i, &kinds, "after REPORT")?;
    let s = match n {
        0 => Statement::ReportUsage,
        1 => Statement::ReportDuplicates,
        2 => Statement::ReportUsers,
        _ => {
            let Some(i) = eat(i, "WITHIN") else {
                return Ok((i, Statement::ReportExpiring { within_days: None }));
            };
            let (i, days) = uint(i, "a number of days")?;
            let (i, _) = expect_any(i, &["DAYS", "DAY"], "after the number")?;
            return Ok((i, Statement::ReportExpiring { within_days: Some(days) }));
        }
    };
    Ok((i, s))
}

fn exportable<'a>(i: &'a str, after: &str) -> Res<'a, Exportable> {
    let (i, n) = expect_any(i, &["LICENSES", "KEYPACKS"], after)?;
    Ok((i, [Exportable::Licenses, Exportable::Keypacks][n]))
}

fn export(i: &str) -> Res<'_, Statement> {
    let (i, what) = exportable(i, "after EXPORT")?;
    let (i, ()) = expect(i, "TO", &format!("after {what}"))?;
    let (i, file) = file(i)?;
    Ok((i, Statement::Export { what, file }))
}

fn import(i: &str) -> Res<'_, Statement> {
    let (i, n) = expect_any(i, &["LICENSES", "KEYPACKS", "USERS"], "after IMPORT")?;
    let what = [Exportable::Licenses, Exportable::Keypacks].get(n).copied();
    let after = what.map_or("USERS".to_string(), |w| w.to_string());
    let (i, ()) = expect(i, "FROM", &format!("after {after}"))?;
    let (i, file) = file(i)?;
    let Some(what) = what else {
        // IMPORT USERS names its server: an AD export names none.
        let (i, ()) = expect(i, "INTO", "after the file name")?;
        let (i, ()) = expect(i, "SERVER", "after INTO")?;
        let (i, server) = name(i, "a server name")?;
        let (i, (options, _)) = import_tail(i, false)?;
        return Ok((i, Statement::ImportUsers { file, server, options }));
    };
    let (i, server) = match eat(i, "INTO") {
        Some(i) => {
            let (i, ()) = expect(i, "SERVER", "after INTO")?;
            let (i, server) = name(i, "a server name")?;
            (i, Some(server))
        }
        None => (i, None),
    };
    let (i, (options, as_of)) = import_tail(i, true)?;
    Ok((i, Statement::Import { what, file, server, as_of, options }))
}

/// `ENCODING 'e'`, `DELIMITER 'd'`, `CULTURE 'c'`, `TIMEZONE 'z'` and,
/// when `as_of` allows it, `AS OF 'time'`: each at most once, in any order.
fn import_tail(mut i: &str, as_of: bool) -> Res<'_, (ImportOptions, Option<Time>)> {
    let mut options = ImportOptions::default();
    let mut at = None;
    loop {
        if as_of && let Some(rest) = eat(i, "AS") {
            if at.is_some() {
                return fail(ws(i), "AS OF is given twice".to_string());
            }
            let (rest, ()) = expect(rest, "OF", "after AS")?;
            let (rest, t) = time(rest)?;
            at = Some(t);
            i = rest;
            continue;
        }
        let Some((rest, n)) = eat_any(i, &ImportOptions::WORDS) else { break };
        let word = ImportOptions::WORDS[n];
        if options.slot(n).is_some() {
            return fail(ws(i), format!("{word} is given twice"));
        }
        let (rest, value) = text(rest, &format!("a value after {word}"))?;
        *options.slot(n) = Some(value);
        i = rest;
    }
    Ok((i, (options, at)))
}
