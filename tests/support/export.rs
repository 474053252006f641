//! License exports for the tests that import many rows: the columns of
//! `Get-WmiObject Win32_TSIssuedLicense | Export-Csv`, one license a line.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

/// `rows` licenses of key pack `keypack` in WMI status `status`, ids and
/// HWIDs 1..=rows, computers `PC-n`.
pub fn licenses_csv(path: &Path, rows: u64, keypack: u64, status: u32) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).expect("create the csv"));
    writeln!(
        w,
        "sHardwareId,LicenseId,KeyPackId,LicenseStatus,sIssuedToComputer,sIssuedToUser,IssueDate,ExpirationDate"
    )
    .expect("write");
    for i in 1..=rows {
        writeln!(w, "{i:040X},{i},{keypack},{status},PC-{i},u,2026-01-20 12:00:00,2026-05-20 12:00:00").expect("write");
    }
    w.flush().expect("flush");
}

// ---------------------------------------------------------------------------
// The import corpus (issue 15): one planted license server, written the way
// each Windows writer writes it. What is planted is the truth the tests
// check every report against; the writers change only the bytes.

use chrono::{NaiveDate, NaiveDateTime, TimeZone};

/// A key pack as Win32_TSLicenseKeyPack describes it, and what caldb must read.
pub struct Pack {
    pub id: u64,
    pub kind_code: u32,
    pub product_type: u32,
    pub version_text: &'static str,
    pub version_id: u32,
    pub total: u64,
    /// What caldb reads: product, `device`/`user`, temporary or not.
    pub product: &'static str,
    pub cal: &'static str,
    pub temporary: bool,
}

/// An issued license as Win32_TSIssuedLicense describes it (times in UTC).
pub struct Lic {
    pub id: u64,
    pub pack: u64,
    pub user: String,
    pub computer: String,
    pub hwid: String,
    pub status_code: u32,
    pub issued: NaiveDateTime,
    pub expires: NaiveDateTime,
}

/// One AD user: its per-user CAL slots (msTSLicenseVersion text, expiry in
/// UTC, msTSManagingLS), and the product each must be read as.
pub struct AdUser {
    pub sam: String,
    pub cn: String,
    pub cals: Vec<(String, NaiveDateTime, String, &'static str)>,
}

pub struct Planted {
    pub clock: &'static str,
    pub packs: Vec<Pack>,
    pub licenses: Vec<Lic>,
    pub users: Vec<AdUser>,
}

fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d).and_then(|x| x.and_hms_opt(h, min, s)).expect("a planted time")
}

fn hwid(n: u64) -> String {
    format!("{:040X}", 0xC0DE_0000_u64 + n)
}

