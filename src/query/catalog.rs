//! The tables users query (language.md "Tables"): their columns and types,
//! and how each row is made from the stored records. Index-backed access
//! paths (`Access`) let a keyed lookup read only the rows it needs.

use crate::error::Result;
use crate::model::*;
use crate::store::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    Int,
    Text,
    /// A server, host, device, farm, scope, user or computer name: text
    /// compared as Windows compares names (`Value::Name`).
    Name,
    Bool,
    Time,
}

impl Type {
    pub fn name(self) -> &'static str {
        match self {
            Type::Int => "int",
            Type::Text | Type::Name => "text",
            Type::Bool => "bool",
            Type::Time => "time",
        }
    }
}

pub struct Table {
    pub name: &'static str,
    pub store: T,
    pub columns: &'static [(&'static str, Type)],
    pub nullable: &'static [&'static str],
}

use Type::{Bool, Int, Name, Text, Time as TimeCol};

pub const TABLES: &[Table] = &[
    Table {
        name: "servers",
        store: T::Servers,
        columns: &[
            ("name", Name),
            ("product", Text),
            ("scope", Name),
            ("activated", Bool),
            ("online", Bool),
            ("security_group", Bool),
            ("created", TimeCol),
            ("prevent_upgrade", Bool),
        ],
        nullable: &[],
    },
    Table {
        name: "keypacks",
        store: T::Keypacks,
        columns: &[
            ("id", Int),
            ("server", Name),
            ("product", Text),
            ("cal", Text),
            ("type", Text),
            ("total", Int),
            ("issued", Int),
            ("available", Int),
            ("installed", TimeCol),
            ("expires", TimeCol),
            ("inferred", Bool),
        ],
        nullable: &["total", "available", "expires"],
    },
    Table {
        name: "licenses",
        store: T::Licenses,
        columns: &[
            ("id", Int),
            ("keypack", Int),
            ("server", Name),
            ("kind", Text),
            ("status", Text),
            ("hwid", Text),
            ("computer", Name),
            ("user", Name),
            ("product", Text),
            ("issued", TimeCol),
            ("expires", TimeCol),
            ("validated", Bool),
            ("revoked", TimeCol),
        ],
        nullable: &["revoked"],
    },
    Table {
        name: "devices",
        store: T::Devices,
        columns: &[("name", Name), ("hwid", Text), ("created", TimeCol)],
        nullable: &[],
    },
    Table {
        name: "tokens",
        store: T::Tokens,
        columns: &[
            ("device", Name),
            ("slot", Int),
            ("license", Int),
            ("server", Name),
            ("scope", Name),
            ("kind", Text),
            ("product", Text),
            ("computer", Name),
            ("user", Name),
            ("issued", TimeCol),
            ("expires", TimeCol),
            ("hwid", Text),
        ],
        nullable: &[],
    },
    Table {
        name: "hosts",
        store: T::Hosts,
        columns: &[
            ("name", Name),
            ("product", Text),
            ("mode", Text),
            ("scope", Name),
            ("license_servers", Text),
            ("farm", Name),
            ("created", TimeCol),
            ("grace_ends", TimeCol),
        ],
        nullable: &["farm"],
    },
    Table {
        name: "sessions",
        store: T::Sessions,
        columns: &[
            ("id", Int),
            ("user", Name),
            ("device", Name),
            ("host", Name),
            ("farm", Name),
            ("state", Text),
            ("started", TimeCol),
            ("changed", TimeCol),
            ("admin", Bool),
        ],
        nullable: &["farm"],
    },
    Table {
        name: "user_cals",
        store: T::UserCals,
        columns: &[("server", Name), ("user", Name), ("product", Text), ("issued", TimeCol), ("expires", TimeCol)],
        nullable: &[],
    },
    Table {
        name: "events",
        store: T::Events,
        columns: &[
            ("seq", Int),
            ("time", TimeCol),
            ("source", Text),
            ("node", Name),
            ("event", Int),
            ("level", Text),
            ("message", Text),
        ],
        nullable: &[],
    },
    Table {
        name: "history",
        store: T::History,
        columns: &[("seq", Int), ("time", TimeCol), ("statement", Text)],
        nullable: &[],
    },
];

pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name.eq_ignore_ascii_case(name))
}

