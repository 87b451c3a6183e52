//! Time-ordered event sequences per user: what sequential models read.

use serde::{Deserialize, Serialize};

use crate::data::{ExternalId, IdMap};
use crate::{ensure, Result};

/// One categorical context column of the events (event type, category, hour of day...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContextColumn {
    /// Column name, as given to [`Sequences::from_events`].
    pub name: String,
    /// The column's distinct values, by code.
    pub values: IdMap,
}

/// Every user's events in time order, with items and context as dense codes.
///
/// Built from parallel event columns (user, item, time and optional context columns). Events
/// of one user are sorted by time; events with equal times keep their input order, so a log
/// already in order stays in that order.
///
/// ```
/// use mercato::recommend::sequential::Sequences;
///
/// let users = ["ann", "ann", "bob", "ann"].map(Into::into);
/// let items = ["tea", "mug", "tea", "pot"].map(Into::into);
/// let seqs = Sequences::from_events(&users, &items, &[3, 1, 5, 2], &[])?;
/// let ann = seqs.users().index(&"ann".into()).unwrap();
/// let names: Vec<&str> = seqs.sequence(ann).iter().filter_map(|&i| seqs.items().id(i as usize).as_str()).collect();
/// assert_eq!(names, ["mug", "pot", "tea"]);
/// # Ok::<(), mercato::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Sequences {
    pub(crate) users: IdMap,
    pub(crate) items: IdMap,
    /// Offsets into `events` per user (CSR over users).
    pub(crate) indptr: Vec<usize>,
    /// Item codes, user by user, in time order.
    pub(crate) events: Vec<u32>,
    pub(crate) context: Vec<ContextColumn>,
    /// Context codes per column, aligned with `events`.
    pub(crate) context_codes: Vec<Vec<u32>>,
}

impl Sequences {
    /// Groups events by user and orders them by `times` (any integer clock: seconds,
    /// nanoseconds, or a row number). `context` holds `(name, values)` columns aligned with
    /// the events. Lengths that differ, an empty log, or two context columns of one name are
    /// errors.
    pub fn from_events(
        users: &[ExternalId],
        items: &[ExternalId],
        times: &[i64],
        context: &[(&str, &[ExternalId])],
    ) -> Result<Self> {
        let n = users.len();
        ensure!(n > 0, "no events: a sequential model needs at least one user with events");
        ensure!(
            items.len() == n && times.len() == n,
            shape format!("{n} items and times (one per user entry)"),
            format!("{} items and {} times", items.len(), times.len())
        );
        for (i, (name, values)) in context.iter().enumerate() {
            ensure!(
                values.len() == n,
                shape format!("{n} values in context column {name:?} (one per event)"),
                values.len()
            );
            ensure!(!context[..i].iter().any(|(other, _)| other == name), "context column {name:?} is given twice");
        }
        let mut user_map = IdMap::new();
        let user_codes: Vec<usize> = users.iter().map(|u| user_map.insert(u.clone())).collect();
        let mut order: Vec<usize> = (0..n).collect();
        // Stable: equal (user, time) keep their input order.
        order.sort_by_key(|&e| (user_codes[e], times[e]));
        let mut item_map = IdMap::new();
        let mut indptr = vec![0usize; user_map.len() + 1];
        for &u in &user_codes {
            indptr[u + 1] += 1;
        }
        for u in 0..user_map.len() {
            indptr[u + 1] += indptr[u];
        }
        let events: Vec<u32> = order.iter().map(|&e| item_map.insert(items[e].clone()) as u32).collect();
        let mut columns = Vec::with_capacity(context.len());
        let mut codes = Vec::with_capacity(context.len());
        for (name, values) in context {
            let mut map = IdMap::new();
            codes.push(order.iter().map(|&e| map.insert(values[e].clone()) as u32).collect());
            columns.push(ContextColumn { name: name.to_string(), values: map });
        }
        Ok(Sequences { users: user_map, items: item_map, indptr, events, context: columns, context_codes: codes })
    }

    /// The users, by index.
    pub fn users(&self) -> &IdMap {
        &self.users
    }

    /// The items, by code.
    pub fn items(&self) -> &IdMap {
        &self.items
    }

    /// The context columns (name and values).
    pub fn context(&self) -> &[ContextColumn] {
        &self.context
    }

    /// Number of events.
    pub fn n_events(&self) -> usize {
        self.events.len()
    }

    /// Item codes of user `u`'s events, oldest first.
    pub fn sequence(&self, u: usize) -> &[u32] {
        &self.events[self.indptr[u]..self.indptr[u + 1]]
    }

    /// Context codes of column `c` for user `u`'s events.
    pub fn context_sequence(&self, c: usize, u: usize) -> &[u32] {
        &self.context_codes[c][self.indptr[u]..self.indptr[u + 1]]
    }

    /// The leave-last-out split of sequential recommendation: every user with at least two
    /// events loses the last one, which is returned as that user's target (`None` for users
    /// with one event, who stay whole). Ids and codes are unchanged, so a model fitted on the
    /// first part is scored against the targets directly.
    pub fn leave_last_out(&self) -> (Sequences, Vec<Option<u32>>) {
        let mut out = self.clone();
        let mut targets = Vec::with_capacity(self.users.len());
        let mut indptr = vec![0usize];
        let mut events = Vec::with_capacity(self.events.len());
        let mut codes: Vec<Vec<u32>> = vec![Vec::with_capacity(self.events.len()); self.context.len()];
        for u in 0..self.users.len() {
            let seq = self.sequence(u);
            let keep = if seq.len() >= 2 { seq.len() - 1 } else { seq.len() };
            targets.push((keep < seq.len()).then(|| seq[keep]));
            events.extend_from_slice(&seq[..keep]);
            for (c, col) in codes.iter_mut().enumerate() {
                col.extend_from_slice(&self.context_sequence(c, u)[..keep]);
            }
            indptr.push(events.len());
        }
        out.indptr = indptr;
        out.events = events;
        out.context_codes = codes;
        (out, targets)
    }
}
