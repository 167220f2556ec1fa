//! `when`: the condition under which a rule applies. All the keys given must hold.
//!
//! - `job` (+ `answer`): the label answers job `job` (with one of the `answer` categories);
//! - `parent`: only objects and answers whose enclosing object has one of these categories;
//! - `metadata`: only assets whose metadata has these values.

use crate::label::{Label, Name};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct When {
    pub job: Option<Name>,
    pub answer: Vec<Name>,
    pub not_answer: Vec<Name>,
    pub parent: Vec<Name>,
    pub metadata: Vec<(String, String)>,
}

impl When {
    /// Whether the label-level conditions hold (the `parent` filter applies per object).
    pub fn holds<K: AsRef<str>>(&self, label: &Label, metadata: &[(K, String)]) -> bool {
        if let Some(job) = &self.job {
            let cats: Vec<Option<&Name>> = label
                .answers
                .iter()
                .filter(|a| a.job == *job)
                .map(|a| a.category.as_ref())
                .chain(
                    label
                        .objects
                        .iter()
                        .filter(|o| o.job == *job)
                        .map(|o| o.category.as_ref()),
                )
                .collect();
            let chosen = |c: &Name| cats.contains(&Some(c));
            let ok = if self.answer.is_empty() && self.not_answer.is_empty() {
                !cats.is_empty()
            } else {
                (self.answer.is_empty() || self.answer.iter().any(chosen))
                    && !self.not_answer.iter().any(chosen)
            };
            if !ok {
                return false;
            }
        }
        self.metadata
            .iter()
            .all(|(k, v)| metadata.iter().any(|(mk, mv)| mk.as_ref() == k && mv == v))
    }

    /// Whether an object or answer, given its enclosing object's category, is in scope.
    pub fn parent_ok(&self, parent_category: Option<&str>) -> bool {
        self.parent.is_empty()
            || parent_category.is_some_and(|c| self.parent.iter().any(|p| p == c))
    }
}
