//! [`PolicyFile`]: a policy loaded from a file and re-read when the file's content changes.
//!
//! The file is checked at most once per check interval (default one second), when the policy is
//! asked for: no thread or timer is needed, and a burst of calls reads the file once. A changed
//! file that does not parse or validate is reported (a warning) and ignored: the last good
//! policy stays in force, so a typo never opens or closes the door by accident.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::{Error, Policy, Result};

/// How often the file is looked at, by default.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// A policy file, reloaded when it changes.
#[derive(Clone, Debug)]
pub struct PolicyFile {
    path: PathBuf,
    interval: Duration,
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    policy: Arc<Policy>,
    text: String,
    checked: Instant,
}

impl PolicyFile {
    /// Loads `path`; fails when it cannot be read or is not a valid policy.
    pub fn load(path: &Path) -> Result<PolicyFile> {
        let text = read(path)?;
        let policy = Policy::parse(&text, &path.display().to_string())?;
        Ok(PolicyFile {
            path: path.to_path_buf(),
            interval: DEFAULT_CHECK_INTERVAL,
            state: Arc::new(Mutex::new(State {
                policy: Arc::new(policy),
                text,
                checked: Instant::now(),
            })),
        })
    }

    /// Sets how often the file is looked at (zero: on every call).
    pub fn check_interval(mut self, interval: Duration) -> PolicyFile {
        self.interval = interval;
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The policy in force, re-reading the file when the check interval has passed.
    pub fn current(&self) -> Arc<Policy> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.checked.elapsed() < self.interval {
            return state.policy.clone();
        }
        state.checked = Instant::now();
        match read(&self.path) {
            Ok(text) if text != state.text => {
                match Policy::parse(&text, &self.path.display().to_string()) {
                    Ok(policy) => {
                        tracing::info!(
                            path = %self.path.display(),
                            tenants = policy.tenants().count(),
                            "tenant policy reloaded"
                        );
                        state.policy = Arc::new(policy);
                    }
                    Err(error) => tracing::warn!(
                        path = %self.path.display(),
                        %error,
                        "the changed tenant policy is invalid; keeping the previous one"
                    ),
                }
                // Remember the text either way, so a bad file is reported once, not per call.
                state.text = text;
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(
                path = %self.path.display(),
                error = %std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default(),
                "the tenant policy cannot be read; keeping the previous one"
            ),
        }
        state.policy.clone()
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
        let file = PolicyFile::load(&path)
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
        let file = PolicyFile::load(&path)
            .unwrap()
            .check_interval(Duration::from_secs(3600));
        std::fs::write(&path, policy("get")).unwrap();
        assert!(file.current().tenant("a").unwrap().allows(Operation::List));
    }

    #[test]
    fn loading_an_invalid_policy_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, "tenants: [").unwrap();
        let error = PolicyFile::load(&path).unwrap_err().to_string();
        assert!(error.contains("policy.yaml"), "{error}");
        assert!(PolicyFile::load(&dir.path().join("missing.yaml")).is_err());
    }
}
