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
    /// SET KEYPACK: an administrator says what an inferred key pack is;
    /// `server` as for `UninstallKeypack`.
    SetKeypack {
        id: u64,
        server: Option<String>,
        product: Product,
        cal: CalType,
        count: Option<u64>,
        kind: Option<KeypackType>,
        expires: Option<Time>,
    },
    /// `server`: `ON server`, which server's key pack `id` (each server
    /// numbers its own); without it the number must name one pack.
    UninstallKeypack {
        id: u64,
        server: Option<String>,
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
    /// A real client's connection, decided after the licensing front
    /// checked what it presented (`CONNECT CLIENT HWID ...`).
    ConnectClient(Box<crate::protocol::ClientConnect>),
    /// The logon after a real client's licensing (`LOGON CLIENT ...`).
    LogonClient(Box<crate::protocol::ClientLogon>),
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
    /// `server`: `ON server`, as for `UninstallKeypack`.
    RevokeLicense {
        id: u64,
        server: Option<String>,
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
    /// `EXPLAIN SELECT ...`: the plan, not the rows.
    Explain(Select),
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
    /// `server`: `INTO SERVER s`, every row into `s` (or, in a file of
    /// several servers, `s`'s rows); without it, each row into the server
    /// its `Server` or `PSComputerName` column names. `as_of`: `AS OF
    /// 'time'`, the instant the file describes (else its newest time).
    Import {
        what: Exportable,
        file: String,
        server: Option<String>,
        as_of: Option<Time>,
        options: ImportOptions,
    },
    /// `IMPORT USERS FROM 'file' INTO SERVER s`: per-user CALs from an
    /// Active Directory export (Get-ADUser CSV or ldifde LDIF).
    ImportUsers {
        file: String,
        server: String,
        options: ImportOptions,
    },
}

/// The options of IMPORT, as the statement spells them (checked when it
/// runs): `ENCODING 'windows-1252' DELIMITER ';' CULTURE 'de-DE' TIMEZONE
/// 'Europe/Berlin'`, each at most once, in any order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportOptions {
    pub encoding: Option<String>,
    pub delimiter: Option<String>,
    pub culture: Option<String>,
    pub timezone: Option<String>,
}

impl ImportOptions {
    /// The option keywords, in the order they are printed.
    pub const WORDS: [&'static str; 4] = ["ENCODING", "DELIMITER", "CULTURE", "TIMEZONE"];

    pub fn slot(&mut self, n: usize) -> &mut Option<String> {
        match n {
            0 => &mut self.encoding,
            1 => &mut self.delimiter,
            2 => &mut self.culture,
            _ => &mut self.timezone,
        }
    }

    /// The options given, with their keywords, in print order.
    pub fn given(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let slots = [&self.encoding, &self.delimiter, &self.culture, &self.timezone];
        Self::WORDS.into_iter().zip(slots).filter_map(|(w, v)| v.as_deref().map(|v| (w, v)))
    }
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

/// `SELECT [DISTINCT] items FROM t [AS a] [[LEFT] JOIN u [AS b] ON cond]...
/// [WHERE cond] [GROUP BY exprs [HAVING cond]] [ORDER BY items]
/// [LIMIT n [OFFSET m]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Select {
    pub distinct: bool,
    pub items: Vec<SelectItem>,
    pub from: TableRef,
    pub joins: Vec<Join>,
    pub filter: Option<Expr>,
    pub group_by: Vec<Expr>,
    pub having: Option<Expr>,
    pub order_by: Vec<OrderItem>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

impl Select {
    /// `SELECT * FROM table`, to build on.
    pub fn star(table: &str) -> Select {
        Select {
            distinct: false,
            items: vec![SelectItem::Star(None)],
            from: TableRef { table: table.into(), alias: None },
            joins: Vec::new(),
            filter: None,
            group_by: Vec::new(),
            having: None,
            order_by: Vec::new(),
            limit: None,
            offset: None,
        }
    }
}

/// A table of FROM or JOIN, with its alias (lower-cased).
#[derive(Clone, Debug, PartialEq)]
pub struct TableRef {
    pub table: String,
    pub alias: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Join {
    pub left: bool,
    pub table: TableRef,
    pub on: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SelectItem {
    /// `*`, or `t.*` for one table.
    Star(Option<String>),
    Expr {
        expr: Expr,
        alias: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct OrderItem {
    /// A column, an alias, a position (an integer literal) or an expression.
    pub expr: Expr,
    pub descending: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

impl Aggregate {
    pub const ALL: &'static [Aggregate] =
        &[Aggregate::Count, Aggregate::Sum, Aggregate::Min, Aggregate::Max, Aggregate::Avg];

    pub fn as_str(self) -> &'static str {
        match self {
            Aggregate::Count => "count",
            Aggregate::Sum => "sum",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::Avg => "avg",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl ArithOp {
    pub fn as_str(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Rem => "%",
        }
    }
}

/// An expression: a condition of WHERE, ON or HAVING, a selected value or
/// an ORDER BY key. Names are kept as written (lower-cased by the parser);
/// the planner checks them against the tables.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `column` or `table.column`.
    Column(Option<String>, String),
    Lit(Literal),
    /// `now()`: the statement's instant.
    Now,
    /// `7 DAYS`: an amount of time, added to or taken from a time.
    Interval(i64, TimeUnit),
    Neg(Box<Expr>),
    Arith(Box<Expr>, ArithOp, Box<Expr>),
    Compare(Box<Expr>, CompareOp, Box<Expr>),
    IsNull(Box<Expr>, bool),
    In(Box<Expr>, Vec<Expr>, bool),
    InSelect(Box<Expr>, Box<Select>, bool),
    Like(Box<Expr>, String, bool),
    Between(Box<Expr>, Box<Expr>, Box<Expr>, bool),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    /// `COUNT(*)` is `Agg(Count, None, false)`.
    Agg(Aggregate, Option<Box<Expr>>, bool),
}

impl Expr {
    pub fn column(name: &str) -> Expr {
        Expr::Column(None, name.into())
    }

    pub fn compare(l: Expr, op: CompareOp, r: Expr) -> Expr {
        Expr::Compare(Box::new(l), op, Box::new(r))
    }
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
                | Statement::Explain(_)
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
