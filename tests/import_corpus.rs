//! The import corpus (issue 15 items 2, 3, 5, 7, 8): one planted license
//! server (`support/export.rs`: every documented LicenseStatus, KeyPackType
//! 0 and 6, ProductType 2, localised ProductVersion texts, one HWID under two
//! names, one name under two HWIDs, umlauts, over-allocated per-user CALs in
//! AD) written as each Windows writer writes it, into `tests/corpus/import/`.
//! Every file is loaded end to end and its rows and reports (DUPLICATES,
//! USAGE, USERS, EXPIRING) checked against what was planted; every malformed
//! file (one per reading rule) is an error naming its line and column that
//! leaves `.dump` unchanged. `UPDATE_CORPUS=1` rewrites the files from the
//! generator; otherwise the files on disk must be what it makes.

#[path = "support/db.rs"]
mod db;
#[path = "support/export.rs"]
mod export;

use caldb::{Database, ResultSet};
use db::{col, exec, text_rows};
use export::{Dates, Extra, Planted, Quote, Writer};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/import").join(name)
}

/// The file the generator makes, checked against (or, with
/// `UPDATE_CORPUS=1`, written to) the corpus; its path.
fn corpus_file(name: &str, bytes: &[u8]) -> String {
    let path = corpus(name);
    if std::env::var_os("UPDATE_CORPUS").is_some() {
        std::fs::create_dir_all(path.parent().expect("a directory")).expect("mkdir");
        std::fs::write(&path, bytes).expect("write the corpus");
    }
    let on_disk = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (UPDATE_CORPUS=1 makes it)", path.display()));
    assert!(on_disk == bytes, "{} is not what the generator makes (UPDATE_CORPUS=1 rewrites it)", path.display());
    path.display().to_string()
}

const fn writer(name: &'static str) -> Writer {
    Writer {
        name,
        encoding: "utf-8-bom",
        delimiter: b',',
        quote: Quote::Always,
        type_line: true,
        dates: Dates::Dmtf(60),
        crlf: true,
        extra: Extra::Wmi,
        user_column: true,
        options: "",
    }
}

/// Each writer of the issue: Windows PowerShell 5.1's Get-WmiObject with
/// -Encoding UTF8, Unicode, BigEndianUnicode and Default, -UseCulture on a
/// German system, -NoTypeInformation; PowerShell 7's Get-CimInstance with
/// culture dates (en-US, de-DE, fr-FR, en-GB, ja-JP), -UseQuotes AsNeeded and
/// Never, tab and ';' delimiters, LF line ends, a column subset, ISO times.
fn writers() -> Vec<Writer> {
    use chrono_tz::{America, Asia, Australia, Europe};
    vec![
        writer("ps51-wmi-utf8"),
        Writer {
            encoding: "utf-16le",
            type_line: false,
            dates: Dates::Dmtf(-300),
            ..writer("ps51-wmi-unicode-notype")
        },
        Writer { encoding: "utf-16be", dates: Dates::Dmtf(0), ..writer("ps51-wmi-bigendian") },
        Writer { delimiter: b';', dates: Dates::Dmtf(60), ..writer("ps51-wmi-useculture-de") },
        Writer {
            encoding: "windows-1252",
            dates: Dates::Dmtf(120),
            options: "ENCODING 'windows-1252'",
            ..writer("ps51-wmi-ansi")
        },
        Writer {
            encoding: "utf-8",
            type_line: false,
            extra: Extra::Cim,
            dates: Dates::Culture("en-US", America::New_York),
            options: "CULTURE 'en-US' TIMEZONE 'America/New_York'",
            ..writer("ps7-cim-en-us")
        },
        Writer {
            encoding: "utf-8",
            type_line: false,
            extra: Extra::Cim,
            delimiter: b';',
            quote: Quote::AsNeeded,
            dates: Dates::Culture("de-DE", Europe::Berlin),
            options: "TIMEZONE 'Europe/Berlin'",
            ..writer("ps7-cim-de-de-asneeded")
        },
        Writer {
            encoding: "utf-8",
            type_line: false,
            extra: Extra::Cim,
            delimiter: b'\t',
            quote: Quote::Never,
            dates: Dates::Culture("ja-JP", Asia::Tokyo),
            options: "DELIMITER 'tab' TIMEZONE 'Asia/Tokyo'",
            ..writer("ps7-cim-ja-jp-tab-never")
        },
        Writer {
            encoding: "utf-8",
            type_line: false,
            extra: Extra::Cim,
            delimiter: b';',
            crlf: false,
            dates: Dates::Culture("fr-FR", Europe::Paris),
            options: "CULTURE 'fr-FR' TIMEZONE 'Europe/Paris'",
            ..writer("ps7-cim-fr-fr-lf")
        },
        Writer {
            encoding: "utf-8",
            type_line: false,
            extra: Extra::Cim,
            user_column: false,
            dates: Dates::Culture("en-GB", Europe::London),
            options: "CULTURE 'en-GB' TIMEZONE 'Europe/London'",
            ..writer("ps7-cim-en-gb-no-user")
        },
        Writer {
            encoding: "utf-8",
            type_line: false,
            extra: Extra::None,
            dates: Dates::Iso(Australia::Sydney),
            ..writer("ps7-select-iso")
        },
    ]
}

