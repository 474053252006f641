//! Statements back to canonical text: upper-case keywords, names quoted only
//! when they are not bare words or collide with a keyword, times as
//! `'YYYY-MM-DD HH:MM:SS'`, HWIDs in upper case, no trailing `;`. The text
//! parses back to the same statement (`parse_statement(&s.to_string()) ==
//! Ok(s)`); conditions are parenthesized only where precedence needs it.

use std::fmt::{self, Display, Formatter};

use crate::query::ast::{
    ArithOp, Exportable, Expr, Literal, OrderItem, Select, SelectItem, SqlValue, Statement, TableRef, Target, TimeUnit,
};
use crate::protocol::Presented;
use crate::query::parse::is_bare_name;

/// A name as written in a statement: bare when possible, else quoted.
pub struct Name<'a>(pub &'a str);

/// A restore-form value as `.dump` writes it (SQL literal syntax, which
/// sqlite3 reads too).
pub fn sql_value(v: &SqlValue) -> String {
    match v {
        SqlValue::Null => "NULL".into(),
        SqlValue::Int(n) => n.to_string(),
        SqlValue::Bool(b) => (if *b { "TRUE" } else { "FALSE" }).into(),
        SqlValue::Text(t) => format!("'{}'", t.replace('\'', "''")),
        SqlValue::Blob(bytes) => {
            let mut out = String::with_capacity(bytes.len() * 2 + 3);
            out.push_str("X'");
            for b in bytes {
                out.push_str(&format!("{b:02X}"));
            }
            out.push('\'');
            out
        }
    }
}

impl Display for Name<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if is_bare_name(self.0) { f.write_str(self.0) } else { Quoted(self.0).fmt(f) }
    }
}

/// ` ON server` after a key pack's or license's number, when given.
struct OnServer<'a>(&'a Option<String>);

impl Display for OnServer<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, " ON {}", Name(s)),
            None => Ok(()),
        }
    }
}

/// A text in quotes, with `'` doubled.
pub struct Quoted<'a>(pub &'a str);

impl Display for Quoted<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "'{}'", self.0.replace('\'', "''"))
    }
}

/// `(a, b, c)` with each name bare or quoted.
struct NameList<'a>(&'a [String]);

impl Display for NameList<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (n, s) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str(", ")?;
            }
            Name(s).fmt(f)?;
        }
        f.write_str(")")
    }
}

fn upper(s: &str) -> String {
    s.to_ascii_uppercase()
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        use Statement as S;
        match self {
            S::CreateServer { name, product, scope } => {
                write!(f, "CREATE SERVER {}", Name(name))?;
                if let Some(p) = product {
                    write!(f, " PRODUCT {p}")?;
                }
                if let Some(s) = scope {
                    write!(f, " SCOPE {}", Name(s))?;
                }
                Ok(())
            }
            S::ActivateServer { name } => write!(f, "ACTIVATE SERVER {}", Name(name)),
            S::DeactivateServer { name } => write!(f, "DEACTIVATE SERVER {}", Name(name)),
            S::SetServerOnline { name, online } => {
                let state = if *online { "ONLINE" } else { "OFFLINE" };
                write!(f, "SET SERVER {} {state}", Name(name))
            }
            S::SetServerSecurityGroup { name, hosts: None } => {
                write!(f, "SET SERVER {} SECURITY GROUP OFF", Name(name))
            }
            S::SetServerSecurityGroup { name, hosts: Some(h) } => {
                write!(f, "SET SERVER {} SECURITY GROUP {}", Name(name), NameList(h))
            }
            S::SetServerPreventUpgrade { name, on } => {
                write!(f, "SET SERVER {} PREVENT UPGRADE {}", Name(name), if *on { "ON" } else { "OFF" })
            }
            S::InstallKeypack { .. } => fmt_install(self, f),
            S::SetKeypack { .. } => fmt_set_keypack(self, f),
            S::UninstallKeypack { id, server } => write!(f, "UNINSTALL KEYPACK {id}{}", OnServer(server)),
            S::CreateHost { .. } => fmt_create_host(self, f),
            S::SetHostMode { name, mode } => {
                write!(f, "SET HOST {} MODE {}", Name(name), upper(mode.as_str()))
            }
            S::SetHostLicenseServers { name, servers } => {
                write!(f, "SET HOST {} LICENSE SERVERS {}", Name(name), NameList(servers))
            }
            S::CreateDevice { name, hwid } => {
                write!(f, "CREATE DEVICE {}", Name(name))?;
                if let Some(h) = hwid {
                    write!(f, " HWID '{h}'")?;
                }
                Ok(())
            }
            _ => fmt_devices_and_protocol(self, f),
        }
    }
}

