//! Golden transcripts: every file in `tests/shell/*.txt` is a script and the
//! output it must give, one behaviour of protocol.md per file.
//!
//! Format: `# ` lines say what the file proves; `> ` lines are input (the
//! consecutive ones form one chunk of script); every other line up to the
//! next `> ` or `# ` line is the expected output of the chunk above it,
//! rendered as the shell does with `-header -csv`, errors as
//! `error: <message>`. A blank line after `> ` lines ends the chunk, and
//! trailing blank lines of an output block are not compared (so a query
//! whose last row is a single NULL should select another column too).
//! Every file starts with `SET CLOCK` and `SET SEED`, so it is deterministic.
//! `UPDATE_GOLDEN=1 cargo test --test golden` rewrites the expected outputs
//! in place; review the result with `git diff`.
//!
//! The runner also runs a few files through the built binary over a pipe,
//! and every `examples/*.sql` in-process.

#[path = "support/bin.rs"]
mod bin;

use caldb::query::{parse_statement, split_statements};
use caldb::{Database, ResultSet, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One block of a transcript.
#[derive(Debug)]
enum Block {
    /// `# ` lines, kept as they are.
    Comment(Vec<String>),
    /// One chunk of `> ` lines (without the prefix), the expected output
    /// that follows it and the 1-based file line where that output starts.
    Input { lines: Vec<String>, expected: Vec<String>, expected_line: usize },
}

fn is_comment(line: &str) -> bool {
    line == "#" || line.starts_with("# ")
}

fn input_text(line: &str) -> Option<&str> {
    if line == ">" { Some("") } else { line.strip_prefix("> ") }
}

fn parse_transcript(name: &str, text: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if is_comment(line) {
            match blocks.last_mut() {
                Some(Block::Comment(c)) => c.push(line.to_string()),
                _ => blocks.push(Block::Comment(vec![line.to_string()])),
            }
        } else if let Some(input) = input_text(line) {
            match blocks.last_mut() {
                Some(Block::Input { lines, expected, .. }) if expected.is_empty() => lines.push(input.to_string()),
                _ => {
                    blocks.push(Block::Input { lines: vec![input.to_string()], expected: Vec::new(), expected_line: 0 })
                }
            }
        } else {
            match blocks.last_mut() {
                Some(Block::Input { expected, expected_line, .. }) => {
                    if expected.is_empty() {
                        *expected_line = i + 1;
                    }
                    expected.push(line.to_string());
                }
                _ => {
                    assert!(line.trim().is_empty(), "{name}:{}: output with no `> ` input above it: {line:?}", i + 1);
                }
            }
        }
    }
    blocks
}

/// A CSV field as the shell writes it.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

fn csv_line(out: &mut String, fields: impl Iterator<Item = String>) {
    let fields: Vec<String> = fields.map(|f| csv_field(&f)).collect();
    out.push_str(&fields.join(","));
    out.push('\n');
}

/// A result as `caldb -header -csv` prints it.
fn render(rs: &ResultSet) -> String {
    let mut out = String::new();
    csv_line(&mut out, rs.columns.iter().map(|c| c.to_string()));
    for row in &rs.rows {
        csv_line(&mut out, row.iter().map(Value::to_string));
    }
    out
}

/// Runs one chunk of script; returns its rendering (results and errors).
fn run_chunk(db: &mut Database, script: &str) -> String {
    let mut out = String::new();
    for stmt in split_statements(script) {
        // As the shell does: the statement from its first non-blank character.
        match db.execute(stmt.text.trim()) {
            Ok(Some(rs)) => out.push_str(&render(&rs)),
            Ok(None) => {}
            Err(e) => {
                let _ = writeln!(out, "error: {e}");
            }
        }
    }
    out
}

fn trim_trailing_blank(lines: &[String]) -> &[String] {
    let end = lines.iter().rposition(|l| !l.trim().is_empty()).map_or(0, |i| i + 1);
    &lines[..end]
}

fn transcript_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/shell");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/shell exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
}

/// What one transcript gives: per input block, its actual output.
struct Run {
    blocks: Vec<Block>,
    actual: Vec<String>,
    /// What CHECK found after a block, with the block's first input line:
    /// every committed step must leave a sound database.
    unsound: Vec<String>,
}

