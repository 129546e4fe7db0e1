//! Helm's `lookup` without a cluster: the caller answers.
//!
//! The renderer holds no cluster credentials. A render that may read the cluster (install,
//! upgrade, `--dry-run=server`) carries [`Lookups`]: the objects its caller read, with the
//! caller's own identity, for the keys asked so far. `lookup` answers from it; a key it does not
//! hold is answered empty, as Helm answers a missing object, and recorded in
//! [`Rendered::lookups_unanswered`](crate::Rendered::lookups_unanswered). The caller reads those
//! objects and renders again with them added, until nothing is unanswered: templates are
//! deterministic, so the render that asks nothing new is the render Helm would make against
//! the same cluster. A render without [`Lookups`] (`template`, a client dry run) answers every
//! `lookup` empty, as `helm template` does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// What one `lookup` asks: `lookup apiVersion kind namespace name` (an empty name lists).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LookupKey {
    /// `v1`, `apps/v1`, ...
    pub api_version: String,
    /// `Secret`, `Deployment`, ...
    pub kind: String,
    /// Empty for cluster-scoped kinds (and for every namespace, with an empty name).
    pub namespace: String,
    /// Empty to list.
    pub name: String,
}

impl std::fmt::Display for LookupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {:?} {:?}",
            self.api_version, self.kind, self.namespace, self.name
        )
    }
}

/// The caller's answers, by key: the object (or, for an empty name, the list) as JSON, or `None`
/// when it does not exist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lookups {
    answers: BTreeMap<LookupKey, Option<serde_json::Value>>,
}

impl Lookups {
    /// No answers yet: every lookup is asked.
    pub fn new() -> Lookups {
        Lookups::default()
    }

    /// Records the answer for `key`.
    pub fn answer(&mut self, key: LookupKey, object: Option<serde_json::Value>) {
        self.answers.insert(key, object);
    }

    /// The answer for `key`, if the caller gave one (`Some(None)`: it does not exist).
    pub fn get(&self, key: &LookupKey) -> Option<Option<&serde_json::Value>> {
        self.answers.get(key).map(Option::as_ref)
    }

    /// How many keys are answered.
    pub fn len(&self) -> usize {
        self.answers.len()
    }

    /// Whether no key is answered.
    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }
}

/// One render's view of the lookups: the answers, and the keys asked without one.
#[derive(Debug, Default)]
pub(crate) struct LookupSession {
    pub answers: Option<std::sync::Arc<Lookups>>,
    pub unanswered: Mutex<BTreeSet<LookupKey>>,
}

impl LookupSession {
    /// The object `key` names as the templates see it: `None` when there is none to give (no
    /// cluster, not found, or not answered yet, which is recorded).
    pub fn resolve(&self, key: LookupKey) -> Option<serde_json::Value> {
        let answers = self.answers.as_ref()?;
        match answers.get(&key) {
            Some(object) => object.cloned(),
            None => {
                self.unanswered
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(key);
                None
            }
        }
    }

    /// Notes the keys `other` was asked without an answer as asked here too.
    pub fn add_unanswered(&self, other: &LookupSession) {
        let theirs = other.take_unanswered();
        if !theirs.is_empty() {
            self.unanswered
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend(theirs);
        }
    }

    /// The keys asked without an answer, in order.
    pub fn take_unanswered(&self) -> Vec<LookupKey> {
        std::mem::take(
            &mut *self
                .unanswered
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_iter()
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn key(name: &str) -> LookupKey {
        LookupKey {
            api_version: "v1".into(),
            kind: "Secret".into(),
            namespace: "db".into(),
            name: name.into(),
        }
    }

    #[test]
    fn without_answers_nothing_is_asked_and_everything_is_empty() {
        let session = LookupSession::default();
        assert_eq!(session.resolve(key("pw")), None);
        assert!(session.take_unanswered().is_empty());
    }

    #[test]
    fn answers_are_given_and_the_rest_is_asked_for() {
        let mut lookups = Lookups::new();
        lookups.answer(key("pw"), Some(serde_json::json!({"data": {"p": "eA=="}})));
        lookups.answer(key("gone"), None);
        let session = LookupSession {
            answers: Some(Arc::new(lookups)),
            ..LookupSession::default()
        };
        assert_eq!(
            session.resolve(key("pw")),
            Some(serde_json::json!({"data": {"p": "eA=="}}))
        );
        assert_eq!(session.resolve(key("gone")), None);
        assert_eq!(session.resolve(key("new")), None);
        assert_eq!(session.take_unanswered(), vec![key("new")]);
    }
}
