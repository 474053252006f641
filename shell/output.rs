//! Output modes (sqlite3's: table, box, markdown, column, list, tabs, csv,
//! quote, html, insert, plus json and line) and the one writer every
//! result, dot-command listing and timer line goes through, so `.output`
//! and `.once` redirect all of it. Table, box and markdown are drawn with
//! comfy-table and fit the terminal's width (long text wraps; `.width`
//! sets a column's width). It renders result sets; it never runs
//! statements.

use caldb::Sink;
use caldb::{ResultSet, Value};
use comfy_table::{Cell, CellAlignment, ColumnConstraint, ContentArrangement, Table, Width};
use comfy_table::{ContentLineStyle, LineStyle, TableStyle};
use std::borrow::Cow;
use std::io::IsTerminal;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Table,
    Box,
    Markdown,
    Column,
    List,
    Tabs,
    Csv,
    Quote,
    Html,
    Insert,
    Json,
    Line,
}

impl Mode {
    pub const ALL: [Mode; 12] = [
        Mode::Table,
        Mode::Box,
        Mode::Markdown,
        Mode::Column,
        Mode::List,
        Mode::Tabs,
        Mode::Csv,
        Mode::Quote,
        Mode::Html,
        Mode::Insert,
        Mode::Json,
        Mode::Line,
    ];

    pub fn parse(name: &str) -> Option<Mode> {
        let name = name.to_ascii_lowercase();
        Mode::ALL.into_iter().find(|m| m.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Table => "table",
            Mode::Box => "box",
            Mode::Markdown => "markdown",
            Mode::Column => "column",
            Mode::List => "list",
            Mode::Tabs => "tabs",
            Mode::Csv => "csv",
            Mode::Quote => "quote",
            Mode::Html => "html",
            Mode::Insert => "insert",
            Mode::Json => "json",
            Mode::Line => "line",
        }
    }

    /// The names of every mode, for messages and `.help`.
    pub fn names() -> String {
        Mode::ALL.map(Mode::name).join(", ")
    }

    /// Whether the mode draws a grid that can be fitted to a width.
    pub fn is_grid(self) -> bool {
        matches!(self, Mode::Table | Mode::Box | Mode::Markdown)
    }
}

/// Whether the mode prints each row on its own, so that a result can be
/// printed a chunk at a time (the grids, column, html and json look at
/// every row first, or wrap them all, as sqlite3's do).
pub fn streams(mode: Mode) -> bool {
    matches!(mode, Mode::List | Mode::Tabs | Mode::Csv | Mode::Quote | Mode::Insert | Mode::Line)
}

/// What, beside the mode, decides how a result looks.
#[derive(Clone, Debug)]
pub struct Style {
    pub mode: Mode,
    /// Header rows in csv, list, tabs, column and html (the grids and json
    /// and line always name their columns).
    pub headers: bool,
    /// The terminal's width when output goes to one: grids fit it and a
    /// chart's bars are scaled to it.
    pub terminal_width: Option<usize>,
    /// `.width`: a width per column, 0 for "as wide as it needs"; negative
    /// right-aligns (sqlite3's meaning).
    pub widths: Vec<i64>,
    /// `.nullvalue`: how NULL shows in the text modes.
    pub null: String,
    /// `.separator`: between fields and after rows in list mode.
    pub separator: (String, String),
    /// `.mode insert TABLE`: the table the INSERT statements name.
    pub insert_table: String,
}

impl Style {
    pub fn new(mode: Mode, headers: bool) -> Style {
        Style {
            mode,
            headers,
            terminal_width: None,
            widths: Vec::new(),
            null: String::new(),
            separator: ("|".into(), "\n".into()),
            insert_table: "tbl".into(),
        }
    }
}

/// Writes one result set as `style` says. At a terminal, a result that
/// asks for a chart gets a bar column in the grid modes.
pub fn render(w: &mut dyn Write, rs: &ResultSet, style: &Style) -> io::Result<()> {
    let charted;
    let rs = match style.terminal_width {
        Some(width) if style.mode.is_grid() && rs.chart.is_some() => {
            charted = with_bars(rs, bar_width(rs, width));
            &charted
        }
        _ => rs,
    };
    match style.mode {
        Mode::Table | Mode::Box | Mode::Markdown => render_grid(w, rs, style),
        Mode::Column => render_column(w, rs, style),
        Mode::List => render_list(w, rs, style, &style.separator.0),
        Mode::Tabs => render_list(w, rs, style, "\t"),
        Mode::Csv => render_csv(w, rs, style),
        Mode::Quote => render_quote(w, rs, style),
        Mode::Html => render_html(w, rs, style),
        Mode::Insert => render_insert(w, rs, style),
        Mode::Json => render_json(w, rs),
        Mode::Line => render_line(w, rs, &style.null),
    }
}