fn fmt_install(s: &Statement, f: &mut Formatter<'_>) -> fmt::Result {
    let Statement::InstallKeypack { server, product, cal, count, kind, expires } = s else {
        return Ok(());
    };
    let cal = upper(cal.as_str());
    write!(f, "INSTALL KEYPACK ON {} PRODUCT {product} CAL {cal} COUNT {count}", Name(server))?;
    if let Some(k) = kind {
        write!(f, " TYPE {}", upper(k.as_str()))?;
    }
    if let Some(t) = expires {
        write!(f, " EXPIRES '{t}'")?;
    }
    Ok(())
}

fn fmt_set_keypack(s: &Statement, f: &mut Formatter<'_>) -> fmt::Result {
    let Statement::SetKeypack { id, server, product, cal, count, kind, expires } = s else {
        return Ok(());
    };
    write!(f, "SET KEYPACK {id}{} PRODUCT {product} CAL {}", OnServer(server), upper(cal.as_str()))?;
    if let Some(n) = count {
        write!(f, " COUNT {n}")?;
    }
    if let Some(k) = kind {
        write!(f, " TYPE {}", upper(k.as_str()))?;
    }
    if let Some(t) = expires {
        write!(f, " EXPIRES '{t}'")?;
    }
    Ok(())
}

fn fmt_create_host(s: &Statement, f: &mut Formatter<'_>) -> fmt::Result {
    let Statement::CreateHost { name, product, mode, scope, license_servers, farm } = s else {
        return Ok(());
    };
    write!(f, "CREATE HOST {}", Name(name))?;
    if let Some(p) = product {
        write!(f, " PRODUCT {p}")?;
    }
    if let Some(m) = mode {
        write!(f, " MODE {}", upper(m.as_str()))?;
    }
    if let Some(s) = scope {
        write!(f, " SCOPE {}", Name(s))?;
    }
    if let Some(l) = license_servers {
        write!(f, " LICENSE SERVERS {}", NameList(l))?;
    }
    if let Some(farm) = farm {
        write!(f, " FARM {}", Name(farm))?;
    }
    Ok(())
}

fn fmt_devices_and_protocol(s: &Statement, f: &mut Formatter<'_>) -> fmt::Result {
    use Statement as S;
    match s {
        S::CloneDevice { name, new_name, with_store } => {
            write!(f, "CLONE DEVICE {} AS {}", Name(name), Name(new_name))?;
            if *with_store {
                f.write_str(" WITH STORE")?;
            }
            Ok(())
        }
        S::ReimageDevice { name } => write!(f, "REIMAGE DEVICE {}", Name(name)),
        S::ClearDeviceStore { name } => write!(f, "CLEAR DEVICE {} STORE", Name(name)),
        S::ClearDeviceLicensing { name } => write!(f, "CLEAR DEVICE {} LICENSING", Name(name)),
        S::Connect { device, user, target, admin, logon_failed } => {
            write!(f, "CONNECT {} AS {} TO {target}", Name(device), Name(user))?;
            if *admin {
                f.write_str(" ADMIN")?;
            }
            if *logon_failed {
                f.write_str(" LOGON FAILED")?;
            }
            Ok(())
        }
        S::ConnectClient(c) => {
            write!(f, "CONNECT CLIENT HWID '{}' NAME {} AS {} TO {}", c.hwid, Name(&c.computer), Name(&c.user), Name(&c.host))?;
            match &c.presented {
                Presented::Nothing => Ok(()),
                Presented::License { license, server, kind, product, expires } => write!(
                    f,
                    " PRESENTING LICENSE {license} ON {} KIND {kind} PRODUCT {product} EXPIRES '{expires}'",
                    Name(server)
                ),
                Presented::Misplaced { license, server } => {
                    write!(f, " PRESENTING INVALID 'hwid' LICENSE {license} ON {}", Name(server))
                }
                Presented::Invalid(why) => write!(f, " PRESENTING INVALID '{}'", why.as_str()),
            }
        }
        S::LogonClient(l) => {
            write!(f, "LOGON CLIENT NAME {} AS {} TO {}", Name(&l.computer), Name(&l.user), Name(&l.host))?;
            if let Some((n, server)) = &l.license {
                write!(f, " LICENSE {n} ON {}", Name(server))?;
            }
            if l.failed {
                f.write_str(" FAILED")?;
            }
            Ok(())
        }
        S::DisconnectSession { id } => write!(f, "DISCONNECT SESSION {id}"),
        S::LogoffSession { id } => write!(f, "LOGOFF SESSION {id}"),
        S::SetClock { at } => write!(f, "SET CLOCK '{at}'"),
        S::SetClockWall => f.write_str("SET CLOCK WALL"),
        S::Advance { amount, unit } => write!(f, "ADVANCE {amount} {unit}"),
        S::SetSeed { seed } => write!(f, "SET SEED {seed}"),
        _ => fmt_admin_and_inspection(s, f),
    }
}

