//! Domain types shared by every layer: times, products, HWIDs, the kinds and
//! states of licenses, licensing modes, reason codes and the values a query
//! returns. This module owns no behaviour beyond parsing and printing these
//! types; it must never depend on another module of the crate.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An instant, in whole seconds since 1970-01-01 00:00:00 UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Time(pub i64);

pub const SECONDS_PER_DAY: i64 = 86_400;

/// The earliest and latest instants caldb accepts: years 1601 to 9999, the
/// range of a Windows FILETIME that a WMI DATETIME can also print.
pub const TIME_MIN: Time = Time(-11_644_473_600);
pub const TIME_MAX: Time = Time(253_402_300_799);

impl Time {
    /// This instant plus whole days (saturating).
    pub fn plus_days(self, days: i64) -> Time {
        Time(self.0.saturating_add(days.saturating_mul(SECONDS_PER_DAY)))
    }

    /// This instant plus seconds (saturating).
    pub fn plus_seconds(self, seconds: i64) -> Time {
        Time(self.0.saturating_add(seconds))
    }

    /// Parses `YYYY-MM-DD`, `YYYY-MM-DD HH:MM` or `YYYY-MM-DD HH:MM:SS`
    /// (UTC; a `T` may stand for the blank).
    pub fn parse(text: &str) -> Option<Time> {
        let text = text.trim();
        let t = if text.len() == 10 {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0)?
        } else if text.len() == 16 {
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
                .ok()?
        } else if text.len() == 19 {
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
                .ok()?
        } else {
            return None;
        };
        let t = Time(t.and_utc().timestamp());
        (TIME_MIN..=TIME_MAX).contains(&t).then_some(t)
    }

    /// The date part, `YYYY-MM-DD`.
    pub fn date(self) -> String {
        let mut text = self.to_string();
        text.truncate(10);
        text
    }

    /// The instant as chrono's UTC time.
    pub fn to_chrono(self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(self.0, 0).unwrap_or_default()
    }
}

