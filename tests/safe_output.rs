//! quality.md S5 through the built binary: BACKUP, EXPORT, `.output` and
//! `.once` never touch an open caldb database (of this process or another,
//! through any path or link), a device file or a FIFO; they write a
//! temporary beside the target and rename it, and leave no temporary
//! behind (a killed one's is removed by the next write to that target).

#[path = "support/bin.rs"]
mod bin;

use bin::{command, feed, run, scratch_dir, status, stderr, stdout};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Child;

const SETUP: &str = "SET CLOCK '2026-01-05 09:00:00';
CREATE SERVER ls1 PRODUCT WS2022;
ACTIVATE SERVER ls1;
INSTALL KEYPACK ON ls1 PRODUCT WS2022 CAL DEVICE COUNT 5;
CREATE HOST h1 PRODUCT WS2022 MODE DEVICE LICENSE SERVERS (ls1);
CREATE DEVICE d1;
CONNECT d1 AS '=HYPERLINK(\"http://x\")' TO h1;
";

fn database(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("a.redb");
    let out = run(&[db.as_os_str()], None, SETUP.as_bytes());
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    db
}

/// The names in `dir` that start with a dot: temporaries left behind.
fn temporaries(dir: &Path) -> Vec<String> {
    let names = std::fs::read_dir(dir).expect("list").flatten().map(|e| e.file_name().to_string_lossy().into_owned());
    names.filter(|n| n.starts_with('.')).collect()
}

