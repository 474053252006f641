//! The groups of a GROUP BY held compactly, in a hash table: a group's key
//! is encoded once as bytes (`encode`: ordered as `Value`s are, names
//! folded) in one arena shared by every group, its aggregates' states are
//! a few integers in one flat vector, the values MIN and MAX keep are
//! interned once, and the values a DISTINCT aggregate has seen are the
//! pairs (group, value) of a second hash table over a second arena. A
//! million groups of one license thus cost a few dozen bytes each and no
//! allocation of their own; `Groups` (`query::group`) spills them to its
//! sorted runs when they pass their budget.

use super::Acc;
use crate::error::{Error, Result};
use crate::model::{Time, Value, fold_char};
use crate::query::ast::Aggregate;
use crate::query::plan::AggSpec;
use hashbrown::{DefaultHashBuilder, HashTable};
use std::cmp::Ordering;
use std::hash::BuildHasher;

/// The groups so far: keys, states, interned values and DISTINCT pairs.
pub struct Table {
    hasher: DefaultHashBuilder,
    /// Every group's key, one after another: its ordered bytes, then the
    /// spellings of its names.
    arena: Vec<u8>,
    /// Where each group's key starts in `arena` (it ends where the next
    /// one starts).
    starts: Vec<u32>,
    /// The length of each group's ordered bytes.
    ordered: Vec<u32>,
    /// Group numbers by key, each with its key's hash (so that growing the
    /// table reads no key).
    index: HashTable<(u32, u32)>,
    /// `stride` integers a group: each aggregate's state (`width`).
    states: Vec<i64>,
    stride: usize,
    /// Where each aggregate's state starts within a group's.
    at: Vec<usize>,
    /// The values MIN and MAX hold, each once (by its exact spelling).
    values: Vec<Value>,
    interned: HashTable<u32>,
    values_bytes: usize,
    /// The (group, aggregate, value) seen by DISTINCT aggregates: a group
    /// number and the aggregate's (4 bytes each), the value's bytes.
    seen_arena: Vec<u8>,
    seen: HashTable<(u32, u32)>,
    /// Whether a key holds a text packed as hex (`encode`), whose bytes do
    /// not order as the texts do.
    packed: bool,
    /// Scratch: the key being looked up.
    key: Vec<u8>,
    spell: Vec<u8>,
}

/// The kinds of value a MIN or MAX state holds (0: none yet).
const INT: i64 = 1;
const TIME: i64 = 2;
const BOOL: i64 = 3;
const INTERNED: i64 = 4;

/// How many integers an aggregate's state takes: its value's, then for a
/// DISTINCT one where its first value is (`first_sight`).
fn width(spec: &AggSpec) -> usize {
    plain_width(spec) + usize::from(skips_repeats(spec))
}

fn plain_width(spec: &AggSpec) -> usize {
    match spec.func {
        Aggregate::Count => 1,
        Aggregate::Min | Aggregate::Max | Aggregate::Sum => 2,
        Aggregate::Avg => 3,
    }
}

/// Whether an aggregate skips a value it has seen in its group: DISTINCT,
/// but not MIN or MAX, whose answer repeats do not change.
pub fn skips_repeats(spec: &AggSpec) -> bool {
    spec.distinct && !matches!(spec.func, Aggregate::Min | Aggregate::Max)
}

impl Table {
    pub fn new(aggs: &[AggSpec]) -> Table {
        let mut at = Vec::with_capacity(aggs.len());
        let mut stride = 0;
        for a in aggs {
            at.push(stride);
            stride += width(a);
        }
        Table {
            hasher: DefaultHashBuilder::default(),
            arena: Vec::new(),
            starts: Vec::new(),
            ordered: Vec::new(),
            index: HashTable::new(),
            states: Vec::new(),
            stride,
            at,
            values: Vec::new(),
            interned: HashTable::new(),
            values_bytes: 0,
            seen_arena: Vec::new(),
            seen: HashTable::new(),
            packed: false,
            key: Vec::new(),
            spell: Vec::new(),
        }
    }

    /// How many groups it holds.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// About how many bytes it holds: its arenas and vectors as filled,
    /// its hash tables' buckets, the interned values.
    pub fn bytes(&self) -> usize {
        self.arena.len()
            + self.seen_arena.len()
            + 8 * self.starts.len()
            + 8 * self.states.len()
            + 9 * (self.index.capacity() + self.seen.capacity())
            + 5 * self.interned.capacity()
            + self.values_bytes
    }

