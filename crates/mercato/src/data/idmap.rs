//! Translation between the ids users know (integers or strings) and dense indices.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// An id as the outside world spells it: an integer (MovieLens user 196) or a string
/// (a SKU, an e-mail hash). Integers and strings never compare equal: `1` and `"1"` differ.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ExternalId {
    /// An integer id (every integer that fits an `i64`).
    Int(i64),
    /// An unsigned integer above `i64::MAX` (uint64 ids from 2^63 to 2^64 − 1). Smaller
    /// values are always [`ExternalId::Int`] (build with [`ExternalId::from_u64`]), so each
    /// integer has one spelling and `Int(5)` never meets a `UInt(5)`.
    UInt(u64),
    /// A string id.
    Str(String),
}

impl ExternalId {
    /// Parses a field from a data file: an integer when it is one (up to `u64::MAX`), else
    /// the trimmed string.
    pub fn parse(field: &str) -> ExternalId {
        let field = field.trim();
        match field.parse::<i64>() {
            Ok(v) => ExternalId::Int(v),
            Err(_) => match field.parse::<u64>() {
                Ok(v) => ExternalId::from_u64(v),
                Err(_) => ExternalId::Str(field.to_string()),
            },
        }
    }

    /// The id of an unsigned integer: [`ExternalId::Int`] up to `i64::MAX`, else `UInt`.
    pub fn from_u64(v: u64) -> ExternalId {
        match i64::try_from(v) {
            Ok(i) => ExternalId::Int(i),
            Err(_) => ExternalId::UInt(v),
        }
    }

    /// The id of any integer from `i64::MIN` to `u64::MAX`; `None` outside that range.
    pub fn from_i128(v: i128) -> Option<ExternalId> {
        match i64::try_from(v) {
            Ok(i) => Some(ExternalId::Int(i)),
            Err(_) => u64::try_from(v).ok().map(ExternalId::UInt),
        }
    }

    /// The string, for a string id.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ExternalId::Str(s) => Some(s),
            ExternalId::Int(_) | ExternalId::UInt(_) => None,
        }
    }

    /// The integer, for an integer id that fits `i64`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            ExternalId::Int(v) => Some(*v),
            ExternalId::UInt(v) => i64::try_from(*v).ok(),
            ExternalId::Str(_) => None,
        }
    }
}

/// Integers print as they are and strings quoted (`42` vs `"42"`), because the two are
/// different ids and an error message must show which one was asked for; use
/// [`ExternalId::as_str`] for the bare string.
impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExternalId::Int(v) => write!(f, "{v}"),
            ExternalId::UInt(v) => write!(f, "{v}"),
            ExternalId::Str(s) => write!(f, "{s:?}"),
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for ExternalId {
            fn from(v: $t) -> Self {
                ExternalId::Int(v as i64)
            }
        }
    )*};
}
from_int!(i32, i64, u32, u16, u8);

impl From<u64> for ExternalId {
    fn from(v: u64) -> Self {
        ExternalId::from_u64(v)
    }
}

impl From<usize> for ExternalId {
    fn from(v: usize) -> Self {
        ExternalId::from_u64(v as u64)
    }
}

impl From<&str> for ExternalId {
    fn from(v: &str) -> Self {
        ExternalId::Str(v.to_string())
    }
}

impl From<String> for ExternalId {
    fn from(v: String) -> Self {
        ExternalId::Str(v)
    }
}

impl From<&ExternalId> for ExternalId {
    fn from(v: &ExternalId) -> Self {
        v.clone()
    }
}

/// A bijection between external ids and dense indices `0..len()`, in first-seen order.
///
/// ```
/// use mercato::data::{ExternalId, IdMap};
/// let mut users = IdMap::new();
/// assert_eq!(users.insert("alice"), 0);
/// assert_eq!(users.insert(42), 1);
/// assert_eq!(users.insert("alice"), 0);
/// assert_eq!(users.index(&ExternalId::from(42)), Some(1));
/// assert_eq!(users.id(0), &ExternalId::from("alice"));
/// ```
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "Vec<ExternalId>", into = "Vec<ExternalId>")]
pub struct IdMap {
    ids: Vec<ExternalId>,
    /// Length of the leading run of ids that equal their index (`Int(0), Int(1), ...`): those
    /// are found without hashing and kept out of `index`, so the identity maps of models
    /// fitted straight from a matrix cost no hash table.
    identity_prefix: usize,
    /// Index of every id past the identity prefix.
    index: HashMap<ExternalId, u32>,
}

