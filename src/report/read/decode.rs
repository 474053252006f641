//! A file's bytes as UTF-8 text, streamed: a byte order mark decides
//! (UTF-8, UTF-16 LE or BE: what `Export-Csv -Encoding UTF8|Unicode|
//! BigEndianUnicode` writes), then the statement's `ENCODING` (a Windows
//! ANSI code page for `-Encoding Default`), then UTF-16 without a mark when
//! its zero bytes show it, else UTF-8 (valid UTF-8 is UTF-8; the CSV
//! reader checks it record by record). Decoding is `encoding_rs`'s, and
//! malformed input is an error, never a U+FFFD in a name.

use super::Options;
use crate::error::{Error, Result};
use encoding_rs::{Decoder, DecoderResult, Encoding, UTF_8, UTF_16BE, UTF_16LE};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// An `ENCODING` name: a WHATWG label (`windows-1252`, `utf-16le`,
/// `iso-8859-2`, `shift_jis`) or a Windows code page number (`1252`, `cp1250`).
pub fn encoding(name: &str) -> Result<&'static Encoding> {
    let digits = name.trim().trim_start_matches("cp").trim_start_matches("CP");
    let label = match digits.parse::<u32>() {
        Ok(932) => "shift_jis".to_string(),
        Ok(936) => "gbk".to_string(),
        Ok(949) => "euc-kr".to_string(),
        Ok(950) => "big5".to_string(),
        Ok(1200) => "utf-16le".to_string(),
        Ok(1201) => "utf-16be".to_string(),
        Ok(65001) => "utf-8".to_string(),
        Ok(n) => format!("windows-{n}"),
        Err(_) => name.trim().to_string(),
    };
    Encoding::for_label(label.as_bytes()).ok_or_else(|| {
        Error::plan_near(
            format!(
                "'{name}' is not an encoding: name one such as 'utf-8', 'utf-16le', 'windows-1252' (Western European), \
                 'windows-1250' (Central European) or 'windows-1251' (Cyrillic)"
            ),
            name,
        )
    })
}

/// A file opened as text.
pub struct Text {
    pub input: Box<dyn BufRead>,
    /// The file's size in bytes, for progress.
    pub size: u64,
    /// Whether the file has no bytes at all.
    pub empty: bool,
    /// The encoding read; UTF-8 is passed through unchanged, to be checked.
    pub encoding: &'static Encoding,
}

/// Opens `path` and decides its encoding from its first bytes and `opts`.
pub fn open(path: &Path, name: &str, opts: &Options) -> Result<Text> {
    let cannot = |e: std::io::Error| Error::plan(format!("cannot read '{name}': {e}"));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let size = file.metadata().map_err(cannot)?.len();
    let mut input = BufReader::with_capacity(1 << 16, file);
    let head = input.fill_buf().map_err(cannot)?;
    let empty = head.is_empty();
    let (bom, encoding) = match head {
        [0xEF, 0xBB, 0xBF, ..] => (3, UTF_8),
        [0xFF, 0xFE, ..] => (2, UTF_16LE),
        [0xFE, 0xFF, ..] => (2, UTF_16BE),
        [a, 0, b, 0, ..] if opts.encoding.is_none() && *a != 0 && *b != 0 => (0, UTF_16LE),
        [0, a, 0, b, ..] if opts.encoding.is_none() && *a != 0 && *b != 0 => (0, UTF_16BE),
        _ => (0, opts.encoding.unwrap_or(UTF_8)),
    };
    input.consume(bom);
    if encoding == UTF_8 {
        return Ok(Text { input: Box::new(input), size, empty, encoding });
    }
    let decoder = encoding.new_decoder_without_bom_handling();
    let decoding = Decoding { input, decoder, out: Vec::new(), at: 0, malformed: false, finished: false };
    Ok(Text { input: Box::new(BufReader::with_capacity(1 << 16, decoding)), size, empty, encoding })
}

/// A reader of UTF-8 from bytes in another encoding, a buffer at a time.
/// Malformed input is an error once the text before it has been read, so
/// the error's line is the line of the bad bytes.
struct Decoding {
    input: BufReader<std::fs::File>,
    decoder: Decoder,
    out: Vec<u8>,
    at: usize,
    malformed: bool,
    /// The decoder has had its last input (it must not be called again).
    finished: bool,
}

impl Read for Decoding {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.out.len() {
            if self.malformed {
                let name = self.decoder.encoding().name();
                let e = std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bytes that are not {name} text"));
                return Err(e);
            }
            if self.finished {
                return Ok(0);
            }
            let src = self.input.fill_buf()?;
            let last = src.is_empty();
            let room = self.decoder.max_utf8_buffer_length_without_replacement(src.len()).unwrap_or(src.len() * 4);
            self.out.resize(room.max(16), 0);
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(src, &mut self.out, last);
            self.input.consume(read);
            self.out.truncate(written);
            self.at = 0;
            self.malformed = matches!(result, DecoderResult::Malformed(..));
            // A malformed sequence stops the decoding where it is.
            self.finished = (last && matches!(result, DecoderResult::InputEmpty)) || self.malformed;
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