/// The planted server: every documented LicenseStatus, KeyPackType 0 and 6,
/// ProductType 2, localised ProductVersion texts, one HWID under two names,
/// one name with two HWIDs, names with umlauts, per-user CALs over-allocated.
pub fn planted() -> Planted {
    let pack = |id, kind_code, product_type, version_text, version_id, total, product, cal, temporary| Pack {
        id,
        kind_code,
        product_type,
        version_text,
        version_id,
        total,
        product,
        cal,
        temporary,
    };
    let packs = vec![
        pack(1, 4, 0, "Windows Server 2022", 7, 0, "WS2022", "device", true),
        pack(3, 1, 0, "Windows Server 2019", 6, 10, "WS2019", "device", false),
        pack(4, 2, 0, "Windows Server 2022", 7, 20, "WS2022", "device", false),
        pack(5, 5, 1, "Windows Server 2022", 7, 3, "WS2022", "user", false),
        pack(6, 0, 0, "Windows Server 2016 (Geräte-CAL)", 5, 5, "WS2016", "device", false),
        pack(7, 6, 2, "Windows Server 2008 oder Windows Server 2008 R2", 2, 5, "WS2008R2", "device", false),
    ];
    let mut licenses = Vec::new();
    let mut lic = |pack: u64, user: &str, computer: &str, hwid: String, status_code: u32| {
        let id = licenses.len() as u64 + 1;
        let issued = at(2026, 1, 2 + id as u32, (id as u32 * 5) % 24, (id as u32 * 7) % 60, 12);
        let expires = issued + chrono::Duration::days(52 + id as i64 * 2);
        let (user, computer) = (user.to_string(), computer.to_string());
        licenses.push(Lic { id, pack, user, computer, hwid, status_code, issued, expires });
    };
    for n in 1..=6 {
        lic(4, &format!("CONTOSO\\user{n:02}"), &format!("PC-{n:02}"), hwid(n), 2);
    }
    lic(4, "CONTOSO\\jörg", "PC-MÜLLER", hwid(7), 2);
    lic(4, "CONTOSO\\zoë", "PC-ÅSA", hwid(8), 2);
    // One HWID under two names: a cloned image.
    lic(4, "CONTOSO\\clone", "PC-CLONE-A", hwid(100), 2);
    lic(4, "CONTOSO\\clone", "PC-CLONE-B", hwid(100), 2);
    // One name with two HWIDs: a rebuilt machine.
    lic(3, "CONTOSO\\kim", "PC-REBUILT", hwid(200), 2);
    lic(3, "CONTOSO\\kim", "PC-REBUILT", hwid(201), 2);
    lic(4, "CONTOSO\\gone", "PC-REVOKED", hwid(12), 4);
    lic(3, "CONTOSO\\wait", "PC-PENDING", hwid(13), 5);
    lic(6, "CONTOSO\\conc", "PC-CONCURRENT", hwid(14), 6);
    lic(7, "CONTOSO\\old", "PC-UNKNOWN", hwid(15), 0);
    lic(1, "CONTOSO\\new", "PC-TEMP", hwid(16), 1);
    lic(1, "CONTOSO\\kim", "PC-UPGRADED", hwid(17), 3);
    let ten = "655360".to_string();
    let ls_id = "00429-60000-00000-AA813".to_string();
    let user = |sam: &str, cn: &str, cals: Vec<(String, NaiveDateTime, String, &'static str)>| AdUser {
        sam: sam.to_string(),
        cn: cn.to_string(),
        cals,
    };
    let mut users: Vec<AdUser> = (1..=5)
        .map(|n| {
            let cal = (ten.clone(), at(2026, 3, n, 8 + n, 30, 0), ls_id.clone(), "WS2022");
            user(&format!("u{n:02}"), &format!("User {n:02}"), vec![cal])
        })
        .collect();
    users.push(user("lapsed", "Lapsed User", vec![(ten.clone(), at(2026, 1, 10, 12, 0, 0), ls_id.clone(), "WS2022")]));
    users.push(user(
        "jörg",
        "Jörg Müller, Finance and a long department name that ldifde folds",
        vec![
            ("Windows Server 2022".to_string(), at(2026, 3, 20, 7, 0, 0), "ls1".to_string(), "WS2022"),
            ("6.1".to_string(), at(2026, 2, 25, 16, 45, 0), ls_id.clone(), "WS2008R2"),
        ],
    ));
    users.push(user("nocal", "No Cal", vec![]));
    Planted { clock: "2026-02-01 00:00:00", packs, licenses, users }
}

/// How a writer quotes: Export-Csv always, PowerShell 7's -UseQuotes
/// AsNeeded and Never.
#[derive(Clone, Copy)]
pub enum Quote {
    Always,
    AsNeeded,
    Never,
}