/// The width of the longest bar of a chart, at most.
const BAR_WIDTH: usize = 40;
/// The narrowest bar worth drawing.
const BAR_WIDTH_MIN: usize = 5;

/// The longest bar that keeps the table within `terminal` columns: the
/// table's other columns and borders come first.
pub fn bar_width(rs: &ResultSet, terminal: usize) -> usize {
    let mut widths: Vec<usize> = rs.columns.iter().map(|c| c.chars().count()).collect();
    for row in &rs.rows {
        for (width, v) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell(v, "").chars().count());
        }
    }
    // "| x " per column, "| " before the bar and " |" after it
    let used: usize = widths.iter().map(|w| w + 3).sum::<usize>() + 4;
    terminal.saturating_sub(used).clamp(BAR_WIDTH_MIN, BAR_WIDTH)
}

/// The result with a `bar` column of `#`, scaled so the largest value of the
/// chart column is `longest` wide (at least one `#` for any positive value).
pub fn with_bars(rs: &ResultSet, longest: usize) -> ResultSet {
    let Some(col) = rs.chart else { return rs.clone() };
    let value = |row: &[Value]| match row.get(col) {
        Some(Value::Int(n)) => (*n).max(0),
        _ => 0,
    };
    let max = rs.rows.iter().map(|r| value(r)).max().unwrap_or(0).max(1);
    let longest = i64::try_from(longest).unwrap_or(i64::MAX);
    let mut out = rs.clone();
    out.columns.push("bar".into());
    for row in &mut out.rows {
        let n = value(row);
        let width = if n == 0 { 0 } else { (n * longest + max - 1) / max };
        row.push(Value::Text("#".repeat(usize::try_from(width).unwrap_or(0))));
    }
    out.chart = None;
    out
}

/// A value for a cell or field: NULL as `null`, control characters shown
/// escaped so a cell stays on one line.
fn cell(v: &Value, null: &str) -> String {
    if matches!(v, Value::Null) {
        return null.to_string();
    }
    let text = v.to_string();
    if !text.contains(['\n', '\r', '\t']) {
        return text;
    }
    text.replace('\n', "\\n").replace('\r', "\\r").replace('\t', "\\t")
}

/// sqlite3's table mode: `+---+` rules, one under the header.
const TABLE_STYLE: TableStyle = TableStyle::new()
    .top_border(LineStyle::new('+', '-', '+', '+'))
    .header_lines(ContentLineStyle::new('|', '|', '|'))
    .header_separator(LineStyle::new('+', '-', '+', '+'))
    .content_lines(ContentLineStyle::new('|', '|', '|'))
    .bottom_border(LineStyle::new('+', '-', '+', '+'));

/// sqlite3's box mode: the same grid drawn with box characters.
const BOX_STYLE: TableStyle = TableStyle::new()
    .top_border(LineStyle::new('┌', '─', '┬', '┐'))
    .header_lines(ContentLineStyle::new('│', '│', '│'))
    .header_separator(LineStyle::new('├', '─', '┼', '┤'))
    .content_lines(ContentLineStyle::new('│', '│', '│'))
    .bottom_border(LineStyle::new('└', '─', '┴', '┘'));

