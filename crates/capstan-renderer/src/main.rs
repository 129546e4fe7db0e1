//! `capstan-renderer`: the renderer daemon.

use anyhow::Context as _;
use capstan_telemetry::trace::Logs;
use clap::Parser;

/// Serves capstan's renderer over gRPC.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(
        long,
        env = "CAPSTAN_RENDERER_LISTEN",
        default_value = "127.0.0.1:50051"
    )]
    listen: String,
    /// TLS and bearer tokens.
    #[command(flatten)]
    security: capstan_server::SecurityFlags,
    /// Accept Kubernetes service-account tokens too, checked with the cluster's TokenReview API
    /// (this daemon's identity needs `create` on `tokenreviews`).
    #[arg(long, env = "CAPSTAN_TOKEN_REVIEW")]
    token_review: bool,
    /// With --token-review: accept only tokens issued for this audience (repeatable).
    #[arg(long, requires = "token_review")]
    token_audience: Vec<String>,
    /// With --token-review: the kubeconfig of the cluster that reviews tokens (default:
    /// `KUBECONFIG`, `~/.kube/config`, in-cluster).
    #[arg(long, requires = "token_review")]
    kubeconfig: Option<std::path::PathBuf>,
    /// Serve Prometheus metrics at http://ADDR/metrics (off by default).
    #[arg(long, env = "CAPSTAN_RENDERER_METRICS_LISTEN", value_name = "ADDR")]
    metrics_listen: Option<String>,
    /// Bounds on charts, renders and requests.
    #[command(flatten)]
    limits: capstan_renderer::LimitFlags,
    /// Allow renders to name charts by reference, fetched from the repositories and registries
    /// this YAML file lists (with credentials from files; see docs/charts.md). Without it, charts
    /// are only uploaded.
    #[arg(long, env = "CAPSTAN_RENDERER_CHART_SOURCES", value_name = "FILE")]
    chart_sources: Option<std::path::PathBuf>,
    /// Keep Go charts' translated templates in this directory (bounded at 256 MiB, oldest out),
    /// shared with the render workers, so a worker loads a chart's translations instead of
    /// parsing and translating its templates on every render. `off`: none. Default: a
    /// temporary directory of this daemon's own, removed when it stops.
    #[arg(
        long,
        env = capstan_renderer::RENDERER_COMPILE_CACHE_ENV,
        value_name = "DIR|off"
    )]
    compile_cache: Option<std::path::PathBuf>,
    /// Internal: render one request from standard input within this many bytes of data.
    #[arg(long, hide = true, value_name = "BYTES")]
    render_worker: Option<u64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut service_limits = args.limits.service_limits();
    if args.render_worker.is_some() {
        // A worker's stack overflow ends the worker only, so it needs no huge stack.
        service_limits.render_stack_bytes = service_limits
            .render_stack_bytes
            .min(capstan_renderer::WORKER_STACK_BYTES);
    }
    let service = capstan_renderer::RendererService::new(
        capstan_renderer::CacheLimits::default(),
        args.limits.chart_limits(),
        args.limits.render_limits(),
    )
    .with_service_limits(service_limits);
    if let Some(bytes) = args.render_worker {
        // The daemon names its cache directory to its workers; a worker never makes its own.
        let service = match capstan_renderer::DaemonCompileCache::named(args.compile_cache) {
            Some(dir) => service.with_compile_cache(capstan_renderer::CompileCache::new(dir)),
            None => service,
        };
        return capstan_renderer::serve_worker(service, bytes).await;
    }
    // Held until the daemon stops: a default cache directory is removed then.
    let compile_cache = capstan_renderer::DaemonCompileCache::resolve(args.compile_cache)
        .context("making a temporary directory for the compile cache (--compile-cache)")?;
    let service = match compile_cache.dir() {
        Some(dir) => service.with_compile_cache(capstan_renderer::CompileCache::new(dir)),
        None => service,
    };
    let service = match &args.chart_sources {
        Some(path) => {
            let sources = capstan_renderer::ChartSources::load(path)?;
            service.with_chart_fetcher(capstan_renderer::ChartFetcher::new(
                sources,
                args.limits.chart_limits(),
            ))
        }
        None => service,
    };
    let service = match args.limits.render_memory_limit {
        0 => service,
        limit => service.with_render_worker(
            capstan_renderer::RenderWorker::new(
                std::env::current_exe().context("finding this program for render workers")?,
                std::env::args_os().skip(1).collect(),
                capstan_renderer::RenderWorker::data_limit(limit),
            )
            .with_warm(args.limits.render_warm_workers)
            .with_compile_cache_dir(compile_cache.dir().map(Into::into)),
        ),
    };
    let telemetry = capstan_telemetry::trace::init("capstan-renderer", Logs::Default("info"))?;
    let mut security = args.security.security()?;
    if args.token_review {
        let config = capstan_kube::auth::config(args.kubeconfig.as_deref(), None)
            .await
            .map_err(|e| anyhow::anyhow!(e))
            .context("reading the Kubernetes configuration for --token-review")?;
        let client = kube::Client::try_from(config).context("connecting to Kubernetes")?;
        let reviewer =
            capstan_kube::auth::TokenReviewer::new(client).audiences(args.token_audience);
        security.reviewer = Some(capstan_server::security::Reviewer(std::sync::Arc::new(
            reviewer,
        )));
    }
    let signal = capstan_server::shutdown_signal();
    let daemon = capstan_server::Daemon::bind(&args.listen).await?;
    let metrics = capstan_server::serve_metrics(args.metrics_listen.as_deref()).await?;
    println!("capstan-renderer listening on {}", daemon.local_addr());
    if let Some(addr) = metrics.local_addr() {
        println!("capstan-renderer metrics on http://{addr}/metrics");
    }
    let service = service.into_server();
    let served = daemon
        .serve_secure(
            service,
            capstan_proto::FILE_DESCRIPTOR_SET,
            &security,
            signal,
        )
        .await;
    metrics.stop().await;
    telemetry.shutdown().await;
    drop(compile_cache);
    Ok(served?)
}
