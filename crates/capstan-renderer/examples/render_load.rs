//! A load client for a running renderer: uploads a chart once, then renders it by digest
//! `--requests` times with `--concurrency` requests in flight, and prints latency percentiles and
//! throughput as one JSON line. `cargo xtask bench render` drives it.

use std::time::{Duration, Instant};

use capstan_proto::renderer::v1 as pb;
use capstan_proto::renderer::v1::renderer_client::RendererClient;
use clap::Parser;
use tonic::transport::Channel;

#[derive(Parser)]
struct Args {
    /// The renderer's address, e.g. 127.0.0.1:50051.
    #[arg(long)]
    addr: String,
    /// The chart directory to render.
    #[arg(long)]
    chart: std::path::PathBuf,
    /// Renders to time (after the warm-up renders).
    #[arg(long, default_value_t = 1000)]
    requests: usize,
    /// Untimed renders first.
    #[arg(long, default_value_t = 50)]
    warmup: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// The release's name.
    #[arg(long, default_value = "bench")]
    name: String,
    /// The release's namespace.
    #[arg(long, default_value = "bench")]
    namespace: String,
    /// `--set` values, as `capstan template` takes them.
    #[arg(long)]
    set: Vec<String>,
    /// The Kubernetes version the chart sees (`.Capabilities.KubeVersion`), e.g. 1.33.
    #[arg(long)]
    kube_version: Option<String>,
    /// Ask as `capstan template` does: no stored chart and no CRDs in the response (by
    /// default the response carries both, as an install needs).
    #[arg(long)]
    as_template: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let channel = Channel::from_shared(format!("http://{}", args.addr))?
        .connect()
        .await?;
    let mut client = RendererClient::new(channel).max_decoding_message_size(64 << 20);
    let archive = capstan_chart::package_dir(&args.chart, &capstan_chart::Limits::default())?;
    let digest = client
        .upload_chart(pb::UploadChartRequest { archive })
        .await?
        .into_inner()
        .digest;
    let request = pb::RenderRequest {
        chart: Some(pb::ChartSource {
            source: Some(pb::chart_source::Source::Digest(digest)),
        }),
        values: args
            .set
            .iter()
            .map(|set| pb::ValuesLayer {
                layer: Some(pb::values_layer::Layer::Set(set.clone())),
            })
            .collect(),
        release: Some(pb::ReleaseContext {
            name: args.name.clone(),
            namespace: args.namespace.clone(),
            revision: 1,
            is_install: true,
            is_upgrade: false,
        }),
        capabilities: args
            .kube_version
            .clone()
            .map(|kube_version| pb::Capabilities {
                kube_version,
                api_versions: Vec::new(),
            }),
        chart_values_json: None,
        lookups: None,
        lint_mode: false,
        render_subchart_notes: false,
        omit_stored_chart: args.as_template,
        omit_crds: args.as_template,
        omit_release_texts: args.as_template,
    };
    // The first render compiles the chart; its wall time is reported on its own.
    let t = Instant::now();
    let first = client.render(request.clone()).await?.into_inner();
    let first_ms = t.elapsed().as_secs_f64() * 1000.0;
    let documents = first.manifests.len() + first.hooks.len();
    for _ in 1..args.warmup {
        client.render(request.clone()).await?;
    }
    let started = Instant::now();
    let per_worker = args.requests.div_ceil(args.concurrency);
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let mut client = client.clone();
        let request = request.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_worker);
            for _ in 0..per_worker {
                let t = Instant::now();
                client.render(request.clone()).await?;
                latencies.push(t.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for worker in workers {
        latencies.extend(worker.await??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1000.0
    };
    println!(
        "{{\"requests\": {}, \"concurrency\": {}, \"documents\": {documents}, \"first_ms\": {first_ms:.3}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \"min_ms\": {:.3}, \"max_ms\": {:.3}, \"renders_per_second\": {:.1}}}",
        latencies.len(),
        args.concurrency,
        pct(0.50),
        pct(0.99),
        latencies[0].as_secs_f64() * 1000.0,
        latencies[latencies.len() - 1].as_secs_f64() * 1000.0,
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
