//! Format 5 stores tokens by reference to their licenses and long history
//! chunks in zstd: a format-4 file written by an earlier caldb
//! (`tests/data/format4.redb`, made from `format4.sql`, its `.dump` beside
//! it) is refused untouched with the way over, and `caldb -upgrade`
//! carries every row across: its `.dump` is the earlier caldb's, line for
//! line, but for each token's stored value, now a `StoredToken`: placed
//! by reference to its license where that license holds its fields, else
//! whole. The carried-over file takes writes, and a token the protocol
//! places then is stored by reference.

#[path = "support/bin.rs"]
mod bin;
use bin::{caldb, data};
#[path = "support/carry.rs"]
mod carry;

#[test]
fn a_format_4_file_is_refused_untouched_and_carried_over_row_for_row() {
    let c = carry::refused_then_carried("upgrade4", "format4.redb", 4);
    assert!(c.out.contains("tokens: 4 entries"), "{}", c.out);
    let new_s = c.new_s();

    let (code, dump, err) = caldb(&["-readonly", new_s, ".dump"]);
    assert_eq!(code, 0, "{err}");
    let want = std::fs::read_to_string(data("format4.dump")).expect("the format-4 dump");
    let token = "INSERT INTO caldb_store VALUES('tokens',";
    let (mut whole, mut placed) = (0, 0);
    // Format 5's dump states its format, a line format 4's did not have.
    let stated = "INSERT INTO caldb_store VALUES('meta',X'666F726D6174',X'05');";
    let dump: String = dump.lines().filter(|l| *l != stated).map(|l| format!("{l}\n")).collect();
    for (n, (got, old)) in dump.lines().zip(want.lines()).enumerate() {
        let Some(rest) = old.strip_prefix(token) else {
            assert_eq!(got, old, "line {}", n + 1);
            continue;
        };
        // X'key',X'value': whole, X'key',X'00value' (`StoredToken::Full`),
        // or by reference to its license, X'key',X'01...' (`Placed`); the
        // tokens table's rows below say each reads back as it did.
        let (key, value) = rest.split_once(",X'").expect("key, value");
        if got == format!("{token}{key},X'00{value}") {
            whole += 1;
        } else {
            assert!(got.starts_with(&format!("{token}{key},X'01")), "line {}: {got}", n + 1);
            placed += 1;
        }
    }
    assert_eq!(dump.lines().count(), want.lines().count(), "the same rows");
    // Each of format4.sql's tokens holds its license's fields (none is a clone's or
    // outlived its license).
    assert_eq!((whole, placed), (0, 4), "every token seen, each placed");

    // Writes: a valid CAL presented, a new device on the second server, a
    // user CAL, through the stored keys (names in another case).
    let script = "CONNECT PC1 AS alice TO RDSH1; CREATE DEVICE pc6; CONNECT pc6 AS frank TO rdsh3; \
                  CONNECT pc3 AS CAROL TO rdsh2; CHECK;";
    let (code, out, err) = caldb(&[new_s, script]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("accepted,valid,pc1,alice,rdsh1,ls1,6,"), "{out}");
    assert!(lines[1].starts_with("accepted,temporary-issued,pc6,frank,rdsh3,ls2,3,"), "{out}");
    assert!(lines[2].starts_with("accepted,per-user,pc3,CAROL,RDSH2,"), "{out}");
    // pc6's new token is stored by reference (`StoredToken::Placed`, 01).
    let (code, dump, err) = caldb(&["-readonly", new_s, ".dump"]);
    assert_eq!(code, 0, "{err}");
    let pc6 = dump.lines().find(|l| l.starts_with(&format!("{token}X'50433600"))).expect("pc6's token");
    assert!(pc6.contains(",X'01"), "{pc6}");
    let _ = std::fs::remove_dir_all(&c.dir);
}

/// Ctrl-C (here from the progress callback, after the first table is
/// copied, so the moment is certain) stops the carry-over: the new file,
/// half written, is removed, and the old one is as it was.
#[test]
fn an_interrupted_carry_over_leaves_no_new_file_and_the_old_one_as_it_was() {
    let dir = bin::scratch_dir("upgrade4-interrupt");
    let (old, new) = (dir.join("old.redb"), dir.join("new.redb"));
    std::fs::copy(data("format4.redb"), &old).expect("copy the format-4 file");
    let original = std::fs::read(&old).expect("read");
    let handle = caldb::InterruptHandle::default();
    let stop = handle.clone();
    let progress: caldb::ProgressFn = Box::new(move |_| stop.interrupt());
    let out = caldb::upgrade_watched(&old, &new, &handle, Some(progress));
    assert!(matches!(out, Err(caldb::Error::Interrupted { .. })), "{out:?}");
    assert!(!new.exists(), "a half copy is left behind");
    assert!(std::fs::read(&old).expect("read") == original, "the old file was changed");
    let _ = std::fs::remove_dir_all(&dir);
}
