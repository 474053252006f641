//! A format-5 file written by an earlier caldb (`tests/data/format5.redb`,
//! made from `format5.sql`, its `.dump` beside it: tokens stored whole and
//! by reference, a zstd chunk of history) reads back row for row and takes
//! writes. Any change to how records, keys or history are stored that
//! forgets to bump the format version (docs/choices.md item 23) makes
//! this file read differently or not at all, and fails here.

#[path = "support/bin.rs"]
mod bin;
use bin::{caldb, data, scratch_dir};

#[test]
fn a_format_5_file_from_an_earlier_caldb_reads_back_row_for_row_and_takes_writes() {
    let dir = scratch_dir("format5");
    let file = dir.join("old.redb");
    std::fs::copy(data("format5.redb"), &file).expect("copy the format-5 file");
    let original = std::fs::read(&file).expect("read");
    let f = file.to_str().expect("UTF-8");

    let (code, dump, err) = caldb(&["-readonly", f, ".dump"]);
    assert_eq!(code, 0, "{err}");
    let want = std::fs::read_to_string(data("format5.dump")).expect("the format-5 dump");
    if let Some((n, (got, want))) = dump.lines().zip(want.lines()).enumerate().find(|(_, (a, b))| a != b) {
        panic!("line {}: {got:?}, the earlier caldb dumped {want:?}", n + 1);
    }
    assert_eq!(dump.lines().count(), want.lines().count(), "the same rows");
    // Both forms of token are in it: whole (00) and by reference (01).
    for form in [",X'00", ",X'01"] {
        assert!(
            dump.lines().any(|l| l.starts_with("INSERT INTO caldb_store VALUES('tokens',") && l.contains(form)),
            "no token stored as {form}"
        );
    }
    let (code, out, err) = caldb(&["-readonly", f, "CHECK;"]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert!(std::fs::read(&file).expect("read") == original, "a read-only open changed the file");

    // Writes: a valid CAL presented, a new device on the second server, a
    // user CAL, through the stored keys (names in another case); a device
    // of the rebuilt server, whose token is whole, is told its CAL's
    // server no longer knows it.
    let script = "CONNECT PC1 AS alice TO RDSH1; CREATE DEVICE pc12; CONNECT pc12 AS frank TO rdsh3; \
                  CONNECT pc3 AS CAROL TO rdsh2; CONNECT PC7 AS gina TO rdsh4; CHECK;";
    let (code, out, err) = caldb(&[f, script]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("accepted,valid,pc1,alice,rdsh1,ls1,6,"), "{out}");
    assert!(lines[1].starts_with("accepted,temporary-issued,pc12,frank,rdsh3,ls2,"), "{out}");
    assert!(lines[2].starts_with("accepted,per-user,pc3,CAROL,RDSH2,"), "{out}");
    assert!(lines[3].starts_with("accepted,") && lines[3].contains(",pc7,gina,rdsh4,ls3,"), "{out}");
    assert_eq!(lines.len(), 4, "CHECK finds nothing: {out}");
    let _ = std::fs::remove_dir_all(&dir);
}
