//! The WMI vocabulary of the CSV layouts: DATETIME text
//! (`yyyymmddHHMMSS.ffffff+UUU`, UUU the offset from UTC in minutes),
//! ProductVersion strings and the `#TYPE` lines that PowerShell's
//! `Export-Csv` writes first.

use crate::model::{Product, TIME_MAX, TIME_MIN, Time};

pub const LICENSE_TYPE_LINE: &str = "#TYPE System.Management.ManagementObject#root\\cimv2\\Win32_TSIssuedLicense";
pub const KEYPACK_TYPE_LINE: &str = "#TYPE System.Management.ManagementObject#root\\cimv2\\Win32_TSLicenseKeyPack";

/// A WMI DATETIME in UTC: `20260301093012.000000+000`.
pub fn format_time(t: Time) -> String {
    format!("{}.000000+000", t.to_chrono().format("%Y%m%d%H%M%S"))
}

/// A WMI DATETIME (any offset) or an ISO time (`YYYY-MM-DD[ HH:MM:SS]`).
pub fn parse_time(text: &str) -> Option<Time> {
    let text = text.trim();
    if text.len() == 25 && text.as_bytes()[14] == b'.' {
        return parse_wmi(text);
    }
    Time::parse(text)
}

fn parse_wmi(text: &str) -> Option<Time> {
    let (local, rest) = text.split_at(14);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (fraction, offset) = (&rest[1..7], &rest[8..]);
    if !digits(local) || !digits(fraction) || !digits(offset) {
        return None;
    }
    let sign = match rest.as_bytes()[7] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let t = chrono::NaiveDateTime::parse_from_str(local, "%Y%m%d%H%M%S").ok()?;
    let minutes: i64 = offset.parse().ok()?;
    // The text is local time, `offset` minutes ahead of UTC.
    let t = Time(t.and_utc().timestamp() - sign * minutes * 60);
    (TIME_MIN..=TIME_MAX).contains(&t).then_some(t)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wmi_times_round_trip_and_honour_the_offset() {
        let t = Time::parse("2026-03-01 09:30:12").expect("valid");
        assert_eq!(format_time(t), "20260301093012.000000+000");
        assert_eq!(parse_time(&format_time(t)), Some(t));
        assert_eq!(parse_time("20260301103012.000000+060"), Some(t));
        assert_eq!(parse_time("20260301083012.000000-060"), Some(t));
        assert_eq!(parse_time("2026-03-01 09:30:12"), Some(t));
        assert_eq!(parse_time("20261301093012.000000+000"), None);
        assert_eq!(parse_time("2026030109301x.000000+000"), None);
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
