//! `capstan test NAME`: runs the release's test hooks on the applier and prints the release
//! with each test's last run (and, with `--logs`, the test pods' logs) as `helm test` does;
//! exits non-zero when a test failed.

use std::fmt::Write as _;

use anyhow::bail;
use capstan_proto::applier::v1 as pb;
use tracing::Instrument as _;

use crate::applier;
use crate::cli::{Global, TestArgs};
use crate::console::{out, outln};
use crate::exit::{self, ServiceError};
use crate::output::{self, ProgressPrinter};
use crate::signals::Signals;

/// `capstan test NAME`.
pub async fn run(global: &Global, args: TestArgs) -> anyhow::Result<u8> {
    let result = Signals::listen()?
        .cancellable(run_tests(global, &args))
        .await?;
    let Some(release) = &result.release else {
        // The release could not be read: nothing to print but the error.
        let error = result.error.clone().unwrap_or_default();
        return Err(anyhow::Error::new(ServiceError {
            code: tonic::Code::from(error.code),
            message: error.message,
        }));
    };
    // Helm's test output has no description line.
    let summary: String = output::release_summary(release)
        .lines()
        .filter(|l| !l.starts_with("DESCRIPTION: "))
        .map(|l| format!("{l}\n"))
        .collect();
    out!("{}", with_suites(&summary, &result.tests));
    if !args.hide_notes && !result.notes.is_empty() {
        outln!("NOTES:\n{}", result.notes.trim_end());
    }
    if args.logs {
        // Helm separates the logs from the status with an empty line.
        outln!();
        for test in &result.tests {
            outln!("POD LOGS: {}\n{}", test.name, test.logs);
        }
    }
    if let Some(error) = &result.error {
        return Err(anyhow::Error::new(ServiceError {
            code: tonic::Code::from(error.code),
            message: error.message.clone(),
        }));
    }
    Ok(0)
}

/// The summary followed by each test's last run, as Helm's status printer writes them
/// (`TEST SUITE: None` when no test ran).
fn with_suites(summary: &str, tests: &[pb::TestRun]) -> String {
    if tests.is_empty() {
        return format!("{summary}TEST SUITE: None\n");
    }
    let mut suites = String::new();
    for t in tests {
        let _ = writeln!(
            suites,
            "TEST SUITE:     {}\nLast Started:   {}\nLast Completed: {}\nPhase:          {}",
            t.name,
            output::ansic(&t.started_at),
            output::ansic(&t.completed_at),
            t.phase
        );
    }
    format!("{summary}{suites}")
}

/// Runs the tests: the part a signal cancels. The result also when a test failed.
async fn run_tests(global: &Global, args: &TestArgs) -> anyhow::Result<pb::OperationResult> {
    let mut client = applier::connect(global).await?;
    super::record_release(&args.name, &global.namespace());
    let span = tracing::info_span!(
        "operation",
        otel.name = "operation test",
        operation = "test",
        release = %args.name,
        namespace = %global.namespace(),
    );
    async {
        let mut stream = client
            .test(pb::TestRequest {
                name: args.name.clone(),
                namespace: global.namespace(),
                timeout_millis: u64::try_from(args.timeout.as_millis()).unwrap_or(u64::MAX),
                filters: args.filter.clone(),
                logs: args.logs,
            })
            .await
            .map_err(exit::status)?
            .into_inner();
        let mut printer = ProgressPrinter::default();
        while let Some(event) = stream.message().await.map_err(exit::status)? {
            if let Some(pb::operation_event::Event::Result(result)) = event.event {
                return Ok(result);
            }
            printer.print(&event);
        }
        bail!("the applier ended the test run without a result")
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_follow_the_summary() {
        let summary = "NAME: web\nSTATUS: deployed\n";
        assert_eq!(
            with_suites(summary, &[]),
            "NAME: web\nSTATUS: deployed\nTEST SUITE: None\n"
        );
        let run = pb::TestRun {
            name: "web-test".into(),
            phase: "Succeeded".into(),
            ..pb::TestRun::default()
        };
        let text = with_suites(summary, &[run]);
        assert!(
            text.starts_with(summary)
                && text.ends_with("TEST SUITE:     web-test\nLast Started:   \nLast Completed: \nPhase:          Succeeded\n"),
            "{text}"
        );
    }
}