/// Table, box and markdown, drawn by comfy-table. Numbers are
/// right-aligned. At a terminal the grid fits its width (long text wraps
/// within its column); `.width` fixes a column's width wherever it goes.
fn render_grid(w: &mut dyn Write, rs: &ResultSet, style: &Style) -> io::Result<()> {
    if rs.rows.is_empty() {
        return Ok(());
    }
    let mut table = Table::new();
    table.force_no_tty();
    table.load_style(match style.mode {
        Mode::Box => BOX_STYLE,
        Mode::Markdown => comfy_table::presets::ASCII_MARKDOWN,
        _ => TABLE_STYLE,
    });
    table.set_header(rs.columns.iter().map(|c| Cell::new(c.as_ref())));
    for row in &rs.rows {
        table.add_row(row.iter().map(|v| {
            let cell = Cell::new(cell(v, &style.null));
            if matches!(v, Value::Int(_)) { cell.set_alignment(CellAlignment::Right) } else { cell }
        }));
    }
    match style.terminal_width.and_then(|width| u16::try_from(width).ok()) {
        Some(width) => {
            table.set_content_arrangement(ContentArrangement::Dynamic).set_width(width);
        }
        None => {
            table.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    for (i, &width) in style.widths.iter().enumerate() {
        let Some(column) = table.column_mut(i) else { break };
        if width < 0 {
            column.set_cell_alignment(CellAlignment::Right);
        }
        if let Ok(fixed) = u16::try_from(width.unsigned_abs())
            && fixed > 0
        {
            column.set_constraint(ColumnConstraint::Absolute(Width::Fixed(fixed + 2)));
        }
    }
    for line in table.lines() {
        writeln!(w, "{}", line.trim_end())?;
    }
    Ok(())
}

/// The widths of `rs`'s columns in column mode: `.width` where given (0
/// or missing: as wide as the widest value or name).
fn column_widths(rs: &ResultSet, style: &Style) -> Vec<(usize, bool)> {
    rs.columns
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let set = style.widths.get(i).copied().unwrap_or(0);
            let natural = rs
                .rows
                .iter()
                .map(|r| r.get(i).map_or(0, |v| cell(v, &style.null).chars().count()))
                .chain([name.chars().count()])
                .max()
                .unwrap_or(0);
            let width = if set == 0 { natural } else { usize::try_from(set.unsigned_abs()).unwrap_or(natural) };
            (width, set < 0)
        })
        .collect()
}

/// A field padded (or cut) to `width` characters.
fn fit(text: &str, width: usize, right: bool) -> String {
    let cut: String = text.chars().take(width).collect();
    if right { format!("{cut:>width$}") } else { format!("{cut:<width$}") }
}

/// sqlite3's column mode: names, a rule of dashes, then rows, columns two
/// spaces apart; a `.width` cuts longer values.
fn render_column(w: &mut dyn Write, rs: &ResultSet, style: &Style) -> io::Result<()> {
    if rs.rows.is_empty() {
        return Ok(());
    }
    let widths = column_widths(rs, style);
    let line = |fields: Vec<String>| fields.join("  ").trim_end().to_string();
    if style.headers {
        let names = rs.columns.iter().zip(&widths).map(|(c, &(n, r))| fit(c, n, r)).collect();
        writeln!(w, "{}", line(names))?;
        writeln!(w, "{}", line(widths.iter().map(|&(n, _)| "-".repeat(n)).collect()))?;
    }
    for row in &rs.rows {
        let fields = row
            .iter()
            .zip(&widths)
            .map(|(v, &(n, r))| fit(&cell(v, &style.null), n, r || matches!(v, Value::Int(_))))
            .collect();
        writeln!(w, "{}", line(fields))?;
    }
    Ok(())
}

/// List and tabs: fields joined by `separator`, rows ended by the row
/// separator (list) or a line end (tabs), names first when headers are on.
fn render_list(w: &mut dyn Write, rs: &ResultSet, style: &Style, separator: &str) -> io::Result<()> {
    let end = if style.mode == Mode::List { style.separator.1.as_str() } else { "\n" };
    if style.headers && !rs.rows.is_empty() {
        write!(w, "{}{end}", rs.columns.join(separator))?;
    }
    for row in &rs.rows {
        let fields: Vec<Cow<'_, str>> = row
            .iter()
            .map(|v| if matches!(v, Value::Null) { Cow::Borrowed(style.null.as_str()) } else { value_text(v) })
            .collect();
        write!(w, "{}{end}", fields.join(separator))?;
    }
    Ok(())
}

/// A value as an SQL literal (quote and insert modes): text quoted with
/// `''` doubled, numbers bare, booleans 1 and 0 as SQLite stores them.
pub fn sql_literal(v: &Value) -> Cow<'_, str> {
    match v {
        Value::Null => Cow::Borrowed("NULL"),
        Value::Int(n) => Cow::Owned(n.to_string()),
        Value::Bool(b) => Cow::Borrowed(if *b { "1" } else { "0" }),
        Value::Text(_) | Value::Name(_) | Value::Time(_) => {
            Cow::Owned(format!("'{}'", v.to_string().replace('\'', "''")))
        }
    }
}

