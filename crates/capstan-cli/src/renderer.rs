//! Reaching a renderer: a remote daemon, or the same service started in-process.

use anyhow::Context as _;
use capstan_proto::renderer::v1 as pb;
use capstan_proto::renderer::v1::renderer_client::RendererClient;
use capstan_renderer::{MAX_MESSAGE_BYTES, RendererService, digest_of};
use tonic::transport::Channel;

/// A connected renderer client.
pub type Client = RendererClient<Channel>;

/// Connects to the renderer at `addr`, or starts one in-process when `addr` is `None`.
pub async fn connect(addr: Option<&str>) -> anyhow::Result<Client> {
    let endpoint = match addr {
        Some(addr) => {
            if addr.contains("://") {
                addr.to_string()
            } else {
                format!("http://{addr}")
            }
        }
        None => {
            let daemon = capstan_server::Daemon::bind("127.0.0.1:0").await?;
            let local = daemon.local_addr();
            let service = RendererService::default().into_server();
            tokio::spawn(daemon.serve(
                service,
                capstan_proto::FILE_DESCRIPTOR_SET,
                std::future::pending(),
            ));
            format!("http://{local}")
        }
    };
    let channel = Channel::from_shared(endpoint.clone())
        .with_context(|| format!("invalid renderer address {endpoint}"))?
        .connect()
        .await
        .with_context(|| format!("connecting to the renderer at {endpoint}"))?;
    Ok(RendererClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// Makes sure the renderer holds `archive` (uploading it only when it lacks the digest) and
/// returns the chart source to render it by.
pub async fn ensure_chart(
    client: &mut Client,
    archive: Vec<u8>,
) -> anyhow::Result<pb::ChartSource> {
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

/// A gRPC status as an error whose message is the service's own.
pub fn status(status: tonic::Status) -> anyhow::Error {
    crate::exit::status(status)
}
