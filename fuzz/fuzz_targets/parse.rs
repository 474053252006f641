//! Any text through the parser: splitting, completeness and parsing never
//! panic, and what parses prints back to text that parses the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = caldb::query::is_complete(text);
    for piece in caldb::query::split_statements(text) {
        let _ = piece;
    }
    if let Ok(stmt) = caldb::query::parse_statement(text) {
        let printed = stmt.to_string();
        let again = caldb::query::parse_statement(&printed)
            .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which does not parse: {e}"));
        assert_eq!(again, stmt, "{text:?} printed as {printed:?} parses differently");
    }
});