fn fmt_admin_and_inspection(s: &Statement, f: &mut Formatter<'_>) -> fmt::Result {
    use Statement as S;
    match s {
        S::RevokeLicense { id, server } => write!(f, "REVOKE LICENSE {id}{}", OnServer(server)),
        S::RevokeLicenses { filter } => write!(f, "REVOKE LICENSES WHERE {filter}"),
        S::Explain(s) => write!(f, "EXPLAIN {s}"),
        S::RebuildServer { name, reinstall_keypacks } => {
            write!(f, "REBUILD SERVER {}", Name(name))?;
            if *reinstall_keypacks {
                f.write_str(" REINSTALL KEYPACKS")?;
            }
            Ok(())
        }
        S::Check => f.write_str("CHECK"),
        S::Repair => f.write_str("REPAIR"),
        S::Backup { file } => write!(f, "BACKUP TO {}", Quoted(file)),
        S::Begin => f.write_str("BEGIN"),
        S::Commit => f.write_str("COMMIT"),
        S::Rollback => f.write_str("ROLLBACK"),
        S::Select(sel) => sel.fmt(f),
        S::ShowClock => f.write_str("SHOW CLOCK"),
        S::CreateTable { table, columns } => {
            let columns: Vec<String> = columns.iter().map(|(c, ty)| format!("{} {}", Name(c), Name(ty))).collect();
            write!(f, "CREATE TABLE {}({})", Name(table), columns.join(", "))
        }
        S::InsertRow { table, values } => {
            let values: Vec<String> = values.iter().map(sql_value).collect();
            write!(f, "INSERT INTO {} VALUES({})", Name(table), values.join(","))
        }
        S::ShowDevice { name } => write!(f, "SHOW DEVICE {}", Name(name)),
        S::ShowHost { name } => write!(f, "SHOW HOST {}", Name(name)),
        S::ReportUsage => f.write_str("REPORT USAGE"),
        S::ReportDuplicates => f.write_str("REPORT DUPLICATES"),
        S::ReportUsers => f.write_str("REPORT USERS"),
        S::ReportExpiring { within_days: None } => f.write_str("REPORT EXPIRING"),
        S::ReportExpiring { within_days: Some(d) } => write!(f, "REPORT EXPIRING WITHIN {d} DAYS"),
        S::Export { what, file } => write!(f, "EXPORT {what} TO {}", Quoted(file)),
        S::Import { what, file, server, as_of, options } => {
            write!(f, "IMPORT {what} FROM {}", Quoted(file))?;
            if let Some(s) = server {
                write!(f, " INTO SERVER {}", Name(s))?;
            }
            if let Some(t) = as_of {
                write!(f, " AS OF '{t}'")?;
            }
            options.given().try_for_each(|(w, v)| write!(f, " {w} {}", Quoted(v)))
        }
        S::ImportUsers { file, server, options } => {
            write!(f, "IMPORT USERS FROM {} INTO SERVER {}", Quoted(file), Name(server))?;
            options.given().try_for_each(|(w, v)| write!(f, " {w} {}", Quoted(v)))
        }
        _ => Ok(()),
    }
}

impl Display for Target {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Target::Host(h) => Name(h).fmt(f),
            Target::Farm(farm) => write!(f, "FARM {}", Name(farm)),
        }
    }
}

impl Display for TimeUnit {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeUnit::Days => "DAYS",
            TimeUnit::Hours => "HOURS",
            TimeUnit::Minutes => "MINUTES",
            TimeUnit::Seconds => "SECONDS",
        })
    }
}

impl Display for Exportable {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Exportable::Licenses => "LICENSES",
            Exportable::Keypacks => "KEYPACKS",
        })
    }
}

impl Display for Select {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(if self.distinct { "SELECT DISTINCT " } else { "SELECT " })?;
        comma_list(f, &self.items)?;
        write!(f, " FROM {}", self.from)?;
        for j in &self.joins {
            write!(f, " {}JOIN {} ON {}", if j.left { "LEFT " } else { "" }, j.table, j.on)?;
        }
        if let Some(e) = &self.filter {
            write!(f, " WHERE {e}")?;
        }
        if !self.group_by.is_empty() {
            f.write_str(" GROUP BY ")?;
            comma_list(f, &self.group_by)?;
        }
        if let Some(e) = &self.having {
            write!(f, " HAVING {e}")?;
        }
        if !self.order_by.is_empty() {
            f.write_str(" ORDER BY ")?;
            comma_list(f, &self.order_by)?;
        }
        if let Some(l) = self.limit {
            write!(f, " LIMIT {l}")?;
        }
        if let Some(o) = self.offset {
            write!(f, " OFFSET {o}")?;
        }
        Ok(())
    }
}

