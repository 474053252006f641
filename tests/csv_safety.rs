//! quality.md S6 and R8 for the CSV files, through the built binary: names
//! that came from clients are exported so a spreadsheet cannot read them as
//! formulas, and IMPORT reads them back to the same names; IMPORT's memory
//! is bounded by a record limit (`/dev/zero`, a 100 MB field), and an
//! overlong field's error does not echo it whole.

#[path = "support/bin.rs"]
mod bin;

use bin::{run, scratch_dir, status, stderr, stdout};
use std::path::Path;
use std::time::{Duration, Instant};

fn caldb(db: &Path, dir: &Path, statements: &[&str]) -> std::process::Output {
    let mut args = vec![db.display().to_string()];
    args.extend(statements.iter().map(|s| s.to_string()));
    run(&args, Some(dir), b"")
}

const SETUP: &str = "SET CLOCK '2026-01-05 09:00:00';
CREATE SERVER ls1 PRODUCT WS2022;
ACTIVATE SERVER ls1;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 5;
CREATE HOST h1 PRODUCT WS2022 MODE DEVICE LICENSE SERVERS (ls1);
CREATE DEVICE '=cmd|'' /C calc''!A0';
CONNECT '=cmd|'' /C calc''!A0' AS '=HYPERLINK(\"http://evil\",\"x\")' TO h1;
CREATE DEVICE '@SUM(1+1)';
CONNECT '@SUM(1+1)' AS '+1' TO h1;
CREATE DEVICE '''=quoted';
CONNECT '''=quoted' AS '-2' TO h1;
CREATE DEVICE plain;
CONNECT plain AS alice TO h1;
";

#[test]
fn exported_names_cannot_be_formulas_and_import_reads_them_back_unchanged() {
    let dir = scratch_dir("csv-injection");
    let db = dir.join("a.redb");
    let out = run(&[db.as_os_str()], None, SETUP.as_bytes());
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    let out = caldb(&db, &dir, &["EXPORT LICENSES TO 'l.csv';", "EXPORT KEYPACKS TO 'k.csv';"]);
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.join("l.csv")).expect("the export");
    let mut fields = 0;
    for line in text.lines().skip(2) {
        for field in line.split("\",\"") {
            let field = field.trim_matches('"');
            assert!(!field.starts_with(['=', '+', '-', '@']), "a formula cell: {field} in {line}");
            fields += 1;
        }
    }
    assert!(fields > 0, "no rows in {text}");
    assert!(text.contains("\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\""), "{text}");
    assert!(text.contains("\"''=quoted\""), "a quote before a formula start keeps its own: {text}");
    let names = "SELECT computer, user FROM licenses ORDER BY id;";
    let before = stdout(&caldb(&db, &dir, &[names]));
    let copy = dir.join("b.redb");
    let out = caldb(
        &copy,
        &dir,
        &[
            "CREATE SERVER ls1 PRODUCT WS2022;",
            "IMPORT KEYPACKS FROM 'k.csv' INTO SERVER ls1;",
            "IMPORT LICENSES FROM 'l.csv' INTO SERVER ls1;",
        ],
    );
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&caldb(&copy, &dir, &[names])), before);
    assert!(before.contains("=HYPERLINK") && before.contains("'=quoted"), "{before}");
    let _ = std::fs::remove_dir_all(&dir);
}

const HEADER: &str = "\"LicenseId\",\"KeyPackId\",\"sIssuedToUser\",\"sIssuedToComputer\",\"LicenseStatus\",\
                      \"IssueDate\",\"ExpirationDate\",\"sHardwareId\"\n";

fn license_row(user: &str) -> String {
    format!(
        "\"1\",\"2\",\"{user}\",\"pc\",\"2\",\"20260101000000.000000+000\",\"20260301000000.000000+000\",\"{}\"\n",
        "ab".repeat(20)
    )
}

/// A server with key pack 2, to import licenses into.
fn server(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("a.redb");
    let setup = "CREATE SERVER ls1 PRODUCT WS2022;\nINSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 5;\n";
    let out = run(&[db.as_os_str()], None, setup.as_bytes());
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    db
}

#[test]
fn import_stops_at_its_record_limit_on_an_endless_or_huge_field() {
    let dir = scratch_dir("csv-limit");
    let db = server(&dir);
    let huge = format!("{HEADER}{}", license_row(&"u".repeat(100_000_000)));
    std::fs::write(dir.join("huge.csv"), huge).expect("write");
    for (file, line) in [("/dev/zero", 1), ("huge.csv", 2)] {
        let began = Instant::now();
        let out = caldb(&db, &dir, &[&format!("IMPORT LICENSES FROM '{file}' INTO SERVER ls1;")]);
        let err = stderr(&out);
        assert_eq!(status(&out), 1, "{file}: {err}");
        let expected = format!("error: {file}: line {line}: a record longer than 1048576 bytes");
        assert!(err.starts_with(&expected), "{file}: {err}");
        assert!(err.len() < 300, "{file}: the error echoes the field ({} bytes)", err.len());
        assert!(began.elapsed() < Duration::from_secs(20), "{file}: took {:?}", began.elapsed());
    }
    assert_eq!(stdout(&caldb(&db, &dir, &["SELECT COUNT(*) FROM licenses;"])), "0\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_overlong_name_is_refused_without_echoing_it_whole() {
    let dir = scratch_dir("csv-echo");
    let db = server(&dir);
    std::fs::write(dir.join("long.csv"), format!("{HEADER}{}", license_row(&"n".repeat(500_000)))).expect("write");
    let out = caldb(&db, &dir, &["IMPORT LICENSES FROM 'long.csv' INTO SERVER ls1;"]);
    let err = stderr(&out);
    assert_eq!(status(&out), 1, "{err}");
    let shown = format!("'{}...' is longer than 255 characters (500000)", "n".repeat(40));
    assert!(err.contains("long.csv: line 2, column sIssuedToUser: ") && err.contains(&shown), "{err}");
    assert!(err.len() < 400, "the error is {} bytes", err.len());
    let _ = std::fs::remove_dir_all(&dir);
}
