//! Test support for capstan's daemons (feature `testing`): start a daemon binary on a free
//! loopback port, and check what every daemon promises operators: gRPC health reports the
//! service SERVING, reflection lists it, and SIGTERM makes it exit cleanly.

use std::ffi::OsStr;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

/// Starts `program --listen 127.0.0.1:0 ARGS...` and returns it with the address from its
/// `... listening on ADDR` line. Panics when it cannot start (this is test support).
pub fn spawn<I, S>(program: &Path, args: I) -> (Child, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    spawn_with_env(
        program,
        args,
        std::iter::empty::<(&OsStr, Option<&OsStr>)>(),
    )
}

/// [`spawn`] with environment variables set (`Some`) or removed (`None`); `HELM_DRIVER` is
/// always removed.
pub fn spawn_with_env<I, S, E, K, V>(program: &Path, args: I, env: E) -> (Child, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
    E: IntoIterator<Item = (K, Option<V>)>,
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    let mut command = Command::new(program);
    command.args(["--listen", "127.0.0.1:0"]).args(args);
    command.env_remove("HELM_DRIVER");
    for (key, value) in env {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("the daemon prints where it listens");
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    (child, addr)
}

/// Checks that the daemon at `addr` reports `service` SERVING over gRPC health and lists it
/// over reflection, then sends SIGTERM and checks it exits 0 within 10 seconds.
pub async fn assert_serves_then_stops(mut daemon: Child, addr: &str, service: &str) {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("a valid address")
        .connect()
        .await
        .expect("the daemon accepts connections");
    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("gRPC health answers")
        .into_inner();
    assert_eq!(
        health.status,
        ServingStatus::Serving as i32,
        "{service} is not SERVING"
    );

    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection answers")
        .into_inner();
    let response = responses
        .message()
        .await
        .expect("a reflection message")
        .expect("one answer");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.iter().any(|n| n == service),
        "reflection lists {names:?}, not {service}"
    );

    let pid = Pid::from_raw(i32::try_from(daemon.id()).expect("a pid fits i32"));
    kill(pid, Signal::SIGTERM).expect("SIGTERM is delivered");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = daemon.try_wait().expect("the daemon can be waited for") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not stop within 10s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "the daemon exited with {status}");
}
