//! Cuts input lines into items: dot-commands (a line starting with `.` while
//! no statement is pending) and statements (text up to a `;` outside quotes
//! and `--` comments), each with the 1-based line it starts on. It owns only
//! the lexical rules needed to find statement ends; it never parses.

/// One thing to run.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// A dot-command line, trimmed.
    Dot { text: String, line: usize },
    /// A statement without its `;`, starting at its first significant
    /// character (leading blanks and comments are dropped).
    Statement { text: String, line: usize },
}

impl Item {
    /// The 1-based line the item starts on.
    pub fn first_line(&self) -> usize {
        match self {
            Item::Dot { line, .. } | Item::Statement { line, .. } => *line,
        }
    }

    /// The 1-based line the item ends on.
    pub fn last_line(&self) -> usize {
        match self {
            Item::Dot { line, .. } => *line,
            Item::Statement { text, line } => line + text.matches('\n').count(),
        }
    }
}

/// Accumulates lines and hands back the items they complete.
#[derive(Debug)]
pub struct Splitter {
    buffer: String,
    /// Line number of the buffer's first character.
    buffer_line: usize,
    next_line: usize,
    pending: bool,
    /// The pending text is only an unclosed `/* */` comment so far: a
    /// `*/` may leave nothing pending.
    pending_comment: bool,
}

/// What a scan of the buffer found.
struct Scan {
    /// (start, end) byte ranges of complete statements, `end` at the `;`.
    statements: Vec<(usize, usize)>,
    /// Where the unfinished rest begins.
    rest: usize,
    /// Start of the unfinished statement, if it holds anything significant.
    open_start: Option<usize>,
}

/// Cuts the buffer with the library's own splitter, so the shell and the
/// parser agree on quotes and comments.
fn scan(text: &str) -> Scan {
    let mut scan = Scan { statements: Vec::new(), rest: text.len(), open_start: None };
    for piece in caldb::language::split_statements(text) {
        let start = piece.offset + piece.content;
        if piece.terminated {
            scan.statements.push((start, piece.offset + piece.text.len()));
        } else {
            scan.open_start = Some(start);
            scan.rest = piece.offset;
        }
    }
    scan
}

fn is_dot_command(line: &str) -> bool {
    line.trim_start().starts_with('.')
}

impl Splitter {
    /// A splitter whose first line is numbered `first_line`.
    pub fn new(first_line: usize) -> Splitter {
        Splitter {
            buffer: String::new(),
            buffer_line: first_line,
            next_line: first_line,
            pending: false,
            pending_comment: false,
        }
    }

    /// Whether an unfinished statement is waiting for more lines.
    pub fn is_pending(&self) -> bool {
        self.pending
    }

    /// The bytes of the unfinished statement kept so far.
    pub fn pending_bytes(&self) -> usize {
        self.buffer.len()
    }

    /// Adds one line (without its line end) and returns the items it completes.
    pub fn push_line(&mut self, line: &str) -> Vec<Item> {
        let number = self.next_line;
        self.next_line += 1;
        if !self.pending && is_dot_command(line) {
            self.buffer.clear();
            self.buffer_line = self.next_line;
            return vec![Item::Dot { text: line.trim().to_string(), line: number }];
        }
        if self.buffer.is_empty() {
            self.buffer_line = number;
        }
        self.buffer.push_str(line);
        self.buffer.push('\n');
        if self.pending && !line.contains(';') && !(self.pending_comment && line.contains("*/")) {
            // Only a `;` can end the pending statement (or a `*/` a pending
            // comment): no rescan of it (a long statement of many lines
            // stays linear).
            return Vec::new();
        }
        let scan = scan(&self.buffer);
        let items = scan
            .statements
            .iter()
            .map(|&(start, end)| Item::Statement {
                text: self.buffer[start..end].trim_end().to_string(),
                line: self.line_at(start),
            })
            .collect();
        self.pending = scan.open_start.is_some();
        self.pending_comment = scan.open_start.is_some_and(|start| self.buffer[start..].starts_with("/*"));
        self.buffer_line = self.line_at(scan.rest);
        self.buffer.drain(..scan.rest);
        if !self.pending {
            // Only blanks and comments are left: nothing to keep.
            self.buffer.clear();
            self.buffer_line = self.next_line;
        }
        items
    }