impl Table {
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|(c, _)| c.eq_ignore_ascii_case(name))
    }

    pub fn column_names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|(c, _)| *c).collect()
    }

    /// Turns a stored record into a row of this table, with only the
    /// columns in `cols` filled (the others NULL, never read): a license
    /// is read in place (`LicenseView`) and only the values a plan reads
    /// are made, not 13 values with five strings and a hex HWID per row.
    pub fn row_of(&self, r: &(impl Reader + ?Sized), key: &[u8], bytes: &[u8], cols: Columns) -> Result<Vec<Value>> {
        if self.store == T::Tokens {
            // A placed token reads some fields from its license.
            return Ok(only(token_row(r.token_of_stored(key, bytes)?), cols));
        }
        if cols == Columns::ALL {
            return self.row(bytes);
        }
        if self.store == T::Licenses {
            return Ok(license_view_row(&LicenseView::read(bytes)?, cols));
        }
        // Other tables are small (key packs, servers, hosts): the row is
        // built whole, and the values not read are dropped so that a join
        // that copies this row into each outer row copies NULLs for them.
        Ok(only(self.row(bytes)?, cols))
    }

    /// Turns a stored record into a row of this table.
    pub fn row(&self, bytes: &[u8]) -> Result<Vec<Value>> {
        Ok(match self.store {
            T::Servers => server_row(codec::decode(bytes)?),
            T::Keypacks => keypack_row(codec::decode(bytes)?),
            T::Licenses => license_row(codec::decode(bytes)?),
            T::Devices => {
                let d: DeviceRec = codec::decode(bytes)?;
                vec![Value::Name(d.name), Value::Text(hex(&d.hwid)), Value::Time(d.created)]
            }
            T::Hosts => host_row(codec::decode(bytes)?),
            T::Sessions => session_row(codec::decode(bytes)?),
            T::UserCals => {
                let u: UserCalRec = codec::decode(bytes)?;
                vec![
                    Value::Name(u.server),
                    Value::Name(u.user),
                    Value::text(u.product.as_str()),
                    Value::Time(u.issued),
                    Value::Time(u.expires),
                ]
            }
            T::Events => event_row(codec::decode(bytes)?),
            T::History => {
                let h: HistoryRec = codec::decode(bytes)?;
                vec![Value::Int(h.seq as i64), Value::Time(h.time), Value::Text(h.statement)]
            }
            other => unreachable!("{} is not a query table", other.name()),
        })
    }
}

/// `row` with the values not in `cols` as NULL.
fn only(mut row: Vec<Value>, cols: Columns) -> Vec<Value> {
    if cols != Columns::ALL {
        for (n, v) in row.iter_mut().enumerate() {
            if !cols.has(n) {
                *v = Value::Null;
            }
        }
    }
    row
}

