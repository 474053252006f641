//! The times Windows writers put in a file: WMI DATETIME (`Get-WmiObject`:
//! `yyyymmddHHMMSS.ffffff+UUU`, any offset, `+***` for an unknown one),
//! ISO 8601 (with or without an offset), LDAP GeneralizedTime
//! (`20260315093000.0Z`, ldifde), and culture text (`Get-CimInstance` and
//! `Get-ADUser` objects, which `Export-Csv` writes in the exporting user's
//! culture and local time: `1/15/2026 9:15:00 AM`, `15.01.2026 09:15:00`,
//! `2026/01/15 9:15:00`). The culture table below is caldb's own: the
//! short date order and the AM/PM words of the cultures an administrator
//! is likely to have. Without `CULTURE`, a day/month order is taken from
//! the first value that shows it (a day past 12, or `.` separators); a
//! value that could be either before that is an error listing both
//! readings. A time without an offset is in the statement's `TIMEZONE`
//! (chrono-tz's IANA database), else UTC, and the notes say so.

use super::Notes;
use crate::error::{Error, Result};
use crate::model::{TIME_MAX, TIME_MIN, Time};
use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use std::cell::Cell;

/// The order of a short date's numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Mdy,
    Dmy,
    Ymd,
}

/// A culture's short date: its name and order.
#[derive(Debug, PartialEq, Eq)]
pub struct Culture {
    pub name: &'static str,
    pub order: Order,
}

/// The cultures `CULTURE` names (their short date patterns, as Windows
/// ships them: en-US `M/d/yyyy h:mm:ss tt`, de-DE `dd.MM.yyyy HH:mm:ss`,
/// ja-JP `yyyy/MM/dd H:mm:ss` ...).
pub const CULTURES: &[Culture] = &[
    Culture { name: "en-US", order: Order::Mdy },
    Culture { name: "en-PH", order: Order::Mdy },
    Culture { name: "en-GB", order: Order::Dmy },
    Culture { name: "en-AU", order: Order::Dmy },
    Culture { name: "en-NZ", order: Order::Dmy },
    Culture { name: "en-IE", order: Order::Dmy },
    Culture { name: "en-IN", order: Order::Dmy },
    Culture { name: "en-ZA", order: Order::Ymd },
    Culture { name: "en-CA", order: Order::Ymd },
    Culture { name: "de-DE", order: Order::Dmy },
    Culture { name: "de-AT", order: Order::Dmy },
    Culture { name: "de-CH", order: Order::Dmy },
    Culture { name: "fr-FR", order: Order::Dmy },
    Culture { name: "fr-BE", order: Order::Dmy },
    Culture { name: "fr-CH", order: Order::Dmy },
    Culture { name: "fr-CA", order: Order::Ymd },
    Culture { name: "es-ES", order: Order::Dmy },
    Culture { name: "es-MX", order: Order::Dmy },
    Culture { name: "it-IT", order: Order::Dmy },
    Culture { name: "pt-BR", order: Order::Dmy },
    Culture { name: "pt-PT", order: Order::Dmy },
    Culture { name: "nl-NL", order: Order::Dmy },
    Culture { name: "nl-BE", order: Order::Dmy },
    Culture { name: "da-DK", order: Order::Dmy },
    Culture { name: "nb-NO", order: Order::Dmy },
    Culture { name: "fi-FI", order: Order::Dmy },
    Culture { name: "pl-PL", order: Order::Dmy },
    Culture { name: "cs-CZ", order: Order::Dmy },
    Culture { name: "ru-RU", order: Order::Dmy },
    Culture { name: "tr-TR", order: Order::Dmy },
    Culture { name: "sv-SE", order: Order::Ymd },
    Culture { name: "hu-HU", order: Order::Ymd },
    Culture { name: "lt-LT", order: Order::Ymd },
    Culture { name: "ja-JP", order: Order::Ymd },
    Culture { name: "zh-CN", order: Order::Ymd },
    Culture { name: "zh-TW", order: Order::Ymd },
    Culture { name: "ko-KR", order: Order::Ymd },
];

/// The words for the afternoon and the morning in 12-hour cultures.
const PM_WORDS: [&str; 6] = ["PM", "P.M.", "午後", "下午", "오후", "NACHM."];
const AM_WORDS: [&str; 6] = ["AM", "A.M.", "午前", "上午", "오전", "VORM."];