    /// Starts the key of the next `group`.
    pub fn start_key(&mut self) {
        self.key.clear();
        self.spell.clear();
    }

    /// Adds a value to the key of the next `group`.
    pub fn key_part(&mut self, v: &Value) {
        self.packed |= encode(v, &mut self.key, &mut self.spell);
    }

    /// The group of the key given since `start_key` (made if new, its
    /// states empty).
    pub fn group(&mut self) -> u32 {
        let (hash, short) = spread(self.hasher.hash_one(&self.key[..]));
        let (arena, starts, key) = (&self.arena, &self.starts, &self.key);
        let found = self.index.find(hash, |&(g, h)| {
            let s = starts[g as usize] as usize;
            h == short && arena.get(s..s + key.len()) == Some(&key[..])
        });
        if let Some(&(g, _)) = found {
            return g;
        }
        let g = self.starts.len() as u32;
        self.starts.push(self.arena.len() as u32);
        self.ordered.push(self.key.len() as u32);
        self.arena.extend_from_slice(&self.key);
        self.arena.extend_from_slice(&self.spell);
        self.states.extend(std::iter::repeat_n(0, self.stride));
        self.index.insert_unique(hash, (g, short), |&(_, h)| widen(h));
        g
    }

    /// Adds one row's value of aggregate `a` to group `g` (`None` for
    /// COUNT(*)). NULLs are skipped; a DISTINCT aggregate adds a value
    /// only the first time its group sees it.
    pub fn add(&mut self, g: u32, a: usize, spec: &AggSpec, v: Option<&Value>) -> Result<()> {
        let at = g as usize * self.stride + self.at[a];
        let Some(v) = v else {
            self.states[at] += 1;
            return Ok(());
        };
        if *v == Value::Null || skips_repeats(spec) && !self.first_sight(g, a, at + plain_width(spec), v) {
            return Ok(());
        }
        let state = &mut self.states[at..at + width(spec)];
        match spec.func {
            Aggregate::Count => state[0] += 1,
            Aggregate::Sum => {
                if let Value::Int(i) = v {
                    state[1] = state[1].checked_add(*i).ok_or_else(|| Error::plan("integer overflow in SUM"))?;
                    state[0] = 1;
                }
            }
            Aggregate::Avg => {
                if let Value::Int(i) = v {
                    let sum = wide(state[0], state[1]) + i128::from(*i);
                    (state[0], state[1]) = halves(sum);
                    state[2] += 1;
                }
            }
            Aggregate::Min | Aggregate::Max => {
                let (kind, payload) = (state[0], state[1]);
                let better = match self.against_held(kind, payload, v) {
                    None => true,
                    Some(order) => order == if spec.func == Aggregate::Min { Ordering::Less } else { Ordering::Greater },
                };
                if better {
                    let (kind, payload) = match v {
                        Value::Int(i) => (INT, *i),
                        Value::Time(t) => (TIME, t.0),
                        Value::Bool(b) => (BOOL, i64::from(*b)),
                        _ => (INTERNED, i64::from(self.intern(v))),
                    };
                    self.states[at..at + 2].copy_from_slice(&[kind, payload]);
                }
            }
        }
        Ok(())
    }

    /// The value a MIN or MAX state holds: an integer, time or truth value
    /// in the state itself, any other an interned one.
    fn held(&self, state: &[i64]) -> Option<Value> {
        Some(match state[0] {
            INT => Value::Int(state[1]),
            TIME => Value::Time(Time(state[1])),
            BOOL => Value::Bool(state[1] != 0),
            INTERNED => self.values[state[1] as usize].clone(),
            _ => return None,
        })
    }

    /// How `v` compares with the value a MIN or MAX state holds (`None`
    /// when it holds none yet), without copying it.
    fn against_held(&self, kind: i64, payload: i64, v: &Value) -> Option<Ordering> {
        Some(match kind {
            INT => v.cmp(&Value::Int(payload)),
            TIME => v.cmp(&Value::Time(Time(payload))),
            BOOL => v.cmp(&Value::Bool(payload != 0)),
            INTERNED => v.cmp(&self.values[payload as usize]),
            _ => return None,
        })
    }

