//! EXPORT: licenses and key packs in the layouts that `Get-WmiObject
//! Win32_TSIssuedLicense | Export-Csv` and `Get-WmiObject
//! Win32_TSLicenseKeyPack | Export-Csv` write (a `#TYPE` line, then a header
//! and rows with every field quoted), plus the caldb columns a lossless
//! round trip needs. Names that came from clients are guarded against CSV
//! formula injection (`wmi::guard`), which IMPORT undoes. The file is written through `safe_write` (a temporary
//! beside its target, renamed over it; never an open database, a device or
//! a FIFO, but a terminal or standard output directly).

use super::progress::Progress;
use super::wmi;
use crate::error::Result;
use crate::model::*;
use crate::safe_write::{Sink, write_error};
use crate::store::{KeypackRec, LicenseRec, Reader, Records, T, codec};
use std::io::Write;
use std::path::Path;

/// Win32_TSIssuedLicense's properties, then caldb's own.
pub const LICENSE_COLUMNS: [&str; 13] = [
    "LicenseId",
    "KeyPackId",
    "sIssuedToUser",
    "sIssuedToComputer",
    "LicenseStatus",
    "IssueDate",
    "ExpirationDate",
    "sHardwareId",
    "Server",
    "Kind",
    "Product",
    "Validated",
    "RevokedDate",
];

/// Win32_TSLicenseKeyPack's properties, then caldb's own.
pub const KEYPACK_COLUMNS: [&str; 14] = [
    "KeyPackId",
    "Description",
    "KeyPackType",
    "ProductType",
    "ProductVersion",
    "ProductVersionID",
    "TotalLicenses",
    "IssuedLicenses",
    "AvailableLicenses",
    "ExpirationDate",
    "TypeAndModel",
    "Server",
    "Product",
    "InstalledDate",
];

fn license_fields(l: &LicenseRec) -> Vec<String> {
    vec![
        l.number().to_string(),
        crate::store::keys::number(l.keypack).to_string(),
        wmi::guard(&l.user).into_owned(),
        wmi::guard(&l.computer).into_owned(),
        l.status.wmi_code().to_string(),
        wmi::format_time(l.issued),
        wmi::format_time(l.expires),
        l.hwid.to_string(),
        wmi::guard(&l.server).into_owned(),
        l.kind.as_str().to_string(),
        l.product.as_str().to_string(),
        l.validated.to_string(),
        l.revoked.map(wmi::format_time).unwrap_or_default(),
    ]
}

fn keypack_fields(k: &KeypackRec) -> Vec<String> {
    let opt = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
    let model = match (k.kind, k.cal) {
        (KeypackType::Temporary, _) => "Built-in TS Per Device CAL",
        (_, CalType::Device) => "RDS Per Device CAL",
        (_, CalType::User) => "RDS Per User CAL",
    };
    vec![
        k.number().to_string(),
        format!("{} {model}", wmi::product_version(k.product)),
        k.kind.wmi_code().to_string(),
        if k.cal == CalType::Device { "0" } else { "1" }.to_string(),
        wmi::product_version(k.product).to_string(),
        wmi::product_version_id(k.product).to_string(),
        opt(k.total),
        k.issued.to_string(),
        opt(k.available()),
        k.expires.map(wmi::format_time).unwrap_or_default(),
        model.to_string(),
        wmi::guard(&k.server).into_owned(),
        k.product.as_str().to_string(),
        wmi::format_time(k.installed),
    ]
}

/// Writes every license; the number of rows written.
pub fn export_licenses(r: &(impl Reader + ?Sized), file: &Path, db: Option<&Path>) -> Result<u64> {
    let total = r.count(T::Licenses)?;
    write_csv(file, db, wmi::LICENSE_TYPE_LINE, &LICENSE_COLUMNS, &mut |w| {
        let mut bar = Progress::new("exporting licenses", total);
        let mut n = 0u64;
        r.scan(T::Licenses, b"", None, &mut |_, v| {
            let l: LicenseRec = codec::decode(v)?;
            w.write_record(license_fields(&l)).map_err(|e| write_error(file, e))?;
            n += 1;
            bar.tick(n)?;
            Ok(true)
        })?;
        Ok(n)
    })
}

/// Writes every key pack; the number of rows written.
pub fn export_keypacks(r: &(impl Reader + ?Sized), file: &Path, db: Option<&Path>) -> Result<u64> {
    let packs = r.keypacks()?;
    write_csv(file, db, wmi::KEYPACK_TYPE_LINE, &KEYPACK_COLUMNS, &mut |w| {
        for k in &packs {
            w.write_record(keypack_fields(k)).map_err(|e| write_error(file, e))?;
        }
        Ok(packs.len() as u64)
    })
}

type CsvOut = csv::Writer<std::io::BufWriter<Sink>>;

fn write_csv(
    file: &Path,
    db: Option<&Path>,
    type_line: &str,
    columns: &[&str],
    rows: &mut dyn FnMut(&mut CsvOut) -> Result<u64>,
) -> Result<u64> {
    let own: Vec<&Path> = db.into_iter().collect();
    let mut out = std::io::BufWriter::new(Sink::create(file, "EXPORT", &own)?);
    write!(out, "{type_line}\r\n").map_err(|e| write_error(file, e))?;
    let mut w = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    w.write_record(columns).map_err(|e| write_error(file, e))?;
    let n = rows(&mut w)?;
    let out = w.into_inner().map_err(|e| write_error(file, e.into_error()))?;
    out.into_inner().map_err(|e| write_error(file, e.into_error()))?.commit()?;
    Ok(n)
}