const SETUP: &str = "CREATE SERVER ls1 PRODUCT WS2022";

fn fresh(p: &Planted) -> Database {
    let mut db = Database::open_in_memory().expect("db");
    exec(&mut db, &format!("SET CLOCK '{}'; {SETUP}", p.clock));
    db
}

/// One IMPORT (its options may hold `;`, so not through `exec`).
fn import(db: &mut Database, what: &str, file: &str, options: &str) -> ResultSet {
    let stmt = format!("IMPORT {what} FROM '{file}' INTO SERVER ls1 {options}");
    db.execute(&stmt).unwrap_or_else(|e| panic!("{stmt}: {e}")).expect("a result")
}

fn field(rs: &ResultSet, name: &str) -> String {
    rs.rows[0][col(rs, name)].to_string()
}

/// caldb's status of a planted license.
fn status(p: &Planted, l: &export::Lic) -> &'static str {
    let temporary = p.packs.iter().any(|k| k.id == l.pack && k.temporary);
    match (l.status_code, temporary) {
        (0, _) => "expired",
        (1, _) | (5 | 6, true) => "temporary",
        (3, _) => "upgraded",
        (4, _) => "revoked",
        _ => "active",
    }
}

fn product_of_pack(p: &Planted, pack: u64) -> &'static str {
    p.packs.iter().find(|k| k.id == pack).map(|k| k.product).expect("a planted pack")
}