fn run_transcript(path: &Path) -> Run {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).expect("read transcript");
    let blocks = parse_transcript(&name, &text);
    let mut db = Database::open_in_memory().expect("in-memory database");
    let mut actual = Vec::new();
    let mut unsound = Vec::new();
    for b in &blocks {
        if let Block::Input { lines, .. } = b {
            actual.push(run_chunk(&mut db, &lines.join("\n")));
            if !db.in_transaction() {
                let rows = db.execute("CHECK").expect("CHECK").map(|rs| rs.rows).unwrap_or_default();
                if !rows.is_empty() {
                    unsound.push(format!("{name}: after '{}': CHECK found {rows:?}", lines[0]));
                }
            }
        }
    }
    Run { blocks, actual, unsound }
}

/// The transcript with its expected outputs replaced by the actual ones.
fn rewritten(run: &Run) -> String {
    let mut out = String::new();
    let mut actual = run.actual.iter();
    let n = run.blocks.len();
    for (i, b) in run.blocks.iter().enumerate() {
        match b {
            Block::Comment(c) => {
                for l in c {
                    out.push_str(l);
                    out.push('\n');
                }
            }
            Block::Input { lines, .. } => {
                for l in lines {
                    if l.is_empty() {
                        out.push_str(">\n");
                    } else {
                        let _ = writeln!(out, "> {l}");
                    }
                }
                let got = actual.next().expect("one output per input");
                out.push_str(got);
                if i + 1 < n && matches!(run.blocks[i + 1], Block::Comment(_)) {
                    out.push('\n');
                }
            }
        }
    }
    out
}

/// Mismatches of one transcript, as readable text; empty when it passes.
fn mismatches(path: &Path, run: &Run) -> String {
    let name = path.display();
    let mut report = String::new();
    let mut actual = run.actual.iter();
    for b in &run.blocks {
        let Block::Input { lines, expected, expected_line } = b else { continue };
        let got: Vec<String> = actual.next().expect("one output per input").lines().map(str::to_string).collect();
        let want = trim_trailing_blank(expected);
        let got = trim_trailing_blank(&got);
        if want == got {
            continue;
        }
        let at = want.iter().zip(got).position(|(w, g)| w != g).unwrap_or(want.len().min(got.len()));
        let line = if *expected_line == 0 { 0 } else { expected_line + at };
        let _ = writeln!(report, "{name}:{line}: output differs for input");
        for l in lines {
            let _ = writeln!(report, "    > {l}");
        }
        for (i, w) in want.iter().enumerate() {
            if got.get(i) != Some(w) {
                let _ = writeln!(report, "  - {w}");
            }
        }
        for (i, g) in got.iter().enumerate() {
            if want.get(i) != Some(g) {
                let _ = writeln!(report, "  + {g}");
            }
        }
    }
    report
}

fn first_statements(run: &Run) -> Vec<String> {
    run.blocks
        .iter()
        .filter_map(|b| match b {
            Block::Input { lines, .. } => Some(lines.join("\n")),
            _ => None,
        })
        .flat_map(|chunk| {
            split_statements(&chunk).into_iter().map(|s| s.text.trim().to_uppercase()).collect::<Vec<_>>()
        })
        .take(2)
        .collect()
}

#[test]
fn every_transcript_gives_its_expected_output() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let files = transcript_files();
    assert!(!files.is_empty(), "no transcripts in tests/shell");
    let mut failures = String::new();
    for path in &files {
        let run = run_transcript(path);
        let first = first_statements(&run);
        let deterministic = first.len() == 2
            && first.iter().any(|s| s.starts_with("SET CLOCK '"))
            && first.iter().any(|s| s.starts_with("SET SEED "));
        if !deterministic {
            let _ = writeln!(failures, "{}: must start with SET CLOCK '...' and SET SEED n", path.display());
        }
        for problem in &run.unsound {
            let _ = writeln!(failures, "{problem}");
        }
        if update {
            let text = rewritten(&run);
            if std::fs::read_to_string(path).ok().as_deref() != Some(text.as_str()) {
                std::fs::write(path, text).expect("rewrite transcript");
            }
            continue;
        }
        failures.push_str(&mismatches(path, &run));
    }
    assert!(failures.is_empty(), "golden transcripts differ (UPDATE_GOLDEN=1 rewrites them):\n{failures}");
}

#[test]
fn every_transcript_says_what_it_proves() {
    for path in transcript_files() {
        let text = std::fs::read_to_string(&path).expect("read transcript");
        assert!(text.lines().next().is_some_and(is_comment), "{} must open with `# ` lines", path.display());
        assert!(text.lines().any(|l| input_text(l).is_some()), "{} has no input", path.display());
    }
}

/// Transcripts without errors, run through the binary as well.
const THROUGH_THE_BINARY: [&str; 3] = [
    "validated_temporary_cal_is_upgraded.txt",
    "cloned_image_burns_a_cal_at_each_renewal.txt",
    "farm_reconnects_a_disconnected_session.txt",
];

