//! What a request must pass before an operation starts: authorization of the caller, the
//! in-flight limits, and the preflight of a tenant's objects.

use capstan_auth::{Caller, Operation};
use capstan_ops::ObjectRef;
use tonic::Status;

use crate::ApplierService;

/// The admission limits: `max` operations at once, `per_tenant` of one tenant.
pub(crate) fn admission(max: usize, per_tenant: usize) -> capstan_server::InFlightLimit {
    capstan_server::InFlightLimit::new(max, "--max-in-flight")
        .per_tenant(per_tenant, "--max-in-flight-per-tenant")
}

impl ApplierService {
    /// The preflight of a mutating operation: the objects of `manifest` and `hooks`.
    pub(crate) async fn preflight(
        &self,
        caller: &Caller,
        namespace: &str,
        manifest: &str,
        hooks: &[capstan_release::Hook],
    ) -> Result<(), Status> {
        if caller.tenant().is_none() {
            return Ok(());
        }
        let mut objects: Vec<ObjectRef> = Vec::new();
        for text in std::iter::once(manifest).chain(hooks.iter().map(|h| h.manifest.as_str())) {
            let resources = capstan_ops::split_manifest(text)
                .map_err(|e| Status::invalid_argument(capstan_ops::error_chain(&e)))?;
            objects.extend(resources.into_iter().map(|r| r.object));
        }
        self.inner
            .backend
            .preflight(caller, namespace, &objects)
            .await
    }
}

/// An authorization failure as a gRPC status.
pub(crate) fn status(error: &capstan_auth::Error) -> Status {
    capstan_server::security::status(error)
}

/// The namespace a request means (`""`: `default`, as the operations read it).
pub(crate) fn effective(namespace: &str) -> &str {
    if namespace.is_empty() {
        "default"
    } else {
        namespace
    }
}

/// May `caller` run `operation` in `namespace`?
pub(crate) fn authorize(
    caller: &Caller,
    operation: Operation,
    namespace: &str,
) -> Result<(), Status> {
    caller
        .authorize(operation, namespace)
        .map_err(|e| status(&e))
}