/// A `CULTURE` name, in any case.
pub fn culture(name: &str) -> Result<&'static Culture> {
    CULTURES.iter().find(|c| c.name.eq_ignore_ascii_case(name.trim())).ok_or_else(|| {
        let known = CULTURES.iter().map(|c| c.name).collect::<Vec<_>>().join(", ");
        Error::plan_near(format!("'{name}' is not a culture caldb knows ({known})"), name)
    })
}

/// How one file's times are read: its options, and the day/month order
/// its values have shown so far.
pub struct Dates {
    culture: Option<&'static Culture>,
    zone: Option<chrono_tz::Tz>,
    /// The order a value showed, with the value, when no culture was named.
    seen: Cell<Option<(Order, u64)>>,
}

impl Dates {
    pub fn new(culture: Option<&'static Culture>, zone: Option<chrono_tz::Tz>) -> Dates {
        Dates { culture, zone, seen: Cell::new(None) }
    }

    /// The instant `text` names; `line` is where it stands (for the order
    /// it may settle). The error is the reason, without the position.
    pub fn parse(&self, text: &str, line: u64, notes: &Notes) -> std::result::Result<Time, String> {
        let text = text.trim();
        if text.len() == 25 && text.is_ascii() && text.as_bytes()[14] == b'.' {
            return self.wmi(text, notes);
        }
        if let Some(t) = generalized(text).or_else(|| offset_iso(text)) {
            return in_range(t);
        }
        let local = self.culture_text(text, line)?;
        self.local(local, notes)
    }

    /// A local time in the statement's zone, else UTC (noted).
    fn local(&self, t: NaiveDateTime, notes: &Notes) -> std::result::Result<Time, String> {
        let Some(zone) = self.zone else {
            notes.add("times without an offset read as UTC (no TIMEZONE)");
            return in_range(Time(t.and_utc().timestamp()));
        };
        match zone.from_local_datetime(&t) {
            chrono::LocalResult::Single(t) => in_range(Time(t.timestamp())),
            chrono::LocalResult::Ambiguous(first, _) => {
                notes.add(format!("times in the hour {zone} repeats read as the first"));
                in_range(Time(first.timestamp()))
            }
            chrono::LocalResult::None => Err(format!("is a time that does not exist in {zone} (the clocks moved forward)")),
        }
    }

    fn wmi(&self, text: &str, notes: &Notes) -> std::result::Result<Time, String> {
        let (local, rest) = text.split_at(14);
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let (fraction, offset) = (&rest[1..7], &rest[8..]);
        if local.contains('*') {
            return Err("is a WMI DATETIME with unset fields, not a point in time".to_string());
        }
        let t = NaiveDateTime::parse_from_str(local, "%Y%m%d%H%M%S");
        let t = t.ok().filter(|_| digits(local) && (digits(fraction) || fraction == "******"));
        let t = t.ok_or_else(|| "is not a WMI DATETIME (yyyymmddHHMMSS.ffffff+UUU)".to_string())?;
        if offset == "***" {
            return self.local(t, notes);
        }
        let sign = match rest.as_bytes()[7] {
            b'+' => 1,
            b'-' => -1,
            _ => return Err("is not a WMI DATETIME: its offset has no sign".to_string()),
        };
        let minutes: i64 = offset.parse().ok().filter(|_| digits(offset)).ok_or("is not a WMI DATETIME offset")?;
        // The text is local time, `offset` minutes ahead of UTC.
        in_range(Time(t.and_utc().timestamp() - sign * minutes * 60))
    }

