//! Names as Windows compares them, where a statement names a server, host
//! or device: "already exists" naming the spelling that is stored, and "no
//! such name" with the nearest stored name (`did you mean`). The stored
//! keys are folded (`store::keys::name`), so a lookup in any case finds
//! the record; this module only words the errors. It reads, never writes.

use crate::error::Error;
use crate::model::same_name;
use crate::store::{DeviceRec, HostRec, Reader, ServerRec, T, codec, keys};

/// A table of named records holds at most this many entries for all of
/// them to be weighed as "did you mean" candidates; a larger one offers
/// the names stored near the misspelt one (the same first letters).
const WEIGH_ALL: u64 = 4096;
/// How many names near the misspelt one a large table offers.
const NEARBY: usize = 256;

/// `what` ("server", "host", "device") named `name` exists already, as
/// `stored`: the error names the stored spelling when it differs.
pub fn already_exists(what: &str, name: &str, stored: &str) -> Error {
    if stored == name {
        Error::plan_near(format!("{what} '{name}' already exists"), name)
    } else {
        Error::plan_near(
            format!("{what} '{name}' already exists as '{stored}' (names compare without regard to case)"),
            name,
        )
    }
}

/// No `what` is named `name`: the error, with the closest stored name if
/// one is a likely slip (`SHOW HOST rdhs3` -> did you mean 'rdsh3'?).
pub fn no_such_in(r: &(impl Reader + ?Sized), what: &str, name: &str) -> Error {
    let table = match what {
        "server" => Some(T::Servers),
        "host" => Some(T::Hosts),
        "device" => Some(T::Devices),
        _ => None,
    };
    let names = table.and_then(|t| candidates(r, t, name).ok()).unwrap_or_default();
    let hint = closest(name, &names).map_or(String::new(), |c| format!(" (did you mean '{c}'?)"));
    Error::plan_near(format!("no {what} named '{name}'{hint}"), name)
}

/// The stored names worth weighing for `name`: all of a small table's, or
/// a large one's from where `name` without its last two characters would
/// stand in key order.
fn candidates(r: &(impl Reader + ?Sized), t: T, name: &str) -> crate::error::Result<Vec<String>> {
    let (from, limit) = if r.count(t)? <= WEIGH_ALL {
        (Vec::new(), usize::MAX)
    } else {
        let stem: String = name.chars().take(name.chars().count().saturating_sub(2)).collect();
        (keys::name(&stem).into_owned(), NEARBY)
    };
    let mut out = Vec::new();
    r.scan(t, &from, None, &mut |_, v| {
        out.push(match t {
            T::Servers => codec::decode::<ServerRec>(v)?.name,
            T::Hosts => codec::decode::<HostRec>(v)?.name,
            _ => codec::decode::<DeviceRec>(v)?.name,
        });
        Ok(out.len() < limit)
    })?;
    Ok(out)
}

/// The candidate closest to `name` compared as names, at most two edits
/// away and closer than half its length; not one that is `name` itself.
fn closest<'a>(name: &str, candidates: &'a [String]) -> Option<&'a str> {
    let folded = crate::model::fold_name(name);
    let limit = 2.min(folded.chars().count().div_ceil(2));
    candidates
        .iter()
        .filter(|c| !same_name(c, name))
        .map(|c| (strsim::damerau_levenshtein(&folded, &crate::model::fold_name(c)), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_str())
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn a_misspelt_name_finds_the_stored_spelling_in_any_case() {
        let stored = ["rdsh3".to_string(), "RDSH10".to_string(), "ls1".to_string()];
        assert_eq!(closest("rdhs3", &stored), Some("rdsh3"));
        assert_eq!(closest("RDHS3", &stored), Some("rdsh3"));
        assert_eq!(closest("zzzzzz", &stored), None);
    }
}
