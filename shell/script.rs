//! Reading a script (piped standard input, a `.read` file) as a stream:
//! line by line, each item run as soon as its line completes it, so memory
//! holds one line and one statement, never the whole input (quality.md R8).
//! A line or a pending statement past its limit, or bytes that are not
//! UTF-8, stop the script with an error naming the line (and the column):
//! nothing is guessed, nothing replaced by U+FFFD. It never parses.

use crate::progress;
use crate::session::{Flow, Origin, Session};
use crate::split::{Item, Splitter};
use std::io::{BufRead, Read};

/// The longest line a script may hold, in bytes (line end not counted).
pub const LINE_MAX_BYTES: usize = 1 << 20;
/// The longest statement a script may hold, in bytes.
pub const STATEMENT_MAX_BYTES: usize = 1 << 20;

/// Runs the script read from `input`: `Flow::Bail` when its text was bad
/// (the error reported, the session marked failed).
pub fn run(session: &mut Session, input: &mut dyn BufRead, origin: &Origin) -> Flow {
    let mut splitter = Splitter::new(1);
    let mut buf = Vec::new();
    let mut number = 0;
    loop {
        number += 1;
        let line = match next_line(input, &mut buf) {
            Ok(None) => break,
            Ok(Some(bytes)) => match std::str::from_utf8(bytes) {
                // Notepad and PowerShell start a file with a byte order mark.
                Ok(line) if number == 1 => line.strip_prefix('\u{feff}').unwrap_or(line),
                Ok(line) => line,
                Err(e) => return stop(session, origin, number, &not_utf8(bytes, &e)),
            },
            Err(message) => return stop(session, origin, number, &message),
        };
        if session.config.echo {
            let _ = writeln!(session.out.writer(), "{line}");
        }
        for item in splitter.push_line(line) {
            match run_item(session, &item, origin) {
                Flow::Continue => {}
                flow => return flow,
            }
        }
        if splitter.pending_bytes() > STATEMENT_MAX_BYTES {
            let message = format!("statement longer than {STATEMENT_MAX_BYTES} bytes");
            return stop(session, origin, number, &message);
        }
    }
    match splitter.finish() {
        Some(item) => run_item(session, &item, origin),
        None => Flow::Continue,
    }
}

/// Runs one item; an interrupted statement (Ctrl-C) stops the rest of the
/// script, as in sqlite3.
fn run_item(session: &mut Session, item: &Item, origin: &Origin) -> Flow {
    let flow = session.run_item(item, origin);
    if progress::take_interrupted() {
        return Flow::Bail;
    }
    flow
}

/// The next line without its line end (`\n` or `\r\n`); `None` at the end
/// of the input. Reads at most one byte past the limit.
fn next_line<'b>(input: &mut dyn BufRead, buf: &'b mut Vec<u8>) -> Result<Option<&'b [u8]>, String> {
    buf.clear();
    let limit = LINE_MAX_BYTES as u64 + 2;
    let n =
        Read::take(&mut *input, limit).read_until(b'\n', buf).map_err(|e| format!("cannot read the script: {e}"))?;
    if n == 0 {
        return Ok(None);
    }
    let mut line = buf.as_slice();
    line = line.strip_suffix(b"\n").unwrap_or(line);
    line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > LINE_MAX_BYTES {
        return Err(format!("line longer than {LINE_MAX_BYTES} bytes"));
    }
    Ok(Some(line))
}

/// Where the first bad byte is: its 1-based column in characters.
fn not_utf8(bytes: &[u8], e: &std::str::Utf8Error) -> String {
    let good = e.valid_up_to();
    let column = String::from_utf8_lossy(&bytes[..good]).chars().count() + 1;
    let byte = bytes.get(good).copied().unwrap_or_default();
    format!("column {column}: invalid UTF-8 (byte 0x{byte:02x})")
}

fn stop(session: &mut Session, origin: &Origin, line: usize, message: &str) -> Flow {
    let _ = session.out.flush();
    let place = match origin {
        Origin::Script { file: Some(file) } => format!("{file}: line {line}"),
        _ => format!("line {line}"),
    };
    let separator = if message.starts_with("column ") { ", " } else { ": " };
    eprintln!("error: {place}{separator}{message}; the script stops here");
    session.failed = true;
    Flow::Bail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_lose_their_line_ends_and_a_long_one_is_refused_unread() {
        let mut input: &[u8] = b"a\r\nb\nc";
        let mut buf = Vec::new();
        assert_eq!(next_line(&mut input, &mut buf), Ok(Some(&b"a"[..])));
        assert_eq!(next_line(&mut input, &mut buf), Ok(Some(&b"b"[..])));
        assert_eq!(next_line(&mut input, &mut buf), Ok(Some(&b"c"[..])));
        assert_eq!(next_line(&mut input, &mut buf), Ok(None));
        let long = vec![b'x'; LINE_MAX_BYTES * 3];
        let mut input: &[u8] = &long;
        assert!(next_line(&mut input, &mut buf).is_err());
        assert!(buf.len() <= LINE_MAX_BYTES + 2, "read {} bytes", buf.len());
    }

    #[test]
    fn a_bad_byte_is_placed_by_its_column_in_characters() {
        let bytes = "CREATE DEVICE 'é\u{1}".as_bytes().iter().copied().chain([0xff]).collect::<Vec<u8>>();
        let e = std::str::from_utf8(&bytes).expect_err("invalid");
        assert_eq!(not_utf8(&bytes, &e), "column 18: invalid UTF-8 (byte 0xff)");
    }
}