    /// Whether group `g`'s DISTINCT aggregate `a` sees `v` for the first
    /// time (noting it). Most groups see one value (a computer's one HWID):
    /// the state's slot `first` says where it is in `seen_arena` (plus 1;
    /// 0 for none yet), and only a group's second value puts its values in
    /// the hash table `seen` (the slot then negative).
    fn first_sight(&mut self, g: u32, a: usize, first: usize, v: &Value) -> bool {
        self.key.clear();
        self.key.extend_from_slice(&g.to_le_bytes());
        self.key.extend_from_slice(&(a as u32).to_le_bytes());
        self.spell.clear();
        encode(v, &mut self.key, &mut self.spell);
        let held = self.states[first];
        if held == 0 {
            self.states[first] = self.seen_arena.len() as i64 + 1;
            self.seen_arena.extend_from_slice(&self.key);
            return true;
        }
        if held > 0 {
            let start = held as usize - 1;
            if self.seen_arena.get(start..start + self.key.len()) == Some(&self.key[..]) {
                return false;
            }
            let (hash, short) = spread(self.hasher.hash_one(seen_entry(&self.seen_arena, start)));
            self.seen.insert_unique(hash, (start as u32, short), |&(_, h)| widen(h));
            self.states[first] = -held;
        }
        let (hash, short) = spread(self.hasher.hash_one(&self.key[..]));
        let (arena, key) = (&self.seen_arena, &self.key);
        let same = |&(s, h): &(u32, u32)| h == short && arena.get(s as usize..s as usize + key.len()) == Some(&key[..]);
        if self.seen.find(hash, same).is_some() {
            return false;
        }
        let start = self.seen_arena.len() as u32;
        self.seen_arena.extend_from_slice(&self.key);
        self.seen.insert_unique(hash, (start, short), |&(_, h)| widen(h));
        true
    }

    /// The number of `v` among the values MIN and MAX hold (added if new).
    fn intern(&mut self, v: &Value) -> u32 {
        let hash = self.hasher.hash_one(exact(v));
        let values = &self.values;
        if let Some(&id) = self.interned.find(hash, |&id| exact(&values[id as usize]) == exact(v)) {
            return id;
        }
        let id = self.values.len() as u32;
        self.values.push(v.clone());
        self.values_bytes += super::value_size(v) + 8;
        let (hasher, values) = (&self.hasher, &self.values);
        self.interned.insert_unique(hash, id, |&i| hasher.hash_one(exact(&values[i as usize])));
        id
    }

    /// Sorts these groups by their keys' bytes, when the bytes order as
    /// the keys do (no packed text); `false` when they do not.
    pub fn sort_by_bytes(&self, groups: &mut [u32]) -> bool {
        if !self.packed {
            groups.sort_unstable_by(|&a, &b| self.ordered_bytes(a).cmp(self.ordered_bytes(b)));
        }
        !self.packed
    }

    fn ordered_bytes(&self, g: u32) -> &[u8] {
        let s = self.starts[g as usize] as usize;
        &self.arena[s..s + self.ordered[g as usize] as usize]
    }

    /// Group `g`'s key as values, names as first spelt.
    pub fn key(&self, g: u32) -> Result<Vec<Value>> {
        let s = self.starts[g as usize] as usize;
        let end = self.starts.get(g as usize + 1).map_or(self.arena.len(), |&e| e as usize);
        let (ordered, mut spell) = self.arena[s..end].split_at(self.ordered[g as usize] as usize);
        let mut out = Vec::new();
        let mut rest = ordered;
        while !rest.is_empty() {
            let (v, tail) = decode(rest, &mut spell)?;
            out.push(v);
            rest = tail;
        }
        Ok(out)
    }

    /// Group `g`'s aggregates as the accumulators `Groups` merges (a
    /// DISTINCT one empty: its values go with `distinct_values`).
    pub fn accs(&self, g: u32, aggs: &[AggSpec]) -> Vec<Acc> {
        aggs.iter()
            .enumerate()
            .map(|(a, spec)| {
                if skips_repeats(spec) {
                    return Acc::new(spec);
                }
                self.plain_acc(g, a, spec)
            })
            .collect()
    }

    /// Group `g`'s aggregate `a`, fed as a plain one (DISTINCT ones fed
    /// each value once).
    fn plain_acc(&self, g: u32, a: usize, spec: &AggSpec) -> Acc {
        let at = g as usize * self.stride + self.at[a];
        let state = &self.states[at..at + width(spec)];
        let held = || self.held(state);
        match spec.func {
            Aggregate::Count => Acc::Count(state[0]),
            Aggregate::Sum => Acc::Sum((state[0] == 1).then_some(state[1])),
            Aggregate::Avg => Acc::Avg(wide(state[0], state[1]), state[2]),
            Aggregate::Min => Acc::Min(held()),
            Aggregate::Max => Acc::Max(held()),
        }
    }

