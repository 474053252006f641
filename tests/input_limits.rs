//! quality.md R7 and R8 and issue 14's input items through the built
//! binary: another process's open BEGIN makes an open or a write wait the
//! busy timeout, then fail with "database is locked"; a FIFO as the
//! database is refused, not waited on; a piped script is read statement by
//! statement (a line or statement past its limit stops it, unread); bytes
//! that are not UTF-8 are refused with line and column, never stored as
//! U+FFFD; a session that ends inside BEGIN says its block was rolled back.

#[path = "support/bin.rs"]
mod bin;

use bin::{command, run, scratch_dir, status, stderr, stdout};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdout};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The first line `out` prints, or `None` if none comes within `limit`.
fn line_within(out: ChildStdout, limit: Duration) -> (Option<String>, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (rx.recv_timeout(limit).ok(), rx)
}

/// Waits for `child` at most `limit`; a child still running is killed
/// and the test fails (the old code waited forever here).
fn finish_within(mut child: Child, limit: Duration, what: &str) -> std::process::Output {
    let began = Instant::now();
    while child.try_wait().expect("poll").is_none() {
        if began.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("wait")
}

fn database(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("a.redb");
    let out = run(&[db.as_os_str()], None, b"CREATE SERVER ls1;\n");
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    db
}

fn names(db: &Path, table: &str) -> String {
    let out = run(&[db.as_os_str(), format!("SELECT name FROM {table};").as_ref()], None, b"");
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn a_piped_script_runs_as_it_is_read_not_after_its_end() {
    let dir = scratch_dir("input-stream");
    let db = database(&dir);
    let mut child = command(&[db.as_os_str()], None).spawn().expect("start");
    let mut stdin = child.stdin.take().expect("piped");
    stdin.write_all(b"SELECT name FROM servers;\n").expect("write");
    stdin.flush().expect("flush");
    let (first, _rest) = line_within(child.stdout.take().expect("piped"), Duration::from_secs(10));
    assert_eq!(first.as_deref(), Some("ls1"), "no answer while the script is still open");
    drop(stdin);
    let out = finish_within(child, Duration::from_secs(10), "caldb after its input ended");
    assert_eq!(status(&out), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_overlong_line_stops_the_script_without_reading_the_rest() {
    let dir = scratch_dir("input-long");
    let db = database(&dir);
    let mut child = command(&[db.as_os_str()], None).spawn().expect("start");
    let mut stdin = child.stdin.take().expect("piped");
    // 256 MiB with no line end (the attack piped 1.6 GB and the shell
    // aborted): caldb must stop after its 1 MiB limit, so most of it is
    // never read and the writer meets a closed pipe.
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; 1 << 20];
        let mut written = 0usize;
        while written < 256 << 20 && stdin.write_all(&chunk).is_ok() {
            written += chunk.len();
        }
        written
    });
    let out = finish_within(child, Duration::from_secs(60), "caldb reading an endless line");
    let written = writer.join().expect("writer");
    assert_eq!(status(&out), 1);
    assert_eq!(stderr(&out), "error: line 1: line longer than 1048576 bytes; the script stops here\n");
    assert!(written < 64 << 20, "{written} bytes were taken in");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_overlong_statement_stops_the_script() {
    let dir = scratch_dir("input-statement");
    let db = database(&dir);
    let mut script = String::from("CREATE DEVICE first;\nSELECT name FROM devices WHERE name IN (\n");
    while script.len() < (1 << 20) + 100 {
        script.push_str("'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',\n");
    }
    script.push_str("'b');\nCREATE DEVICE after;\n");
    let out = run(&[db.as_os_str()], None, script.as_bytes());
    assert_eq!(status(&out), 1);
    let err = stderr(&out);
    assert!(err.contains("statement longer than 1048576 bytes; the script stops here"), "{err}");
    assert_eq!(names(&db, "devices"), "first\n", "the statements after the long one did not run");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn invalid_utf8_is_refused_with_line_and_column_and_nothing_is_stored() {
    let dir = scratch_dir("input-utf8");
    let db = database(&dir);
    let script = b"CREATE DEVICE good;\nCREATE DEVICE 'ab\xffc';\nCREATE DEVICE 'ab\xfec';\n";
    let out = run(&[db.as_os_str()], None, script);
    assert_eq!(status(&out), 1);
    assert_eq!(stderr(&out), "error: line 2, column 18: invalid UTF-8 (byte 0xff); the script stops here\n");
    assert_eq!(names(&db, "devices"), "good\n");
    // The same through .read, which names the file.
    std::fs::write(dir.join("bad.sql"), b"CREATE DEVICE '\xc3';\n").expect("write");
    let out = run(&[db.as_os_str(), ".read bad.sql".as_ref()], Some(&dir), b"");
    assert_eq!(status(&out), 1);
    let err = stderr(&out);
    assert!(err.contains("bad.sql: line 1, column 16: invalid UTF-8 (byte 0xc3)"), "{err}");
    assert_eq!(names(&db, "devices"), "good\n");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A caldb process inside an open BEGIN on `db`, until its input closes.
fn holder(db: &Path) -> (Child, mpsc::Receiver<String>) {
    let mut child = command(&[db.as_os_str()], None).spawn().expect("start the holder");
    let mut stdin = child.stdin.take().expect("piped");
    stdin.write_all(b"BEGIN;\nCREATE SERVER held;\nSELECT name FROM servers WHERE name = 'held';\n").expect("write");
    stdin.flush().expect("flush");
    child.stdin = Some(stdin);
    let (line, rest) = line_within(child.stdout.take().expect("piped"), Duration::from_secs(20));
    assert_eq!(line.as_deref(), Some("held"), "the holder did not begin");
    (child, rest)
}

#[test]
fn another_process_in_begin_makes_an_open_or_a_write_wait_the_busy_timeout_then_fail() {
    let dir = scratch_dir("input-locked");
    let db = database(&dir);
    // A writer already open before the other process begins.
    let mut late = command(&[db.as_os_str(), "-timeout".as_ref(), "300".as_ref()], None).spawn().expect("start");
    let mut late_in = late.stdin.take().expect("piped");
    late_in.write_all(b"SELECT name FROM servers;\n").expect("write");
    let (first, _late_rest) = line_within(late.stdout.take().expect("piped"), Duration::from_secs(10));
    assert_eq!(first.as_deref(), Some("ls1"));
    let (mut holder, _rest) = holder(&db);
    // Opening for writing: bounded, and status 2 (the database cannot be opened).
    let began = Instant::now();
    let child = command(&[db.as_os_str(), "-timeout".as_ref(), "300".as_ref(), "CREATE DEVICE x;".as_ref()], None)
        .spawn()
        .expect("start");
    let out = finish_within(child, Duration::from_secs(20), "a writable open behind BEGIN");
    assert_eq!(status(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("database is locked by another process (waited 300 ms"), "{}", stderr(&out));
    assert!(began.elapsed() < Duration::from_secs(5), "waited {:?}", began.elapsed());
    // A write on a handle opened earlier: the statement fails, status 1.
    late_in.write_all(b".timeout 200\nCREATE DEVICE late;\n").expect("write");
    drop(late_in);
    let out = finish_within(late, Duration::from_secs(20), "a write behind BEGIN");
    assert_eq!(status(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.starts_with("error: line 3: ") && err.contains("database is locked by another process"), "{err}");
    // The holder's input ends inside its block: rolled back, and said so.
    drop(holder.stdin.take());
    let out = finish_within(holder, Duration::from_secs(20), "the holder");
    assert_eq!(status(&out), 1);
    assert!(stderr(&out).contains("ended inside BEGIN: the open transaction was rolled back"), "{}", stderr(&out));
    assert_eq!(names(&db, "servers"), "ls1\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_fifo_as_the_database_is_refused_not_waited_on() {
    let dir = scratch_dir("input-fifo");
    let fifo = dir.join("db.fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    for args in [vec!["db.fifo", "SELECT 1 FROM servers;"], vec!["-readonly", "db.fifo", "SELECT 1 FROM servers;"]] {
        let child = command(&args, Some(&dir)).spawn().expect("start");
        let out = finish_within(child, Duration::from_secs(20), "caldb on a FIFO");
        assert_eq!(status(&out), 2);
        assert!(stderr(&out).contains("db.fifo is not a regular file"), "{}", stderr(&out));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_session_ending_inside_begin_says_its_block_was_rolled_back() {
    let dir = scratch_dir("input-begin");
    let db = database(&dir);
    let other = dir.join("b.redb").display().to_string();
    let endings = [
        "BEGIN;\nCREATE DEVICE lost;\n".to_string(),
        "BEGIN;\nCREATE DEVICE lost;\n.quit\n".into(),
        "BEGIN;\nCREATE DEVICE lost;\n.exit 0\n".into(),
        format!("BEGIN;\nCREATE DEVICE lost;\n.open {other}\nCREATE DEVICE elsewhere;\n"),
    ];
    for script in &endings {
        let out = run(&[db.as_os_str()], None, script.as_bytes());
        assert_eq!(status(&out), 1, "{script}");
        let err = stderr(&out);
        assert!(err.contains("transaction was rolled back"), "{script}: {err}");
        assert_eq!(names(&db, "devices"), "", "{script}");
    }
    assert_eq!(names(Path::new(&other), "devices"), "elsewhere\n");
    // The same for statements given as arguments.
    let out = run(&[db.as_os_str(), "BEGIN;".as_ref(), "CREATE DEVICE lost;".as_ref()], None, b"");
    assert_eq!(status(&out), 1);
    assert!(stderr(&out).contains("ended inside BEGIN"), "{}", stderr(&out));
    // A block an error aborted (issue 13) is ended too, naming that error's
    // line, not advising a COMMIT that would commit nothing.
    let aborted = [
        "BEGIN;\nCREATE DEVICE lost;\nSELECT * FROM nosuch;\n".to_string(),
        "BEGIN;\nCREATE DEVICE lost;\nSELECT * FROM nosuch;\n.exit 0\n".into(),
    ];
    for script in &aborted {
        let out = run(&[db.as_os_str()], None, script.as_bytes());
        assert_eq!(status(&out), 1, "{script}");
        let err = stderr(&out);
        assert!(
            err.contains("the session ended inside BEGIN: the transaction was rolled back at line 3;"),
            "{script}: {err}"
        );
        assert!(!err.contains("COMMIT saves it"), "{script}: {err}");
        assert_eq!(names(&db, "devices"), "", "{script}");
    }
    let script = format!("BEGIN;\nSELECT * FROM nosuch;\n.open {other}\nCREATE DEVICE again;\n");
    let out = run(&[db.as_os_str()], None, script.as_bytes());
    assert_eq!(status(&out), 1);
    assert!(
        stderr(&out).contains("previous database's transaction, rolled back at line 2, is ended"),
        "{}",
        stderr(&out)
    );
    assert_eq!(names(Path::new(&other), "devices"), "again\nelsewhere\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_that_cannot_be_written_is_named_so_not_unreadable() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_dir("input-readonly-file");
    let db = database(&dir);
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    let root = std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout == b"0\n");
    // Root writes through permission bits: the test runs caldb as nobody.
    let out = if root {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
        let line = format!("{} {} 'SELECT 1 FROM servers;'", env!("CARGO_BIN_EXE_caldb"), db.display());
        std::process::Command::new("su").args(["nobody", "-s", "/bin/sh", "-c", &line]).output().expect("su")
    } else {
        run(&[db.as_os_str(), "SELECT 1 FROM servers;".as_ref()], None, b"")
    };
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot be opened for writing") && err.contains("-readonly opens it for reading"), "{err}");
    assert!(!err.contains("cannot be read"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
