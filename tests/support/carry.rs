//! An older-format fixture refused untouched, then carried over: what
//! every upgrade test starts with.

use crate::bin::{caldb, data, scratch_dir};
use std::path::PathBuf;

/// A fixture carried over into a scratch directory.
pub struct Carried {
    pub dir: PathBuf,
    pub old: PathBuf,
    pub new: PathBuf,
    /// What `caldb -upgrade` printed: each table's entries, then CHECK's word.
    pub out: String,
    /// The old file's bytes, which must never change.
    pub original: Vec<u8>,
}

impl Carried {
    pub fn old_s(&self) -> &str {
        self.old.to_str().expect("UTF-8")
    }

    pub fn new_s(&self) -> &str {
        self.new.to_str().expect("UTF-8")
    }

    /// Asserts the old file is as it was.
    pub fn old_untouched(&self) {
        assert!(std::fs::read(&self.old).expect("read") == self.original, "the old file was changed");
    }
}

/// Copies `tests/data/FIXTURE` (a file of format `version`) into the
/// scratch directory `scratch`; a statement on it is refused with the way
/// over and not a byte changed; `caldb -upgrade` carries it over, CHECK
/// clean, and the old file is left as it was.
pub fn refused_then_carried(scratch: &str, fixture: &str, version: u32) -> Carried {
    let dir = scratch_dir(scratch);
    let (old, new) = (dir.join("old.redb"), dir.join("new.redb"));
    std::fs::copy(data(fixture), &old).expect("copy the fixture");
    let original = std::fs::read(&old).expect("read");
    let mut c = Carried { dir, old, new, out: String::new(), original };

    let (code, _, err) = caldb(&[c.old_s(), "SELECT COUNT(*) FROM licenses;"]);
    assert_eq!(code, 2, "{err}");
    let refusal = format!(
        "caldb format version {version}, this caldb reads version {} (carry it over, whole, with: caldb -upgrade",
        caldb::store::FORMAT_VERSION
    );
    assert!(err.contains(&refusal), "{err}");
    c.old_untouched();

    let (code, out, err) = caldb(&["-upgrade", c.old_s(), c.new_s()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.ends_with("CHECK finds no problem in it\n"), "{out}");
    c.old_untouched();
    c.out = out;
    c
}
