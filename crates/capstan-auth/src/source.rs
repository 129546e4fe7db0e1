//! [`PolicySource`]: the policy in force, from a file re-read when its content changes, or pushed
//! by an adapter (e.g. from a ConfigMap, `capstan_kube::auth::follow_policy_config_map`).
//!
//! A file is checked at most once per check interval (default one second), when the policy is
//! asked for: no thread or timer is needed, and a burst of calls reads the file once. A changed
//! file that does not parse or validate is reported (a warning) and ignored: the last good
//! policy stays in force, so a typo never opens or closes the door by accident.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::{Error, Policy, Result};

/// How often the file is looked at, by default.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The policy in force: a file, reloaded when it changes, or text pushed with
/// [`PolicySource::update`]. Clones share the policy.
#[derive(Clone, Debug)]
pub struct PolicySource {
    /// The file to re-read; `None` for a pushed policy.
    path: Option<PathBuf>,
    /// Where the policy comes from, for messages.
    origin: String,
    interval: Duration,
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    policy: Arc<Policy>,
    text: String,
    checked: Instant,
}

impl PolicySource {
    /// Loads `path`; fails when it cannot be read or is not a valid policy.
    pub fn load(path: &Path) -> Result<PolicySource> {
        let text = read(path)?;
        let policy = Policy::parse(&text, &path.display().to_string())?;
        Ok(PolicySource {
            path: Some(path.to_path_buf()),
            origin: path.display().to_string(),
            interval: DEFAULT_CHECK_INTERVAL,
            state: Arc::new(Mutex::new(State {
                policy: Arc::new(policy),
                text,
                checked: Instant::now(),
            })),
        })
    }

    /// A policy from `text` (`origin` names it in messages), replaced only by
    /// [`PolicySource::update`]; fails when it is not a valid policy.
    pub fn from_text(text: &str, origin: &str) -> Result<PolicySource> {
        let policy = Policy::parse(text, origin)?;
        Ok(PolicySource {
            path: None,
            origin: origin.to_owned(),
            interval: DEFAULT_CHECK_INTERVAL,
            state: Arc::new(Mutex::new(State {
                policy: Arc::new(policy),
                text: text.to_owned(),
                checked: Instant::now(),
            })),
        })
    }

    /// Replaces the policy with `text` when it changed and is valid; an invalid text is
    /// reported (and remembered, so it is reported once) and the previous policy stays.
    pub fn update(&self, text: &str) -> Result<()> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if text == state.text {
            return Ok(());
        }
        state.text = text.to_owned();
        let policy = Policy::parse(text, &self.origin)?;
        tracing::info!(
            origin = %self.origin,
            tenants = policy.tenants().count(),
            "tenant policy reloaded"
        );
        state.policy = Arc::new(policy);
        Ok(())
    }

    /// Where the policy comes from (a path, or the origin given to [`PolicySource::from_text`]).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Sets how often the file is looked at (zero: on every call).
    pub fn check_interval(mut self, interval: Duration) -> PolicySource {
        self.interval = interval;
        self
    }

    /// The policy in force, re-reading the file (if any) when the check interval has passed.
    pub fn current(&self) -> Arc<Policy> {
        let Some(path) = &self.path else {
            return self
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .policy
                .clone();
        };
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.checked.elapsed() < self.interval {
                return state.policy.clone();
            }
            state.checked = Instant::now();
        }
        match read(path) {
            Ok(text) => {
                if let Err(error) = self.update(&text) {
                    tracing::warn!(
                        path = %path.display(),
                        %error,
                        "the changed tenant policy is invalid; keeping the previous one"
                    );
                }
            }
            Err(error) => tracing::warn!(
                path = %path.display(),
                error = %std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default(),
                "the tenant policy cannot be read; keeping the previous one"
            ),
        }
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .policy
            .clone()
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Operation;

    fn policy(operations: &str) -> String {
        format!(
            "tenants:\n  a:\n    namespaces: [a]\n    operations: [{operations}]\n    impersonate: {{user: a}}\n"
        )
    }

    #[test]
    fn the_policy_is_reloaded_when_the_file_changes_and_bad_edits_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, policy("list")).unwrap();
        let file = PolicySource::load(&path)
            .unwrap()
            .check_interval(Duration::ZERO);
        let allows = |op| file.current().tenant("a").unwrap().allows(op);
        assert!(allows(Operation::List));
        assert!(!allows(Operation::Install));

        std::fs::write(&path, policy("list, install")).unwrap();
        assert!(allows(Operation::Install), "the edit is picked up");

        std::fs::write(&path, policy("list, instal")).unwrap();
        assert!(
            allows(Operation::Install),
            "an invalid edit keeps the previous policy"
        );
        std::fs::remove_file(&path).unwrap();
        assert!(allows(Operation::Install), "so does a removed file");

        std::fs::write(&path, policy("get")).unwrap();
        assert!(!allows(Operation::Install));
        assert!(allows(Operation::Get));
    }

    #[test]
    fn a_slow_interval_reads_the_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, policy("list")).unwrap();
        let file = PolicySource::load(&path)
            .unwrap()
            .check_interval(Duration::from_secs(3600));
        std::fs::write(&path, policy("get")).unwrap();
        assert!(file.current().tenant("a").unwrap().allows(Operation::List));
    }

    #[test]
    fn a_pushed_policy_changes_only_when_updated_with_a_valid_one() {
        let source = PolicySource::from_text(&policy("list"), "configmap x/y").unwrap();
        assert_eq!(source.origin(), "configmap x/y");
        assert!(
            source
                .current()
                .tenant("a")
                .unwrap()
                .allows(Operation::List)
        );
        source.update(&policy("get")).unwrap();
        assert!(source.current().tenant("a").unwrap().allows(Operation::Get));
        let error = source.update(&policy("gett")).unwrap_err().to_string();
        assert!(error.starts_with("policy configmap x/y: "), "{error}");
        assert!(source.current().tenant("a").unwrap().allows(Operation::Get));
        assert!(source.update(&policy("gett")).is_ok(), "reported once");
        assert!(PolicySource::from_text("tenants: [", "x").is_err());
    }

    #[test]
    fn loading_an_invalid_policy_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, "tenants: [").unwrap();
        let error = PolicySource::load(&path).unwrap_err().to_string();
        assert!(error.contains("policy.yaml"), "{error}");
        assert!(PolicySource::load(&dir.path().join("missing.yaml")).is_err());
    }
}
