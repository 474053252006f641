//! Output modes (table, csv, json, line) and the one writer every result,
//! dot-command listing and timer line goes through, so `.output` and `.once`
//! redirect all of it. It renders result sets; it never runs statements.

use caldb::safe_write::Sink;
use caldb::{ResultSet, Value};
use std::borrow::Cow;
use std::io::IsTerminal;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Table,
    Csv,
    Json,
    Line,
}

impl Mode {
    pub const NAMES: [&'static str; 4] = ["table", "csv", "json", "line"];

    pub fn parse(name: &str) -> Option<Mode> {
        match name.to_ascii_lowercase().as_str() {
            "table" => Some(Mode::Table),
            "csv" => Some(Mode::Csv),
            "json" => Some(Mode::Json),
            "line" => Some(Mode::Line),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Table => "table",
            Mode::Csv => "csv",
            Mode::Json => "json",
            Mode::Line => "line",
        }
    }
}

/// Writes one result set in `mode`. `headers` matters for csv only: the
/// other modes always name their columns. At a terminal, a table whose
/// result asks for a chart gets a bar column.
pub fn render(w: &mut dyn Write, rs: &ResultSet, mode: Mode, headers: bool, terminal: bool) -> io::Result<()> {
    match mode {
        Mode::Table if terminal && rs.chart.is_some() => render_table(w, &with_bars(rs)),
        Mode::Table => render_table(w, rs),
        Mode::Csv => render_csv(w, rs, headers),
        Mode::Json => render_json(w, rs),
        Mode::Line => render_line(w, rs),
    }
}

/// The width of the longest bar of a chart.
const BAR_WIDTH: i64 = 40;

/// The result with a `bar` column of `#`, scaled so the largest value of the
/// chart column is `BAR_WIDTH` wide (at least one `#` for any positive value).
pub fn with_bars(rs: &ResultSet) -> ResultSet {
    let Some(col) = rs.chart else { return rs.clone() };
    let value = |row: &[Value]| match row.get(col) {
        Some(Value::Int(n)) => (*n).max(0),
        _ => 0,
    };
    let max = rs.rows.iter().map(|r| value(r)).max().unwrap_or(0).max(1);
    let mut out = rs.clone();
    out.columns.push("bar".into());
    for row in &mut out.rows {
        let n = value(row);
        let width = if n == 0 { 0 } else { (n * BAR_WIDTH + max - 1) / max };
        row.push(Value::Text("#".repeat(width as usize)));
    }
    out.chart = None;
    out
}

/// A value for a table cell: control characters shown escaped so a cell
/// stays on one line.
fn cell(v: &Value) -> String {
    let text = v.to_string();
    if !text.contains(['\n', '\r', '\t']) {
        return text;
    }
    text.replace('\n', "\\n").replace('\r', "\\r").replace('\t', "\\t")
}

fn render_table(w: &mut dyn Write, rs: &ResultSet) -> io::Result<()> {
    if rs.rows.is_empty() {
        return Ok(());
    }
    let cells: Vec<Vec<String>> = rs.rows.iter().map(|r| r.iter().map(cell).collect()).collect();
    let mut widths: Vec<usize> = rs.columns.iter().map(|c| c.chars().count()).collect();
    for row in &cells {
        for (width, text) in widths.iter_mut().zip(row) {
            *width = (*width).max(text.chars().count());
        }
    }
    let rule: String = widths.iter().map(|&n| format!("+{}", "-".repeat(n + 2))).collect();
    let rule = format!("{rule}+\n");
    w.write_all(rule.as_bytes())?;
    let names: Vec<(&str, bool)> = rs.columns.iter().map(|c| (c.as_ref(), false)).collect();
    write_table_row(w, &names, &widths)?;
    w.write_all(rule.as_bytes())?;
    for (row, values) in cells.iter().zip(&rs.rows) {
        let row: Vec<(&str, bool)> =
            row.iter().zip(values).map(|(text, v)| (text.as_str(), matches!(v, Value::Int(_)))).collect();
        write_table_row(w, &row, &widths)?;
    }
    w.write_all(rule.as_bytes())
}

/// One `| a | b |` line; numbers (the bool) are right-aligned.
fn write_table_row(w: &mut dyn Write, row: &[(&str, bool)], widths: &[usize]) -> io::Result<()> {
    let mut line = String::new();
    for (&(text, right), &width) in row.iter().zip(widths) {
        let pad = " ".repeat(width - text.chars().count());
        if right {
            line.push_str(&format!("| {pad}{text} "));
        } else {
            line.push_str(&format!("| {text}{pad} "));
        }
    }
    line.push_str("|\n");
    w.write_all(line.as_bytes())
}

/// RFC 4180 quoting: a field holding a comma, a quote or a line end is
/// quoted, with quotes doubled.
fn push_csv_field(line: &mut String, text: &str) {
    if text.contains([',', '"', '\n', '\r']) {
        line.push('"');
        line.push_str(&text.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(text);
    }
}

/// One line built in one buffer: a CONNECT script prints a row per
/// statement, and a string per field, quoted copy and joined line was
/// most of the shell's cost per statement.
fn csv_line<'a>(w: &mut dyn Write, fields: impl Iterator<Item = Cow<'a, str>>) -> io::Result<()> {
    let mut line = String::with_capacity(128);
    for (i, field) in fields.enumerate() {
        if i > 0 {
            line.push(',');
        }
        push_csv_field(&mut line, &field);
    }
    line.push('\n');
    w.write_all(line.as_bytes())
}

/// A value's text, borrowed when it is text already.
fn value_text(v: &Value) -> Cow<'_, str> {
    match v {
        Value::Text(s) => Cow::Borrowed(s),
        Value::Null => Cow::Borrowed(""),
        v => Cow::Owned(v.to_string()),
    }
}