    /// Appends group `g`'s aggregates' values to `row`.
    pub fn finish_into(&self, g: u32, aggs: &[AggSpec], row: &mut Vec<Value>) -> Result<()> {
        for (a, spec) in aggs.iter().enumerate() {
            row.push(self.plain_acc(g, a, spec).finish(spec.func)?);
        }
        Ok(())
    }

    /// Appends group `g`'s aggregates' values to `row`, those not
    /// `wanted` as NULL.
    pub fn finish_some(&self, g: u32, aggs: &[AggSpec], wanted: &[bool], row: &mut Vec<Value>) -> Result<()> {
        for (a, (spec, &want)) in aggs.iter().zip(wanted).enumerate() {
            row.push(if want { self.plain_acc(g, a, spec).finish(spec.func)? } else { Value::Null });
        }
        Ok(())
    }

    /// Adds the groups of `other` (built over other rows with the same
    /// aggregates) to these: each of its keys found or made here, its
    /// states merged, the values its DISTINCT aggregates saw added as
    /// rows' values are. A key made here keeps `other`'s first spelling.
    pub fn absorb(&mut self, other: &Table, aggs: &[AggSpec]) -> Result<()> {
        let mut mine = Vec::with_capacity(other.len());
        for g in 0..other.len() {
            let s = other.starts[g] as usize;
            let end = other.starts.get(g + 1).map_or(other.arena.len(), |&e| e as usize);
            let (ordered, spell) = other.arena[s..end].split_at(other.ordered[g] as usize);
            self.key.clear();
            self.key.extend_from_slice(ordered);
            self.spell.clear();
            self.spell.extend_from_slice(spell);
            let here = self.group();
            mine.push(here);
            let theirs = g * other.stride;
            for (a, spec) in aggs.iter().enumerate() {
                let state = &other.states[theirs + other.at[a]..theirs + other.at[a] + width(spec)];
                self.merge_state(here, a, spec, state, other)?;
            }
        }
        self.packed |= other.packed;
        for seen in other.distinct_values() {
            let (g, a, v) = seen?;
            let spec = &aggs[a as usize];
            self.add(mine[g as usize], a as usize, spec, Some(&v))?;
        }
        Ok(())
    }

    /// Merges into group `g`'s aggregate `a` another table's state of it
    /// (a DISTINCT one's values come with `distinct_values`).
    fn merge_state(&mut self, g: u32, a: usize, spec: &AggSpec, theirs: &[i64], other: &Table) -> Result<()> {
        if skips_repeats(spec) {
            return Ok(());
        }
        let at = g as usize * self.stride + self.at[a];
        let state = &mut self.states[at..at + width(spec)];
        match spec.func {
            Aggregate::Count => state[0] += theirs[0],
            Aggregate::Sum if theirs[0] == 1 => {
                state[1] = state[1].checked_add(theirs[1]).ok_or_else(|| Error::plan("integer overflow in SUM"))?;
                state[0] = 1;
            }
            Aggregate::Sum => {}
            Aggregate::Avg => {
                (state[0], state[1]) = halves(wide(state[0], state[1]) + wide(theirs[0], theirs[1]));
                state[2] += theirs[2];
            }
            Aggregate::Min | Aggregate::Max => match theirs[0] {
                INTERNED => self.add(g, a, spec, Some(&other.values[theirs[1] as usize]))?,
                _ => {
                    if let Some(v) = other.held(theirs) {
                        self.add(g, a, spec, Some(&v))?;
                    }
                }
            },
        }
        Ok(())
    }

    /// Every (group, aggregate, value) a DISTINCT aggregate has seen.
    pub fn distinct_values(&self) -> impl Iterator<Item = Result<(u32, u32, Value)>> + '_ {
        let mut rest = &self.seen_arena[..];
        std::iter::from_fn(move || {
            if rest.len() < SEEN_HEAD {
                return None;
            }
            let g = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
            let a = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
            let mut no_spelling: &[u8] = &[];
            Some(decode(&rest[SEEN_HEAD..], &mut no_spelling).map(|(v, tail)| {
                rest = tail;
                (g, a, v)
            }))
        })
    }
}

/// One entry of the DISTINCT arena from `start`: group, aggregate, value.
fn seen_entry(arena: &[u8], start: usize) -> &[u8] {
    let value = arena.get(start + SEEN_HEAD..).unwrap_or_default();
    &arena[start..start + SEEN_HEAD + encoded_len(value)]
}

