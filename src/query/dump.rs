//! `.dump` and `.schema`: every table, every row, in key order, as text
//! that is the same for the same database.

use super::catalog::{Access, TABLES, scan_rows};
use crate::error::{Error, Result};
use crate::model::Value;
use crate::store::Reader;
use std::fmt::Write;

fn literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".to_string(),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string().to_uppercase(),
        Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Time(t) => format!("'{t}'"),
    }
}

pub fn dump(r: &(impl Reader + ?Sized)) -> Result<String> {
    let mut out = String::new();
    let s = r.state()?;
    let clock = s.clock.map_or("wall".to_string(), |t| format!("'{t}'"));
    let _ = writeln!(
        out,
        "-- caldb dump: clock {clock}, seed {}, random state {}, next keypack {}, license {}, session {}, event {}, history {}",
        s.seed, s.rng, s.next_keypack, s.next_license, s.next_session, s.next_event, s.next_history
    );
    for t in TABLES {
        let _ = writeln!(out, "-- {} ({})", t.name, t.column_names().join(", "));
        scan_rows(r, t, &Access::Full, &mut |row| {
            let values: Vec<String> = row.iter().map(literal).collect();
            let _ = writeln!(out, "INSERT INTO {} VALUES({});", t.name, values.join(","));
            Ok(true)
        })?;
    }
    Ok(out)
}

pub fn schema_text(table: Option<&str>) -> Result<String> {
    let mut out = String::new();
    let tables: Vec<_> = match table {
        None => TABLES.iter().collect(),
        Some(name) => vec![
            super::catalog::table(name).ok_or_else(|| Error::plan_near(format!("no table named '{name}'"), name))?,
        ],
    };
    for t in tables {
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|(c, ty)| {
                let null = if t.nullable.contains(c) { " NULL" } else { "" };
                format!("  {c} {}{null}", ty.name())
            })
            .collect();
        let _ = writeln!(out, "CREATE TABLE {} (\n{}\n);", t.name, cols.join(",\n"));
    }
    Ok(out)
}
