//! The tables of a file and how each is held: the `T` enum, every
//! table's key and value widths (`Shape`), redb's table types for each
//! shape and the macros that open and use a table whatever its shape, the
//! entries of `meta`, and where a table's rows live while a transaction
//! runs (`T::backing`).

use crate::error::Result;
use redb::TableDefinition;
use std::ops::Bound;

/// Every table of the file, in `.dump` order. Records live in the first
/// twelve; the rest are secondary indexes derived from the records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum T {
    Meta,
    Servers,
    Keypacks,
    Licenses,
    Devices,
    Tokens,
    Hosts,
    Sessions,
    UserCals,
    Events,
    History,
    /// Each license server's key, certificate chain and CAL secret for real
    /// clients (`store::credentials`; format 4).
    Credentials,
    IdxLicenseHwid,
    IdxLicenseComputer,
    IdxLicenseExpiry,
    IdxLicenseRevoked,
    IdxDeviceHwid,
    IdxSessionLive,
}

pub const TABLE_COUNT: usize = 18;

impl T {
    pub const ALL: [T; TABLE_COUNT] = [
        T::Meta,
        T::Servers,
        T::Keypacks,
        T::Licenses,
        T::Devices,
        T::Tokens,
        T::Hosts,
        T::Sessions,
        T::UserCals,
        T::Events,
        T::History,
        T::Credentials,
        T::IdxLicenseHwid,
        T::IdxLicenseComputer,
        T::IdxLicenseExpiry,
        T::IdxLicenseRevoked,
        T::IdxDeviceHwid,
        T::IdxSessionLive,
    ];

    /// The secondary indexes: the tables after `history`, every one derived
    /// from the records (CHECK compares them, REPAIR rebuilds them).
    pub fn indexes() -> &'static [T] {
        &T::ALL[T::IdxLicenseHwid as usize..]
    }

    pub fn name(self) -> &'static str {
        match self {
            T::Meta => "meta",
            T::Servers => "servers",
            T::Keypacks => "keypacks",
            T::Licenses => "licenses",
            T::Devices => "devices",
            T::Tokens => "tokens",
            T::Hosts => "hosts",
            T::Sessions => "sessions",
            T::UserCals => "user_cals",
            T::Events => "events",
            T::History => "history",
            T::Credentials => "credentials",
            T::IdxLicenseHwid => "idx_license_hwid",
            T::IdxLicenseComputer => "idx_license_computer",
            T::IdxLicenseExpiry => "idx_license_expiry",
            T::IdxLicenseRevoked => "idx_license_revoked",
            T::IdxDeviceHwid => "idx_device_hwid",
            T::IdxSessionLive => "idx_session_live",
        }
    }

    /// How redb stores the table's keys and values. Each is bytes, as
    /// `store::keys` and `store::codec` make them; where every key (or
    /// value) has the same width, redb is told so: a leaf of fixed-width
    /// entries keeps no offset per entry, and an insert into a leaf of
    /// variable-width ones rewrites the offsets of all its entries.
    pub fn shape(self) -> Shape {
        match self {
            T::Keypacks | T::Licenses | T::Sessions | T::Events | T::History => Shape::IdVar,
            T::IdxLicenseHwid => Shape::Fixed28Empty,
            T::IdxLicenseExpiry => Shape::Fixed16Flag,
            T::IdxLicenseRevoked => Shape::Fixed16Empty,
            T::IdxLicenseComputer | T::IdxDeviceHwid => Shape::VarEmpty,
            T::Meta | T::Servers | T::Devices | T::Tokens | T::Hosts | T::UserCals | T::IdxSessionLive => Shape::VarVar,
            T::Credentials => Shape::VarVar,
        }
    }
}

/// Where a table's rows live while a transaction runs, decided for every
/// table here (`T::backing`) and nowhere else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Backing {
    /// A redb table: read and written in place.
    Redb,
    /// A redb table whose rows a write transaction keeps in memory from
    /// their first use to its commit (slot `n` of `KEPT`); a read snapshot
    /// reads it in place.
    Kept(usize),
    /// History, a log: rows are appended, never rewritten or deleted one
    /// by one, and stored in chunks (`store::history`).
    Log,
}

/// The tables whose rows a write transaction keeps in memory: every
/// CONNECT reads the servers, a server's key packs and its host, and
/// rewrites a key pack's count. A row is read from redb once, when the
/// transaction first reads or writes it; a scan or count reads the whole
/// table once. Later reads come from the kept rows, writes go to them, and
/// the commit writes what changed to redb (nothing at all for a
/// transaction that changed none). Only the rows a transaction touches are
/// read, so a statement run on its own costs the same with ten hosts or
/// ten thousand.
pub(super) const KEPT: [T; 3] = [T::Keypacks, T::Servers, T::Hosts];

