//! Transcripts of the shell itself: every file in `tests/shell/dot/*.txt`
//! is one piped script run by the built binary, with its dot-commands and
//! output modes, and what it prints (standard output and error together,
//! in order). Format as in `golden.rs`: `# ` lines say what the file
//! proves (`# args: ...` gives the command line, `# file NAME: TEXT`
//! writes a file beside the database first, `\n` in TEXT a line end),
//! consecutive `> ` lines
//! are a chunk of the script, and the lines after a chunk are its output.
//! The chunks run in one process, so settings carry over; the runner puts
//! a `.print` marker after each chunk to cut the output. `UPDATE_GOLDEN=1`
//! rewrites the expected outputs for review with `git diff`.

#[path = "support/bin.rs"]
mod bin;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const MARKER: &str = "----8<----";

/// A transcript: its comment lines, and its chunks of input with the
/// output each expects.
struct Transcript {
    args: Vec<String>,
    files: Vec<(String, String)>,
    /// (comments before the chunk, input lines, expected output lines)
    chunks: Vec<(Vec<String>, Vec<String>, Vec<String>)>,
}

fn parse(text: &str) -> Transcript {
    let mut t = Transcript { args: Vec::new(), files: Vec::new(), chunks: Vec::new() };
    let mut comments = Vec::new();
    for line in text.lines() {
        if let Some(args) = line.strip_prefix("# args:") {
            t.args = args.split_whitespace().map(str::to_string).collect();
        }
        if let Some((name, text)) = line.strip_prefix("# file ").and_then(|f| f.split_once(": ")) {
            t.files.push((name.to_string(), text.replace("\\n", "\n")));
        }
        if line == "#" || line.starts_with("# ") {
            comments.push(line.to_string());
        } else if let Some(input) = line.strip_prefix("> ").or(if line == ">" { Some("") } else { None }) {
            match t.chunks.last_mut() {
                Some((_, lines, out)) if out.is_empty() && comments.is_empty() => lines.push(input.to_string()),
                _ => t.chunks.push((std::mem::take(&mut comments), vec![input.to_string()], Vec::new())),
            }
        } else if let Some((_, _, out)) = t.chunks.last_mut() {
            out.push(line.to_string());
        }
    }
    for (_, _, out) in &mut t.chunks {
        while out.last().is_some_and(|l| l.trim().is_empty()) {
            out.pop();
        }
    }
    t
}

/// Runs the transcript's chunks as one script; each chunk's output lines.
fn run(t: &Transcript, dir: &Path) -> Vec<Vec<String>> {
    let mut script = String::new();
    for (_, lines, _) in &t.chunks {
        for line in lines {
            script.push_str(line);
            script.push('\n');
        }
        script.push_str(&format!(".print {MARKER}\n"));
    }
    for (name, text) in &t.files {
        std::fs::write(dir.join(name), text).expect("write the transcript's file");
    }
    let log = dir.join("output.log");
    let file = std::fs::File::create(&log).expect("create the log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_caldb"))
        .args(&t.args)
        .current_dir(dir)
        .env("HOME", dir)
        .stdin(Stdio::piped())
        .stdout(file.try_clone().expect("clone the log"))
        .stderr(file)
        .spawn()
        .expect("start caldb");
    bin::feed(&mut child, script.as_bytes());
    child.wait().expect("wait for caldb");
    let text = std::fs::read_to_string(&log).expect("read the log");
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    // `.echo on` echoes the marker's own line too: not part of the output.
    let echoed = format!(".print {MARKER}");
    for line in text.lines().filter(|l| *l != echoed) {
        if line == MARKER {
            out.push(Vec::new());
        } else if let Some(last) = out.last_mut() {
            last.push(line.to_string());
        }
    }
    for chunk in &mut out {
        while chunk.last().is_some_and(|l| l.trim().is_empty()) {
            chunk.pop();
        }
    }
    out
}

fn render(t: &Transcript, outputs: &[Vec<String>]) -> String {
    let mut text = String::new();
    for (i, (comments, lines, _)) in t.chunks.iter().enumerate() {
        for c in comments {
            text.push_str(&format!("{c}\n"));
        }
        for l in lines {
            text.push_str(&if l.is_empty() { ">\n".to_string() } else { format!("> {l}\n") });
        }
        for l in outputs.get(i).map(Vec::as_slice).unwrap_or_default() {
            text.push_str(&format!("{l}\n"));
        }
        text.push('\n');
    }
    text
}

#[test]
fn every_dot_command_and_mode_transcript_gives_its_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/shell/dot");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/shell/dot exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "found only {} transcripts", files.len());
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = bin::scratch_dir(&format!("dot-{}", name.trim_end_matches(".txt")));
        let t = parse(&std::fs::read_to_string(file).expect("read the transcript"));
        let outputs = run(&t, &dir);
        if update {
            std::fs::write(file, render(&t, &outputs)).expect("rewrite the transcript");
            continue;
        }
        for (i, (_, lines, expected)) in t.chunks.iter().enumerate() {
            let got = outputs.get(i).cloned().unwrap_or_default();
            if &got != expected {
                failures.push(format!(
                    "{name}: after\n  {}\nexpected:\n{}\ngot:\n{}",
                    lines.join("\n  "),
                    expected.join("\n"),
                    got.join("\n")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