/// An HWID as its 40 upper-case hex digits, as `Display` prints it but
/// without a formatter call per byte: every license row of a scan has one.
fn hex(h: &Hwid) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(40);
    for b in h.0 {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

fn server_row(s: ServerRec) -> Vec<Value> {
    vec![
        Value::Name(s.name),
        Value::text(s.product.as_str()),
        Value::Name(s.scope),
        Value::Bool(s.activated),
        Value::Bool(s.online),
        Value::Bool(s.security_group),
        Value::Time(s.created),
        Value::Bool(s.prevent_upgrade),
    ]
}

fn keypack_row(k: KeypackRec) -> Vec<Value> {
    let available = k.available();
    vec![
        Value::Int(k.number() as i64),
        Value::Name(k.server),
        Value::text(k.product.as_str()),
        Value::text(k.cal.as_str()),
        Value::text(k.kind.as_str()),
        Value::opt_int(k.total),
        Value::Int(k.issued as i64),
        Value::opt_int(available),
        Value::Time(k.installed),
        Value::opt_time(k.expires),
        Value::Bool(k.inferred),
    ]
}

pub fn license_row(l: LicenseRec) -> Vec<Value> {
    vec![
        Value::Int(l.number() as i64),
        Value::Int(keys::number(l.keypack) as i64),
        Value::Name(l.server),
        Value::text(l.kind.as_str()),
        Value::text(l.status.as_str()),
        Value::Text(hex(&l.hwid)),
        Value::Name(l.computer),
        Value::Name(l.user),
        Value::text(l.product.as_str()),
        Value::Time(l.issued),
        Value::Time(l.expires),
        Value::Bool(l.validated),
        Value::opt_time(l.revoked),
    ]
}

/// The columns of `cols` of a license read in place, the others NULL.
fn license_view_row(l: &LicenseView<'_>, cols: Columns) -> Vec<Value> {
    let mut row = Vec::with_capacity(13);
    for n in 0..13 {
        if !cols.has(n) {
            row.push(Value::Null);
            continue;
        }
        row.push(match n {
            0 => Value::Int(keys::number(l.id) as i64),
            1 => Value::Int(keys::number(l.keypack) as i64),
            2 => Value::Name(l.server.to_string()),
            3 => Value::text(l.kind.as_str()),
            4 => Value::text(l.status.as_str()),
            5 => Value::Text(hex(&l.hwid)),
            6 => Value::Name(l.computer.to_string()),
            7 => Value::Name(l.user.to_string()),
            8 => Value::text(l.product.as_str()),
            9 => Value::Time(l.issued),
            10 => Value::Time(l.expires),
            11 => Value::Bool(l.validated),
            _ => Value::opt_time(l.revoked),
        });
    }
    row
}

fn token_row(t: TokenRec) -> Vec<Value> {
    vec![
        Value::Name(t.device),
        Value::Int(i64::from(t.slot)),
        Value::Int(keys::number(t.license) as i64),
        Value::Name(t.server),
        Value::Name(t.scope),
        Value::text(t.kind.as_str()),
        Value::text(t.product.as_str()),
        Value::Name(t.computer),
        Value::Name(t.user),
        Value::Time(t.issued),
        Value::Time(t.expires),
        Value::Text(hex(&t.hwid)),
    ]
}

fn host_row(h: HostRec) -> Vec<Value> {
    vec![
        Value::Name(h.name),
        Value::text(h.product.as_str()),
        Value::text(h.mode.as_str()),
        Value::Name(h.scope),
        Value::Text(h.license_servers.join(",")),
        h.farm.map_or(Value::Null, Value::Name),
        Value::Time(h.created),
        Value::Time(h.grace_ends),
    ]
}

fn session_row(s: SessionRec) -> Vec<Value> {
    vec![
        Value::Int(s.id as i64),
        Value::Name(s.user),
        Value::Name(s.device),
        Value::Name(s.host),
        s.farm.map_or(Value::Null, Value::Name),
        Value::text(s.state.as_str()),
        Value::Time(s.started),
        Value::Time(s.changed),
        Value::Bool(s.admin),
    ]
}

fn event_row(e: EventRec) -> Vec<Value> {
    vec![
        Value::Int(e.seq as i64),
        Value::Time(e.time),
        Value::text(e.source.as_str()),
        Value::Name(e.node),
        Value::Int(i64::from(e.event)),
        Value::text(e.level.as_str()),
        Value::Text(e.message),
    ]
}

/// The columns of a table a plan reads: bit n for column n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Columns(pub u64);

impl Columns {
    /// Every column (`SELECT *`, `.dump`, REVOKE ... WHERE).
    pub const ALL: Columns = Columns(u64::MAX);

    pub fn has(self, n: usize) -> bool {
        n >= 64 || self.0 & (1 << n) != 0
    }
}

/// How a scan reaches the rows: all of them, the keys under a prefix or in
/// a range of the table itself, or the primary keys found through an index.
#[derive(Clone, Debug, PartialEq)]
pub enum Access {
    Full,
    Keys(Vec<Vec<u8>>),
    Range { from: Vec<u8>, to: Option<Vec<u8>> },
}

/// Visits the rows of a table reached by `access`, in key order.
pub fn scan_rows(
    r: &(impl Reader + ?Sized),
    table: &Table,
    access: &Access,
    cols: Columns,
    f: &mut dyn FnMut(Vec<Value>) -> Result<bool>,
) -> Result<()> {
    match access {
        Access::Full => r.scan(table.store, b"", None, &mut |k, v| f(table.row_of(r, k, v, cols)?)),
        Access::Range { from, to } => {
            r.scan(table.store, from, to.as_deref(), &mut |k, v| f(table.row_of(r, k, v, cols)?))
        }
        Access::Keys(keys) => {
            for k in keys {
                if let Some(v) = r.get(table.store, k)?
                    && !f(table.row_of(r, k, &v, cols)?)?
                {
                    break;
                }
            }
            Ok(())
        }
    }
}

/// The values an enumerated column can take (`status`, `kind`, `type`,
/// `mode`, ...), or `None` for a free one. A comparison with any other value
/// can never be true, so the planner refuses it and lists these.
pub fn enum_values(table: &str, column: &str) -> Option<Vec<&'static str>> {
    fn words<E: Copy>(all: &[E], f: fn(E) -> &'static str) -> Option<Vec<&'static str>> {
        Some(all.iter().map(|e| f(*e)).collect())
    }
    match (table, column) {
        ("licenses", "status") => words(LicenseStatus::ALL, LicenseStatus::as_str),
        ("licenses" | "tokens", "kind") => words(LicenseKind::ALL, LicenseKind::as_str),
        ("keypacks", "cal") => words(CalType::ALL, CalType::as_str),
        ("keypacks", "type") => words(KeypackType::ALL, KeypackType::as_str),
        ("hosts", "mode") => words(Mode::ALL, Mode::as_str),
        ("sessions", "state") => words(SessionState::ALL, SessionState::as_str),
        ("events", "source") => words(EventSource::ALL, EventSource::as_str),
        ("events", "level") => words(EventLevel::ALL, EventLevel::as_str),
        (_, "product") => words(Product::ALL, Product::as_str),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_prints_an_hwid_as_display_does() {
        let h = crate::model::Hwid(std::array::from_fn(|i| (i * 37 + 5) as u8));
        assert_eq!(super::hex(&h), h.to_string());
    }
}
