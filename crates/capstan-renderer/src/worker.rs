//! Renders in a worker process with a memory limit (`--render-memory-limit`).
//!
//! Some of minijinja's own operators (`~` concatenation, `+` on strings) allocate without any
//! hook capstan could bound, and safe Rust cannot fail an allocation gracefully; so a render that
//! must be bounded in memory runs in a child process (the daemon's own binary with
//! `--render-worker`) whose data size is capped with `RLIMIT_DATA`. A render that allocates past
//! the cap ends its own process (an allocation failure aborts it), the daemon answers
//! `RESOURCE_EXHAUSTED` naming the limit and serves everyone else; a render past its time limit is
//! killed with its process.
//!
//! The protocol is one message each way: the parent writes the `RenderRequest` (the chart always
//! as an archive) to the worker's standard input and closes it; the worker writes `0` and the
//! `RenderResponse`, or `1`, the gRPC code (4 bytes, big endian) and the message.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use capstan_proto::renderer::v1 as pb;
use capstan_proto::renderer::v1::renderer_server::Renderer as _;
use prost::Message as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::Status;

use crate::RendererService;

/// How the daemon starts a render worker: its own binary and arguments (with the same limit
/// flags), plus `--render-worker`.
#[derive(Debug, Clone)]
pub struct RenderWorker {
    /// The program (the daemon's own executable).
    pub program: PathBuf,
    /// Its arguments; `--render-worker BYTES` is added.
    pub args: Vec<OsString>,
    /// The most bytes of data (heap and private mappings, thread stacks included) one worker
    /// may use.
    pub memory_bytes: u64,
}

/// The render thread's stack in a worker: a stack overflow ends the worker only, so a worker
/// needs none of the daemon's large reservation.
pub const WORKER_STACK_BYTES: usize = 64 << 20;

impl RenderWorker {
    /// The data size a worker caps itself at for a render memory limit of `limit` bytes: the
    /// limit, plus the render thread's stack reservation and 64 MiB for the runtime, which
    /// `RLIMIT_DATA` counts too.
    pub fn data_limit(limit: u64) -> u64 {
        limit
            .saturating_add(WORKER_STACK_BYTES as u64)
            .saturating_add(64 << 20)
    }

    /// Runs `request` in a fresh worker, killed after `timeout`.
    pub(crate) async fn render(
        &self,
        request: pb::RenderRequest,
        timeout: Duration,
    ) -> Result<pb::RenderResponse, Status> {
        let limit = self.memory_bytes;
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .arg("--render-worker")
            .arg(limit.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| Status::internal(format!("cannot start a render worker: {e}")))?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let input = request.encode_to_vec();
        let exchange = async {
            let write = async {
                stdin.write_all(&input).await?;
                drop(stdin);
                Ok::<_, std::io::Error>(())
            };
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let (written, read, _) = tokio::join!(
                write,
                stdout.read_to_end(&mut out),
                stderr.read_to_end(&mut err)
            );
            let status = child.wait().await;
            (written, read, status, out, err)
        };
        let Ok((written, read, status, out, err)) = tokio::time::timeout(timeout, exchange).await
        else {
            return Err(Status::resource_exhausted(format!(
                "the render took longer than its limit of {timeout:?} (--render-timeout)"
            )));
        };
        let status =
            status.map_err(|e| Status::internal(format!("waiting for the render worker: {e}")))?;
        if written.is_ok() && read.is_ok() && status.success() {
            return decode_answer(&out);
        }
        let err = String::from_utf8_lossy(&err);
        if err.contains("memory allocation of") {
            return Err(Status::resource_exhausted(format!(
                "the render used more than its memory limit (--render-memory-limit; \
                 {limit} bytes of data in all)"
            )));
        }
        if err.contains("overflowed its stack") {
            return Err(Status::resource_exhausted(
                "the render overflowed its stack (values nested too deeply)",
            ));
        }
        Err(Status::internal(format!(
            "the render worker failed ({status}): {}",
            err.lines().last().unwrap_or_default()
        )))
    }
}

/// The worker's side: caps its own data size at `memory_bytes` (`RLIMIT_DATA`), then reads one
/// request from standard input, renders it with `service` and writes the answer to standard
/// output.
pub async fn serve_worker(service: RendererService, memory_bytes: u64) -> anyhow::Result<()> {
    nix::sys::resource::setrlimit(
        nix::sys::resource::Resource::RLIMIT_DATA,
        memory_bytes,
        memory_bytes,
    )?;
    let mut input = Vec::new();
    tokio::io::stdin().read_to_end(&mut input).await?;
    let request = pb::RenderRequest::decode(input.as_slice())?;
    let answer = match service.render(tonic::Request::new(request)).await {
        Ok(response) => [vec![0], response.into_inner().encode_to_vec()].concat(),
        Err(status) => {
            let code = (status.code() as i32).to_be_bytes();
            [&[1][..], &code, status.message().as_bytes()].concat()
        }
    };
    let mut stdout = tokio::io::stdout();
    stdout.write_all(&answer).await?;
    stdout.flush().await?;
    Ok(())
}

fn decode_answer(out: &[u8]) -> Result<pb::RenderResponse, Status> {
    match out.split_first() {
        Some((0, response)) => pb::RenderResponse::decode(response)
            .map_err(|e| Status::internal(format!("a render worker's answer: {e}"))),
        Some((1, rest)) if rest.len() >= 4 => {
            let (code, message) = rest.split_at(4);
            let code = i32::from_be_bytes(code.try_into().expect("4 bytes"));
            Err(Status::new(
                tonic::Code::from(code),
                String::from_utf8_lossy(message),
            ))
        }
        _ => Err(Status::internal("a render worker answered nothing")),
    }
}
