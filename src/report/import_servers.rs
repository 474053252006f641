//! Which server each row of an imported file belongs to. Each license
//! server numbers its own key packs and licenses from 1, so a row's ids
//! mean something only with its server: `INTO SERVER s` puts every row into
//! `s` (the file's own server name, if any, is the Windows machine's, which
//! need not be caldb's name for it); in a file holding the rows of several
//! servers (a combined `Get-WmiObject -ComputerName A,B` export, or a
//! whole-database caldb EXPORT), `INTO SERVER s` takes `s`'s rows and counts
//! the others as passed over; without `INTO SERVER`, each row goes to the
//! server its column names (`Server`, caldb's, else PowerShell's
//! `PSComputerName`). A server the database lacks is created (activated:
//! it issued the file's CALs). This module maps rows to servers; reading
//! the fields is `import`'s.

use super::import::{CsvFile, Head, OTHER_SERVER, Row, shown};
use super::read::Options;
use crate::error::{Error, Result};
use crate::model::{fold_name, same_name};
use crate::protocol::{Ctx, deploy};
use crate::store::{Records, ServerRec};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// The columns naming a row's server, in order of preference: caldb's
/// EXPORT writes `Server`; PowerShell adds `PSComputerName` (and WMI
/// objects `__SERVER`) to every row.
const SERVER_COLUMNS: [&str; 3] = ["Server", "PSComputerName", "__SERVER"];

/// A file to read: its path, its name, the statement's options and the
/// columns its delimiter is detected by.
pub type Source<'a> = (&'a Path, &'a str, &'a Options, &'a [&'a str]);

/// How an import's rows map to servers.
pub struct Servers {
    /// `INTO SERVER`'s server, if given.
    into: Option<String>,
    /// With `into`, in a file of several servers: the file's name for it.
    only: Option<String>,
    /// The servers met so far, by the name the file gives, folded (names
    /// compare as Windows compares them: `PC1` is `pc1`).
    found: HashMap<String, ServerRec>,
    /// Rows of other servers passed over (`INTO SERVER` in a file of several).
    pub passed_over: u64,
}

impl Servers {
    /// Decides the mapping of the rows of the file whose header is `head`:
    /// with `into`, a file naming several servers is read once ahead for
    /// their names (`file`: its path, name, options and known columns).
    pub fn plan(head: &Head, file: Source, into: Option<&str>) -> Result<Servers> {
        let mut servers = Servers { into: into.map(str::to_string), only: None, found: HashMap::new(), passed_over: 0 };
        let name = file.1;
        let Some(into) = into else {
            if !SERVER_COLUMNS.iter().any(|c| head.has(c)) {
                return Err(Error::plan(format!(
                    "{name}: the file names no server (no Server or PSComputerName column); say which: \
                     IMPORT ... FROM '{name}' INTO SERVER name"
                )));
            }
            return Ok(servers);
        };
        let names = file_servers(file)?;
        if names.len() > 1 {
            let mine = names.iter().find(|n| same_name(n, into));
            let Some(mine) = mine else {
                let list: Vec<&str> = names.iter().map(String::as_str).collect();
                return Err(Error::plan(format!(
                    "{name}: the file holds the rows of servers {}, none of them '{into}': import it without \
                     INTO SERVER to load each server's rows into its own, or name one of them",
                    list.join(", ")
                )));
            };
            servers.only = Some(mine.clone());
        }
        Ok(servers)
    }

    /// The server of `row`, created if the database lacks it; `None` for
    /// a row of another server, passed over (and counted).
    pub fn of(&mut self, cx: &mut Ctx, row: &Row) -> Result<Option<ServerRec>> {
        let named = SERVER_COLUMNS.iter().find_map(|c| row.non_empty(c).map(|v| (*c, v)));
        let name = match (&self.into, &self.only, named) {
            (Some(_), Some(only), Some((_, v))) if !same_name(v, only) => {
                row.note(OTHER_SERVER);
                self.passed_over += 1;
                return Ok(None);
            }
            (Some(into), ..) => into.clone(),
            (None, _, Some((col, v))) => {
                if v.chars().any(char::is_control) {
                    return Err(row.err(col, format!("'{}' holds a control character", shown(v).escape_debug())));
                }
                v.to_string()
            }
            (None, _, None) => {
                return Err(row.err("PSComputerName", "the row names no server; say which with INTO SERVER"));
            }
        };
        let folded = fold_name(&name).into_owned();
        if let Some(s) = self.found.get(&folded) {
            return Ok(Some(s.clone()));
        }
        let s = existing_or_new(cx, &name)?;
        self.found.insert(folded, s.clone());
        Ok(Some(s))
    }

    /// The servers the rows went into, by name.
    pub fn names(&self) -> Vec<String> {
        let names: BTreeSet<&String> = self.found.values().map(|s| &s.name).collect();
        names.into_iter().cloned().collect()
    }
}

/// The server named `name` in any case (names compare as Windows compares
/// them, and PowerShell writes machine names in upper case: the lookup is
/// by the folded name), created and activated when there is none.
fn existing_or_new(cx: &mut Ctx, name: &str) -> Result<ServerRec> {
    if let Some(s) = cx.tx.server(name)? {
        return Ok(s);
    }
    deploy::create_server(cx, name, None, None)?;
    deploy::set_activated(cx, name, true)?;
    cx.tx.server(name)?.ok_or_else(|| Error::Storage(format!("server '{name}' vanished as it was created")))
}

/// The distinct server names of a file's rows, compared as Windows
/// compares names (the first spelling met of each; none without a server
/// column).
fn file_servers(file: Source) -> Result<Vec<String>> {
    let (path, name, opts, known) = file;
    let mut names = BTreeMap::new();
    let Some(mut file) = CsvFile::open(path, name, opts, known)? else {
        return Ok(Vec::new());
    };
    while let Some((line, record)) = file.next_record()? {
        let row = file.head().row(line, &record);
        if let Some(v) = SERVER_COLUMNS.iter().find_map(|c| row.non_empty(c)) {
            names.entry(fold_name(v).into_owned()).or_insert_with(|| v.to_string());
        }
    }
    Ok(names.into_values().collect())
}
