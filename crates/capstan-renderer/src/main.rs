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
    /// TLS and bearer tokens.
    #[command(flatten)]
    security: capstan_server::SecurityFlags,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    capstan_server::telemetry::init("info");
    let args = Args::parse();
    let security = args.security.security()?;
    let daemon = capstan_server::Daemon::bind(&args.listen).await?;
    println!("capstan-renderer listening on {}", daemon.local_addr());
    let service = capstan_renderer::RendererService::default().into_server();
    daemon
        .serve_secure(
            service,
            capstan_proto::FILE_DESCRIPTOR_SET,
            &security,
            capstan_server::shutdown_signal(),
        )
        .await?;
    Ok(())
}
