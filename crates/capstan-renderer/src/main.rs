//! `capstan-renderer`: the renderer daemon.

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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    capstan_server::telemetry::init("info");
    let args = Args::parse();
    let daemon = capstan_server::Daemon::bind(&args.listen).await?;
    println!("capstan-renderer listening on {}", daemon.local_addr());
    let service = capstan_renderer::RendererService::default().into_server();
    daemon
        .serve(
            service,
            capstan_proto::FILE_DESCRIPTOR_SET,
            capstan_server::shutdown_signal(),
        )
        .await?;
    Ok(())
}