fn render_csv(w: &mut dyn Write, rs: &ResultSet, headers: bool) -> io::Result<()> {
    if headers {
        csv_line(w, rs.columns.iter().map(|c| Cow::Borrowed(c.as_ref())))?;
    }
    for row in &rs.rows {
        csv_line(w, row.iter().map(value_text))?;
    }
    Ok(())
}

/// A JSON string literal with every character JSON requires escaped.
pub fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_value(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Int(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Text(_) | Value::Time(_) => json_string(&v.to_string()),
    }
}

/// One array of objects; an empty result is `[]`, so a reader always gets
/// valid JSON.
fn render_json(w: &mut dyn Write, rs: &ResultSet) -> io::Result<()> {
    if rs.rows.is_empty() {
        return writeln!(w, "[]");
    }
    let keys: Vec<String> = rs.columns.iter().map(|c| json_string(c)).collect();
    for (i, row) in rs.rows.iter().enumerate() {
        let fields: Vec<String> = keys.iter().zip(row).map(|(k, v)| format!("{k}:{}", json_value(v))).collect();
        let open = if i == 0 { "[" } else { "" };
        let close = if i + 1 == rs.rows.len() { "]" } else { "," };
        writeln!(w, "{open}{{{}}}{close}", fields.join(","))?;
    }
    Ok(())
}

/// `column = value`, names right-aligned, a blank line between rows.
fn render_line(w: &mut dyn Write, rs: &ResultSet) -> io::Result<()> {
    let width = rs.columns.iter().map(|c| c.chars().count()).max().unwrap_or(0);
    for (i, row) in rs.rows.iter().enumerate() {
        if i > 0 {
            writeln!(w)?;
        }
        for (name, v) in rs.columns.iter().zip(row) {
            writeln!(w, "{name:>width$} = {v}")?;
        }
    }
    Ok(())
}

/// Where output goes: standard output or a file (`.output`), and for the
/// next command only, a `.once` file. Files go through `safe_write`: a
/// temporary beside the file, renamed over it when the output ends.
pub struct Output {
    main: Box<dyn Write>,
    main_file: Option<(String, BufWriter<Sink>)>,
    once: Option<BufWriter<Sink>>,
    /// Set by `.once` itself, so its own end does not close the file.
    once_fresh: bool,
}

impl Output {
    pub fn stdout() -> Output {
        Output { main: Box::new(BufWriter::new(io::stdout())), main_file: None, once: None, once_fresh: false }
    }

    /// The writer for the current command.
    pub fn writer(&mut self) -> &mut dyn Write {
        match (&mut self.once, &mut self.main_file) {
            (Some(file), _) => file,
            (None, Some((_, file))) => file,
            (None, None) => &mut self.main,
        }
    }

    /// Whether what is written goes to a person's terminal.
    pub fn is_terminal(&self) -> bool {
        self.once.is_none() && self.main_file.is_none() && io::stdout().is_terminal()
    }

    /// The `.output` file, or `None` for standard output.
    pub fn file_name(&self) -> Option<&str> {
        self.main_file.as_ref().map(|(name, _)| name.as_str())
    }

    /// `.output FILE` or `.output` (standard output); the file written so
    /// far is made final first. `own` are the database files open here.
    pub fn redirect(&mut self, file: Option<&str>, own: &[&Path]) -> caldb::Result<()> {
        self.main.flush().map_err(output_error)?;
        if let Some((_, old)) = self.main_file.take() {
            commit(old)?;
        }
        if let Some(name) = file {
            let sink = Sink::create(Path::new(name), ".output", own)?;
            self.main_file = Some((name.to_string(), BufWriter::new(sink)));
        }
        Ok(())
    }