/// How a writer writes a time: WMI DATETIME at an offset (Get-WmiObject),
/// culture text in a zone (Get-CimInstance, Get-ADUser), ISO with the offset.
#[derive(Clone, Copy)]
pub enum Dates {
    Dmtf(i32),
    Culture(&'static str, chrono_tz::Tz),
    Iso(chrono_tz::Tz),
}

/// The object columns PowerShell adds: Get-WmiObject's `__GENUS` ...
/// `Container`, Get-CimInstance's `PSComputerName` ... `CimSystemProperties`.
#[derive(Clone, Copy, PartialEq)]
pub enum Extra {
    None,
    Wmi,
    Cim,
}

/// One writer: what a command line on Windows produces.
#[derive(Clone, Copy)]
pub struct Writer {
    pub name: &'static str,
    /// `utf-8`, `utf-8-bom`, `utf-16le`, `utf-16be` or a code page label.
    pub encoding: &'static str,
    pub delimiter: u8,
    pub quote: Quote,
    pub type_line: bool,
    pub dates: Dates,
    pub crlf: bool,
    pub extra: Extra,
    /// Whether the licenses carry sIssuedToUser (a column subset does not).
    pub user_column: bool,
    /// The IMPORT options that file needs.
    pub options: &'static str,
}

/// A time as the writer writes it.
pub fn write_time(t: NaiveDateTime, dates: Dates) -> String {
    let utc = chrono::Utc.from_utc_datetime(&t);
    match dates {
        Dates::Dmtf(offset) => {
            let local = t + chrono::Duration::minutes(offset.into());
            let sign = if offset < 0 { '-' } else { '+' };
            format!("{}.000000{sign}{:03}", local.format("%Y%m%d%H%M%S"), offset.abs())
        }
        Dates::Iso(zone) => utc.with_timezone(&zone).format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        Dates::Culture(culture, zone) => {
            let l = utc.with_timezone(&zone).naive_local();
            match culture {
                "en-US" => {
                    let (pm, h) = chrono::Timelike::hour12(&l);
                    let ap = if pm { "PM" } else { "AM" };
                    format!("{}/{}/{} {h}:{} {ap}", l.format("%-m"), l.format("%-d"), l.format("%Y"), l.format("%M:%S"))
                }
                "de-DE" => l.format("%d.%m.%Y %H:%M:%S").to_string(),
                "fr-FR" | "en-GB" => l.format("%d/%m/%Y %H:%M:%S").to_string(),
                "ja-JP" => l.format("%Y/%m/%d %-H:%M:%S").to_string(),
                other => panic!("no culture {other} in the generator"),
            }
        }
    }
}

fn quoted(field: &str, w: &Writer) -> String {
    let needs = field.contains([w.delimiter as char, '"', '\r', '\n']);
    match w.quote {
        Quote::Always => format!("\"{}\"", field.replace('"', "\"\"")),
        Quote::AsNeeded if needs => format!("\"{}\"", field.replace('"', "\"\"")),
        _ => field.to_string(),
    }
}

/// The file's text: an optional #TYPE line, the header and the rows.
fn text(w: &Writer, type_line: &str, header: &[String], rows: &[Vec<String>]) -> String {
    let eol = if w.crlf { "\r\n" } else { "\n" };
    let mut out = String::new();
    if w.type_line {
        out.push_str(type_line);
        out.push_str(eol);
    }
    let d = (w.delimiter as char).to_string();
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        out.push_str(&row.iter().map(|f| quoted(f, w)).collect::<Vec<_>>().join(&d));
        out.push_str(eol);
    }
    out
}

/// The text in the writer's encoding (with its byte order mark, if any).
pub fn encode(text: &str, encoding: &str) -> Vec<u8> {
    match encoding {
        "utf-8" => text.as_bytes().to_vec(),
        "utf-8-bom" => [&b"\xEF\xBB\xBF"[..], text.as_bytes()].concat(),
        "utf-16le" => [0xFF, 0xFE].into_iter().chain(text.encode_utf16().flat_map(u16::to_le_bytes)).collect(),
        "utf-16be" => [0xFE, 0xFF].into_iter().chain(text.encode_utf16().flat_map(u16::to_be_bytes)).collect(),
        label => {
            let enc = encoding_rs::Encoding::for_label(label.as_bytes()).expect("a known encoding");
            let (bytes, _, lossy) = enc.encode(text);
            assert!(!lossy, "{label} cannot hold the planted names");
            bytes.into_owned()
        }
    }
}

const WMI_HEAD: [&str; 10] = [
    "__GENUS",
    "__CLASS",
    "__SUPERCLASS",
    "__DYNASTY",
    "__RELPATH",
    "__PROPERTY_COUNT",
    "__DERIVATION",
    "__SERVER",
    "__NAMESPACE",
    "__PATH",
];
const WMI_TAIL: [&str; 10] = [
    "PSComputerName",
    "Scope",
    "Path",
    "Options",
    "ClassPath",
    "Properties",
    "SystemProperties",
    "Qualifiers",
    "Site",
    "Container",
];
const CIM_TAIL: [&str; 4] = ["PSComputerName", "CimClass", "CimInstanceProperties", "CimSystemProperties"];