fn render_quote(w: &mut dyn Write, rs: &ResultSet, style: &Style) -> io::Result<()> {
    if style.headers && !rs.rows.is_empty() {
        let names: Vec<String> = rs.columns.iter().map(|c| format!("'{}'", c.replace('\'', "''"))).collect();
        writeln!(w, "{}", names.join(","))?;
    }
    for row in &rs.rows {
        writeln!(w, "{}", row.iter().map(sql_literal).collect::<Vec<_>>().join(","))?;
    }
    Ok(())
}

/// An SQL identifier, double-quoted when it is not a plain word.
fn sql_name(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain { name.to_string() } else { format!("\"{}\"", name.replace('"', "\"\"")) }
}

fn render_insert(w: &mut dyn Write, rs: &ResultSet, style: &Style) -> io::Result<()> {
    let table = sql_name(&style.insert_table);
    let columns = if style.headers {
        format!("({})", rs.columns.iter().map(|c| sql_name(c)).collect::<Vec<_>>().join(","))
    } else {
        String::new()
    };
    for row in &rs.rows {
        let values: Vec<Cow<'_, str>> = row.iter().map(sql_literal).collect();
        writeln!(w, "INSERT INTO {table}{columns} VALUES({});", values.join(","))?;
    }
    Ok(())
}

/// Text with `<`, `>`, `&`, `"` and `'` escaped for HTML.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// sqlite3's html mode: `<TR>` rows of a table the caller opens.
fn render_html(w: &mut dyn Write, rs: &ResultSet, style: &Style) -> io::Result<()> {
    if style.headers && !rs.rows.is_empty() {
        let names: String = rs.columns.iter().map(|c| format!("<TH>{}</TH>\n", html_escape(c))).collect();
        writeln!(w, "<TR>{names}</TR>")?;
    }
    for row in &rs.rows {
        let cells: String = row
            .iter()
            .map(|v| {
                let text = if matches!(v, Value::Null) { Cow::Borrowed(style.null.as_str()) } else { value_text(v) };
                format!("<TD>{}</TD>\n", html_escape(&text))
            })
            .collect();
        writeln!(w, "<TR>{cells}</TR>")?;
    }
    Ok(())
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
        Value::Text(s) | Value::Name(s) => Cow::Borrowed(s),
        Value::Null => Cow::Borrowed(""),
        v => Cow::Owned(v.to_string()),
    }
}