impl IdMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The identity map `0, 1, ..., n-1` (ids are the indices), as when a model is fitted
    /// straight from a matrix.
    pub fn identity(n: usize) -> Self {
        (0..n as i64).map(ExternalId::Int).collect::<Vec<_>>().into()
    }

    /// Builds a map from distinct ids, in order; a repeated id is an error.
    pub fn from_ids(ids: impl IntoIterator<Item = ExternalId>) -> Result<Self> {
        let mut map = IdMap::new();
        for id in ids {
            let before = map.len();
            if map.insert(id.clone()) != before {
                crate::bail!("id {id} appears twice");
            }
        }
        Ok(map)
    }

    /// Index of `id`, inserting it at the end when new.
    pub fn insert(&mut self, id: impl Into<ExternalId>) -> usize {
        let id = id.into();
        if let Some(i) = self.index(&id) {
            return i;
        }
        let i = self.ids.len();
        if self.identity_prefix == i && id == ExternalId::Int(i as i64) {
            self.identity_prefix += 1;
        } else {
            self.index.insert(id.clone(), i as u32);
        }
        self.ids.push(id);
        i
    }

    /// Index of `id`, if known.
    pub fn index(&self, id: &ExternalId) -> Option<usize> {
        if let ExternalId::Int(v) = *id {
            if let Ok(i) = usize::try_from(v) {
                if i < self.identity_prefix {
                    return Some(i);
                }
            }
        }
        self.index.get(id).map(|&i| i as usize)
    }

    /// Index of `id`, or [`Error::UnknownId`] naming it as a `kind` ("user", "item", ...).
    pub fn index_or_err(&self, id: &ExternalId, kind: &'static str) -> Result<usize> {
        self.index(id).ok_or_else(|| Error::UnknownId { kind, id: id.to_string() })
    }

    /// External id at `index`. Panics when out of range (indices come from this map).
    pub fn id(&self, index: usize) -> &ExternalId {
        &self.ids[index]
    }

    /// External id at `index`, if in range.
    pub fn get_id(&self, index: usize) -> Option<&ExternalId> {
        self.ids.get(index)
    }

    /// All ids in index order.
    pub fn ids(&self) -> &[ExternalId] {
        &self.ids
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when no id is mapped.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// True when every id is the integer equal to its index (an identity map).
    pub fn is_identity(&self) -> bool {
        self.identity_prefix == self.ids.len()
    }
}

impl From<Vec<ExternalId>> for IdMap {
    /// Builds the map; a repeated id keeps its first index (use [`IdMap::from_ids`] to reject).
    fn from(ids: Vec<ExternalId>) -> Self {
        let mut map = IdMap { ids: Vec::with_capacity(ids.len()), identity_prefix: 0, index: HashMap::new() };
        for id in ids {
            map.insert(id);
        }
        map
    }
}

impl From<IdMap> for Vec<ExternalId> {
    fn from(map: IdMap) -> Self {
        map.ids
    }
}

impl PartialEq for IdMap {
    fn eq(&self, other: &Self) -> bool {
        self.ids == other.ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_and_strings_are_distinct() {
        let mut m = IdMap::new();
        assert_eq!(m.insert(1), 0);
        assert_eq!(m.insert("1"), 1);
        assert_eq!(m.len(), 2);
        assert_eq!(ExternalId::parse(" 17 "), ExternalId::Int(17));
        assert_eq!(ExternalId::parse("sku-9"), ExternalId::Str("sku-9".into()));
        // uint64 ids keep their value: no wrap to negative, one spelling per integer
        assert_eq!(ExternalId::parse("18446744073709551615"), ExternalId::UInt(u64::MAX));
        assert_eq!(ExternalId::parse("9223372036854775808"), ExternalId::UInt(1 << 63));
        assert_eq!(ExternalId::parse("18446744073709551616"), ExternalId::Str("18446744073709551616".into()));
        assert_eq!(ExternalId::from(5u64), ExternalId::Int(5));
        assert_eq!(ExternalId::from_i128(-1), Some(ExternalId::Int(-1)));
        assert_eq!(ExternalId::from_i128(1 << 64), None);
        let big = IdMap::from_ids([ExternalId::from_u64(u64::MAX), ExternalId::Int(-1)]).unwrap();
        assert_eq!(big.index(&ExternalId::UInt(u64::MAX)), Some(0));
        let json = serde_json::to_string(&big).unwrap();
        assert_eq!(serde_json::from_str::<IdMap>(&json).unwrap(), big, "{json}");
    }

    #[test]
    fn unknown_id_is_typed() {
        let m = IdMap::identity(3);
        assert!(m.is_identity());
        let err = m.index_or_err(&ExternalId::Int(7), "user").unwrap_err();
        assert!(matches!(err, Error::UnknownId { kind: "user", .. }), "{err}");
        assert!(IdMap::from_ids(vec![1.into(), 1.into()]).is_err());
    }

    #[test]
    fn identity_prefix_then_other_ids() {
        let mut m = IdMap::identity(3);
        assert_eq!(m.insert(5), 3);
        assert_eq!(m.insert(3), 4);
        assert_eq!(m.insert("0"), 5);
        assert!(!m.is_identity());
        for (id, i) in [(0, 0), (2, 2), (5, 3), (3, 4)] {
            assert_eq!(m.index(&ExternalId::Int(id)), Some(i), "id {id}");
        }
        assert_eq!(m.index(&ExternalId::Int(-1)), None);
        assert_eq!(m.index(&ExternalId::Int(4)), None);
        assert_eq!(m.insert(1), 1);
        assert_eq!(m.len(), 6);
        let ids: Vec<ExternalId> = vec![1.into(), 0.into()];
        let swapped: IdMap = ids.into();
        assert!(!swapped.is_identity());
        assert_eq!(swapped.index(&ExternalId::Int(0)), Some(1));
    }

    #[test]
    fn serde_round_trip_rebuilds_index() {
        let m: IdMap = vec![ExternalId::from("a"), ExternalId::from(5)].into();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"["a",5]"#);
        let back: IdMap = serde_json::from_str(&json).unwrap();
        assert_eq!(back.index(&ExternalId::from(5)), Some(1));
    }
}
