//! The reading side of IMPORT, from bytes to text and typed values: the
//! options a statement names (`ENCODING`, `DELIMITER`, `CULTURE`,
//! `TIMEZONE`), the decoding of a file's bytes (`decode`), the times every
//! Windows writer produces (`dates`), LDIF (`ldif`), and the notes that
//! count what an import read differently from the file's words or passed
//! over. It never touches the store: what the rows become is the importers'.

pub mod dates;
pub mod decode;
pub mod ldif;

use crate::error::{Error, Result};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// What a statement says about its file; `None` is "detect it".
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub encoding: Option<&'static encoding_rs::Encoding>,
    pub delimiter: Option<u8>,
    pub culture: Option<&'static dates::Culture>,
    pub zone: Option<chrono_tz::Tz>,
}

/// The delimiters a header is tried with, in this order on a tie.
pub const DELIMITERS: [u8; 3] = [b',', b';', b'\t'];

impl Options {
    /// Checks each named option: an unknown encoding, culture or time zone
    /// is an error listing what is known.
    pub fn new(
        encoding: Option<&str>,
        delimiter: Option<&str>,
        culture: Option<&str>,
        zone: Option<&str>,
    ) -> Result<Options> {
        let encoding = encoding.map(decode::encoding).transpose()?;
        let delimiter = delimiter.map(parse_delimiter).transpose()?;
        let culture = culture.map(dates::culture).transpose()?;
        let zone = zone
            .map(|z| {
                z.parse::<chrono_tz::Tz>().map_err(|_| {
                    Error::plan_near(
                        format!("'{z}' is not a time zone: name one of the IANA database, e.g. 'Europe/Berlin' or 'UTC'"),
                        z,
                    )
                })
            })
            .transpose()?;
        Ok(Options { encoding, delimiter, culture, zone })
    }
}

/// `','`, `';'`, a tab, or the words `tab`, `comma`, `semicolon`.
fn parse_delimiter(text: &str) -> Result<u8> {
    let d = match text.to_ascii_lowercase().as_str() {
        "," | "comma" => b',',
        ";" | "semicolon" => b';',
        "\t" | "tab" | "\\t" => b'\t',
        "|" => b'|',
        _ => {
            return Err(Error::plan_near(
                format!("'{text}' is not a delimiter: name ',', ';', '|' or 'tab'"),
                text,
            ));
        }
    };
    Ok(d)
}

/// A delimiter as a message shows it.
pub fn delimiter_name(d: u8) -> String {
    if d == b'\t' { "tab".to_string() } else { format!("'{}'", d as char) }
}

/// What an import read differently from the file's own words, or passed
/// over, counted by kind: the result's `note` says each with its count.
#[derive(Default)]
pub struct Notes(RefCell<BTreeMap<String, u64>>);

impl Notes {
    pub fn add(&self, what: impl AsRef<str>) {
        let mut notes = self.0.borrow_mut();
        match notes.get_mut(what.as_ref()) {
            Some(n) => *n += 1,
            None => {
                notes.insert(what.as_ref().to_string(), 1);
            }
        }
    }

    /// `rows for another server, passed over: 3; LicenseStatus 5 (pending) read as active: 1`.
    pub fn text(&self) -> String {
        let notes = self.0.borrow();
        notes.iter().map(|(what, n)| format!("{what}: {n}")).collect::<Vec<_>>().join("; ")
    }

    /// How many were noted under `what`.
    pub fn count(&self, what: &str) -> u64 {
        self.0.borrow().get(what).copied().unwrap_or(0)
    }
}

/// What an import did: rows imported; rows passed over (the note says
/// why, each reason with its count); the notes; key packs inferred (IMPORT
/// LICENSES) or completed (IMPORT KEYPACKS); the servers the rows went
/// into; and the newest time the file records (the instant it describes,
/// unless `AS OF` says otherwise).
#[derive(Debug, Default, PartialEq)]
pub struct Imported {
    pub rows: u64,
    pub passed_over: u64,
    pub note: String,
    pub inferred: u64,
    pub completed: u64,
    pub servers: Vec<String>,
    pub newest: Option<crate::model::Time>,
}

impl Imported {
    /// A 0-byte file: nothing to import, and the result says so.
    pub fn empty() -> Imported {
        Imported { note: "the file is empty (0 bytes): nothing imported".to_string(), ..Imported::default() }
    }

    pub fn new(rows: u64, passed_over: u64, notes: &Notes) -> Imported {
        Imported { rows, passed_over, note: notes.text(), ..Imported::default() }
    }
}