/// The bytes of a DISTINCT entry before its value: group, aggregate.
const SEEN_HEAD: usize = 8;

/// A key's hash as the tables take it, and the 32 bits of it they keep
/// beside each entry: its high bits (hashbrown's tag) and its low bits
/// (the bucket) both come from those 32.
fn spread(hash: u64) -> (u64, u32) {
    let short = (hash ^ (hash >> 32)) as u32;
    (widen(short), short)
}

fn widen(short: u32) -> u64 {
    u64::from(short).wrapping_mul(0x1_0000_0001)
}

fn wide(lo: i64, hi: i64) -> i128 {
    (i128::from(hi) << 64) | i128::from(lo as u64)
}

fn halves(v: i128) -> (i64, i64) {
    (v as u64 as i64, (v >> 64) as i64)
}

/// A value's exact identity (its kind and spelling), as bytes to hash and
/// compare: `PC1` and `pc1` are two.
fn exact(v: &Value) -> (u8, &[u8], i64) {
    match v {
        Value::Null => (0, &[], 0),
        Value::Bool(b) => (1, &[], i64::from(*b)),
        Value::Int(i) => (2, &[], *i),
        Value::Time(t) => (3, &[], t.0),
        Value::Text(s) => (4, s.as_bytes(), 0),
        Value::Name(s) => (5, s.as_bytes(), 0),
    }
}

/// Appends `v`'s bytes to `out`, each value ending itself, equal when the
/// values are equal (a name by its folded characters), and to `spell` a
/// name's spelling when folding changed it. The bytes compare as the
/// values do, but for a text of upper-case hex digits (an HWID): it is
/// packed two digits a byte, and `encode` then says `true`.
pub fn encode(v: &Value, out: &mut Vec<u8>, spell: &mut Vec<u8>) -> bool {
    let ordered_int = |i: i64| ((i as u64) ^ (1 << 63)).to_be_bytes();
    match v {
        Value::Null => out.push(0),
        Value::Bool(b) => out.extend([1, u8::from(*b)]),
        Value::Int(i) => {
            out.push(2);
            out.extend(ordered_int(*i));
        }
        Value::Time(t) => {
            out.push(3);
            out.extend(ordered_int(t.0));
        }
        Value::Text(s) if is_hex(s) => {
            out.extend([6, (s.len() / 2) as u8]);
            out.extend(s.as_bytes().chunks(2).map(|d| nibble(d[0]) << 4 | nibble(d[1])));
            return true;
        }
        Value::Text(s) => {
            out.push(4);
            escaped(s.bytes(), out);
        }
        Value::Name(s) => {
            out.push(5);
            let start = out.len();
            if s.is_ascii() {
                escaped(s.bytes().map(|b| b.to_ascii_uppercase()), out);
            } else {
                let mut buf = [0; 4];
                escaped(s.chars().flat_map(|c| fold_char(c).encode_utf8(&mut buf).as_bytes().to_vec()), out);
            }
            if out[start..out.len() - 2] == *s.as_bytes() {
                spell.push(0);
            } else {
                spell.push(1);
                spell.extend((s.len() as u32).to_le_bytes());
                spell.extend_from_slice(s.as_bytes());
            }
        }
    }
    false
}

/// Whether a text is upper-case hex digits, an even number up to 510.
fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.len().is_multiple_of(2) && s.len() <= 510 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F'))
}

fn nibble(digit: u8) -> u8 {
    if digit <= b'9' { digit - b'0' } else { digit - b'A' + 10 }
}

/// Text bytes with NUL written 0 255, ended by 0 0: ordered, and no
/// value's bytes a prefix of another's.
fn escaped(bytes: impl Iterator<Item = u8>, out: &mut Vec<u8>) {
    for b in bytes {
        out.push(b);
        if b == 0 {
            out.push(255);
        }
    }
    out.extend([0, 0]);
}

/// The length of the encoded value at the start of `bytes`.
fn encoded_len(bytes: &[u8]) -> usize {
    match bytes.first() {
        Some(0) | None => 1,
        Some(1) => 2,
        Some(2 | 3) => 9,
        Some(6) => 2 + bytes.get(1).map_or(0, |&n| usize::from(n)),
        Some(_) => {
            let mut i = 1;
            while i + 1 < bytes.len() && !(bytes[i] == 0 && bytes[i + 1] == 0) {
                i += if bytes[i] == 0 { 2 } else { 1 };
            }
            i + 2
        }
    }
}