#[test]
fn the_binary_over_a_pipe_prints_what_the_runner_renders() {
    for file in THROUGH_THE_BINARY {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/shell").join(file);
        let run = run_transcript(&path);
        let script: Vec<String> = run
            .blocks
            .iter()
            .filter_map(|b| match b {
                Block::Input { lines, .. } => Some(lines.join("\n")),
                _ => None,
            })
            .collect();
        let out = bin::run(&["-header"], None, format!("{}\n", script.join("\n")).as_bytes());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && stderr.is_empty(), "{file}: caldb failed: {stderr}");
        let expected: String = run.actual.concat();
        assert!(!expected.is_empty(), "{file} prints nothing");
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{file}: binary and runner differ");
    }
}

#[test]
fn every_example_runs_without_errors_and_checks_sound() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no examples");
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read example");
        let mut db = Database::open_in_memory().expect("in-memory database");
        let mut last_check = None;
        let statements = split_statements(&text);
        assert!(!statements.is_empty(), "{} is empty", path.display());
        for stmt in statements {
            let result = db.execute(stmt.text);
            let rs = match result {
                Ok(rs) => rs,
                Err(e) => panic!("{}: line {}: {e}", path.display(), stmt.line),
            };
            if stmt
                .text
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .any(|l| l.trim().eq_ignore_ascii_case("CHECK"))
            {
                last_check = rs;
            }
        }
        if let Some(rs) = last_check {
            assert!(rs.rows.is_empty(), "{}: CHECK found problems: {:?}", path.display(), rs.rows);
        }
    }
}

#[test]
fn transcript_format_keeps_comments_inputs_and_outputs_apart() {
    let text = "# proves x\n> SET CLOCK '2026-01-01';\n> SELECT 1\n> ;\na\n1\n\n# more\n> X;\n";
    let blocks = parse_transcript("t", text);
    assert_eq!(blocks.len(), 4);
    match &blocks[1] {
        Block::Input { lines, expected, expected_line } => {
            assert_eq!(lines.len(), 3);
            assert_eq!(expected, &["a", "1", ""]);
            assert_eq!(*expected_line, 5);
        }
        other => panic!("not an input: {other:?}"),
    }
    let run = Run { blocks, actual: vec!["a\n1\n".into(), "error: e\n".into()], unsound: Vec::new() };
    assert_eq!(
        rewritten(&run),
        "# proves x\n> SET CLOCK '2026-01-01';\n> SELECT 1\n> ;\na\n1\n\n# more\n> X;\nerror: e\n"
    );
}

#[test]
fn a_mismatch_names_the_file_and_the_line_of_the_first_differing_output() {
    let text = "# proves x\n> SET CLOCK '2026-01-01';\n> SELECT 1;\nname\nls1\nls2\n";
    let blocks = parse_transcript("t.txt", text);
    let run = Run { blocks, actual: vec!["name\nls1\nls9\n".into()], unsound: Vec::new() };
    let report = mismatches(Path::new("t.txt"), &run);
    assert!(report.starts_with("t.txt:6: output differs"), "{report}");
    assert!(report.contains("  - ls2\n") && report.contains("  + ls9\n"), "{report}");
}

/// Every statement of the transcripts and examples that parses prints back
/// to text that parses to the same statement (style.md, Tests: Parser).
#[test]
fn every_statement_of_the_transcripts_and_examples_survives_print_and_parse() {
    let mut scripts: Vec<(PathBuf, String)> = Vec::new();
    for path in transcript_files() {
        let text = std::fs::read_to_string(&path).expect("read transcript");
        let input: Vec<&str> = text.lines().filter_map(input_text).collect();
        scripts.push((path, input.join("\n")));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for entry in std::fs::read_dir(&dir).expect("examples exists") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "sql") {
            let text = std::fs::read_to_string(&path).expect("read example");
            scripts.push((path, text));
        }
    }
    let mut checked = 0;
    for (path, script) in &scripts {
        for stmt in split_statements(script) {
            let Ok(parsed) = parse_statement(stmt.text) else { continue };
            let printed = parsed.to_string();
            let again = parse_statement(&printed)
                .unwrap_or_else(|e| panic!("{}: {printed:?} does not parse: {e}", path.display()));
            assert_eq!(again, parsed, "{}: round trip of {:?} via {printed:?}", path.display(), stmt.text);
            checked += 1;
        }
    }
    assert!(checked > 500, "only {checked} statements checked");
}
