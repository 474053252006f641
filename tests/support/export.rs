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
