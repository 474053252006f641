//! The WMI vocabulary of the CSV layouts: DATETIME text
//! (`yyyymmddHHMMSS.ffffff+UUU`, UUU the offset from UTC in minutes),
//! ProductVersion strings and the `#TYPE` lines that PowerShell's
//! `Export-Csv` writes first.

use crate::model::{CalType, KeypackType, LicenseStatus, Product, Time};

pub const LICENSE_TYPE_LINE: &str = "#TYPE System.Management.ManagementObject#root\\cimv2\\Win32_TSIssuedLicense";
pub const KEYPACK_TYPE_LINE: &str = "#TYPE System.Management.ManagementObject#root\\cimv2\\Win32_TSLicenseKeyPack";

/// A WMI DATETIME in UTC: `20260301093012.000000+000`.
pub fn format_time(t: Time) -> String {
    format!("{}.000000+000", t.to_chrono().format("%Y%m%d%H%M%S"))
}

/// Win32_TSLicenseKeyPack.ProductVersion.
pub fn product_version(p: Product) -> &'static str {
    match p {
        Product::Ws2003 => "Windows Server 2003",
        Product::Ws2008 => "Windows Server 2008",
        Product::Ws2008R2 => "Windows Server 2008 R2",
        Product::Ws2012 | Product::Ws2012R2 => "Windows Server 2012",
        Product::Ws2016 => "Windows Server 2016",
        Product::Ws2019 => "Windows Server 2019",
        Product::Ws2022 => "Windows Server 2022",
        Product::Ws2025 => "Windows Server 2025",
    }
}

/// Win32_TSLicenseKeyPack.ProductVersionID (rds-facts section 1; 2022 and
/// 2025 are unconfirmed). Written for readers; IMPORT does not read it.
pub fn product_version_id(p: Product) -> u32 {
    match p {
        Product::Ws2003 => 1,
        Product::Ws2008 => 2,
        Product::Ws2008R2 => 3,
        Product::Ws2012 | Product::Ws2012R2 => 4,
        Product::Ws2016 => 5,
        Product::Ws2019 => 6,
        Product::Ws2022 => 7,
        Product::Ws2025 => 8,
    }
}

/// A ProductVersion string ("Windows Server 7" is 2008 R2), or a caldb
/// product name (`WS2019`).
pub fn parse_product(text: &str) -> Option<Product> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("Windows Server 7") {
        return Some(Product::Ws2008R2);
    }
    let found =
        Product::ALL.iter().copied().find(|p| *p != Product::Ws2012R2 && product_version(*p).eq_ignore_ascii_case(t));
    found.or_else(|| Product::parse(t))
}

/// Win32_TSIssuedLicense.LicenseStatus as Microsoft documents it (0
/// unknown, 1 temporary, 2 active, 3 upgraded, 4 revoked, 5 pending, 6
/// concurrent), for a license of a temporary pack or not: caldb's status,
/// and a note when caldb has no such status (docs/choices.md 33).
pub fn license_status(code: u32, temporary: bool) -> Option<(LicenseStatus, Option<String>)> {
    let live = if temporary { LicenseStatus::Temporary } else { LicenseStatus::Active };
    let (status, name) = match code {
        1 => (LicenseStatus::Temporary, None),
        2 => (LicenseStatus::Active, None),
        3 => (LicenseStatus::Upgraded, None),
        4 => (LicenseStatus::Revoked, None),
        0 => (LicenseStatus::Expired, Some("unknown")),
        5 => (live, Some("pending")),
        6 => (live, Some("concurrent")),
        _ => return None,
    };
    Some((status, name.map(|n| format!("LicenseStatus {code} ({n}) read as {status}"))))
}

/// The LicenseStatus values, for an error.
pub const LICENSE_STATUSES: &str =
    "0 unknown, 1 temporary, 2 active, 3 upgraded, 4 revoked, 5 pending, 6 concurrent";

/// Win32_TSLicenseKeyPack.KeyPackType (0 unknown, 1 retail, 2 volume, 3
/// concurrent, 4 temporary, 5 open, 6 not supported): 0 and 6 have no
/// place in caldb and are read as retail, noted.
pub fn keypack_type(code: u32) -> Option<(KeypackType, Option<String>)> {
    if let Some(t) = KeypackType::from_wmi_code(code) {
        return Some((t, None));
    }
    let name = match code {
        0 => "unknown",
        6 => "not supported",
        _ => return None,
    };
    Some((KeypackType::Retail, Some(format!("KeyPackType {code} ({name}) read as retail"))))
}

pub const KEYPACK_TYPES: &str =
    "0 unknown, 1 retail, 2 volume, 3 concurrent, 4 temporary, 5 open, 6 not supported";

