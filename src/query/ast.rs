//! The statements of language.md as data. Parsing (`query::parse`) builds
//! these; `Display` prints them back as canonical text that parses to the same
//! value (the round-trip property). This module never executes anything.

use crate::model::{CalType, Hwid, KeypackType, Mode, Product, Time};

#[derive(Clone, Debug, PartialEq)]
pub enum Statement {
    // Deployment
    CreateServer {
        name: String,
        product: Option<Product>,
        scope: Option<String>,
    },
    ActivateServer {
        name: String,
    },
    DeactivateServer {
        name: String,
    },
    SetServerOnline {
        name: String,
        online: bool,
    },
    /// `hosts: None` is `SECURITY GROUP OFF`.
    SetServerSecurityGroup {
        name: String,
        hosts: Option<Vec<String>>,
    },
    /// "Prevent License Upgrade" on or off.
    SetServerPreventUpgrade {
        name: String,
        on: bool,
    },
    InstallKeypack {
        server: String,
        product: Product,
        cal: CalType,
        count: u64,
        kind: Option<KeypackType>,
        expires: Option<Time>,
    },
    UninstallKeypack {
        id: u64,
    },
    CreateHost {
        name: String,
        product: Option<Product>,
        mode: Option<Mode>,
        scope: Option<String>,
        license_servers: Option<Vec<String>>,
        farm: Option<String>,
    },
    SetHostMode {
        name: String,
        mode: Mode,
    },
    SetHostLicenseServers {
        name: String,
        servers: Vec<String>,
    },
    CreateDevice {
        name: String,
        hwid: Option<Hwid>,
    },
    CloneDevice {
        name: String,
        new_name: String,
        with_store: bool,
    },
    ReimageDevice {
        name: String,
    },
    ClearDeviceStore {
        name: String,
    },
    ClearDeviceLicensing {
        name: String,
    },
    // Protocol
    Connect {
        device: String,
        user: String,
        target: Target,
        /// Remote Desktop for Administration: no CAL.
        admin: bool,
        logon_failed: bool,
    },
    DisconnectSession {
        id: u64,
    },
    LogoffSession {
        id: u64,
    },
    // Time
    SetClock {
        at: Time,
    },
    SetClockWall,
    Advance {
        amount: u64,
        unit: TimeUnit,
    },
    SetSeed {
        seed: u64,
    },
    // Administration
    RevokeLicense {
        id: u64,
    },
    RevokeLicenses {
        filter: Expr,
    },
    RebuildServer {
        name: String,
        reinstall_keypacks: bool,
    },
    Check,
    Repair,
    Backup {
        file: String,
    },
    Begin,
    Commit,
    Rollback,
    // Inspection
    Select(Select),
    /// The database's clock (simulated or wall) and random seed.
    ShowClock,
    /// `.dump`'s restore form: a table as the dump declares it (checked,
    /// changes nothing)...
    CreateTable {
        table: String,
        columns: Vec<(String, String)>,
    },
    /// ... and one of its rows (a stored record for `caldb_store`, which
    /// a restore writes; a row of a query table, which it checks).
    InsertRow {
        table: String,
        values: Vec<SqlValue>,
    },
    ShowDevice {
        name: String,
    },
    ShowHost {
        name: String,
    },
    ReportUsage,
    ReportDuplicates,
    ReportUsers,
    ReportExpiring {
        within_days: Option<u64>,
    },
    Export {
        what: Exportable,
        file: String,
    },
    Import {
        what: Exportable,
        file: String,
        server: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Host(String),
    Farm(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    Days,
    Hours,
    Minutes,
    Seconds,
}

impl TimeUnit {
    pub fn seconds(self) -> i64 {
        match self {
            TimeUnit::Days => 86_400,
            TimeUnit::Hours => 3_600,
            TimeUnit::Minutes => 60,
            TimeUnit::Seconds => 1,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exportable {
    Licenses,
    Keypacks,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Select {
    pub projection: Projection,
    pub table: String,
    pub filter: Option<Expr>,
    pub group_by: Vec<String>,
    pub order_by: Vec<OrderItem>,
    pub limit: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Projection {
    /// `SELECT *`
    Star,
    /// `SELECT a, b, COUNT(*)`; `SELECT COUNT(*)` is `Items(vec![CountStar])`.
    Items(Vec<SelectItem>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum SelectItem {
    Column(String),
    CountStar,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OrderItem {
    /// A column name, or `count(*)` ordering by the count of a GROUP BY.
    pub column: String,
    pub descending: bool,
}

/// A WHERE condition. Column names are kept as written (lower-cased by the
/// parser); the planner checks them against the table.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Compare { column: String, op: CompareOp, value: Literal },
    IsNull { column: String, negated: bool },
    In { column: String, values: Vec<Literal>, negated: bool },
    Like { column: String, pattern: String, negated: bool },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

/// A value of the restore form's rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SqlValue {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Blob(Vec<u8>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Text(String),
    Int(i64),
    Bool(bool),
    Null,
}

impl Statement {
    /// Whether the statement is `.dump`'s restore form, which a restore
    /// runs without expiry and without a history row of its own.
    pub fn is_restore(&self) -> bool {
        matches!(self, Statement::CreateTable { .. } | Statement::InsertRow { .. })
    }

    /// Whether the statement leaves the database as it was (no history row).
    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            Statement::Select(_)
                | Statement::ShowClock
                | Statement::ShowDevice { .. }
                | Statement::ShowHost { .. }
                | Statement::ReportUsage
                | Statement::ReportDuplicates
                | Statement::ReportUsers
                | Statement::ReportExpiring { .. }
                | Statement::Check
                | Statement::Export { .. }
                | Statement::Backup { .. }
        )
    }
}
