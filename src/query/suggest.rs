//! "Did you mean": the closest of the words a place takes to a word that
//! is none of them (a misspelt keyword, table or column), when one is
//! close enough to be a likely slip.

/// The candidate closest to `word` (ignoring case), if it is at most two
/// edits away and closer than half the word's length.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = 2.min(word.chars().count().div_ceil(2));
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&word, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d > 0 && *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `" (did you mean X?)"`, or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates).map_or(String::new(), |c| format!(" (did you mean {c}?)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slip_finds_its_word_and_a_stranger_finds_none() {
        assert_eq!(closest("SELEC", ["SELECT", "SHOW"]), Some("SELECT"));
        assert_eq!(closest("stauts", ["status", "state"]), Some("status"));
        assert_eq!(closest("licences", ["licenses", "keypacks"]), Some("licenses"));
        assert_eq!(closest("xyz", ["status", "state"]), None);
        assert_eq!(closest("status", ["status"]), None, "an exact word needs no suggestion");
    }
}
