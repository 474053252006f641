//! The users file: `user:password`, one a line, read once at start-up. A
//! bad line is an error naming the file, the line and why; blank lines and
//! lines starting with `#` are skipped. User names match in any case (as
//! Windows accounts do), passwords exactly. It only answers whether a
//! password is right; it never logs one.

use std::collections::HashMap;
use std::path::Path;

/// The largest users file read: it is a test bed's list, not a directory.
const MAX_BYTES: u64 = 1 << 20;

/// The users and their passwords.
#[derive(Debug)]
pub struct Users {
    passwords: HashMap<String, String>,
}

impl Users {
    /// Reads and checks the users file.
    pub fn load(path: &Path) -> Result<Users, String> {
        let shown = path.display();
        let size = std::fs::metadata(path).map_err(|e| format!("users file '{shown}': {e}"))?.len();
        if size > MAX_BYTES {
            return Err(format!("users file '{shown}': {size} bytes, more than the {MAX_BYTES} a users file may hold"));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("users file '{shown}': {e}"))?;
        Users::parse(&text).map_err(|e| format!("users file '{shown}' {e}"))
    }

    /// Parses the text of a users file; an error starts with `line N:`.
    pub fn parse(text: &str) -> Result<Users, String> {
        let mut passwords = HashMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let number = index + 1;
            let Some((user, password)) = line.split_once(':') else {
                return Err(format!("line {number}: '{}' is not user:password", clip(line)));
            };
            let user = user.trim();
            if user.is_empty() || user.chars().any(char::is_control) {
                return Err(format!("line {number}: '{}' has no user name before ':'", clip(line)));
            }
            if passwords.insert(user.to_lowercase(), password.to_string()).is_some() {
                return Err(format!("line {number}: user '{user}' is listed twice"));
            }
        }
        Ok(Users { passwords })
    }

    /// Whether `password` is `user`'s; an unknown user is refused too.
    pub fn accepts(&self, user: &str, password: &str) -> bool {
        self.passwords.get(&user.to_lowercase()).is_some_and(|known| known == password)
    }

    /// How many users the file lists.
    pub fn len(&self) -> usize {
        self.passwords.len()
    }
}

/// A line as quoted in an error: its start, and never a password in full
/// (the line is bad, so where the password starts is unknown).
fn clip(line: &str) -> String {
    let shown: String = line.chars().take(40).collect();
    if shown.len() < line.len() { format!("{shown}...") } else { shown }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_matches_in_any_case_and_a_password_exactly() {
        let users = Users::parse("# test users\nalice:secret\n\nBob:pa:ss\r\n").expect("parsed");
        assert_eq!(users.len(), 2);
        assert!(users.accepts("ALICE", "secret"));
        assert!(users.accepts("bob", "pa:ss"));
        assert!(!users.accepts("alice", "Secret"));
        assert!(!users.accepts("carol", ""));
    }

    #[test]
    fn a_line_without_a_colon_is_an_error_naming_the_line() {
        let error = Users::parse("alice:secret\nbob secret\n").expect_err("accepted");
        assert_eq!(error, "line 2: 'bob secret' is not user:password");
    }

    #[test]
    fn an_empty_user_name_or_a_user_listed_twice_is_an_error() {
        assert_eq!(Users::parse(":secret").expect_err("empty user"), "line 1: ':secret' has no user name before ':'");
        let error = Users::parse("alice:a\nALICE:b").expect_err("twice");
        assert_eq!(error, "line 2: user 'ALICE' is listed twice");
    }
}