#[test]
fn once_or_output_naming_the_open_database_is_refused_through_any_path_even_readonly() {
    let dir = scratch_dir("output-self");
    let db = database(&dir);
    std::os::unix::fs::symlink("a.redb", dir.join("link.redb")).expect("symlink");
    std::fs::hard_link(&db, dir.join("hard.redb")).expect("hard link");
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(&db).expect("stat").ino();
    for target in ["a.redb", "link.redb", "hard.redb", "./../{dir}/a.redb"] {
        let name = dir.file_name().expect("name").to_string_lossy();
        let target = target.replace("{dir}", &name);
        for command in [".once", ".output"] {
            for readonly in [true, false] {
                let mut args = vec!["a.redb".to_string(), format!("{command} {target}")];
                args.push("SELECT COUNT(*) FROM licenses;".into());
                if readonly {
                    args.insert(0, "-readonly".into());
                }
                let before = std::fs::read(&db).expect("read");
                let out = run(&args, Some(&dir), b"");
                let err = stderr(&out);
                assert_eq!(status(&out), 1, "{args:?}: {err}");
                assert!(err.contains("is a database a caldb process has open"), "{args:?}: {err}");
                // Read-only: not a byte changed. Writable: the same file,
                // with its rows (the open itself may write expiry).
                assert!(!readonly || std::fs::read(&db).expect("read") == before, "{args:?} changed the database");
                let count = run(&[db.as_os_str(), "SELECT COUNT(*) FROM licenses;".as_ref()], None, b"");
                assert_eq!(stdout(&count), "1\n", "{args:?}: {}", stderr(&count));
                assert_eq!(std::fs::metadata(&db).expect("stat").ino(), inode, "{args:?} replaced the file");
            }
        }
    }
    assert!(temporaries(&dir).is_empty(), "{:?}", temporaries(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A caldb process with `db` open, waiting on its standard input.
fn holder(db: &Path) -> Child {
    let args = [db.as_os_str(), "-cmd".as_ref(), "SELECT name FROM servers;".as_ref()];
    let mut child = command(&args, None).spawn().expect("start the holder");
    let mut line = String::new();
    let out = child.stdout.as_mut().expect("piped");
    BufReader::new(out).read_line(&mut line).expect("the holder's first line");
    assert!(line.contains("ls1"), "the holder printed {line:?}");
    child
}

#[test]
fn backup_export_or_output_to_a_database_another_process_has_open_is_refused() {
    use std::os::unix::fs::MetadataExt;
    let dir = scratch_dir("output-other");
    let db = database(&dir);
    let other = dir.join("other.redb");
    let inode = std::fs::metadata(&db).expect("stat").ino();
    let mut holder = holder(&db);
    for statement in ["BACKUP TO 'a.redb';", "EXPORT LICENSES TO 'a.redb';", ".once a.redb", ".output a.redb"] {
        let out = run(&[other.as_os_str()], Some(&dir), format!("{statement}\nSELECT 1 FROM servers;\n").as_bytes());
        let err = stderr(&out);
        assert_eq!(status(&out), 1, "{statement}: {err}");
        assert!(err.contains("'a.redb' is a database a caldb process has open"), "{statement}: {err}");
        assert_eq!(std::fs::metadata(&db).expect("stat").ino(), inode, "{statement} replaced the file");
    }
    // The holder's database is still the one it writes to, and sound.
    feed(&mut holder, b"CREATE DEVICE after;\nCHECK;\n");
    let out = holder.wait_with_output().expect("the holder ends");
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    let out = run(&[db.as_os_str(), "SELECT COUNT(*) FROM devices WHERE name = 'after';".as_ref()], None, b"");
    assert_eq!(stdout(&out), "1\n");
    // Once no process has it open, it is a file like any other.
    let out = run(&[other.as_os_str(), "BACKUP TO 'a.redb';".as_ref()], Some(&dir), b"");
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert!(temporaries(&dir).is_empty(), "{:?}", temporaries(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Character devices to aim at: as root, nodes made for the test (so a
/// regression replaces those, not the system's `/dev/null`); otherwise the
/// system's, which a refusal must name all the same.
fn devices(dir: &Path) -> Vec<String> {
    let made = ["null c 1 3", "full c 1 7"].iter().all(|spec| {
        let parts: Vec<&str> = spec.split(' ').collect();
        let node = dir.join(parts[0]);
        let status = std::process::Command::new("mknod")
            .arg(&node)
            .args(&parts[1..])
            .stderr(std::process::Stdio::null())
            .status();
        status.is_ok_and(|s| s.success())
    });
    let root = if made { dir.display().to_string() } else { "/dev".to_string() };
    vec![format!("{root}/null"), format!("{root}/full")]
}

#[test]
fn device_files_and_fifos_are_refused_and_left_as_they_are() {
    use std::os::unix::fs::FileTypeExt;
    let dir = scratch_dir("output-device");
    let db = database(&dir);
    let fifo = dir.join("pipe");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let fifo = fifo.display().to_string();
    let [null, full] = <[String; 2]>::try_from(devices(&dir)).expect("two devices");
    let statements = [
        format!("EXPORT LICENSES TO '{null}';"),
        format!("BACKUP TO '{full}';"),
        format!(".output {null}"),
        format!(".once {full}"),
        format!("EXPORT KEYPACKS TO '{fifo}';"),
        format!("BACKUP TO '{fifo}';"),
        format!(".output {fifo}"),
    ];
    for statement in &statements {
        let out = run(&[db.as_os_str()], Some(&dir), format!("{statement}\n").as_bytes());
        let err = stderr(&out);
        assert_eq!(status(&out), 1, "{statement}: {err}");
        let kind = if statement.contains(&fifo) { "a FIFO" } else { "a character device" };
        assert!(err.contains(&format!("it is {kind}, not a regular file")), "{statement}: {err}");
    }
    // As root the old code replaced the nodes by files; they are still devices.
    for device in [&null, &full] {
        let kind = std::fs::metadata(device).expect("stat").file_type();
        assert!(kind.is_char_device(), "{device} is no longer a device");
    }
    assert!(std::fs::metadata(&fifo).expect("stat").file_type().is_fifo());
    let left: Vec<String> = temporaries(&dir);
    assert!(left.is_empty(), "{left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn export_to_standard_output_writes_there_whatever_it_is() {
    // `/dev/fd/1`, not `/dev/stdout`: code that renamed over the target
    // would replace the system's `/dev/stdout` link (as root); here it
    // cannot create its temporary in `/proc` and fails harmlessly.
    let dir = scratch_dir("output-stdout");
    let db = database(&dir);
    let export = "EXPORT KEYPACKS TO '/dev/fd/1';";
    let out = run(&[db.as_os_str(), export.as_ref()], Some(&dir), b"");
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).starts_with("#TYPE System.Management.ManagementObject"), "{}", stdout(&out));
    // Standard output redirected to a file: written there, after what the
    // shell wrote before, not by replacing the file under the shell.
    let log = dir.join("log.txt");
    let file = std::fs::File::create(&log).expect("create the log");
    let script = format!(
        "SELECT name FROM servers;\nEXPORT KEYPACKS TO '{}';\n.once {0}\nSELECT COUNT(*) FROM servers;\n",
        log.display()
    );
    let mut child = command(&[db.as_os_str()], Some(&dir)).stdout(file).spawn().expect("start");
    feed(&mut child, script.as_bytes());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    let text = std::fs::read_to_string(&log).expect("read the log");
    assert!(text.starts_with("ls1\n#TYPE System.Management"), "{text}");
    assert!(text.ends_with(",2\n1\n"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_killed_writers_temporary_is_removed_by_the_next_write_to_that_target() {
    let dir = scratch_dir("output-stale");
    let db = database(&dir);
    // What a kill -9 during BACKUP and EXPORT leaves: temporaries nobody holds.
    for stale in [".b.redb.4000001.0.tmp", ".l.csv.4000002.3.tmp", ".o.txt.4000003.0.tmp"] {
        std::fs::write(dir.join(stale), "half written").expect("write");
    }
    let script = "BACKUP TO 'b.redb';\nEXPORT LICENSES TO 'l.csv';\n.output o.txt\nSELECT name FROM servers;\n";
    let out = run(&[db.as_os_str()], Some(&dir), script.as_bytes());
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert!(temporaries(&dir).is_empty(), "left: {:?}", temporaries(&dir));
    assert_eq!(std::fs::read_to_string(dir.join("o.txt")).expect("the .output file"), "ls1\n");
    let _ = std::fs::remove_dir_all(&dir);
}