impl fmt::Display for Time {
    /// `YYYY-MM-DD HH:MM:SS`. Written digit by digit for the years 0-9999
    /// (every time caldb accepts): chrono's `format` parses its format
    /// string on every call, a third of the cost of printing a CONNECT's
    /// result row.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use chrono::{Datelike, Timelike};
        let t = self.to_chrono();
        let Ok(year @ 0..=9999) = u32::try_from(t.year()) else {
            return write!(f, "{}", t.format("%Y-%m-%d %H:%M:%S"));
        };
        let mut text = *b"0000-00-00 00:00:00";
        let fields = [(0, 4, year), (5, 2, t.month()), (8, 2, t.day()), (11, 2, t.hour()), (14, 2, t.minute())];
        for (at, width, mut n) in fields.into_iter().chain([(17, 2, t.second())]) {
            for i in (at..at + width).rev() {
                text[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        }
        f.write_str(std::str::from_utf8(&text).expect("digits and separators are ASCII"))
    }
}

/// A hardware id: 20 bytes, written as 40 hexadecimal digits in upper case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Hwid(pub [u8; 20]);

impl Hwid {
    /// Accepts exactly 40 hexadecimal digits, in either case.
    pub fn parse(text: &str) -> Option<Hwid> {
        let bytes = text.as_bytes();
        if bytes.len() != 40 {
            return None;
        }
        let mut out = [0u8; 20];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(Hwid(out))
    }
}

impl Hwid {
    /// The client platform id: the HWID's first four bytes, as the client
    /// builds it (`PlatformId || ...`, MS-RDPELE's CLIENT_HARDWARE_ID), in
    /// hexadecimal.
    pub fn platform_id(&self) -> String {
        format!("0x{:08X}", u32::from_le_bytes([self.0[0], self.0[1], self.0[2], self.0[3]]))
    }
}

impl fmt::Display for Hwid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

macro_rules! word_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name { $(#[doc = concat!("`", $text, "`")] $variant),+ }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word the language and the tables use for it.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Case-insensitive.
            pub fn parse(text: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(text))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

word_enum!(
    /// Windows Server versions, oldest first. WS2012R2 is a host product that
    /// takes WS2012 CALs; no CAL or license server is of that product.
    Product {
        Ws2003 = "WS2003",
        Ws2008 = "WS2008",
        Ws2008R2 = "WS2008R2",
        Ws2012 = "WS2012",
        Ws2012R2 = "WS2012R2",
        Ws2016 = "WS2016",
        Ws2019 = "WS2019",
        Ws2022 = "WS2022",
        Ws2025 = "WS2025",
    }
);

impl Product {
    /// The CAL product a host of this product asks for (WS2012R2 hosts use
    /// WS2012 CALs).
    pub fn cal_product(self) -> Product {
        if self == Product::Ws2012R2 { Product::Ws2012 } else { self }
    }

    /// The Windows NT version of this product (WS2008R2 is 6.1, every product
    /// since WS2016 is 10.0): what SHOW DEVICE gives as the issuing license
    /// server's certificate version.
    pub fn nt_version(self) -> &'static str {
        match self {
            Product::Ws2003 => "5.2",
            Product::Ws2008 => "6.0",
            Product::Ws2008R2 => "6.1",
            Product::Ws2012 => "6.2",
            Product::Ws2012R2 => "6.3",
            Product::Ws2016 | Product::Ws2019 | Product::Ws2022 | Product::Ws2025 => "10.0",
        }
    }

    /// Whether a host of product `self` accepts a CAL of product `cal`: its own
    /// product or newer.
    pub fn host_accepts(self, cal: Product) -> bool {
        cal >= self.cal_product()
    }
}

word_enum!(
    /// What a key pack or license counts: devices or users.
    CalType { Device = "device", User = "user" }
);

word_enum!(
    /// How a key pack was bought (Win32_TSLicenseKeyPack.KeyPackType).
    KeypackType {
        Retail = "retail",
        Volume = "volume",
        Open = "open",
        Concurrent = "concurrent",
        Temporary = "temporary",
    }
);

impl KeypackType {
    /// The numeric KeyPackType of Win32_TSLicenseKeyPack.
    pub fn wmi_code(self) -> u32 {
        match self {
            KeypackType::Retail => 1,
            KeypackType::Volume => 2,
            KeypackType::Concurrent => 3,
            KeypackType::Temporary => 4,
            KeypackType::Open => 5,
        }
    }

    /// The key pack type of a Win32_TSLicenseKeyPack `KeyPackType` code.
    pub fn from_wmi_code(code: u32) -> Option<KeypackType> {
        KeypackType::ALL.iter().copied().find(|t| t.wmi_code() == code)
    }
}

word_enum!(
    /// Temporary (90 days, before a successful logon) or permanent.
    LicenseKind { Temporary = "temporary", Permanent = "permanent" }
);

word_enum!(
    /// The state of an issued license (Win32_TSIssuedLicense.LicenseStatus).
    LicenseStatus {
        Temporary = "temporary",
        Active = "active",
        Upgraded = "upgraded",
        Revoked = "revoked",
        Expired = "expired",
    }
);

impl LicenseStatus {
    /// Whether a license in this status holds a CAL of its key pack: a
    /// temporary license while temporary, a permanent one while active.
    /// Expiry, revocation, upgrade, CHECK and IMPORT all count by this.
    pub fn holds_cal(self) -> bool {
        matches!(self, LicenseStatus::Active | LicenseStatus::Temporary)
    }

    /// The numeric LicenseStatus of Win32_TSIssuedLicense. `expired` has no
    /// code of its own in WMI (the real server deletes such rows); it is
    /// written as 0, unknown.
    pub fn wmi_code(self) -> u32 {
        match self {
            LicenseStatus::Expired => 0,
            LicenseStatus::Temporary => 1,
            LicenseStatus::Active => 2,
            LicenseStatus::Upgraded => 3,
            LicenseStatus::Revoked => 4,
        }
    }

    /// The status of a Win32_TSIssuedLicense `LicenseStatus` code.
    pub fn from_wmi_code(code: u32) -> Option<LicenseStatus> {
        LicenseStatus::ALL.iter().copied().find(|s| s.wmi_code() == code)
    }
}

word_enum!(
    /// A host's licensing mode.
    Mode { Device = "device", User = "user", Unset = "unset" }
);

word_enum!(
    /// The state of a session in the session directory.
    SessionState { Active = "active", Disconnected = "disconnected", Ended = "ended" }
);

word_enum!(
    /// Where an event was logged.
    EventSource { LicenseServer = "license-server", Host = "host" }
);

word_enum!(
    EventLevel { Info = "info", Warning = "warning", Error = "error" }
);

word_enum!(
    /// Why a connection was accepted or denied (language.md).
    ReasonCode {
        GracePeriod = "grace-period",
        PerUser = "per-user",
        TemporaryIssued = "temporary-issued",
        TemporaryValid = "temporary-valid",
        Upgraded = "upgraded",
        Valid = "valid",
        Renewed = "renewed",
        Reissued = "reissued",
        NoLicenseServer = "no-license-server",
        NotAuthorized = "not-authorized",
        NoLicense = "no-license",
        TemporaryExpired = "temporary-expired",
        CannotRenew = "cannot-renew",
        ModeNotConfigured = "mode-not-configured",
        LogonFailed = "logon-failed",
        Admin = "admin",
        AdminSessionsFull = "admin-sessions-full",
    }
);

impl ReasonCode {
    /// Whether the connection is accepted with this reason.
    pub fn accepted(self) -> bool {
        matches!(
            self,
            ReasonCode::GracePeriod
                | ReasonCode::PerUser
                | ReasonCode::TemporaryIssued
                | ReasonCode::TemporaryValid
                | ReasonCode::Upgraded
                | ReasonCode::Valid
                | ReasonCode::Renewed
                | ReasonCode::Reissued
                | ReasonCode::Admin
        )
    }
}

/// One value of a result row. Values have a total order, the order of
/// ORDER BY, GROUP BY and DISTINCT: NULL first, then booleans, numbers,
/// times and texts (each in its own order; a text by bytes, a name as
/// Windows compares names: `name_cmp`; a text against a name as names).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Value {
    /// No value.
    Null,
    /// An integer.
    Int(i64),
    /// A text.
    Text(String),
    /// A truth value.
    Bool(bool),
    /// An instant (UTC).
    Time(Time),
    /// A server, host, device, farm, scope, user or computer name: text
    /// that keeps its spelling and compares without regard to case
    /// (`name_cmp`), so `PC1` and `pc1` are one value in `=`, `IN`, GROUP
    /// BY, DISTINCT and joins.
    Name(String),
}

impl Value {
    /// A text value.
    pub fn text(s: impl Into<String>) -> Value {
        Value::Text(s.into())
    }