fn utc(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn check_licenses(db: &mut Database, p: &Planted, w: &Writer) {
    let rs = exec(
        db,
        "SELECT id, keypack, computer, user, hwid, status, product, issued, expires FROM licenses ORDER BY id",
    )
    .expect("rows");
    let want: Vec<Vec<String>> = p
        .licenses
        .iter()
        .map(|l| {
            vec![
                l.id.to_string(),
                l.pack.to_string(),
                l.computer.clone(),
                if w.user_column { l.user.clone() } else { String::new() },
                l.hwid.clone(),
                status(p, l).to_string(),
                product_of_pack(p, l.pack).to_string(),
                utc(l.issued),
                utc(l.expires),
            ]
        })
        .collect();
    assert_eq!(text_rows(&rs), want, "{}: the licenses read", w.name);
    let rs =
        exec(db, "SELECT id, product, cal, total FROM keypacks WHERE type <> 'temporary' ORDER BY id").expect("rows");
    let want: Vec<Vec<String>> = p
        .packs
        .iter()
        .filter(|k| !k.temporary)
        .map(|k| vec![k.id.to_string(), k.product.into(), k.cal.into(), k.total.to_string()])
        .collect();
    assert_eq!(text_rows(&rs), want, "{}: the key packs read", w.name);
}

/// REPORT DUPLICATES' (finding, computers) against the planted groups of
/// live CALs: a HWID under several names, a name under several HWIDs.
fn check_duplicates(db: &mut Database, p: &Planted, name: &str) {
    let live: Vec<&export::Lic> = p.licenses.iter().filter(|l| status(p, l) == "active").collect();
    let mut by_hwid: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut by_computer: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for l in &live {
        by_hwid.entry(&l.hwid).or_default().insert(&l.computer);
        by_computer.entry(&l.computer).or_default().insert(&l.hwid);
    }
    let mut want = BTreeSet::new();
    for names in by_hwid.values().filter(|n| n.len() > 1) {
        want.insert(("shared-hwid".to_string(), names.iter().copied().collect::<Vec<_>>().join(",")));
    }
    for (computer, _) in by_computer.iter().filter(|(_, h)| h.len() > 1) {
        want.insert(("several-hwids".to_string(), computer.to_string()));
    }
    let rs = exec(db, "REPORT DUPLICATES").expect("rows");
    let (f, c) = (col(&rs, "finding"), col(&rs, "computers"));
    let got: BTreeSet<(String, String)> = rs.rows.iter().map(|r| (r[f].to_string(), r[c].to_string())).collect();
    assert_eq!(got, want, "{name}: REPORT DUPLICATES");
    assert_eq!(want.len(), 2, "the generator plants both situations");
}

/// REPORT USAGE's device pools against the planted packs and statuses.
fn check_usage(db: &mut Database, p: &Planted, name: &str) {
    let mut want: BTreeMap<(String, String), [u64; 4]> = BTreeMap::new();
    for k in p.packs.iter().filter(|k| !k.temporary) {
        want.entry((k.product.into(), k.cal.into())).or_default()[0] += k.total;
    }
    for l in &p.licenses {
        let slot = match status(p, l) {
            "active" => 1,
            "temporary" => 2,
            "revoked" => 3,
            _ => continue,
        };
        want.entry((product_of_pack(p, l.pack).into(), "device".into())).or_default()[slot] += 1;
    }
    let rs = exec(db, "REPORT USAGE").expect("rows");
    let idx = ["product", "cal", "installed", "issued", "temporary", "revoked"].map(|c| col(&rs, c));
    let got: BTreeMap<(String, String), [u64; 4]> = rs
        .rows
        .iter()
        .filter(|r| r[idx[1]].to_string() == "device")
        .map(|r| {
            let n = |i: usize| r[idx[i]].to_string().parse::<u64>().expect("a count");
            ((r[idx[0]].to_string(), r[idx[1]].to_string()), [n(2), n(3), n(4), n(5)])
        })
        .collect();
    want.retain(|(_, cal), _| cal == "device");
    assert_eq!(got, want, "{name}: REPORT USAGE (installed, issued, temporary, revoked)");
}

/// REPORT EXPIRING: per day and product, the active permanent CALs.
fn check_expiring(db: &mut Database, p: &Planted, name: &str) {
    let mut want: BTreeMap<(String, String), u64> = BTreeMap::new();
    for l in p.licenses.iter().filter(|l| status(p, l) == "active") {
        *want.entry((l.expires.format("%Y-%m-%d").to_string(), product_of_pack(p, l.pack).into())).or_default() += 1;
    }
    let rs = exec(db, "REPORT EXPIRING WITHIN 120 DAYS").expect("rows");
    let (d, pr, c) = (col(&rs, "day"), col(&rs, "product"), col(&rs, "cals"));
    let got: BTreeMap<(String, String), u64> = rs
        .rows
        .iter()
        .filter(|r| r[c].to_string() != "0")
        .map(|r| ((r[d].to_string(), r[pr].to_string()), r[c].to_string().parse().expect("a count")))
        .collect();
    assert_eq!(got, want, "{name}: REPORT EXPIRING");
}

fn licenses_loaded(p: &Planted, w: &Writer) -> Database {
    let kp = corpus_file(&format!("{}.keypacks.csv", w.name), &export::keypacks_file(p, w));
    let lic = corpus_file(&format!("{}.licenses.csv", w.name), &export::licenses_file(p, w));
    let mut db = fresh(p);
    let r = import(&mut db, "KEYPACKS", &kp, w.options);
    assert_eq!((field(&r, "rows"), field(&r, "passed_over")), (p.packs.len().to_string(), "0".into()), "{}", w.name);
    let note = field(&r, "note");
    for said in [
        "KeyPackType 0 (unknown) read as retail: 1",
        "KeyPackType 6 (not supported) read as retail: 1",
        "ProductType 2 (not valid) read as per device: 1",
        "ProductVersion read from ProductVersionID 5 as WS2016: 1",
        "ProductVersion read from ProductVersionID 2 as WS2008R2: 1",
    ] {
        assert!(note.contains(said), "{}: the key pack note says '{said}': {note}", w.name);
    }
    let r = import(&mut db, "LICENSES", &lic, w.options);
    assert_eq!((field(&r, "rows"), field(&r, "passed_over")), (p.licenses.len().to_string(), "0".into()), "{}", w.name);
    let note = field(&r, "note");
    for said in [
        "LicenseStatus 0 (unknown) read as expired: 1",
        "LicenseStatus 5 (pending) read as active: 1",
        "LicenseStatus 6 (concurrent) read as active: 1",
    ] {
        assert!(note.contains(said), "{}: the license note says '{said}': {note}", w.name);
    }
    db
}

#[test]
fn every_writers_export_loads_and_every_report_shows_what_was_planted() {
    let p = export::planted();
    for w in writers() {
        let mut db = licenses_loaded(&p, &w);
        check_licenses(&mut db, &p, &w);
        check_duplicates(&mut db, &p, w.name);
        check_usage(&mut db, &p, w.name);
        check_expiring(&mut db, &p, w.name);
        assert!(exec(&mut db, "CHECK").expect("rows").rows.is_empty(), "{}: CHECK after the import", w.name);
    }
}

fn check_users(db: &mut Database, p: &Planted, name: &str, loaded: &ResultSet) {
    let now = chrono::NaiveDateTime::parse_from_str(p.clock, "%Y-%m-%d %H:%M:%S").expect("the clock");
    let cals: usize = p.users.iter().map(|u| u.cals.len()).sum();
    let without = p.users.iter().filter(|u| u.cals.is_empty()).count();
    assert_eq!(
        (field(loaded, "rows"), field(loaded, "passed_over")),
        (cals.to_string(), without.to_string()),
        "{name}"
    );
    let mut want: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for k in p.packs.iter().filter(|k| k.cal == "user") {
        want.entry(k.product.into()).or_default().1 += k.total;
    }
    for (_, expires, _, product) in p.users.iter().flat_map(|u| &u.cals) {
        let e = want.entry(product.to_string()).or_default();
        e.0 += u64::from(*expires > now);
    }
    let rs = exec(db, "REPORT USERS").expect("rows");
    let idx = ["product", "tracked", "installed", "over_allocated"].map(|c| col(&rs, c));
    let got: BTreeMap<String, (u64, u64)> = rs
        .rows
        .iter()
        .map(|r| {
            let n = |i: usize| r[idx[i]].to_string().parse::<u64>().expect("a count");
            assert_eq!(n(3), n(1).saturating_sub(n(2)), "{name}: over_allocated");
            (r[idx[0]].to_string(), (n(1), n(2)))
        })
        .collect();
    assert_eq!(got, want, "{name}: REPORT USERS (tracked, installed)");
    assert!(want.values().any(|(t, i)| t > i), "the generator over-allocates");
    let rs = exec(db, "SELECT user, product, expires FROM user_cals ORDER BY user, product").expect("rows");
    let mut planted: Vec<Vec<String>> = p
        .users
        .iter()
        .flat_map(|u| u.cals.iter().map(move |(_, t, _, product)| vec![u.sam.clone(), product.to_string(), utc(*t)]))
        .collect();
    planted.sort();
    assert_eq!(text_rows(&rs), planted, "{name}: user_cals");
}

#[test]
fn active_directory_exports_load_per_user_cals_and_report_users_counts_them() {
    use chrono_tz::{America, Europe};
    let p = export::planted();
    let kp = corpus_file("ps51-wmi-utf8.keypacks.csv", &export::keypacks_file(&p, &writer("ps51-wmi-utf8")));
    let ad_writers = [
        Writer {
            dates: Dates::Culture("en-US", America::Chicago),
            options: "CULTURE 'en-US' TIMEZONE 'America/Chicago'",
            ..writer("ad-ps51-en-us")
        },
        Writer {
            encoding: "utf-8",
            type_line: false,
            delimiter: b';',
            dates: Dates::Culture("de-DE", Europe::Berlin),
            options: "TIMEZONE 'Europe/Berlin'",
            ..writer("ad-ps7-de-de")
        },
    ];
    let mut files: Vec<(String, String, &str)> = ad_writers
        .iter()
        .map(|w| (w.name.to_string(), corpus_file(&format!("{}.csv", w.name), &export::ad_csv_file(&p, w)), w.options))
        .collect();
    files.push(("ad-ldifde".into(), corpus_file("ad-ldifde.ldf", &export::ldif_file(&p)), ""));
    for (name, file, options) in files {
        let mut db = fresh(&p);
        import(&mut db, "KEYPACKS", &kp, "");
        let r = import(&mut db, "USERS", &file, options);
        let note = field(&r, "note");
        assert!(note.contains("msTSLicenseVersion 10.0 read as WS2022"), "{name}: {note}");
        check_users(&mut db, &p, &name, &r);
        assert!(exec(&mut db, "CHECK").expect("rows").rows.is_empty(), "{name}: CHECK");
    }
}

#[test]
fn export_then_import_gives_the_same_rows_into_a_server_of_another_name() {
    let p = export::planted();
    let w = writer("ps51-wmi-utf8");
    let mut src = licenses_loaded(&p, &w);
    let dir = std::env::temp_dir().join(format!("caldb-import-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let (kp, lic) = (dir.join("k.csv").display().to_string(), dir.join("l.csv").display().to_string());
    exec(&mut src, &format!("EXPORT KEYPACKS TO '{kp}'; EXPORT LICENSES TO '{lic}'"));
    let mut dst = Database::open_in_memory().expect("db");
    exec(&mut dst, &format!("SET CLOCK '{}'; CREATE SERVER ls1 PRODUCT WS2022", p.clock));
    let k = import(&mut dst, "KEYPACKS", &kp, "");
    let l = import(&mut dst, "LICENSES", &lic, "");
    assert_eq!((field(&k, "rows"), field(&l, "rows")), (p.packs.len().to_string(), p.licenses.len().to_string()));
    for stmt in ["SELECT * FROM licenses ORDER BY id", "SELECT * FROM keypacks ORDER BY id"] {
        assert_eq!(text_rows(&exec(&mut src, stmt).expect("rows")), text_rows(&exec(&mut dst, stmt).expect("rows")));
    }
    // Into a server of another name: the file names one server, so each
    // server numbering its own, its rows load whole into the server named.
    let mut other = Database::open_in_memory().expect("db");
    exec(&mut other, &format!("SET CLOCK '{}'; CREATE SERVER ls9 PRODUCT WS2022", p.clock));
    for (what, file, n) in [("KEYPACKS", &kp, p.packs.len()), ("LICENSES", &lic, p.licenses.len())] {
        let stmt = format!("IMPORT {what} FROM '{file}' INTO SERVER ls9");
        let r = other.execute(&stmt).expect("import").expect("a row");
        assert_eq!(
            (field(&r, "server"), field(&r, "rows"), field(&r, "passed_over")),
            ("ls9".into(), n.to_string(), "0".into())
        );
    }
    let renamed = |rows: Vec<Vec<String>>| -> Vec<Vec<String>> {
        rows.into_iter().map(|r| r.into_iter().map(|c| if c == "ls1" { "ls9".into() } else { c }).collect()).collect()
    };
    for stmt in ["SELECT * FROM licenses ORDER BY id", "SELECT * FROM keypacks ORDER BY id"] {
        let want = renamed(text_rows(&exec(&mut src, stmt).expect("rows")));
        assert_eq!(text_rows(&exec(&mut other, stmt).expect("rows")), want, "{stmt}");
    }
    // A whole-database export of two servers into one of them: the other's
    // rows are passed over, counted and said in the note, never silently.
    exec(&mut src, "CREATE SERVER ls2 PRODUCT WS2022");
    let (wkp, wlic) =
        [".keypacks.csv", ".licenses.csv"].map(|e| corpus(&format!("{}{e}", w.name)).display().to_string()).into();
    for (what, file) in [("KEYPACKS", &wkp), ("LICENSES", &wlic)] {
        let stmt = format!("IMPORT {what} FROM '{file}' INTO SERVER ls2 {}", w.options);
        src.execute(&stmt).unwrap_or_else(|e| panic!("{stmt}: {e}"));
    }
    let both = dir.join("both.csv").display().to_string();
    exec(&mut src, &format!("EXPORT LICENSES TO '{both}'"));
    let mut two = Database::open_in_memory().expect("db");
    exec(&mut two, &format!("SET CLOCK '{}'; CREATE SERVER ls2 PRODUCT WS2022", p.clock));
    let r = two.execute(&format!("IMPORT LICENSES FROM '{both}' INTO SERVER ls2")).expect("import").expect("a row");
    let n = p.licenses.len().to_string();
    assert_eq!((field(&r, "rows"), field(&r, "passed_over")), (n.clone(), n.clone()));
    let said = format!("rows for another server, passed over: {n}");
    assert!(field(&r, "note").contains(&said), "{}", field(&r, "note"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_zero_byte_file_imports_nothing_and_says_so() {
    let p = export::planted();
    let empty = corpus_file("empty.csv", b"");
    for what in ["KEYPACKS", "LICENSES", "USERS"] {
        let mut db = fresh(&p);
        let r = import(&mut db, what, &empty, "");
        assert_eq!((field(&r, "rows"), field(&r, "passed_over")), ("0".into(), "0".into()), "{what}");
        assert!(field(&r, "note").contains("the file is empty (0 bytes)"), "{what}: {}", field(&r, "note"));
    }
    // Without INTO SERVER too: an empty file names no server, and needs none.
    for what in ["KEYPACKS", "LICENSES"] {
        let mut db = fresh(&p);
        let r = db.execute(&format!("IMPORT {what} FROM '{empty}'")).expect("import").expect("a row");
        assert_eq!(
            (field(&r, "rows"), field(&r, "passed_over"), field(&r, "server")),
            ("0".into(), "0".into(), "".into())
        );
    }
}

/// A malformed file: its corpus name, the statement's kind and options,
/// its bytes, and what the error must name.
struct Bad {
    name: &'static str,
    what: &'static str,
    options: &'static str,
    bytes: Vec<u8>,
    line: u64,
    column: &'static str,
    says: String,
}

/// A writer's licenses text with one field replaced (the first match).
fn licenses_with(p: &Planted, w: &Writer, from: &str, to: &str) -> Vec<u8> {
    let bytes = export::licenses_file(p, w);
    let text = String::from_utf8(bytes).expect("utf-8 writer");
    assert!(text.contains(from), "{from} is in the {} file", w.name);
    text.replacen(from, to, 1).into_bytes()
}

fn bad_files(p: &Planted) -> Vec<Bad> {
    [bad_bytes(p), bad_times(p), bad_values(p)].into_iter().flatten().collect()
}

/// A culture writer of PowerShell 7.
fn cim(culture: &'static str, zone: chrono_tz::Tz) -> Writer {
    Writer {
        encoding: "utf-8",
        type_line: false,
        extra: Extra::Cim,
        dates: Dates::Culture(culture, zone),
        ..writer("bad")
    }
}

/// Bytes that are not what the statement says: delimiter, encoding.
fn bad_bytes(p: &Planted) -> Vec<Bad> {
    let ansi = Writer { encoding: "windows-1252", ..writer("ansi") };
    let mut utf16 = export::licenses_file(p, &Writer { encoding: "utf-16le", ..writer("u16") });
    // An unpaired surrogate in the third computer name's text (line 5).
    let pc = |from: usize, bytes: &[u8]| {
        from + bytes[from..].windows(4).position(|w| w == [b'P', 0, b'C', 0]).expect("a computer")
    };
    let at = pc(0, &utf16);
    let at = pc(at + 2, &utf16);
    let at = pc(at + 2, &utf16);
    utf16[at..at + 2].copy_from_slice(&[0x00, 0xD8]);
    vec![
        Bad {
            name: "wrong-delimiter.csv",
            what: "LICENSES",
            options: "DELIMITER ','",
            bytes: export::licenses_file(p, &Writer { delimiter: b';', ..writer("semi") }),
            line: 2,
            column: "",
            says: "the header has one column".to_string(),
        },
        Bad {
            name: "ansi-without-encoding.csv",
            what: "LICENSES",
            options: "",
            bytes: export::licenses_file(p, &ansi),
            line: 9,
            column: "",
            says: "the file is not UTF-8 text: name its encoding".to_string(),
        },
        Bad {
            name: "utf16-unpaired-surrogate.csv",
            what: "LICENSES",
            options: "",
            bytes: utf16,
            line: 5,
            column: "",
            says: "not UTF-16LE text".to_string(),
        },
    ]
}

/// Times that cannot be read, or read two ways.
fn bad_times(p: &Planted) -> Vec<Bad> {
    use chrono_tz::Europe;
    let (us, de, fr) = (cim("en-US", chrono_tz::UTC), cim("de-DE", Europe::Berlin), cim("fr-FR", Europe::Paris));
    let first_expiry = export::write_time(p.licenses[0].expires, us.dates);
    let first_issue = export::write_time(p.licenses[0].issued, us.dates);
    let first_de = export::write_time(p.licenses[0].expires, de.dates);
    let fr_issue = export::write_time(p.licenses[2].issued, fr.dates);
    let dmtf = export::write_time(p.licenses[0].issued, Dates::Dmtf(60));
    let unset = format!("\"2026****{}\"", &dmtf[8..]);
    vec![
        Bad {
            name: "ambiguous-date.csv",
            what: "LICENSES",
            options: "",
            // Issued 2026-01-03: read first, its 1/3 could be either.
            bytes: export::licenses_file(p, &us),
            line: 2,
            column: "IssueDate",
            says: format!("'{first_issue}' is ambiguous: 2026-01-03 (month/day, as en-US writes it) or 2026-03-01"),
        },
        Bad {
            name: "dmtf-unset-fields.csv",
            what: "LICENSES",
            options: "",
            bytes: licenses_with(p, &writer("w"), &format!("\"{dmtf}\""), &unset),
            line: 3,
            column: "IssueDate",
            says: "unset fields".to_string(),
        },
        Bad {
            name: "time-in-the-dst-gap.csv",
            what: "LICENSES",
            options: "TIMEZONE 'Europe/Berlin'",
            bytes: licenses_with(p, &de, &first_de, "29.03.2026 02:30:00"),
            line: 2,
            column: "ExpirationDate",
            says: "does not exist in Europe/Berlin".to_string(),
        },
        Bad {
            name: "hour-13-pm.csv",
            what: "LICENSES",
            options: "CULTURE 'en-US'",
            bytes: licenses_with(p, &us, &first_expiry, "2/26/2026 13:15:00 PM"),
            line: 2,
            column: "ExpirationDate",
            says: "a 12-hour clock's hour is 1 to 12".to_string(),
        },
        Bad {
            name: "day-month-order-contradicted.csv",
            what: "LICENSES",
            options: "",
            // Line 2 shows day/month (13/01); line 4 then shows month/day.
            bytes: {
                let first = export::write_time(p.licenses[0].issued, fr.dates);
                let text = String::from_utf8(licenses_with(p, &fr, &fr_issue, "01/25/2026 10:19:12")).expect("utf-8");
                text.replacen(&first, "13/01/2026 06:07:12", 1).into_bytes()
            },
            line: 4,
            column: "IssueDate",
            says: "reads as month/day but line 2 read as day/month".to_string(),
        },
    ]
}

/// Values no documented reading fits: statuses, versions, AD and LDIF.
fn bad_values(p: &Planted) -> Vec<Bad> {
    let kp = String::from_utf8(export::keypacks_file(p, &writer("kp"))).expect("utf-8");
    let ad = String::from_utf8(export::ad_csv_file(p, &writer("ad"))).expect("utf-8");
    let ldif = String::from_utf8(export::ldif_file(p)).expect("ascii");
    vec![
        Bad {
            name: "license-status-7.csv",
            what: "LICENSES",
            options: "",
            bytes: licenses_with(
                p,
                &writer("w"),
                "\"2\",\"0000000000000000000000000000000",
                "\"7\",\"0000000000000000000000000000000",
            ),
            line: 3,
            column: "LicenseStatus",
            says: "is not a license status (0 unknown".to_string(),
        },
        Bad {
            name: "keypack-version-unknown.csv",
            what: "KEYPACKS",
            options: "",
            bytes: kp
                .replacen("\"Windows Server 2016 (Geräte-CAL)\",\"5\"", "\"Windows Server 2016 (Geräte-CAL)\",\"9\"", 1)
                .into_bytes(),
            line: 7,
            column: "ProductVersionID",
            says: "'9' is not a product version caldb knows".to_string(),
        },
        Bad {
            name: "ad-expiry-not-a-date.csv",
            what: "USERS",
            options: "",
            bytes: {
                let first = export::write_time(p.users[0].cals[0].1, Dates::Dmtf(60));
                ad.replacen(&format!("\"{first}\""), "\"31.02.2026 10:00:00\"", 1).into_bytes()
            },
            line: 3,
            column: "msTSExpireDate",
            says: "'31.02.2026 10:00:00' is not a time".to_string(),
        },
        Bad {
            name: "ad-version-unknown.csv",
            what: "USERS",
            options: "",
            bytes: ad.replacen("\"655360\"", "\"7.9\"", 1).into_bytes(),
            line: 3,
            column: "msTSLicenseVersion",
            says: "'7.9' is not a CAL version caldb knows".to_string(),
        },
        Bad {
            name: "ldif-bad-base64.ldf",
            what: "USERS",
            options: "",
            bytes: ldif.replacen("dn:: ", "dn:: ***", 1).into_bytes(),
            line: 43,
            column: "",
            says: "the value of 'dn' ('***".to_string(),
        },
        Bad {
            name: "ldif-entry-without-dn.ldf",
            what: "USERS",
            options: "",
            bytes: ldif.replacen("dn: CN=User 02", "cn: CN=User 02", 1).into_bytes(),
            line: 8,
            column: "",
            says: "an entry must start with its 'dn:' line".to_string(),
        },
    ]
}

#[test]
fn every_malformed_file_is_an_error_naming_line_and_column_and_changes_nothing() {
    let p = export::planted();
    let kp = corpus_file("ps51-wmi-utf8.keypacks.csv", &export::keypacks_file(&p, &writer("ps51-wmi-utf8")));
    let bad = bad_files(&p);
    assert!(bad.len() >= 14);
    for b in bad {
        let path = corpus_file(&format!("bad/{}", b.name), &b.bytes);
        let mut db = fresh(&p);
        if b.what != "KEYPACKS" {
            import(&mut db, "KEYPACKS", &kp, "");
        }
        let before = db.dump().expect("dump");
        let stmt = format!("IMPORT {} FROM '{path}' INTO SERVER ls1 {}", b.what, b.options);
        let err = db.execute(&stmt).err().unwrap_or_else(|| panic!("{} must be refused", b.name)).to_string();
        let at = if b.column.is_empty() { format!("line {}", b.line) } else { format!("line {}, ", b.line) };
        assert!(err.starts_with(&format!("{path}: {at}")), "{}: expected '{at}', got '{err}'", b.name);
        assert!(err.contains(b.column), "{}: names column {}: {err}", b.name, b.column);
        assert!(err.contains(&b.says), "{}: says '{}': {err}", b.name, b.says);
        assert!(!err.ends_with('.'), "{}: no trailing period: {err}", b.name);
        assert_eq!(db.dump().expect("dump"), before, "{}: the database changed", b.name);
    }
}

#[test]
fn unknown_options_are_errors_listing_what_is_known() {
    let p = export::planted();
    let kp = corpus_file("ps51-wmi-utf8.keypacks.csv", &export::keypacks_file(&p, &writer("ps51-wmi-utf8")));
    for (options, says) in [
        ("CULTURE 'xx-YY'", "'xx-YY' is not a culture caldb knows (en-US,"),
        ("TIMEZONE 'Mars/Olympus'", "'Mars/Olympus' is not a time zone"),
        ("ENCODING 'klingon'", "'klingon' is not an encoding"),
        ("DELIMITER 'x'", "'x' is not a delimiter"),
    ] {
        let mut db = fresh(&p);
        let before = db.dump().expect("dump");
        let err = db.execute(&format!("IMPORT KEYPACKS FROM '{kp}' INTO SERVER ls1 {options}")).expect_err(options);
        assert!(err.to_string().contains(says), "{options}: {err}");
        assert_eq!(db.dump().expect("dump"), before, "{options}");
    }
}

/// Pieces of the files IMPORT meets, for the property below.
const PIECES: &[&str] = &[
    "\"",
    ",",
    ";",
    "\t",
    "\r\n",
    "\n",
    "\r",
    " ",
    "LicenseId",
    "KeyPackId",
    "KeyPackType",
    "ProductType",
    "ProductVersion",
    "ProductVersionID",
    "TotalLicenses",
    "LicenseStatus",
    "IssueDate",
    "ExpirationDate",
    "sHardwareId",
    "sIssuedToComputer",
    "SamAccountName",
    "msTSExpireDate",
    "msTSLicenseVersion",
    "dn: ",
    "dn:: ",
    "sAMAccountName: ",
    "\r\n ",
    "1",
    "2",
    "4",
    "5",
    "7",
    "655360",
    "6.1",
    "Windows Server 2022",
    "1/2/2026 3:04:05 PM",
    "13.01.2026 10:00:00",
    "20260101000000.000000+***",
    "2026****000000.000000+060",
    "2026-03-29T02:30:00",
    "00000000000000000000000000000000C0DE0001",
    "PC-Ä",
    "=cmd",
    "#TYPE x",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 128, failure_persistence: None, ..Default::default() })]

    /// Whatever the bytes and options, IMPORT never panics (no internal
    /// error) and an error leaves the database as it was.
    #[test]
    fn arbitrary_files_never_panic_and_a_refusal_changes_nothing(
        prefix in proptest::sample::select(vec![&b""[..], b"\xEF\xBB\xBF", b"\xFF\xFE", b"\xFE\xFF", b"#TYPE x\r\n"]),
        body in proptest::collection::vec(proptest::sample::select(PIECES), 0..60),
        noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24),
        what in proptest::sample::select(vec!["KEYPACKS", "LICENSES", "USERS"]),
        options in proptest::sample::select(vec![
            "", "ENCODING 'windows-1252'", "ENCODING 'utf-16be'", "DELIMITER ';' CULTURE 'en-US'",
            "TIMEZONE 'Europe/Berlin'", "CULTURE 'ja-JP' DELIMITER 'tab'",
        ]),
        ext in proptest::sample::select(vec!["csv", "ldf"]),
    ) {
        let dir = std::env::temp_dir().join(format!("caldb-import-props-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let file = dir.join(format!("f.{ext}"));
        let bytes = [prefix, body.concat().as_bytes(), &noise].concat();
        std::fs::write(&file, &bytes).expect("write");
        let mut db = Database::open_in_memory().expect("db");
        exec(&mut db, "SET CLOCK '2026-02-01'; CREATE SERVER ls1 PRODUCT WS2022; INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 5");
        let before = db.dump().expect("dump");
        let stmt = format!("IMPORT {what} FROM '{}' INTO SERVER ls1 {options}", file.display());
        let result = db.execute(&stmt);
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = result {
            proptest::prop_assert!(matches!(e, caldb::Error::Plan { .. }), "{stmt}: {e:?}");
            proptest::prop_assert_eq!(db.dump().expect("dump"), before);
        }
    }
}
