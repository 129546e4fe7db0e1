//! `capstan test RELEASE` against the real local control plane, as `helm test` behaves: the
//! test hooks run by weight, each test's last run is printed and recorded in the revision (Helm
//! v3's `helm status` shows it), `--filter name=`/`!name=` choose the tests, `--logs` prints
//! what the API server returns for each test pod (simulated pods have no logs), hook delete
//! policies apply, a failing test or one that outlives `--timeout` exits non-zero.

use std::path::Path;

use anyhow::ensure;
use capstan_e2e::process::{capstan, capstan_ok};
use capstan_testkit::helm::Helm;
use capstan_testkit::{TestNamespace, with_namespace};
use k8s_openapi::api::core::v1::Pod;

/// A chart with two test pods: `<release>-test-first` (weight 1) and `<release>-test-second`
/// (weight 2, deleted when it succeeds); `.Values.image` is the second's image, so a tag can
/// make it fail or run slowly.
fn write_chart(dir: &Path) -> anyhow::Result<String> {
    let chart = dir.join("tested");
    std::fs::create_dir_all(chart.join("templates/tests"))?;
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: tested\nversion: 0.1.0\n",
    )?;
    std::fs::write(chart.join("values.yaml"), "image: busybox:1.36\n")?;
    std::fs::write(
        chart.join("templates/config.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  a: b\n",
    )?;
    std::fs::write(
        chart.join("templates/NOTES.txt"),
        "Tested {{ .Release.Name }}.\n",
    )?;
    let pod = |name: &str, weight: i32, image: &str, policy: &str| {
        format!(
            "apiVersion: v1
kind: Pod
metadata:
  name: {{{{ .Release.Name }}}}-test-{name}
  annotations:
    helm.sh/hook: test
    helm.sh/hook-weight: \"{weight}\"
{policy}spec:
  restartPolicy: Never
  containers:
    - name: check
      image: {image}
"
        )
    };
    std::fs::write(
        chart.join("templates/tests/first.yaml"),
        pod("first", 1, "busybox:1.36", ""),
    )?;
    std::fs::write(
        chart.join("templates/tests/second.yaml"),
        pod(
            "second",
            2,
            "{{ .Values.image }}",
            "    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded\n",
        ),
    )?;
    Ok(chart.display().to_string())
}

async fn pod_exists(ns: &TestNamespace, name: &str) -> anyhow::Result<bool> {
    Ok(ns.api::<Pod>().get_opt(name).await?.is_some())
}

#[tokio::test]
async fn tests_run_as_helm_test_runs_them() {
    with_namespace("reltest", |ns| async move {
        let dir = tempfile::tempdir()?;
        let chart = write_chart(dir.path())?;
        let n = ns.name();
        capstan_ok(&["install", "web", &chart, "-n", n])?;

        // All tests, by weight; the release's summary with each test's last run, then notes.
        let run = capstan(&["test", "web", "-n", n]);
        ensure!(run.code == 0, "{}\n{}", run.stdout, run.stderr);
        let first = run.stdout.find("TEST SUITE:     web-test-first");
        let second = run.stdout.find("TEST SUITE:     web-test-second");
        ensure!(
            first.is_some() && second.is_some() && first < second,
            "{}",
            run.stdout
        );
        ensure!(
            run.stdout.matches("Phase:          Succeeded").count() == 2
                && run.stdout.contains("STATUS: deployed")
                && run.stdout.contains("NOTES:\nTested web."),
            "{}",
            run.stdout
        );
        // Delete policies: the second (hook-succeeded) is gone, the first is kept.
        ensure!(pod_exists(&ns, "web-test-first").await?);
        ensure!(!pod_exists(&ns, "web-test-second").await?);
        // The revision records the runs as Helm does: Helm's own status shows them.
        let helm = Helm::new("v3.22.0", "secret", n)?;
        let status = helm.run(&["status", "web"]).await?;
        ensure!(
            status.contains("TEST SUITE:     web-test-first")
                && status.contains("TEST SUITE:     web-test-second")
                && status.matches("Phase:          Succeeded").count() == 2,
            "{status}"
        );

        // --filter: only the tests named run, or all but them.
        let run = capstan(&["test", "web", "-n", n, "--filter", "name=web-test-first"]);
        ensure!(run.code == 0, "{}", run.stderr);
        ensure!(
            run.stderr.contains("web-test-first") && !run.stderr.contains("web-test-second"),
            "{}",
            run.stderr
        );
        let run = capstan(&["test", "web", "-n", n, "--filter", "!name=web-test-first"]);
        ensure!(run.code == 0, "{}", run.stderr);
        ensure!(
            !run.stderr.contains("web-test-first") && run.stderr.contains("web-test-second"),
            "{}",
            run.stderr
        );
        let run = capstan(&["test", "web", "-n", n, "--filter", "kind=Pod"]);
        ensure!(
            run.code != 0 && run.error_line().contains("invalid filter"),
            "{}",
            run.stderr
        );

        // --logs: a section per test pod, after the results.
        let run = capstan(&["test", "web", "-n", n, "--logs"]);
        ensure!(run.code == 0, "{}", run.stderr);
        ensure!(
            run.stdout.contains("\nPOD LOGS: web-test-first\n")
                && run.stdout.contains("\nPOD LOGS: web-test-second\n"),
            "{}",
            run.stdout
        );

        // A failing test: non-zero exit, the failure shown and recorded.
        capstan_ok(&[
            "upgrade",
            "web",
            &chart,
            "-n",
            n,
            "--set",
            "image=busybox:fail",
        ])?;
        let run = capstan(&["test", "web", "-n", n]);
        ensure!(run.code != 0, "{}", run.stdout);
        ensure!(
            run.stdout.contains("Phase:          Failed")
                && run.error_line().contains("web-test-second"),
            "{}\n{}",
            run.stdout,
            run.stderr
        );
        ensure!(
            pod_exists(&ns, "web-test-second").await?,
            "a failed test is kept (no hook-failed policy)"
        );
        let status = helm.run(&["status", "web"]).await?;
        ensure!(status.contains("Phase:          Failed"), "{status}");

        // A test that outlives --timeout fails too.
        capstan_ok(&[
            "upgrade",
            "web",
            &chart,
            "-n",
            n,
            "--set",
            "image=busybox:slow-60",
        ])?;
        let started = std::time::Instant::now();
        let run = capstan(&["test", "web", "-n", n, "--timeout", "3s"]);
        ensure!(run.code != 0, "{}", run.stdout);
        ensure!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "--timeout bounds the run"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn testing_a_release_that_does_not_exist_fails() {
    with_namespace("reltest-none", |ns| async move {
        let run = capstan(&["test", "nothing", "-n", ns.name()]);
        ensure!(
            run.code != 0 && run.error_line().contains("not found"),
            "{}",
            run.stderr
        );
        Ok(())
    })
    .await;
}
