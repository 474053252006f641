//! LDIF (RFC 2849) as `ldifde -f users.ldf` writes it: entries separated
//! by blank lines, `attr: value`, `attr:: base64` (ldifde's form for a value
//! with non-ASCII text or a leading space), a line beginning with one space
//! continuing the one before (ldifde folds long values), `#` comments and a
//! `version:` line. Read entry by entry: one entry is held at a time.

use crate::error::{Error, Result};
use base64::Engine;
use std::io::{BufRead, Read};

/// The longest line read, in bytes (as a CSV record's limit).
const LINE_MAX_BYTES: u64 = 1 << 20;

/// One entry: its first line and its attributes with their lines.
pub struct Entry {
    pub line: u64,
    attrs: Vec<(String, String, u64)>,
}

impl Entry {
    /// The value of attribute `name` (any case, options such as `;binary`
    /// ignored) with its line; of a repeated attribute, the first.
    pub fn get(&self, name: &str) -> Option<(&str, u64)> {
        self.attrs.iter().find(|(a, _, _)| a.eq_ignore_ascii_case(name)).map(|(_, v, l)| (v.as_str(), *l))
    }
}

pub struct Ldif {
    input: Box<dyn BufRead>,
    name: String,
    /// Lines read so far.
    line: u64,
    /// A line read ahead (to see whether it continues the one before), with its number.
    ahead: Option<(u64, String)>,
    at_end: bool,
}

impl Ldif {
    pub fn new(input: Box<dyn BufRead>, name: &str) -> Ldif {
        Ldif { input, name: name.to_string(), line: 0, ahead: None, at_end: false }
    }

    fn err(&self, line: u64, message: impl std::fmt::Display) -> Error {
        Error::plan(format!("{}: line {line}: {message}", self.name))
    }

    /// The next physical line, without its end, with its number; `None` at the end.
    fn raw_line(&mut self) -> Result<Option<(u64, String)>> {
        if let Some(l) = self.ahead.take() {
            return Ok(Some(l));
        }
        if self.at_end {
            return Ok(None);
        }
        let mut buf = Vec::new();
        let n = (&mut self.input)
            .take(LINE_MAX_BYTES + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| self.err(self.line + 1, e))?;
        if n == 0 {
            self.at_end = true;
            return Ok(None);
        }
        self.line += 1;
        if buf.len() as u64 > LINE_MAX_BYTES {
            return Err(self.err(self.line, format!("a line longer than {LINE_MAX_BYTES} bytes")));
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        let line = self.line;
        String::from_utf8(buf).map(|t| Some((line, t))).map_err(|_| {
            self.err(self.line, "the file is not UTF-8 text: name its encoding, e.g. ENCODING 'windows-1252'")
        })
    }

    /// A logical line (continuations joined) with its first line number.
    fn logical_line(&mut self) -> Result<Option<(u64, String)>> {
        let Some((first, mut text)) = self.raw_line()? else { return Ok(None) };
        while let Some((n, next)) = self.raw_line()? {
            match next.strip_prefix(' ') {
                Some(rest) if !text.is_empty() => text.push_str(rest),
                _ => {
                    self.ahead = Some((n, next));
                    break;
                }
            }
        }
        Ok(Some((first, text)))
    }

    /// The next entry; `None` at the end of the file.
    pub fn next_entry(&mut self) -> Result<Option<Entry>> {
        let mut entry: Option<Entry> = None;
        while let Some((line, text)) = self.logical_line()? {
            if text.trim().is_empty() {
                if entry.is_some() {
                    break;
                }
                continue;
            }
            if text.starts_with('#') {
                continue;
            }
            let (attr, value) = self.attribute(line, &text)?;
            if entry.is_none() && attr.eq_ignore_ascii_case("version") {
                continue;
            }
            entry.get_or_insert(Entry { line, attrs: Vec::new() }).attrs.push((attr, value, line));
        }
        if let Some(e) = &entry
            && !e.attrs.first().is_some_and(|(a, _, _)| a.eq_ignore_ascii_case("dn"))
        {
            return Err(self.err(e.line, "an entry must start with its 'dn:' line"));
        }
        Ok(entry)
    }

    /// `attr: value`, `attr:: base64` or `attr:< url` (refused).
    fn attribute(&self, line: u64, text: &str) -> Result<(String, String)> {
        let Some((attr, rest)) = text.split_once(':') else {
            let shown = super::super::import::shown(text);
            return Err(self.err(line, format!("'{shown}' is not an 'attribute: value' line")));
        };
        let attr = attr.split(';').next().unwrap_or(attr).trim().to_string();
        if let Some(b64) = rest.strip_prefix(':') {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| self.err(line, format!("the value of '{attr}' ('{}') is not base64", super::super::import::shown(b64.trim()))))?;
            let value = String::from_utf8(bytes)
                .map_err(|_| self.err(line, format!("the value of '{attr}' is not UTF-8 text once decoded")))?;
            return Ok((attr, value));
        }
        if rest.starts_with('<') {
            return Err(self.err(line, format!("the value of '{attr}' is a URL, which caldb does not fetch")));
        }
        Ok((attr, rest.strip_prefix(' ').unwrap_or(rest).trim_end().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<Entry>> {
        let mut l = Ldif::new(Box::new(std::io::Cursor::new(text.as_bytes().to_vec())), "t.ldf");
        let mut out = Vec::new();
        while let Some(e) = l.next_entry()? {
            out.push(e);
        }
        Ok(out)
    }

    #[test]
    fn folded_lines_base64_values_and_comments_read_as_ldifde_writes_them() {
        let text = "version: 1\r\n\r\n# a comment\r\ndn: CN=J\r\n rg,DC=x\r\nchangetype: add\r\nsAMAccountName:: SsO2cmc=\r\nmsTSExpireDate: 20260315093000.0Z\r\n\r\n\r\ndn: CN=b\r\nsAMAccountName: b\r\n";
        let e = read(text).expect("valid");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].get("dn"), Some(("CN=Jrg,DC=x", 4)));
        assert_eq!(e[0].get("samaccountname"), Some(("Jörg", 7)));
        assert_eq!(e[0].get("msTSExpireDate").map(|v| v.1), Some(8));
        assert_eq!(e[1].line, 11);
    }

    #[test]
    fn malformed_ldif_names_its_line() {
        for (text, line) in [
            ("dn: a\nno colon here\n", "line 2"),
            ("dn: a\nx:: ***\n", "line 2"),
            ("sAMAccountName: a\n", "line 1"),
            ("dn: a\nx:< file:///etc/passwd\n", "line 2"),
        ] {
            let e = read(text).err().expect("an error").to_string();
            assert!(e.contains(line), "{text}: {e}");
        }
    }
}
