//! `test`: Helm's `helm test` — runs the latest revision's test hooks (`helm.sh/hook: test`)
//! by weight then name, with `--filter name=` / `!name=`, `--timeout` and the hooks' delete
//! policies, records each hook's last run in the revision, and reads the test pods' logs when
//! asked (`--logs`).

use std::time::Duration;

use capstan_release::{HookEvent, Release, ReleaseStore};

use crate::cluster::Cluster;
use crate::control::Control;
use crate::error::{Error, Result};
use crate::install::DEFAULT_TIMEOUT;
use crate::progress::{Event, Progress};
use crate::session::Ctx;
use crate::steps;

/// The options of a test run.
#[derive(Clone, Debug)]
pub struct ReleaseTest {
    /// The release name.
    pub name: String,
    /// The release namespace (empty: `default`).
    pub namespace: String,
    /// `--timeout` for each test hook.
    pub timeout: Duration,
    /// `--filter name=NAME`: run only these tests (empty: all).
    pub include: Vec<String>,
    /// `--filter !name=NAME`: skip these tests.
    pub exclude: Vec<String>,
    /// `--logs`: read the test pods' logs.
    pub logs: bool,
    /// Locking, recovery, deadline, cancellation.
    pub control: Control,
}

/// How a test run ended: the revision with its hooks' last runs, the logs read, and the first
/// failure (a test that failed or could not run), if any.
#[derive(Debug)]
pub struct TestOutcome {
    /// The revision tested, as recorded after the run.
    pub release: Release,
    /// With `logs`: `(test, logs or what the API server answered instead)`, by weight then
    /// name, for the tests selected.
    pub logs: Vec<(String, String)>,
    /// Why the run failed.
    pub failure: Option<Error>,
}

impl ReleaseTest {
    /// A test run of `name` in `namespace` with Helm's defaults.
    pub fn new(name: impl Into<String>, namespace: impl Into<String>) -> Self {
        ReleaseTest {
            name: name.into(),
            namespace: namespace.into(),
            timeout: DEFAULT_TIMEOUT,
            include: Vec::new(),
            exclude: Vec::new(),
            logs: false,
            control: Control::default(),
        }
    }

    /// Parses Helm's `--filter` values: `name=NAME` and `!name=NAME`.
    pub fn filters(mut self, filters: &[String]) -> Result<Self> {
        for f in filters {
            match f.split_once('=') {
                Some(("name", n)) => self.include.push(n.to_owned()),
                Some(("!name", n)) => self.exclude.push(n.to_owned()),
                _ => {
                    return Err(Error::InvalidInput {
                        reason: format!("invalid filter {f:?}: expected name=NAME or !name=NAME"),
                    });
                }
            }
        }
        Ok(self)
    }

    /// Whether the test hook `name` is selected by the filters.
    pub fn selects(&self, name: &str) -> bool {
        !self.exclude.iter().any(|n| n == name)
            && (self.include.is_empty() || self.include.iter().any(|n| n == name))
    }

    /// Runs the tests. `Err` only when the release cannot be read or locked; a test that
    /// fails is [`TestOutcome::failure`], with the revision as recorded.
    pub async fn run(
        &self,
        store: &dyn ReleaseStore,
        cluster: &dyn Cluster,
        progress: &dyn Progress,
    ) -> Result<TestOutcome> {
        let ctx = Ctx::new(
            store,
            cluster,
            progress,
            &self.control,
            &self.namespace,
            &self.name,
        );
        let result = self.run_in(&ctx).await;
        match &result {
            Ok(TestOutcome {
                release,
                failure: Some(failure),
                ..
            }) => progress.event(Event::Finished {
                revision: Some(release.version),
                status: Some(release.info.status),
                description: crate::error::error_chain(failure),
                success: false,
            }),
            _ => steps::finished(&ctx, &result, |o| Some(&o.release)),
        }
        result
    }

    async fn run_in(&self, ctx: &Ctx<'_>) -> Result<TestOutcome> {
        let locked = ctx.lock(false).await?;
        let result = self.test_locked(ctx, locked.history.last().cloned()).await;
        ctx.unlock(locked).await;
        result
    }

    async fn test_locked(
        &self,
        ctx: &Ctx<'_>,
        latest: Option<capstan_release::StoredRelease>,
    ) -> Result<TestOutcome> {
        let mut record = latest.ok_or_else(|| Error::NotFound {
            name: ctx.name.clone(),
            revision: None,
        })?;
        // The tests the filters leave out are set aside and put back afterwards, as Helm does.
        let all = std::mem::take(&mut record.release.hooks);
        let (selected, skipped): (Vec<_>, Vec<_>) = all
            .into_iter()
            .partition(|h| !h.events.contains(&HookEvent::Test) || self.selects(&h.name));
        record.release.hooks = selected;
        let failure = ctx
            .run_hooks(&mut record.release, HookEvent::Test, self.timeout, "")
            .await
            .err();
        let mut hooks = skipped;
        hooks.append(&mut record.release.hooks);
        record.release.hooks = hooks;
        ctx.detached().save(&mut record).await?;
        let mut logs = Vec::new();
        if self.logs {
            let mut tests: Vec<_> = record
                .release
                .hooks
                .iter()
                .filter(|h| h.events.contains(&HookEvent::Test) && self.selects(&h.name))
                .collect();
            tests.sort_by(|a, b| a.weight.cmp(&b.weight).then_with(|| a.name.cmp(&b.name)));
            for hook in tests {
                let text = match ctx.cluster.pod_logs(&ctx.namespace, &hook.name).await {
                    Ok(text) => text,
                    Err(e) => format!("(no logs: {})", crate::error::error_chain(&e)),
                };
                logs.push((hook.name.clone(), text));
            }
        }
        Ok(TestOutcome {
            release: record.release,
            logs,
            failure,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_select_as_helm_does() {
        let all = ReleaseTest::new("web", "apps");
        assert!(all.selects("web-test"));
        let only = ReleaseTest::new("web", "apps")
            .filters(&["name=a".into(), "name=b".into()])
            .unwrap();
        assert!(only.selects("a") && only.selects("b") && !only.selects("c"));
        let but = ReleaseTest::new("web", "apps")
            .filters(&["!name=a".into()])
            .unwrap();
        assert!(!but.selects("a") && but.selects("b"));
        let bad = ReleaseTest::new("web", "apps")
            .filters(&["kind=Pod".into()])
            .unwrap_err();
        assert!(bad.to_string().contains("kind=Pod"), "{bad}");
    }
}