impl T {
    /// Where the table's rows live while a transaction runs.
    pub(super) fn backing(self) -> Backing {
        if self == T::History {
            return Backing::Log;
        }
        match KEPT.iter().position(|k| *k == self) {
            Some(slot) => Backing::Kept(slot),
            None => Backing::Redb,
        }
    }
}

/// A table's key and value widths (`T::shape`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Variable keys, variable values.
    VarVar,
    /// Variable keys, empty values (an index).
    VarEmpty,
    /// 8-byte keys (a big-endian id), variable values (records).
    IdVar,
    /// 16-byte keys (a time or id, then an id), empty values.
    Fixed16Empty,
    /// 16-byte keys, one-byte values (a flag).
    Fixed16Flag,
    /// 28-byte keys (a HWID, then an id), empty values.
    Fixed28Empty,
}

impl Shape {
    /// The width of every key, when fixed.
    pub fn key_width(self) -> Option<usize> {
        match self {
            Shape::VarVar | Shape::VarEmpty => None,
            Shape::IdVar => Some(8),
            Shape::Fixed16Empty | Shape::Fixed16Flag => Some(16),
            Shape::Fixed28Empty => Some(28),
        }
    }

    /// The width of every value's payload, when fixed; redb stores it with
    /// its checksum (`envelope`), `envelope::CHECKSUM_LEN` bytes more.
    pub fn value_width(self) -> Option<usize> {
        match self {
            Shape::VarVar | Shape::IdVar => None,
            Shape::VarEmpty | Shape::Fixed16Empty | Shape::Fixed28Empty => Some(0),
            Shape::Fixed16Flag => Some(1),
        }
    }

    /// Whether `key` and `value` have the widths this shape stores.
    pub(crate) fn fits(self, key: &[u8], value: &[u8]) -> bool {
        self.key_width().is_none_or(|w| w == key.len()) && self.value_width().is_none_or(|w| w == value.len())
    }
}

/// redb's type for byte strings of one width `N`: the bytes as they are,
/// ordered as bytes (like `&[u8]`), but fixed-width.
#[derive(Debug)]
pub struct Fixed<const N: usize>;

impl<const N: usize> redb::Value for Fixed<N> {
    type SelfType<'a> = &'a [u8];
    type AsBytes<'a> = &'a [u8];

    fn fixed_width() -> Option<usize> {
        Some(N)
    }

    fn from_bytes<'a>(data: &'a [u8]) -> &'a [u8]
    where
        Self: 'a,
    {
        data
    }

    fn as_bytes<'a, 'b: 'a>(value: &'a &'b [u8]) -> &'a [u8] {
        value
    }

    fn type_name() -> redb::TypeName {
        redb::TypeName::new(&format!("caldb::Fixed<{N}>"))
    }
}

impl<const N: usize> redb::Key for Fixed<N> {
    fn compare(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
        a.cmp(b)
    }
}

/// A visitor of the entries of a scan: returns whether to go on.
pub type Visit<'v> = dyn FnMut(&[u8], &[u8]) -> Result<bool> + 'v;

pub(super) type Raw = &'static [u8];

