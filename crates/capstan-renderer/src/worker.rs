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
//! A worker serves one render and exits, so every render starts from a fresh process; to keep
//! the process start off a render's path, the daemon keeps `warm` workers started ahead, each
//! already capped and waiting for its request ([`DEFAULT_WARM_WORKERS`], `--render-warm-workers`).
//!
//! The protocol is one message each way: the parent writes the `RenderRequest` (the chart always
//! as an archive) to the worker's standard input and closes it; the worker writes `0` and the
//! `RenderResponse`, or `1`, the gRPC code (4 bytes, big endian) and the message.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use capstan_proto::renderer::v1 as pb;
use capstan_proto::renderer::v1::renderer_server::Renderer as _;
use prost::Message as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::Status;

use crate::RendererService;

/// The memory limit of one render by default (`--render-memory-limit`): 256 MiB of data.
pub const DEFAULT_RENDER_MEMORY_LIMIT: u64 = 256 << 20;

/// The environment variable of the daemon's `--compile-cache` (a directory, or `off`).
pub const RENDERER_COMPILE_CACHE_ENV: &str = "CAPSTAN_RENDERER_COMPILE_CACHE";

/// Workers kept started ahead by default (`--render-warm-workers`).
pub const DEFAULT_WARM_WORKERS: usize = 2;

/// How the daemon starts a render worker: its own binary and arguments (with the same limit
/// flags), plus `--render-worker`; and the workers started ahead.
#[derive(Debug, Clone)]
pub struct RenderWorker {
    /// The program (the daemon's own executable).
    pub program: PathBuf,
    /// Its arguments; `--render-worker BYTES` is added.
    pub args: Vec<OsString>,
    /// The most bytes of data (heap and private mappings, thread stacks included) one worker
    /// may use.
    pub memory_bytes: u64,
    /// How many workers to keep started ahead (0: start one per render).
    pub warm: usize,
    /// The compile cache directory the workers share (see [`RenderWorker::with_compile_cache`]).
    pub compile_cache: Option<PathBuf>,
    /// The workers started ahead, waiting for a request (killed when dropped).
    spares: Arc<Mutex<Vec<tokio::process::Child>>>,
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

    /// Workers of `program` with `args`, each capped at `memory_bytes` of data, with
    /// [`DEFAULT_WARM_WORKERS`] started ahead.
    pub fn new(program: impl Into<PathBuf>, args: Vec<OsString>, memory_bytes: u64) -> Self {
        RenderWorker {
            program: program.into(),
            args,
            memory_bytes,
            warm: DEFAULT_WARM_WORKERS,
            compile_cache: None,
            spares: Arc::default(),
        }
    }

    /// Keeps `warm` workers started ahead (0: start one per render).
    pub fn with_warm(mut self, warm: usize) -> Self {
        self.warm = warm;
        self
    }

    /// Workers that keep Go charts' translated templates in the compile cache in `dir` (given
    /// to each worker as [`RENDERER_COMPILE_CACHE_ENV`], which `--compile-cache` on the command
    /// line overrides): the first worker to compile a chart stores them, the next ones load them
    /// instead of parsing and translating the chart again.
    pub fn with_compile_cache(self, dir: impl Into<PathBuf>) -> Self {
        self.with_compile_cache_dir(Some(dir.into()))
    }

    /// [`RenderWorker::with_compile_cache`] when `dir` is some, else workers with none of
    /// their own choosing (`--compile-cache` on the command line still applies).
    pub fn with_compile_cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.compile_cache = dir;
        self
    }

    /// Starts one worker: it caps itself, then waits for its request on standard input.
    fn spawn(&self) -> Result<tokio::process::Child, Status> {
        let mut command = tokio::process::Command::new(&self.program);
        if let Some(dir) = &self.compile_cache {
            command.env(RENDERER_COMPILE_CACHE_ENV, dir);
        }
        // A worker renders on one thread: a second thread's stack would count against its
        // `RLIMIT_DATA`, leaving the render less of the memory it was given.
        command.env(capstan_render::RENDER_SPLIT_ENV, "never");
        command
            .args(&self.args)
            .arg("--render-worker")
            .arg(self.memory_bytes.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Status::internal(format!("cannot start a render worker: {e}")))
    }

    /// A worker for one render: a live one started ahead when there is one, else a new one;
    /// then the spares are topped up to `warm` (starting a process returns at once: the
    /// worker's own start-up runs while this render does).
    fn take(&self) -> Result<tokio::process::Child, Status> {
        let mut spares = self.spares.lock().unwrap_or_else(PoisonError::into_inner);
        let mut taken = None;
        while let Some(mut spare) = spares.pop() {
            if matches!(spare.try_wait(), Ok(None)) {
                taken = Some(spare);
                break;
            }
        }
        let child = match taken {
            Some(child) => child,
            None => self.spawn()?,
        };
        while spares.len() < self.warm {
            match self.spawn() {
                Ok(spare) => spares.push(spare),
                Err(e) => {
                    tracing::warn!(error = %e.message(), "starting a spare render worker");
                    break;
                }
            }
        }
        Ok(child)
    }

    /// Runs `request` in a fresh worker, killed after `timeout`.
    pub(crate) async fn render(
        &self,
        request: pb::RenderRequest,
        timeout: Duration,
    ) -> Result<pb::RenderResponse, Status> {
        let limit = self.memory_bytes;
        let mut child = self.take()?;
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
