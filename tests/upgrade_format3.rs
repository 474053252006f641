//! Format 4 folds the names in keys (issue 16 item 3): a file of format 3,
//! written by the format-3 caldb (`tests/data/format3-names.redb` from
//! `format3-names.sql`, its `.dump` beside it), is refused untouched with the way
//! over, and `caldb -upgrade` carries every row across with its spelling,
//! its keys now folded, so a name in any case finds it. A format-3 file
//! holding names that fold together (`format3_case_clash.redb`: devices
//! `pc1`, `PC1`, `Pc1`, `pc2`, `Pc2`) is refused, naming them, and no new
//! file is left.

#[path = "support/bin.rs"]
mod bin;
use bin::{caldb, data, scratch_dir};
#[path = "support/carry.rs"]
mod carry;
#[path = "support/dumps.rs"]
mod dumps;

#[test]
fn a_format_3_file_is_carried_over_with_its_spellings_and_its_names_found_in_any_case() {
    let c = carry::refused_then_carried("upgrade3", "format3-names.redb", 3);
    assert!(c.out.contains("devices: 3 entries"), "{}", c.out);
    let new_s = c.new_s();
    let (code, dump, err) = caldb(&["-readonly", new_s, ".dump"]);
    assert_eq!(code, 0, "{err}");
    let want = std::fs::read_to_string(data("format3-names.dump")).expect("the format-3 dump");
    // The one format 4 numbers key packs and licenses per server too
    // (each server's counters start where the one counter stood) and adds
    // keypacks.inferred, false for every old pack.
    assert_eq!(dump.lines().next(), Some(dumps::counters_now(&want).as_str()), "the clock, seed and counters");
    let mut want_rows = dumps::sorted_rows(&want);
    for row in want_rows.iter_mut().filter(|r| r.starts_with("INSERT INTO keypacks ")) {
        *row = format!("{},FALSE);", row.trim_end_matches(");"));
    }
    want_rows.sort();
    assert_eq!(dumps::sorted_rows(&dump), want_rows, "every row as the format-3 caldb dumped it");

    // The keys are folded: every kind of name is found in another case,
    // and the spelling shown is the stored one.
    let queries = [
        ("SELECT name FROM devices WHERE name = 'müller-pc';", "name\nMüller-PC\n"),
        ("SELECT name, scope FROM servers WHERE name = 'LS1';", "name,scope\nLs1,Contoso\n"),
        ("SELECT slot, license FROM tokens WHERE device = 'PC2';", "slot,license\n0,2\n"),
        ("SELECT user FROM user_cals WHERE server = 'ls1' AND user = 'CAROL';", "user\nCarol\n"),
        ("SELECT id FROM licenses WHERE computer = 'pc1';", "id\n1\n2\n"),
        ("SELECT name FROM hosts WHERE name IN ('rdsh1', 'RDSH2');", "name\nRDSH1\nrdsh2\n"),
    ];
    for (query, expected) in queries {
        let (code, out, err) = caldb(&["-readonly", "-header", new_s, query]);
        assert_eq!((code, out.as_str()), (0, expected), "{query}: {err}");
    }
    // A write through a folded key: the live session of 'alice' on 'rdsh1'
    // (stored as Alice, RDSH1, disconnected) is reconnected, not doubled.
    let (code, out, err) = caldb(&[new_s, "CONNECT pc1 AS alice TO rdsh1;", "SELECT COUNT(*) FROM sessions;"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("accepted,valid,PC1,alice,RDSH1,Ls1,2,") && out.ends_with("\n3\n"), "{out}");
    let (code, out, _) = caldb(&["-readonly", new_s, "CHECK;"]);
    assert_eq!(code, 0, "{out}");
    let _ = std::fs::remove_dir_all(&c.dir);
}

#[test]
fn a_format_3_file_whose_names_fold_together_is_refused_naming_them_and_left_alone() {
    let dir = scratch_dir("upgrade3-clash");
    let old = dir.join("old.redb");
    std::fs::copy(data("format3_case_clash.redb"), &old).expect("copy the format-3 file");
    let original = std::fs::read(&old).expect("read");
    let new = dir.join("new.redb");
    let (code, out, err) = caldb(&["-upgrade", old.to_str().expect("UTF-8"), new.to_str().expect("UTF-8")]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains(
            "table devices holds names that differ only in case, which are one name from format 4 on: \
             'PC1' and 'Pc1' and 'pc1'; 'Pc2' and 'pc2'; the old file is unchanged"
        ),
        "{err}"
    );
    assert!(!new.exists(), "a half copy is left behind");
    assert!(std::fs::read(&old).expect("read") == original, "the old file was changed");
    let _ = std::fs::remove_dir_all(&dir);
}
