//! Reaching an applier: a remote daemon, or the same service started in this process over this
//! machine's kubeconfig and `HELM_DRIVER`, called directly.

use std::sync::Arc;

use capstan_applier::{ApplierService, KubeBackend, MAX_MESSAGE_BYTES};
use capstan_proto::applier::v1::applier_client::ApplierClient;

use crate::cli::Global;
use crate::remote::{self, Authed};

/// A connected applier client.
pub type Client = ApplierClient<Authed>;

/// The applier started in-process, if one was.
static IN_PROCESS: std::sync::OnceLock<ApplierService> = std::sync::OnceLock::new();

/// Waits until the in-process applier (if any) has finished every operation, e.g. the
/// finalisation of one cancelled by Ctrl-C, so the process does not exit in the middle of it.
pub async fn wait_idle() {
    if let Some(service) = IN_PROCESS.get() {
        service.wait_idle().await;
    }
}

/// Connects to the applier at `--applier`/`CAPSTAN_APPLIER`, or starts one in-process.
pub async fn connect(global: &Global) -> anyhow::Result<Client> {
    let channel = match global.applier.as_deref().filter(|a| !a.is_empty()) {
        Some(addr) => remote::connect(addr, global, "applier").await?,
        None => {
            let client = crate::kubeconfig::connect(global).await?;
            let storage = capstan_storage::StorageConfig::from_env()?;
            let service = ApplierService::new(Arc::new(KubeBackend::new(client, storage)));
            let _ = IN_PROCESS.set(service.clone());
            remote::local(service.into_server())
        }
    };
    Ok(ApplierClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}