    /// Culture or ISO text without an offset: numbers in the date's order,
    /// then hours, minutes and seconds, with an AM/PM word anywhere.
    fn culture_text(&self, text: &str, line: u64) -> std::result::Result<NaiveDateTime, String> {
        let upper = text.to_uppercase();
        let pm = PM_WORDS.iter().any(|w| upper.contains(w));
        let am = AM_WORDS.iter().any(|w| upper.contains(w));
        let (nums, seps) = numbers(text);
        let not_a_time = || "is not a time".to_string();
        if !(nums.len() == 3 || (5..=7).contains(&nums.len())) || (nums.len() > 3 && !seps.contains(':')) {
            return Err(not_a_time());
        }
        let order = self.order(&nums, &seps, text, line)?;
        let (y, m, d) = match order {
            Order::Ymd => (nums[0].1, nums[1].1, nums[2].1),
            Order::Mdy => (nums[2].1, nums[0].1, nums[1].1),
            Order::Dmy => (nums[2].1, nums[1].1, nums[0].1),
        };
        let year_digits = if order == Order::Ymd { nums[0].0 } else { nums[2].0 };
        if year_digits != 4 {
            return Err("is not a time with a four-digit year".to_string());
        }
        let mut hour = nums.get(3).map_or(0, |n| n.1);
        if am || pm {
            if !(1..=12).contains(&hour) {
                return Err("is not a time: a 12-hour clock's hour is 1 to 12".to_string());
            }
            hour = hour % 12 + if pm { 12 } else { 0 };
        }
        let minute = nums.get(4).map_or(0, |n| n.1);
        let second = nums.get(5).map_or(0, |n| n.1);
        let date = NaiveDate::from_ymd_opt(y as i32, m, d).ok_or_else(not_a_time)?;
        date.and_hms_opt(hour, minute, second).ok_or_else(not_a_time)
    }

    /// The date's order: a four-digit first number is year first; else the
    /// culture's; else what this value or an earlier one shows.
    fn order(&self, nums: &[(usize, u32)], seps: &str, text: &str, line: u64) -> std::result::Result<Order, String> {
        if nums[0].0 == 4 {
            return Ok(Order::Ymd);
        }
        if let Some(c) = self.culture {
            return match c.order {
                Order::Ymd => Err(format!("is not a {} date (year first)", c.name)),
                order => Ok(order),
            };
        }
        let (a, b) = (nums[0].1, nums[1].1);
        let shown = if seps.starts_with('.') || a > 12 {
            Some(Order::Dmy)
        } else if b > 12 {
            Some(Order::Mdy)
        } else {
            None
        };
        match (shown, self.seen.get()) {
            (Some(o), Some((seen, at))) if o != seen => Err(format!(
                "reads as {} but line {at} read as {}: name the culture, e.g. CULTURE 'en-US' or CULTURE 'en-GB'",
                order_name(o),
                order_name(seen)
            )),
            (Some(o), None) => {
                self.seen.set(Some((o, line)));
                Ok(o)
            }
            (Some(o), Some(_)) => Ok(o),
            (None, Some((seen, _))) => Ok(seen),
            (None, None) if a == b => Ok(Order::Dmy),
            (None, None) => Err(format!(
                "is ambiguous: {} (month/day, as en-US writes it) or {} (day/month, as en-GB, de-DE, fr-FR write it): \
                 name the culture the export was made in, e.g. CULTURE 'en-US' or CULTURE 'en-GB'",
                spelled(text, nums[2].1, a, b),
                spelled(text, nums[2].1, b, a)
            )),
        }
    }
}

fn order_name(o: Order) -> &'static str {
    match o {
        Order::Mdy => "month/day",
        Order::Dmy => "day/month",
        Order::Ymd => "year/month/day",
    }
}

/// `2026-03-04` for a reading of an ambiguous date.
fn spelled(_text: &str, y: u32, m: u32, d: u32) -> String {
    format!("{y:04}-{m:02}-{d:02}")
}

/// The runs of digits (with their lengths) and the first separator after
/// each but the last.
fn numbers(text: &str) -> (Vec<(usize, u32)>, String) {
    let mut nums = Vec::new();
    let mut seps = String::new();
    let mut run = String::new();
    let mut sep_taken = true;
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        if !run.is_empty() {
            nums.push((run.len(), run.parse().unwrap_or(u32::MAX)));
            run.clear();
            sep_taken = false;
        }
        if !sep_taken && !c.is_whitespace() {
            seps.push(c);
            sep_taken = true;
        } else if !sep_taken && c.is_whitespace() && nums.len() == 3 {
            seps.push(' ');
            sep_taken = true;
        }
    }
    (nums, seps)
}

/// LDAP GeneralizedTime, as ldifde writes `msTSExpireDate`: `20260315093000.0Z`.
fn generalized(text: &str) -> Option<Time> {
    let body = text.strip_suffix('Z')?;
    let (main, _fraction) = body.split_once('.').unwrap_or((body, ""));
    if main.len() != 14 || !main.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = NaiveDateTime::parse_from_str(main, "%Y%m%d%H%M%S").ok()?;
    Some(Time(t.and_utc().timestamp()))
}