    /// Ends the input: the unfinished statement, if any, without its `;`.
    pub fn finish(&mut self) -> Option<Item> {
        let scan = scan(&self.buffer);
        let item = scan.open_start.map(|start| Item::Statement {
            text: self.buffer[start..].trim_end().to_string(),
            line: self.line_at(start),
        });
        self.buffer.clear();
        self.pending = false;
        self.pending_comment = false;
        self.buffer_line = self.next_line;
        item
    }

    /// Drops the unfinished statement (Ctrl-C at the prompt).
    pub fn clear(&mut self) {
        self.buffer.clear();
        self.pending = false;
        self.pending_comment = false;
        self.buffer_line = self.next_line;
    }

    fn line_at(&self, offset: usize) -> usize {
        self.buffer_line + self.buffer.as_bytes()[..offset].iter().filter(|&&b| b == b'\n').count()
    }
}

/// Splits a whole script into items.
pub fn split_script(script: &str) -> Vec<Item> {
    let mut splitter = Splitter::new(1);
    let mut items = Vec::new();
    for line in script.lines() {
        items.extend(splitter.push_line(line));
    }
    items.extend(splitter.finish());
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(text: &str, line: usize) -> Item {
        Item::Statement { text: text.into(), line }
    }

    #[test]
    fn statements_are_cut_at_semicolons_outside_quotes_and_comments() {
        let items = split_script("A 'x;y';\n-- c;\nB -- z;\n;C\n");
        assert_eq!(items, vec![stmt("A 'x;y'", 1), stmt("B -- z;", 3), stmt("C", 4)]);
    }

    #[test]
    fn dot_command_only_when_no_statement_is_pending() {
        let items = split_script("SELECT\n.tables\n;\n.tables\n");
        assert_eq!(items, vec![stmt("SELECT\n.tables", 1), Item::Dot { text: ".tables".into(), line: 4 }]);
    }

    #[test]
    fn statement_line_is_its_first_significant_line() {
        let items = split_script("\n-- intro\n\n  CREATE SERVER ls1;  SELECT 1\n;");
        assert_eq!(items, vec![stmt("CREATE SERVER ls1", 4), stmt("SELECT 1", 4)]);
    }

    #[test]
    fn quote_spanning_lines_keeps_statement_pending() {
        let mut s = Splitter::new(1);
        assert!(s.push_line("SELECT 'a").is_empty());
        assert!(s.is_pending());
        assert_eq!(s.push_line("b';"), vec![stmt("SELECT 'a\nb'", 1)]);
        assert!(!s.is_pending());
    }

    #[test]
    fn a_block_comment_closed_on_a_later_line_leaves_nothing_pending() {
        let mut s = Splitter::new(1);
        assert!(s.push_line("/* a comment").is_empty());
        assert!(s.is_pending());
        assert!(s.push_line("   still one").is_empty());
        assert!(s.push_line("*/").is_empty());
        assert!(!s.is_pending());
        assert_eq!(s.push_line(".tables"), vec![Item::Dot { text: ".tables".into(), line: 4 }]);
        assert!(s.push_line("/* x */ SELECT").is_empty());
        assert!(s.push_line("1 */ 2").is_empty());
        assert!(s.is_pending());
    }

    #[test]
    fn last_statement_may_omit_its_semicolon() {
        assert_eq!(split_script("X;\nY"), vec![stmt("X", 1), stmt("Y", 2)]);
        assert_eq!(split_script("X; -- done"), vec![stmt("X", 1)]);
    }

    #[test]
    fn doubled_quote_stays_inside_the_quote() {
        assert_eq!(split_script("A 'it''s;';B"), vec![stmt("A 'it''s;'", 1), stmt("B", 1)]);
    }
}
