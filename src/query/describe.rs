//! What a statement's result means to a person reading it, from the
//! statement's text: the sentence an empty result stands for, and whether
//! the result is a report whose rows are best read one block each. The
//! shell asks these at a terminal; they are the language's knowledge, so
//! they live beside it, not in the shell.

use super::ast::Statement;
use super::parse_statement;

/// What an empty result of the statement `text` says: `CHECK: no problems
/// found`, `no duplicates found`, ... or `(no rows)`.
pub fn empty_result(text: &str) -> String {
    match parse_statement(text) {
        Ok(Statement::Check) => "CHECK: no problems found".into(),
        Ok(Statement::Repair) => "REPAIR: nothing to repair".into(),
        Ok(Statement::ReportDuplicates) => "no duplicates found".into(),
        Ok(Statement::ReportExpiring { .. }) => "no CALs come back in that time".into(),
        Ok(Statement::RevokeLicenses { .. }) => "0 licenses revoked: none matches".into(),
        Ok(Statement::ShowDevice { name }) => format!("device '{name}' holds no tokens"),
        _ => "(no rows)".into(),
    }
}

/// Whether the statement `text` is a report with many columns (REPORT
/// DUPLICATES, USAGE, USERS, CHECK), read best one row per block when it
/// does not fit the terminal.
pub fn is_wide_report(text: &str) -> bool {
    matches!(
        parse_statement(text),
        Ok(Statement::ReportDuplicates | Statement::ReportUsage | Statement::ReportUsers | Statement::Check)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_results_say_what_they_mean() {
        assert_eq!(empty_result("CHECK"), "CHECK: no problems found");
        assert_eq!(empty_result("SHOW DEVICE pc1"), "device 'pc1' holds no tokens");
        assert_eq!(empty_result("SELECT * FROM servers"), "(no rows)");
        assert!(is_wide_report("REPORT USAGE") && !is_wide_report("SELECT 1 FROM servers"));
    }
}