/// The row with the writer's object columns around it.
fn framed(w: &Writer, class: &str, relpath: &str, props: Vec<String>) -> Vec<String> {
    let path = format!("\\\\LS1\\root\\cimv2:{relpath}");
    let n = props.len().to_string();
    match w.extra {
        Extra::None => props,
        Extra::Wmi => {
            let head = ["2", class, "", class, relpath, &n, "System.String[]", "LS1", "root\\cimv2", &path];
            let tail = [
                "ls1",
                "System.Management.ManagementScope",
                &path,
                "System.Management.ObjectGetOptions",
                &format!("\\\\LS1\\root\\cimv2:{class}"),
                "System.Management.PropertyDataCollection",
                "System.Management.PropertyDataCollection",
                "System.Management.QualifierDataCollection",
                "",
                "",
            ];
            head.iter().map(|s| s.to_string()).chain(props).chain(tail.iter().map(|s| s.to_string())).collect()
        }
        Extra::Cim => {
            let tail = [
                "",
                &format!("root/cimv2:{class}"),
                "Microsoft.Management.Infrastructure.Internal.Data.CimPropertiesCollection",
                "Microsoft.Management.Infrastructure.CimSystemProperties",
            ];
            props.into_iter().chain(tail.iter().map(|s| s.to_string())).collect()
        }
    }
}

fn header(w: &Writer, props: &[&str]) -> Vec<String> {
    let tail: &[&str] = match w.extra {
        Extra::None => &[],
        Extra::Wmi => &WMI_TAIL,
        Extra::Cim => &CIM_TAIL,
    };
    let head: &[&str] = if w.extra == Extra::Wmi { &WMI_HEAD } else { &[] };
    head.iter().chain(props).chain(tail).map(|s| s.to_string()).collect()
}

fn type_line(w: &Writer, class: &str) -> String {
    match w.extra {
        Extra::Cim => format!("#TYPE Microsoft.Management.Infrastructure.CimInstance#root/cimv2/{class}"),
        _ => format!("#TYPE System.Management.ManagementObject#root\\cimv2\\{class}"),
    }
}

/// The planted key packs as `Get-WmiObject|Get-CimInstance Win32_TSLicenseKeyPack | Export-Csv` writes them.
pub fn keypacks_file(p: &Planted, w: &Writer) -> Vec<u8> {
    let props = [
        "AccessRights",
        "AvailableLicenses",
        "Description",
        "ExpirationDate",
        "IssuedLicenses",
        "KeyPackId",
        "KeyPackType",
        "ProductType",
        "ProductVersion",
        "ProductVersionID",
        "TotalLicenses",
        "TypeAndModel",
    ];
    let perpetual = at(2038, 1, 19, 3, 14, 7);
    let rows: Vec<Vec<String>> = p
        .packs
        .iter()
        .map(|k| {
            let issued = p.licenses.iter().filter(|l| l.pack == k.id && [2, 5, 6].contains(&l.status_code)).count();
            let model = if k.cal == "user" { "RDS Per User CAL" } else { "RDS Per Device CAL" };
            let props = vec![
                "1".to_string(),
                (k.total.saturating_sub(issued as u64)).to_string(),
                format!("{} - {model}", k.version_text),
                write_time(perpetual, w.dates),
                issued.to_string(),
                k.id.to_string(),
                k.kind_code.to_string(),
                k.product_type.to_string(),
                k.version_text.to_string(),
                k.version_id.to_string(),
                if k.temporary { "4294967295".to_string() } else { k.total.to_string() },
                model.to_string(),
            ];
            framed(w, "Win32_TSLicenseKeyPack", &format!("Win32_TSLicenseKeyPack.KeyPackId={}", k.id), props)
        })
        .collect();
    let t = text(w, &type_line(w, "Win32_TSLicenseKeyPack"), &header(w, &props), &rows);
    encode(&t, w.encoding)
}

/// The planted licenses as `... Win32_TSIssuedLicense | Export-Csv` writes them.
pub fn licenses_file(p: &Planted, w: &Writer) -> Vec<u8> {
    let mut props = vec![
        "ExpirationDate",
        "IssueDate",
        "KeyPackId",
        "LicenseId",
        "LicenseStatus",
        "sHardwareId",
        "sIssuedToComputer",
        "sIssuedToUser",
    ];
    if !w.user_column {
        props.retain(|c| *c != "sIssuedToUser");
    }
    let rows: Vec<Vec<String>> = p
        .licenses
        .iter()
        .map(|l| {
            let mut f = vec![
                write_time(l.expires, w.dates),
                write_time(l.issued, w.dates),
                l.pack.to_string(),
                l.id.to_string(),
                l.status_code.to_string(),
                l.hwid.clone(),
                l.computer.clone(),
            ];
            if w.user_column {
                f.push(l.user.clone());
            }
            let rel = format!("Win32_TSIssuedLicense.KeyPackId={},LicenseId={}", l.pack, l.id);
            framed(w, "Win32_TSIssuedLicense", &rel, f)
        })
        .collect();
    let t = text(w, &type_line(w, "Win32_TSIssuedLicense"), &header(w, &props), &rows);
    encode(&t, w.encoding)
}