/// The value at the start of `bytes` and the bytes after it; a name takes
/// its spelling from `spell` when one was kept.
fn decode<'b>(bytes: &'b [u8], spell: &mut &[u8]) -> Result<(Value, &'b [u8])> {
    let bad = || Error::Internal("a group key's bytes do not decode".into());
    let len = encoded_len(bytes);
    let (this, rest) = bytes.split_at_checked(len).ok_or_else(bad)?;
    let int = || -> Result<i64> {
        let b: [u8; 8] = this.get(1..9).and_then(|b| b.try_into().ok()).ok_or_else(bad)?;
        Ok((u64::from_be_bytes(b) ^ (1 << 63)) as i64)
    };
    let text = || -> Result<String> {
        let body = this.get(1..len - 2).ok_or_else(bad)?;
        let mut out = Vec::with_capacity(body.len());
        let mut it = body.iter();
        while let Some(&b) = it.next() {
            out.push(b);
            if b == 0 {
                it.next();
            }
        }
        String::from_utf8(out).map_err(|_| bad())
    };
    let v = match this.first() {
        Some(0) => Value::Null,
        Some(1) => Value::Bool(this.get(1) == Some(&1)),
        Some(2) => Value::Int(int()?),
        Some(3) => Value::Time(Time(int()?)),
        Some(4) => Value::Text(text()?),
        Some(5) => Value::Name(spelt(text()?, spell).ok_or_else(bad)?),
        Some(6) => {
            const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
            let packed = this.get(2..).ok_or_else(bad)?;
            Value::Text(packed.iter().flat_map(|b| [DIGITS[usize::from(b >> 4)] as char, DIGITS[usize::from(b & 15)] as char]).collect())
        }
        _ => return Err(bad()),
    };
    Ok((v, rest))
}

/// A name's spelling: the next kept one in `spell`, or its folded form
/// (also when no spelling was kept: a DISTINCT aggregate's values).
fn spelt(folded: String, spell: &mut &[u8]) -> Option<String> {
    let Some((&flag, rest)) = spell.split_first() else { return Some(folded) };
    *spell = rest;
    if flag == 0 {
        return Some(folded);
    }
    let len = u32::from_le_bytes(spell.get(..4)?.try_into().ok()?) as usize;
    let s = String::from_utf8(spell.get(4..4 + len)?.to_vec()).ok()?;
    *spell = &spell[4 + len..];
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(v: &Value) -> Vec<u8> {
        let (mut out, mut spell) = (Vec::new(), Vec::new());
        encode(v, &mut out, &mut spell);
        out
    }

    #[test]
    fn encoded_values_order_as_the_values_and_decode_to_their_spelling() {
        let values = [
            Value::Null,
            Value::Bool(false),
            Value::Bool(true),
            Value::Int(i64::MIN),
            Value::Int(-1),
            Value::Int(0),
            Value::Int(7),
            Value::Time(Time(-5)),
            Value::Time(Time(1_700_000_000)),
            Value::text(""),
            Value::text("a"),
            Value::text("a\0"),
            Value::text("a\0b"),
            Value::text("ab"),
            Value::text("b"),
        ];
        for a in &values {
            for b in &values {
                assert_eq!(bytes(a).cmp(&bytes(b)), a.cmp(b), "{a:?} against {b:?}");
            }
            let (mut out, mut spell) = (Vec::new(), Vec::new());
            encode(a, &mut out, &mut spell);
            let (back, rest) = decode(&out, &mut &spell[..]).unwrap();
            assert_eq!((format!("{back:?}"), rest.len()), (format!("{a:?}"), 0));
        }
        let names = ["pc1", "PC1", "Pc2", "straße", "STRASSE", "ÉLAN", "élan", "pc10"];
        for a in names {
            for b in names {
                let (va, vb) = (Value::Name(a.into()), Value::Name(b.into()));
                assert_eq!(bytes(&va).cmp(&bytes(&vb)), va.cmp(&vb), "{a} against {b}");
            }
            let (mut out, mut spell) = (Vec::new(), Vec::new());
            encode(&Value::Name(a.into()), &mut out, &mut spell);
            let (back, _) = decode(&out, &mut &spell[..]).unwrap();
            assert_eq!(format!("{back:?}"), format!("{:?}", Value::Name(a.into())));
        }
    }
}
