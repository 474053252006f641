//! A format-4 file written by an earlier caldb (`tests/data/format4.redb`,
//! made from `format4.sql`, its `.dump` beside it) reads back row for row
//! and takes writes. Any change to how records, keys or history are
//! stored that forgets to bump the format version (docs/choices.md item
//! 23) makes this file read differently or not at all, and fails here.

#[path = "support/bin.rs"]
mod bin;
use bin::{caldb, data, scratch_dir};

#[test]
fn a_format_4_file_from_an_earlier_caldb_reads_back_row_for_row_and_takes_writes() {
    let dir = scratch_dir("format4");
    let file = dir.join("old.redb");
    std::fs::copy(data("format4.redb"), &file).expect("copy the format-4 file");
    let original = std::fs::read(&file).expect("read");
    let f = file.to_str().expect("UTF-8");

    let (code, dump, err) = caldb(&["-readonly", f, ".dump"]);
    assert_eq!(code, 0, "{err}");
    let want = std::fs::read_to_string(data("format4.dump")).expect("the format-4 dump");
    if let Some((n, (got, want))) = dump.lines().zip(want.lines()).enumerate().find(|(_, (a, b))| a != b) {
        panic!("line {}: {got:?}, the earlier caldb dumped {want:?}", n + 1);
    }
    assert_eq!(dump.lines().count(), want.lines().count(), "the same rows");
    let (code, out, err) = caldb(&["-readonly", f, "CHECK;"]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert!(std::fs::read(&file).expect("read") == original, "a read-only open changed the file");

    // Writes: a valid CAL presented, a new device on the second server, a
    // user CAL, through the stored keys (names in another case).
    let script = "CONNECT PC1 AS alice TO RDSH1; CREATE DEVICE pc6; CONNECT pc6 AS frank TO rdsh3; \
                  CONNECT pc3 AS CAROL TO rdsh2; CHECK;";
    let (code, out, err) = caldb(&[f, script]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("accepted,valid,pc1,alice,rdsh1,ls1,6,"), "{out}");
    assert!(lines[1].starts_with("accepted,temporary-issued,pc6,frank,rdsh3,ls2,3,"), "{out}");
    assert!(lines[2].starts_with("accepted,per-user,pc3,CAROL,RDSH2,"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
