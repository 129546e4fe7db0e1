//! Plays a cloud's load-balancer controller: every Service of type `LoadBalancer` gets an
//! ingress address in its status, as a cloud assigns one, so Helm's waits (which require it)
//! finish. Addresses come from the loopback block 127.240.0.0/16, one per Service (derived from
//! its UID), so nothing outside this machine is ever named.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, ResourceExt as _};
use serde_json::json;

use crate::{Error, Result};

/// The address assigned to the Service with `uid`: 127.240.X.Y, Y never 0 or 255.
pub fn address_for(uid: &str) -> String {
    // FNV-1a: stable across runs and versions.
    let hash = uid.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let x = (hash >> 8) & 0xff;
    let y = (hash % 254) + 1;
    format!("127.240.{x}.{y}")
}

/// Whether `service` is a load balancer still waiting for its address.
pub fn needs_address(service: &Service) -> bool {
    let is_lb = service
        .spec
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .is_some_and(|t| t == "LoadBalancer");
    let has_ingress = service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .is_some_and(|i| !i.is_empty());
    is_lb && !has_ingress && service.metadata.deletion_timestamp.is_none()
}

struct Context {
    client: Client,
}

async fn reconcile(service: Arc<Service>, ctx: Arc<Context>) -> Result<Action> {
    if !needs_address(&service) {
        return Ok(Action::await_change());
    }
    let Some(uid) = service.metadata.uid.as_deref() else {
        return Ok(Action::await_change());
    };
    let namespace = service.namespace().unwrap_or_default();
    let name = service.name_any();
    let address = address_for(uid);
    let api: Api<Service> = Api::namespaced(ctx.client.clone(), &namespace);
    let status =
        json!({"status": {"loadBalancer": {"ingress": [{"ip": address, "ipMode": "VIP"}]}}});
    match api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await
    {
        Ok(_) => {
            tracing::debug!(service = %name, %namespace, %address, "load balancer assigned");
            Ok(Action::await_change())
        }
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Action::await_change()),
        Err(source) => Err(Error::Kube {
            action: "assign a load balancer address to",
            object: format!("service/{name} in namespace {namespace}"),
            source,
        }),
    }
}

fn retry(_: Arc<Service>, error: &Error, _: Arc<Context>) -> Action {
    tracing::debug!(%error, "load balancer reconcile failed; retrying");
    Action::requeue(Duration::from_secs(1))
}

/// Runs the load-balancer controller for `namespace` (every namespace when `None`) until the
/// future is dropped.
pub async fn run_load_balancers(client: Client, namespace: Option<String>) -> Result<()> {
    let services: Api<Service> = match &namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    Controller::new(services, watcher::Config::default().any_semantic())
        .run(reconcile, retry, Arc::new(Context { client }))
        .for_each(|_| async {})
        .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_stable_loopback_hosts() {
        let a = address_for("0f1e2d3c-aaaa-bbbb-cccc-000000000001");
        assert_eq!(a, address_for("0f1e2d3c-aaaa-bbbb-cccc-000000000001"));
        let last: u32 = a.rsplit('.').next().unwrap().parse().unwrap();
        assert!(
            a.starts_with("127.240.") && (1..=254).contains(&last),
            "{a}"
        );
    }

    #[test]
    fn only_load_balancers_without_an_address_need_one() {
        let service = |type_: &str, ingress: bool| -> Service {
            serde_json::from_value(json!({
                "metadata": {"name": "web", "namespace": "apps", "uid": "u"},
                "spec": {"type": type_},
                "status": {"loadBalancer": if ingress { json!({"ingress": [{"ip": "127.240.0.1"}]}) } else { json!({}) }},
            }))
            .unwrap()
        };
        assert!(needs_address(&service("LoadBalancer", false)));
        assert!(!needs_address(&service("LoadBalancer", true)));
        assert!(!needs_address(&service("ClusterIP", false)));
        assert!(!needs_address(&service("NodePort", false)));
    }
}