fn render_csv(w: &mut dyn Write, rs: &ResultSet, style: &Style) -> io::Result<()> {
    if style.headers {
        csv_line(w, rs.columns.iter().map(|c| Cow::Borrowed(c.as_ref())))?;
    }
    let null = style.null.as_str();
    for row in &rs.rows {
        csv_line(w, row.iter().map(|v| if matches!(v, Value::Null) { Cow::Borrowed(null) } else { value_text(v) }))?;
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
        Value::Text(_) | Value::Name(_) | Value::Time(_) => json_string(&v.to_string()),
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
fn render_line(w: &mut dyn Write, rs: &ResultSet, null: &str) -> io::Result<()> {
    let width = rs.columns.iter().map(|c| c.chars().count()).max().unwrap_or(0);
    for (i, row) in rs.rows.iter().enumerate() {
        if i > 0 {
            writeln!(w)?;
        }
        for (name, v) in rs.columns.iter().zip(row) {
            if matches!(v, Value::Null) {
                writeln!(w, "{name:>width$} = {null}")?;
            } else {
                writeln!(w, "{name:>width$} = {v}")?;
            }
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

    fn rendered_with(style: &Style) -> String {
        let mut out = Vec::new();
        render(&mut out, &sample(), style).expect("write to a vec");
        String::from_utf8(out).expect("utf-8")
    }

    fn rendered(mode: Mode, headers: bool) -> String {
        rendered_with(&Style::new(mode, headers))
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
        render(&mut out, &ResultSet::new(&["a"]), &Style::new(Mode::Table, true)).expect("write");
        assert!(out.is_empty());
    }

    #[test]
    fn a_table_fits_the_terminal_by_wrapping_long_text() {
        let mut rs = ResultSet::new(&["id", "note"]);
        rs.push(vec![Value::Int(1), Value::text("word ".repeat(40).trim_end())]);
        let mut style = Style::new(Mode::Table, true);
        let mut wide = Vec::new();
        render(&mut wide, &rs, &style).expect("write");
        assert!(String::from_utf8_lossy(&wide).lines().any(|l| l.chars().count() > 200), "off a terminal: one line");
        style.terminal_width = Some(60);
        let mut out = Vec::new();
        render(&mut out, &rs, &style).expect("write");
        let text = String::from_utf8_lossy(&out);
        assert!(text.lines().all(|l| l.chars().count() <= 60), "wider than 60:\n{text}");
        assert_eq!(text.matches("word").count(), 40, "nothing is lost:\n{text}");
    }

    #[test]
    fn width_fixes_a_columns_width_and_a_negative_one_right_aligns() {
        let mut style = Style::new(Mode::Column, true);
        style.widths = vec![-6, 2];
        let out = rendered_with(&style);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "  name  n   ok     note");
        assert_eq!(lines[2], "   ls1   7  true");
    }

    #[test]
    fn box_markdown_quote_insert_html_and_tabs_look_as_in_sqlite3() {
        let box_out = rendered(Mode::Box, true);
        assert!(box_out.starts_with("┌───────┬─────┬───────┬──────┐\n│ name  │ n   │ ok    │ note │\n├"), "{box_out}");
        let md = rendered(Mode::Markdown, true);
        assert!(md.starts_with("| name  | n   | ok    | note |\n|-------|-----|-------|------|\n"), "{md}");
        assert_eq!(rendered(Mode::Quote, false).lines().next(), Some("'ls1',7,1,NULL"));
        let mut insert = Style::new(Mode::Insert, false);
        insert.insert_table = "my t".into();
        assert_eq!(rendered_with(&insert).lines().next(), Some("INSERT INTO \"my t\" VALUES('ls1',7,1,NULL);"));
        assert!(rendered(Mode::Html, true).starts_with("<TR><TH>name</TH>\n<TH>n</TH>\n"));
        assert_eq!(rendered(Mode::Tabs, true).lines().next(), Some("name\tn\tok\tnote"));
        let mut list = Style::new(Mode::List, false);
        list.null = "-".into();
        assert_eq!(rendered_with(&list).lines().next(), Some("ls1|7|true|-"));
    }

    #[test]
    fn a_chart_gets_bars_scaled_to_the_largest_value_only_at_a_terminal() {
        let mut rs = ResultSet::new(&["day", "cals"]);
        for n in [1, 20, 40, 0] {
            rs.push(vec![Value::text("d"), Value::Int(n)]);
        }
        rs.chart = Some(1);
        let bars: Vec<usize> = with_bars(&rs, 40).rows.iter().map(|r| r[2].to_string().len()).collect();
        assert_eq!(bars, [1, 20, 40, 0]);
        let mut style = Style::new(Mode::Table, true);
        let mut plain = Vec::new();
        render(&mut plain, &rs, &style).expect("write");
        assert!(!String::from_utf8_lossy(&plain).contains('#'), "no bars off a terminal");
        style.terminal_width = Some(200);
        let mut drawn = Vec::new();
        render(&mut drawn, &rs, &style).expect("write");
        assert!(String::from_utf8_lossy(&drawn).contains(&"#".repeat(40)));
    }

    #[test]
    fn a_chart_fits_a_narrow_terminal() {
        let mut rs = ResultSet::new(&["day", "server", "product", "cals"]);
        for n in [3, 40, 12] {
            rs.push(vec![Value::text("2026-02-01"), Value::text("ls1"), Value::text("WS2022"), Value::Int(n)]);
        }
        rs.chart = Some(3);
        let mut style = Style::new(Mode::Table, true);
        style.terminal_width = Some(60);
        let mut out = Vec::new();
        render(&mut out, &rs, &style).expect("write");
        let text = String::from_utf8_lossy(&out);
        assert!(text.lines().all(|l| l.chars().count() <= 60), "wider than 60:\n{text}");
        assert!(text.contains('#'));
    }
}
