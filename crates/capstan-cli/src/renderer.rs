//! Reaching a renderer: a remote daemon, or the same service started in-process.

use capstan_proto::renderer::v1 as pb;
use capstan_proto::renderer::v1::renderer_client::RendererClient;
use capstan_renderer::{MAX_MESSAGE_BYTES, RendererService, digest_of};

use crate::cli::Global;
use crate::remote::{self, Authed};

/// A connected renderer client.
pub type Client = RendererClient<Authed>;

/// Whether this process started its own renderer (then charts are sent with each render: there
/// is no upload to save, and asking first would load the chart twice).
static IN_PROCESS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The renderer this process started, to hand it chart directories as loaded here.
static LOCAL: std::sync::OnceLock<RendererService> = std::sync::OnceLock::new();

/// Connects to the renderer at `--renderer`/`CAPSTAN_RENDERER`, or starts one in-process.
pub async fn connect(global: &Global) -> anyhow::Result<Client> {
    let channel = match global.renderer.as_deref().filter(|a| !a.is_empty()) {
        Some(addr) => remote::connect(addr, global, "renderer").await?,
        None => {
            let mut service = RendererService::default();
            let cache_home = crate::chart::helm_paths(global).cache_home;
            if let Some(cache) = capstan_renderer::CompileCache::from_env(&cache_home) {
                service = service.with_compile_cache(cache);
            }
            // Every command that connects renders: the service's render thread starts (once,
            // with the service) on the other core while this one loads the chart.
            let service = LOCAL.get_or_init(|| {
                service.prestart_render_thread();
                service
            });
            let service = service.clone().into_server();
            IN_PROCESS.store(true, std::sync::atomic::Ordering::Relaxed);
            remote::local(service)
        }
    };
    Ok(RendererClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// Makes sure the renderer holds `archive` (uploading it only when it lacks the digest) and
/// returns the chart source to render it by. An in-process renderer gets the archive itself.
pub async fn ensure_chart(
    client: &mut Client,
    archive: Vec<u8>,
) -> anyhow::Result<pb::ChartSource> {
    if IN_PROCESS.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(pb::ChartSource {
            source: Some(pb::chart_source::Source::Archive(archive)),
        });
    }
    let digest = digest_of(&archive);
    let present = client
        .has_chart(pb::HasChartRequest {
            digest: digest.clone(),
        })
        .await
        .map_err(status)?
        .into_inner();
    if !present.present {
        client
            .upload_chart(pb::UploadChartRequest { archive })
            .await
            .map_err(status)?;
    }
    Ok(pb::ChartSource {
        source: Some(pb::chart_source::Source::Digest(digest)),
    })
}

/// The chart source to render `chart` by: an archive made sure of (see [`ensure_chart`]), or
/// a reference the renderer fetches.
pub async fn chart_source(
    client: &mut Client,
    chart: crate::chart::Prepared,
) -> anyhow::Result<pb::ChartSource> {
    match chart {
        crate::chart::Prepared::Archive(archive) => ensure_chart(client, archive).await,
        crate::chart::Prepared::Directory(path) => match LOCAL.get() {
            Some(service) if IN_PROCESS.load(std::sync::atomic::Ordering::Relaxed) => {
                // The semver patterns nearly every chart's render needs first (compiling them
                // is about 3 M instructions), built on the core that would idle while this
                // one walks the chart's directory.
                let _ = std::thread::Builder::new()
                    .name("capstan-prepare".into())
                    .spawn(capstan_sprig::semver::prepare);
                let (chart, digest, prefetched) =
                    crate::chart::load_directory_with(&path, |key| service.prefetch_compiled(key))?;
                service
                    .put_loaded_prefetched(chart, &digest, prefetched)
                    .await
                    .map_err(status)
            }
            _ => ensure_chart(client, crate::chart::archive(&path)?).await,
        },
        crate::chart::Prepared::Reference(reference) => Ok(pb::ChartSource {
            source: Some(pb::chart_source::Source::Reference(reference)),
        }),
    }
}

/// Renders `request`: a renderer started in this process is called directly, its response
/// handed over as it is rather than encoded to protobuf and decoded again (for a large chart
/// that is megabytes of documents copied twice); a remote one through `client`. The size bound
/// a response crossing the transport has is kept, with the transport's own error, and so is
/// the bound on an error's message.
pub async fn render(
    client: &mut Client,
    request: pb::RenderRequest,
) -> Result<pb::RenderResponse, tonic::Status> {
    use capstan_proto::renderer::v1::renderer_server::Renderer as _;
    let local = LOCAL
        .get()
        .filter(|_| IN_PROCESS.load(std::sync::atomic::Ordering::Relaxed));
    let Some(service) = local else {
        return client
            .render(request)
            .await
            .map(tonic::Response::into_inner);
    };
    // An error is bounded as a daemon's status is (`capstan_server::bounded`), so both paths
    // give the user the same message.
    let response = service
        .render(tonic::Request::new(request))
        .await
        .map_err(|status| {
            let message = capstan_server::bounded::bound_message(status.message()).into_owned();
            tonic::Status::new(status.code(), message)
        })?
        .into_inner();
    let len = prost::Message::encoded_len(&response);
    if len > MAX_MESSAGE_BYTES {
        return Err(tonic::Status::out_of_range(format!(
            "Error, encoded message length too large: found {len} bytes, the limit is: \
             {MAX_MESSAGE_BYTES} bytes"
        )));
    }
    Ok(response)
}

/// A gRPC status as an error whose message is the service's own.
pub fn status(status: tonic::Status) -> anyhow::Error {
    crate::exit::status(status)
}