    /// A time, or NULL.
    pub fn opt_time(t: Option<Time>) -> Value {
        t.map_or(Value::Null, Value::Time)
    }

    /// An integer, or NULL.
    pub fn opt_int(v: Option<u64>) -> Value {
        v.map_or(Value::Null, |v| Value::Int(v as i64))
    }

    /// A text, or NULL.
    pub fn opt_text(v: Option<&str>) -> Value {
        v.map_or(Value::Null, Value::text)
    }
}

impl Value {
    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) => 2,
            Value::Time(_) => 3,
            Value::Text(_) | Value::Name(_) => 4,
        }
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Value) -> std::cmp::Ordering {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Text(a), Value::Text(b)) => a.cmp(b),
            (Value::Name(a) | Value::Text(a), Value::Name(b)) | (Value::Name(a), Value::Text(b)) => name_cmp(a, b),
            (Value::Time(a), Value::Time(b)) => a.cmp(b),
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Value) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Value {}

impl std::hash::Hash for Value {
    /// Equal values hash alike: a text or a name hashes its folded
    /// characters, so `Name("PC1")` and `Name("pc1")` meet.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.rank().hash(state);
        match self {
            Value::Null => {}
            Value::Int(n) => n.hash(state),
            Value::Bool(b) => b.hash(state),
            Value::Time(t) => t.hash(state),
            Value::Text(s) | Value::Name(s) => folded_chars(s).for_each(|c| c.hash(state)),
        }
    }
}

impl fmt::Display for Value {
    /// The plain rendering used by every output mode: times as
    /// `YYYY-MM-DD HH:MM:SS`, booleans `true`/`false`, NULL as nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Int(v) => write!(f, "{v}"),
            Value::Text(s) | Value::Name(s) => f.write_str(s),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Time(t) => write!(f, "{t}"),
        }
    }
}

/// The answer of one statement: named columns and rows of values.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ResultSet {
    /// Column names; a statement's fixed names are borrowed, not copied.
    pub columns: Vec<std::borrow::Cow<'static, str>>,
    /// The rows, each with one value per column.
    pub rows: Vec<Vec<Value>>,
    /// A column of counts that a person at a terminal sees drawn as a bar
    /// chart (REPORT EXPIRING); scripts get the plain rows.
    pub chart: Option<usize>,
}

impl ResultSet {
    /// An empty result with these columns.
    pub fn new(columns: &[&'static str]) -> ResultSet {
        ResultSet { columns: columns.iter().map(|&c| c.into()).collect(), rows: Vec::new(), chart: None }
    }

    /// Adds a row (one value per column).
    pub fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
    }
}