/// ISO 8601 with an offset or `Z` (`2026-01-15T09:15:00+01:00`).
fn offset_iso(text: &str) -> Option<Time> {
    let t = chrono::DateTime::parse_from_rfc3339(text)
        .or_else(|_| chrono::DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%:z"))
        .ok()?;
    Some(Time(t.timestamp()))
}

fn in_range(t: Time) -> std::result::Result<Time, String> {
    if (TIME_MIN..=TIME_MAX).contains(&t) { Ok(t) } else { Err("is outside the times caldb keeps".to_string()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Time {
        Time::parse(text).expect("a time")
    }

    fn read(d: &Dates, text: &str) -> std::result::Result<Time, String> {
        d.parse(text, 1, &Notes::default())
    }

    #[test]
    fn every_writers_form_of_one_instant_reads_the_same() {
        let t = at("2026-01-15 09:15:00");
        for text in [
            "20260115091500.000000+000",
            "20260115101500.000000+060",
            "20260115041500.000000-300",
            "20260115091500.000000+***",
            "2026-01-15T09:15:00Z",
            "2026-01-15T10:15:00+01:00",
            "2026-01-15 09:15:00",
            "20260115091500.0Z",
            "1/15/2026 9:15:00 AM",
            "15.01.2026 09:15:00",
            "2026/01/15 9:15:00",
            "2026-01-15 오전 9:15:00",
        ] {
            // One file holds one writer's form: each read as a file of its own.
            assert_eq!(read(&Dates::new(None, None), text), Ok(t), "{text}");
        }
        let utc = Dates::new(None, None);
        assert_eq!(read(&utc, "1/15/2026 9:15:00 PM"), Ok(at("2026-01-15 21:15:00")));
        assert_eq!(read(&utc, "1/15/2026 12:05:00 AM"), Ok(at("2026-01-15 00:05:00")));
    }

    #[test]
    fn a_culture_and_a_time_zone_place_local_text() {
        let berlin = Dates::new(Some(culture("de-DE").expect("known")), Some(chrono_tz::Europe::Berlin));
        assert_eq!(read(&berlin, "03.04.2026 10:00:00"), Ok(at("2026-04-03 08:00:00")));
        assert_eq!(read(&berlin, "15.01.2026 10:00:00"), Ok(at("2026-01-15 09:00:00")));
        assert_eq!(read(&berlin, "20260115091500.000000+***"), Ok(at("2026-01-15 08:15:00")));
        assert!(read(&berlin, "29.03.2026 02:30:00").expect_err("a gap").contains("does not exist"));
        let us = Dates::new(Some(culture("EN-us").expect("known")), None);
        assert_eq!(read(&us, "03/04/2026 10:00:00 AM"), Ok(at("2026-03-04 10:00:00")));
        let gb = Dates::new(Some(culture("en-GB").expect("known")), None);
        assert_eq!(read(&gb, "03/04/2026 10:00:00"), Ok(at("2026-04-03 10:00:00")));
    }

    #[test]
    fn an_ambiguous_date_is_an_error_until_the_file_shows_its_order() {
        let d = Dates::new(None, None);
        let e = read(&d, "03/04/2026 10:00:00").expect_err("ambiguous");
        assert!(e.contains("2026-03-04") && e.contains("2026-04-03") && e.contains("CULTURE"), "{e}");
        assert_eq!(d.parse("13/04/2026 10:00:00", 7, &Notes::default()), Ok(at("2026-04-13 10:00:00")));
        assert_eq!(read(&d, "03/04/2026 10:00:00"), Ok(at("2026-04-03 10:00:00")));
        let e = read(&d, "04/13/2026 10:00:00").expect_err("contradicts");
        assert!(e.contains("line 7"), "{e}");
    }

    #[test]
    fn malformed_times_are_refused() {
        let d = Dates::new(None, None);
        for text in [
            "",
            "soon",
            "20261301093012.000000+000",
            "2026030109301x.000000+000",
            "19980416******.000000+***",
            "1/15/26 9:15:00 AM",
            "13/15/2026 9:15:00",
            "1/15/2026 13:15:00 PM",
            "1/15/2026 9 AM",
        ] {
            assert!(read(&d, text).is_err(), "{text}");
        }
    }
}