/// Win32_TSLicenseKeyPack.ProductType (0 per device, 1 per user, 2 "not
/// valid"; 3 is seen in older exports, undocumented): 2 and 3 are read as
/// per device, noted (the licenses a pack issues are per-device CALs).
pub fn product_type(code: &str) -> Option<(CalType, Option<String>)> {
    match code {
        "0" => Some((CalType::Device, None)),
        "1" => Some((CalType::User, None)),
        "2" => Some((CalType::Device, Some("ProductType 2 (not valid) read as per device".to_string()))),
        "3" => Some((CalType::Device, Some("ProductType 3 (undocumented) read as per device".to_string()))),
        _ => None,
    }
}

/// Win32_TSLicenseKeyPack.ProductVersionID: 2 is "Windows Server 2008 or
/// 2008 R2" (a CAL that serves 2008 R2 hosts), 3 2008 R2, 4 2012 (and 2012
/// R2), 5 2016, 6 2019; 7 and 8 (2022, 2025) are unconfirmed
/// (rds-facts section 1); 0 and 1 are "not supported".
pub fn product_of_version_id(id: &str) -> Option<Product> {
    match id.trim() {
        "2" | "3" => Some(Product::Ws2008R2),
        "4" => Some(Product::Ws2012),
        "5" => Some(Product::Ws2016),
        "6" => Some(Product::Ws2019),
        "7" => Some(Product::Ws2022),
        "8" => Some(Product::Ws2025),
        _ => None,
    }
}

/// The product of a Windows NT version (an msTSLicenseVersion): 5.2 is
/// 2003, 6.0 2008, 6.1 2008 R2, 6.2 and 6.3 2012; 10.0 is every product
/// since 2016, so `None` there: the caller decides.
pub fn product_of_nt_version(major: u32, minor: u32) -> Option<Product> {
    match (major, minor) {
        (5, 2) => Some(Product::Ws2003),
        (6, 0) => Some(Product::Ws2008),
        (6, 1) => Some(Product::Ws2008R2),
        (6, 2) | (6, 3) => Some(Product::Ws2012),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wmi_times_round_trip_and_honour_the_offset() {
        let t = Time::parse("2026-03-01 09:30:12").expect("valid");
        assert_eq!(format_time(t), "20260301093012.000000+000");
        let dates = super::super::read::dates::Dates::new(None, None);
        let notes = super::super::read::Notes::default();
        assert_eq!(dates.parse(&format_time(t), 1, &notes), Ok(t));
        assert_eq!(dates.parse("20260301103012.000000+060", 1, &notes), Ok(t));
        assert_eq!(dates.parse("20260301083012.000000-060", 1, &notes), Ok(t));
    }

    #[test]
    fn product_versions_parse_back() {
        for p in Product::ALL.iter().copied().filter(|p| *p != Product::Ws2012R2) {
            assert_eq!(parse_product(product_version(p)), Some(p));
        }
        assert_eq!(parse_product("Windows Server 7"), Some(Product::Ws2008R2));
        assert_eq!(parse_product("ws2019"), Some(Product::Ws2019));
    }
}

/// The first characters that make a spreadsheet read a cell as a formula
/// (CSV injection): a name from a client starting with one is exported
/// behind a `'`, which Excel shows as text and `unguard` removes.
const FORMULA_STARTS: [char; 4] = ['=', '+', '-', '@'];

/// Whether `text` is quotes (none or more) and then a formula start.
fn guarded_shape(text: &str) -> bool {
    text.trim_start_matches('\'').starts_with(FORMULA_STARTS)
}

/// A name as EXPORT writes it: behind a `'` when it starts like a formula
/// (or is quotes and then that, so `unguard` gives back every name).
pub fn guard(name: &str) -> std::borrow::Cow<'_, str> {
    if guarded_shape(name) { format!("'{name}").into() } else { name.into() }
}

/// A field as IMPORT reads it: the `'` that `guard` added removed.
pub fn unguard(field: &str) -> &str {
    match field.strip_prefix('\'') {
        Some(rest) if guarded_shape(rest) => rest,
        _ => field,
    }
}

#[cfg(test)]
mod guard_tests {
    use super::*;

    #[test]
    fn formula_starts_are_guarded_and_every_name_comes_back() {
        assert_eq!(guard("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(guard("@SUM(1)"), "'@SUM(1)");
        assert_eq!(guard("pc-1"), "pc-1");
        for name in ["=cmd|' /C calc'!A0", "+1", "-x", "@a", "'=a", "''@b", "'plain", "plain", "", "'"] {
            assert_eq!(unguard(&guard(name)), name, "{name}");
            assert!(!guard(name).starts_with(FORMULA_STARTS), "{name}");
        }
    }
}