/// The longest name (server, host, device, user, farm, scope) accepted.
pub const NAME_MAX_LEN: usize = 255;

/// A character of a name as Windows compares it: its simple uppercase
/// mapping (Unicode's one-to-one mapping, which Windows' `RtlUpcaseUnicodeChar`
/// and .NET's `OrdinalIgnoreCase` apply). std's `to_uppercase` is the full
/// mapping; where that gives more than one character (`ß` -> `SS`) there
/// is no one-to-one mapping and the character stays itself, as in Windows
/// (docs/choices.md item 44).
pub fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_uppercase();
    }
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// The characters of a name, folded (`fold_char`).
pub fn folded_chars(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().map(fold_char)
}

/// A name folded as Windows compares names: `PC1` for `pc1` and `Pc1`.
/// Borrowed when it is folded already (upper case ASCII, the usual case).
pub fn fold_name(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().all(|c| fold_char(c) == c) {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(folded_chars(s).collect())
    }
}

/// Two names in Windows' order: by their folded characters.
pub fn name_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.bytes().map(|c| c.to_ascii_uppercase()).cmp(b.bytes().map(|c| c.to_ascii_uppercase()));
    }
    folded_chars(a).cmp(folded_chars(b))
}

/// Whether two names are one name to Windows (`PC1` and `pc1`).
pub fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.eq_ignore_ascii_case(b) || name_cmp(a, b).is_eq()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_prints_as_chrono_formats_it() {
        let mut t = TIME_MIN.0;
        let mut times = vec![TIME_MAX.0, 0, -1, 951_782_400, 1_767_603_600];
        while t < TIME_MAX.0 {
            times.push(t);
            t += 7_777_777;
        }
        for t in times {
            let chrono = Time(t).to_chrono().format("%Y-%m-%d %H:%M:%S").to_string();
            assert_eq!(Time(t).to_string(), chrono, "{t}");
        }
    }

    #[test]
    fn time_round_trips_through_text() {
        let t = Time::parse("2026-03-01 12:34:56").expect("valid time");
        assert_eq!(t.to_string(), "2026-03-01 12:34:56");
        assert_eq!(Time::parse("2026-03-01").map(|t| t.to_string()).as_deref(), Some("2026-03-01 00:00:00"));
        assert_eq!(Time::parse("2026-02-30"), None);
        assert_eq!(Time::parse("99999-01-01"), None);
    }

    #[test]
    fn names_fold_to_their_simple_uppercase_as_windows_compares_them() {
        assert_eq!(fold_name("pc1.Contoso-x_y"), "PC1.CONTOSO-X_Y");
        assert_eq!(fold_name("müller"), "MÜLLER");
        assert_eq!(fold_name("straße"), "STRAßE", "no one-to-one uppercase: ß stays");
        assert!(same_name("ΣΟΦΊΑ", "σοφία") && same_name("ſam", "SAM") && same_name("ı", "i"));
        assert!(!same_name("pc1", "pc2") && !same_name("pc", "pc1"));
        assert!(matches!(fold_name("PC1"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn a_name_value_equals_hashes_and_orders_without_regard_to_case() {
        use std::collections::HashSet;
        let (a, b) = (Value::Name("PC1".into()), Value::Name("pc1".into()));
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "PC1", "the spelling is kept");
        let set: HashSet<Value> = [a, b, Value::Name("pc2".into())].into_iter().collect();
        assert_eq!(set.len(), 2);
        assert!(Value::Name("a".into()) < Value::Name("B".into()));
        assert!(Value::Text("B".into()) < Value::Text("a".into()), "plain text still compares by bytes");
        assert_eq!(Value::Text("pc1".into()), Value::Name("PC1".into()));
    }

    #[test]
    fn hwid_is_forty_hex_digits_shown_in_upper_case() {
        let h = Hwid::parse("00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff").expect("valid");
        assert_eq!(h.to_string(), "00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF");
        assert_eq!(Hwid::parse("00ff"), None);
        assert_eq!(Hwid::parse("zzff00ff00ff00ff00ff00ff00ff00ff00ff00ff"), None);
    }

    #[test]
    fn host_accepts_its_own_product_or_newer() {
        assert!(Product::Ws2019.host_accepts(Product::Ws2022));
        assert!(!Product::Ws2019.host_accepts(Product::Ws2016));
        assert!(Product::Ws2012R2.host_accepts(Product::Ws2012));
    }
}