/// `Get-ADUser -Filter * -Properties msTS... | Export-Csv` (ADUser objects;
/// the DateTime msTSExpireDate written as culture text in local time).
pub fn ad_csv_file(p: &Planted, w: &Writer) -> Vec<u8> {
    let mut props = vec!["DistinguishedName", "Enabled", "GivenName"];
    let slots = ["", "2"];
    let mut ts: Vec<String> = Vec::new();
    for s in slots {
        ts.push(format!("msTSExpireDate{s}"));
        ts.push(format!("msTSLicenseVersion{s}"));
        ts.push(format!("msTSManagingLS{s}"));
    }
    props.extend(ts.iter().map(String::as_str));
    props.extend([
        "Name",
        "ObjectClass",
        "ObjectGUID",
        "SamAccountName",
        "SID",
        "Surname",
        "UserPrincipalName",
        "PropertyNames",
        "AddedProperties",
        "RemovedProperties",
        "ModifiedProperties",
        "PropertyCount",
    ]);
    let rows: Vec<Vec<String>> = p
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let mut f = vec![format!("CN={},OU=Staff,DC=contoso,DC=com", u.cn), "True".into(), u.sam.clone()];
            for s in 0..slots.len() {
                match u.cals.get(s) {
                    Some((v, t, ls, _)) => f.extend([write_time(*t, w.dates), v.clone(), ls.clone()]),
                    None => f.extend([String::new(), String::new(), String::new()]),
                }
            }
            f.extend([
                u.cn.clone(),
                "user".into(),
                format!("6f9619ff-8b86-d011-b42d-00c04fc964{i:02}"),
                u.sam.clone(),
                format!("S-1-5-21-1004336348-1177238915-682003330-{}", 1100 + i),
                String::new(),
                format!("{}@contoso.com", u.sam),
                "System.Collections.Generic.SortedDictionary`2+KeyCollection[System.String,Microsoft.ActiveDirectory.Management.ADPropertyValueCollection]".into(),
                "System.Collections.Generic.HashSet`1[System.String]".into(),
                "System.Collections.Generic.HashSet`1[System.String]".into(),
                "System.Collections.Generic.HashSet`1[System.String]".into(),
                "16".into(),
            ]);
            f
        })
        .collect();
    let head: Vec<String> = props.iter().map(|s| s.to_string()).collect();
    let t = text(w, "#TYPE Microsoft.ActiveDirectory.Management.ADUser", &head, &rows);
    encode(&t, w.encoding)
}

/// `ldifde -f users.ldf -r "(objectClass=user)" -l ...`: GeneralizedTime,
/// `::` base64 for non-ASCII values, lines folded at 78 columns, CRLF.
pub fn ldif_file(p: &Planted) -> Vec<u8> {
    use base64::Engine;
    let mut out = String::new();
    let line = |out: &mut String, attr: &str, value: &str| {
        let l = if value.is_ascii() && !value.starts_with(' ') {
            format!("{attr}: {value}")
        } else {
            format!("{attr}:: {}", base64::engine::general_purpose::STANDARD.encode(value))
        };
        let mut rest = l.as_str();
        let mut first = true;
        while !rest.is_empty() {
            let width = if first { 78 } else { 77 };
            let (now, later) = rest.split_at(rest.len().min(width));
            out.push_str(if first { "" } else { " " });
            out.push_str(now);
            out.push_str("\r\n");
            rest = later;
            first = false;
        }
    };
    for u in &p.users {
        line(&mut out, "dn", &format!("CN={},OU=Staff,DC=contoso,DC=com", u.cn));
        line(&mut out, "changetype", "add");
        line(&mut out, "sAMAccountName", &u.sam);
        for (i, (v, t, ls, _)) in u.cals.iter().enumerate() {
            let s = if i == 0 { String::new() } else { (i + 1).to_string() };
            line(&mut out, &format!("msTSExpireDate{s}"), &format!("{}.0Z", t.format("%Y%m%d%H%M%S")));
            line(&mut out, &format!("msTSLicenseVersion{s}"), v);
            line(&mut out, &format!("msTSManagingLS{s}"), ls);
        }
        out.push_str("\r\n");
    }
    out.into_bytes()
}