/// A table as redb holds it: one variant per `Shape`. `with_table!` runs
/// the same code on whichever it is (every variant reads and writes
/// `&[u8]`).
macro_rules! shaped {
    ($(#[$doc:meta])* $name:ident $(<$l:lifetime>)?, $table:ident) => {
        $(#[$doc])*
        pub(super) enum $name $(<$l>)? {
            VarVar($table<$($l,)? Raw, Raw>),
            VarEmpty($table<$($l,)? Raw, Fixed<4>>),
            IdVar($table<$($l,)? Fixed<8>, Raw>),
            Fixed16Empty($table<$($l,)? Fixed<16>, Fixed<4>>),
            Fixed16Flag($table<$($l,)? Fixed<16>, Fixed<5>>),
            Fixed28Empty($table<$($l,)? Fixed<28>, Fixed<4>>),
        }
    };
}

shaped!(
    /// A table of a write transaction, borrowing it for `'txn`.
    WTableIn<'txn>,
    WT
);
shaped!(
    /// A table of a read snapshot.
    RTable,
    RT
);

type WT<'txn, K, V> = redb::Table<'txn, K, V>;
type RT<K, V> = redb::ReadOnlyTable<K, V>;

/// Runs `$body` on the redb table inside `$table` (a `$kind`), whatever
/// its shape.
macro_rules! with_table {
    ($kind:ident, $table:expr, |$t:ident| $body:expr) => {
        match $table {
            $kind::VarVar($t) => $body,
            $kind::VarEmpty($t) => $body,
            $kind::IdVar($t) => $body,
            $kind::Fixed16Empty($t) => $body,
            $kind::Fixed16Flag($t) => $body,
            $kind::Fixed28Empty($t) => $body,
        }
    };
}

pub(super) use with_table;

/// Opens table `t` with its shape, through `open` (a write or read
/// transaction's `open_table`).
macro_rules! open_shaped {
    ($kind:ident, $t:expr, |$def:ident| $open:expr) => {{
        let name = $t.name();
        match $t.shape() {
            Shape::VarVar => {
                let $def = TableDefinition::<Raw, Raw>::new(name);
                $open.map($kind::VarVar)
            }
            Shape::VarEmpty => {
                let $def = TableDefinition::<Raw, Fixed<4>>::new(name);
                $open.map($kind::VarEmpty)
            }
            Shape::IdVar => {
                let $def = TableDefinition::<Fixed<8>, Raw>::new(name);
                $open.map($kind::IdVar)
            }
            Shape::Fixed16Empty => {
                let $def = TableDefinition::<Fixed<16>, Fixed<4>>::new(name);
                $open.map($kind::Fixed16Empty)
            }
            Shape::Fixed16Flag => {
                let $def = TableDefinition::<Fixed<16>, Fixed<5>>::new(name);
                $open.map($kind::Fixed16Flag)
            }
            Shape::Fixed28Empty => {
                let $def = TableDefinition::<Fixed<28>, Fixed<4>>::new(name);
                $open.map($kind::Fixed28Empty)
            }
        }
    }};
}

/// Opens table `t` of a write transaction with its shape, creating it if
/// missing.
pub(super) fn open_write(txn: &redb::WriteTransaction, t: T) -> Result<WTableIn<'_>, redb::TableError> {
    open_shaped!(WTableIn, t, |def| txn.open_table(def))
}

/// Opens table `t` of a read snapshot with its shape.
pub(super) fn open_read(txn: &redb::ReadTransaction, t: T) -> Result<RTable, redb::TableError> {
    open_shaped!(RTable, t, |def| txn.open_table(def))
}

/// `key` as a bound of a table whose keys are `width` bytes: a shorter
/// bound (a prefix, or a prefix's end) is padded with zeros, which keeps
/// exactly the same keys on each side of it.
pub(super) fn widen(key: &[u8], width: Option<usize>) -> std::borrow::Cow<'_, [u8]> {
    match width {
        Some(w) if key.len() < w => {
            let mut k = key.to_vec();
            k.resize(w, 0);
            std::borrow::Cow::Owned(k)
        }
        _ => std::borrow::Cow::Borrowed(key),
    }
}

/// The bounds of the keys in `[from, to)` (`to: None` is unbounded).
pub(super) fn bounds<'a>(from: &'a [u8], to: Option<&'a [u8]>) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    (Bound::Included(from), to.map_or(Bound::Unbounded, Bound::Excluded))
}

/// `meta` as every format version has it: the format version is read
/// through it before any other table is opened with this version's types.
pub(super) const META: TableDefinition<'static, Raw, Raw> = TableDefinition::new("meta");

/// `meta`'s format version (`FORMAT_VERSION`), stored bare: it is read
/// before the envelope of the other values is known.
pub(super) const FORMAT_KEY: &[u8] = b"format";
/// `meta`'s record of damage found by a writable open: what was found.
/// REPAIR removes it when it fixed everything.
pub(super) const DAMAGED_KEY: &[u8] = b"damaged";
/// `meta`'s `State`: clock, random source, id counters.
pub(super) const STATE_KEY: &[u8] = b"state";
/// `meta`'s `expired_through`: every license expiring at or before this
/// time has been expired (is not live). Expiry visits the licenses of
/// `idx_license_expiry` after it only.
pub(super) const EXPIRED_THROUGH_KEY: &[u8] = b"expired_through";
/// `expired_through` before anything has been expired: the earliest time.
pub(super) const NOTHING_EXPIRED: crate::model::Time = crate::model::Time(i64::MIN);

/// Whether the value under `key` of `t` is stored bare, without the
/// checksum of its envelope: `meta`'s format version only.
pub(super) fn is_bare(t: T, key: &[u8]) -> bool {
    t == T::Meta && key == FORMAT_KEY
}

#[cfg(test)]
mod tests {
    use super::T;

    #[test]
    fn the_indexes_are_exactly_the_idx_tables() {
        let names: Vec<&str> = T::indexes().iter().map(|t| t.name()).collect();
        let idx: Vec<&str> = T::ALL.iter().map(|t| t.name()).filter(|n| n.starts_with("idx_")).collect();
        assert_eq!(names, idx);
        assert_eq!(T::ALL.iter().enumerate().find(|(i, t)| **t as usize != *i), None, "ALL is in declaration order");
    }
}