    /// `.once FILE`: the next command's output goes to FILE.
    pub fn once(&mut self, file: &str, own: &[&Path]) -> caldb::Result<()> {
        let sink = Sink::create(Path::new(file), ".once", own)?;
        if let Some(old) = self.once.replace(BufWriter::new(sink)) {
            commit(old)?;
        }
        self.once_fresh = true;
        Ok(())
    }

    /// Ends one command: flushes, and makes a `.once` file final.
    pub fn end_command(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.once_fresh) {
            return self.flush();
        }
        if let Some(file) = self.once.take() {
            commit(file).map_err(|e| io::Error::other(e.message().to_string()))?;
        }
        self.flush()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        if let Some((_, file)) = &mut self.main_file {
            file.flush()?;
        }
        self.main.flush()
    }

    /// Ends the session: every file written is made final.
    pub fn finish(&mut self) -> caldb::Result<()> {
        let once = self.once.take().map_or(Ok(()), commit);
        self.redirect(None, &[]).and(once)
    }
}

fn output_error(e: io::Error) -> caldb::Error {
    caldb::Error::Storage(format!("cannot write output: {e}"))
}

fn commit(file: BufWriter<Sink>) -> caldb::Result<()> {
    file.into_inner().map_err(|e| output_error(e.into_error()))?.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ResultSet {
        let mut rs = ResultSet::new(&["name", "n", "ok", "note"]);
        rs.push(vec![Value::text("ls1"), Value::Int(7), Value::Bool(true), Value::Null]);
        rs.push(vec![Value::text("a,\"b\""), Value::Int(-12), Value::Bool(false), Value::text("x\ny")]);
        rs
    }

    fn rendered(mode: Mode, headers: bool) -> String {
        let mut out = Vec::new();
        render(&mut out, &sample(), mode, headers, false).expect("write to a vec");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn csv_quotes_commas_quotes_and_line_ends() {
        let expected = "name,n,ok,note\nls1,7,true,\n\"a,\"\"b\"\"\",-12,false,\"x\ny\"\n";
        assert_eq!(rendered(Mode::Csv, true), expected);
        assert!(!rendered(Mode::Csv, false).starts_with("name"));
    }

    #[test]
    fn json_is_an_array_of_objects_with_typed_values() {
        let expected = "[{\"name\":\"ls1\",\"n\":7,\"ok\":true,\"note\":null},\n\
                        {\"name\":\"a,\\\"b\\\"\",\"n\":-12,\"ok\":false,\"note\":\"x\\ny\"}]\n";
        assert_eq!(rendered(Mode::Json, false), expected);
        assert_eq!(json_string("\u{1}\\"), "\"\\u0001\\\\\"");
    }

    #[test]
    fn line_mode_right_aligns_names_and_separates_rows() {
        let out = rendered(Mode::Line, false);
        assert!(out.starts_with("name = ls1\n   n = 7\n  ok = true\nnote = \n\nname = a,\"b\"\n"));
    }

    #[test]
    fn table_mode_draws_ascii_boxes() {
        let out = rendered(Mode::Table, false);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "+-------+-----+-------+------+");
        assert_eq!(lines[1], "| name  | n   | ok    | note |");
        assert_eq!(lines[3], "| ls1   |   7 | true  |      |");
        assert_eq!(lines[4], "| a,\"b\" | -12 | false | x\\ny |");
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn empty_results_print_nothing_in_table_mode() {
        let mut out = Vec::new();
        render(&mut out, &ResultSet::new(&["a"]), Mode::Table, true, false).expect("write");
        assert!(out.is_empty());
    }

    #[test]
    fn a_chart_gets_bars_scaled_to_the_largest_value_only_at_a_terminal() {
        let mut rs = ResultSet::new(&["day", "cals"]);
        for n in [1, 20, 40, 0] {
            rs.push(vec![Value::text("d"), Value::Int(n)]);
        }
        rs.chart = Some(1);
        let bars: Vec<usize> = with_bars(&rs).rows.iter().map(|r| r[2].to_string().len()).collect();
        assert_eq!(bars, [1, 20, 40, 0]);
        let mut plain = Vec::new();
        render(&mut plain, &rs, Mode::Table, true, false).expect("write");
        assert!(!String::from_utf8_lossy(&plain).contains('#'), "no bars off a terminal");
        let mut drawn = Vec::new();
        render(&mut drawn, &rs, Mode::Table, true, true).expect("write");
        assert!(String::from_utf8_lossy(&drawn).contains(&"#".repeat(40)));
    }
}
