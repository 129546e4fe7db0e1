//! The `capstan-applier` daemon as operators run it: it reports SERVING over gRPC health, answers
//! reflection, and exits cleanly on SIGTERM. (It needs a kubeconfig to start, not a reachable
//! cluster: nothing here talks to Kubernetes.)

use std::path::Path;

/// A kubeconfig for a cluster nobody serves.
const KUBECONFIG: &str = "apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster:
    server: https://127.0.0.1:9
    insecure-skip-tls-verify: true
contexts:
- name: nowhere
  context:
    cluster: nowhere
    user: nobody
current-context: nowhere
users:
- name: nobody
  user:
    token: none
";

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_serves_health_and_reflection_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, KUBECONFIG).unwrap();
    let program = Path::new(env!("CARGO_BIN_EXE_capstan-applier"));
    let (daemon, addr) =
        capstan_server::testing::spawn(program, [Path::new("--kubeconfig"), &kubeconfig]);
    capstan_server::testing::assert_serves_then_stops(daemon, &addr, "capstan.applier.v1.Applier")
        .await;
}