fn comma_list<T: Display>(f: &mut Formatter<'_>, items: &[T]) -> fmt::Result {
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            f.write_str(", ")?;
        }
        item.fmt(f)?;
    }
    Ok(())
}

impl Display for TableRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&self.table)?;
        match &self.alias {
            Some(a) => write!(f, " AS {a}"),
            None => Ok(()),
        }
    }
}

impl Display for SelectItem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SelectItem::Star(None) => f.write_str("*"),
            SelectItem::Star(Some(t)) => write!(f, "{t}.*"),
            SelectItem::Expr { expr, alias: None } => expr.fmt(f),
            SelectItem::Expr { expr, alias: Some(a) } => write!(f, "{expr} AS {a}"),
        }
    }
}

impl Display for OrderItem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)?;
        if self.descending {
            f.write_str(" DESC")?;
        }
        Ok(())
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Text(t) => Quoted(t).fmt(f),
            Literal::Int(n) => write!(f, "{n}"),
            Literal::Bool(true) => f.write_str("TRUE"),
            Literal::Bool(false) => f.write_str("FALSE"),
            Literal::Null => f.write_str("NULL"),
        }
    }
}

/// Binding strength: OR 1, AND 2, NOT 3, predicates 4, `+ -` 5, `* / %` 6,
/// unary minus 7, primaries 8.
fn precedence(e: &Expr) -> u8 {
    match e {
        Expr::Or(..) => 1,
        Expr::And(..) => 2,
        Expr::Not(_) => 3,
        Expr::Compare(..)
        | Expr::IsNull(..)
        | Expr::In(..)
        | Expr::InSelect(..)
        | Expr::Like(..)
        | Expr::Between(..) => 4,
        Expr::Arith(_, ArithOp::Add | ArithOp::Sub, _) => 5,
        Expr::Arith(..) => 6,
        Expr::Neg(_) => 7,
        _ => 8,
    }
}

/// `e`, in parentheses when it binds less tightly than `min`.
fn operand(f: &mut Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
    if precedence(e) < min { write!(f, "({e})") } else { e.fmt(f) }
}

fn not(negated: bool) -> &'static str {
    if negated { "NOT " } else { "" }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column(None, c) => f.write_str(c),
            Expr::Column(Some(t), c) => write!(f, "{t}.{c}"),
            Expr::Lit(l) => l.fmt(f),
            Expr::Now => f.write_str("now()"),
            Expr::Interval(n, unit) => write!(f, "{n} {unit}"),
            // Always in parentheses: `-5` would read back as the number.
            Expr::Neg(e) => write!(f, "-({e})"),
            Expr::Arith(l, op, r) => {
                let p = precedence(self);
                operand(f, l, p)?;
                write!(f, " {} ", op.as_str())?;
                operand(f, r, p + 1)
            }
            Expr::Compare(l, op, r) => {
                operand(f, l, 5)?;
                write!(f, " {} ", op.as_str())?;
                operand(f, r, 5)
            }
            Expr::IsNull(e, negated) => {
                operand(f, e, 5)?;
                write!(f, " IS {}NULL", not(*negated))
            }
            Expr::In(e, values, negated) => {
                operand(f, e, 5)?;
                write!(f, " {}IN (", not(*negated))?;
                for (n, v) in values.iter().enumerate() {
                    f.write_str(if n > 0 { ", " } else { "" })?;
                    operand(f, v, 5)?;
                }
                f.write_str(")")
            }
            Expr::InSelect(e, s, negated) => {
                operand(f, e, 5)?;
                write!(f, " {}IN ({s})", not(*negated))
            }
            Expr::Like(e, pattern, negated) => {
                operand(f, e, 5)?;
                write!(f, " {}LIKE {}", not(*negated), Quoted(pattern))
            }
            Expr::Between(e, lo, hi, negated) => {
                operand(f, e, 5)?;
                write!(f, " {}BETWEEN ", not(*negated))?;
                operand(f, lo, 5)?;
                f.write_str(" AND ")?;
                operand(f, hi, 5)
            }
            Expr::Or(l, r) | Expr::And(l, r) => {
                let p = precedence(self);
                operand(f, l, p)?;
                f.write_str(if p == 1 { " OR " } else { " AND " })?;
                operand(f, r, p + 1)
            }
            Expr::Not(e) => {
                f.write_str("NOT ")?;
                operand(f, e, 3)
            }
            Expr::Agg(a, None, _) => write!(f, "{}(*)", a.as_str()),
            Expr::Agg(a, Some(e), distinct) => {
                write!(f, "{}({}{e})", a.as_str(), if *distinct { "DISTINCT " } else { "" })
            }
        }
    }
}
