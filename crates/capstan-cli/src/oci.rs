//! OCI registries from the command line: a [`capstan_oci::Registry`] from the registry flags
//! and Helm's credentials file, and the pull every `oci://` chart goes through.

use anyhow::Context as _;
use capstan_oci::{Credential, CredentialsFile, Reference, Registry, chart::Pulled};
use tracing::Instrument as _;

use crate::cli::RegistryFlags;
use crate::console::outln;

/// Helm's registry credentials file (`HELM_REGISTRY_CONFIG`, else under the Helm config home).
pub fn credentials_path() -> std::path::PathBuf {
    capstan_oci::credentials::default_path()
}

/// A client of `host` with `flags`: the credential is `--username`/`--password` when given,
/// else the host's entry in the credentials file, else none (anonymous).
pub fn open(host: &str, flags: &RegistryFlags) -> anyhow::Result<Registry> {
    let credential = match &flags.username {
        Some(username) => Some(Credential {
            username: username.clone(),
            password: flags.password.clone().unwrap_or_default(),
        }),
        None => CredentialsFile::load(&credentials_path())?.get(host)?,
    };
    let options = capstan_oci::Options {
        plain_http: flags.plain_http,
        insecure_skip_tls_verify: flags.insecure_skip_tls_verify,
        ca_file: flags.ca_file.clone(),
        cert_file: flags.cert_file.clone(),
        key_file: flags.key_file.clone(),
        credential,
        connect_timeout: None,
    };
    Ok(Registry::new(host, &options)?)
}

/// Resolves `reference` with `version` against the registry's tags and pulls the chart (and its
/// provenance when `with_prov`), loaded within the default archive limits.
pub async fn pull(
    reference: &str,
    version: Option<&str>,
    flags: &RegistryFlags,
    with_prov: bool,
) -> anyhow::Result<Pulled> {
    let parsed = Reference::parse(reference)?;
    let span = tracing::info_span!(
        "chart.pull",
        registry = %parsed.registry,
        repository = %parsed.repository
    );
    async {
        let registry = open(&parsed.registry, flags)?;
        let resolved = capstan_oci::chart::resolve(&registry, &parsed, version)
            .await
            .with_context(|| match version {
                Some(version) => format!("resolving version {version:?} of chart oci://{parsed}"),
                None => format!("resolving the version of chart oci://{parsed}"),
            })?;
        let limits = capstan_chart::Limits::default();
        capstan_oci::chart::pull(&registry, &resolved, &limits, with_prov)
            .await
            .with_context(|| format!("pulling chart oci://{resolved}"))
    }
    .instrument(span)
    .await
}

/// Helm's note after a push or pull whose tag holds `_` (a version with `+`).
pub fn explain_underscore(reference: &Reference) {
    if reference.tag.as_deref().is_some_and(|t| t.contains('_')) {
        outln!("{reference} contains an underscore.");
        outln!();
        outln!("OCI artifact references (e.g. tags) do not support the plus sign (+). To support");
        outln!("storing semantic versions, Helm adopts the convention of changing plus (+) to");
        outln!("an underscore (_) in chart version tags when pushing to a registry and back to");
        outln!("a plus (+) when pulling from a registry.");
    }
}
