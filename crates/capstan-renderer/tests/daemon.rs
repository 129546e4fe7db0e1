//! The `capstan-renderer` daemon as operators run it: it reports SERVING over gRPC health, answers
//! reflection, and exits cleanly on SIGTERM.

use std::path::Path;

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_serves_health_and_reflection_and_stops_on_sigterm() {
    let (daemon, addr) =
        capstan_server::testing::spawn(Path::new(env!("CARGO_BIN_EXE_capstan-renderer")), [""; 0]);
    capstan_server::testing::assert_serves_then_stops(
        daemon,
        &addr,
        "capstan.renderer.v1.Renderer",
    )
    .await;
}
