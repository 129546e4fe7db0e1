//! [`ReleaseObject`]: what the store needs of a Kubernetes kind, implemented for Secret and
//! ConfigMap. Everything else about the two drivers is shared.

use std::collections::BTreeMap;
use std::fmt;

use capstan_release::storage::{DATA_KEY, SECRET_TYPE};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::{ByteString, NamespaceResourceScope};
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The Secret type of chunk parts (heads keep Helm's `helm.sh/release.v1`).
pub const PART_SECRET_TYPE: &str = "capstan.dev/release-part.v1";

/// Which object of a record is being built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The object Helm knows: `sh.helm.release.v1.<name>.v<N>`.
    Head,
    /// A part of a chunked record.
    Part,
}

/// A namespaced kind that holds release payloads under the data key `release`.
pub trait ReleaseObject:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()>
    + Clone
    + fmt::Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The `HELM_DRIVER` name of stores of this kind.
    const DRIVER: &'static str;

    /// An object with `metadata` holding `payload` under `release`.
    fn with_payload(metadata: ObjectMeta, payload: String, role: Role) -> Self;

    /// The payload under `release`, if any.
    fn payload(&self) -> Option<&[u8]>;
}

impl ReleaseObject for Secret {
    const DRIVER: &'static str = "secret";

    fn with_payload(metadata: ObjectMeta, payload: String, role: Role) -> Self {
        let type_ = match role {
            Role::Head => SECRET_TYPE,
            Role::Part => PART_SECRET_TYPE,
        };
        Secret {
            metadata,
            type_: Some(type_.to_owned()),
            data: Some(BTreeMap::from([(
                DATA_KEY.to_owned(),
                ByteString(payload.into_bytes()),
            )])),
            ..Secret::default()
        }
    }

    fn payload(&self) -> Option<&[u8]> {
        self.data.as_ref()?.get(DATA_KEY).map(|b| b.0.as_slice())
    }
}

impl ReleaseObject for ConfigMap {
    const DRIVER: &'static str = "configmap";

    fn with_payload(metadata: ObjectMeta, payload: String, _role: Role) -> Self {
        ConfigMap {
            metadata,
            data: Some(BTreeMap::from([(DATA_KEY.to_owned(), payload)])),
            ..ConfigMap::default()
        }
    }

    fn payload(&self) -> Option<&[u8]> {
        self.data.as_ref()?.get(DATA_KEY).map(String::as_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_config_maps_hold_the_payload_under_release() {
        let secret = Secret::with_payload(ObjectMeta::default(), "H4sI".into(), Role::Head);
        assert_eq!(secret.type_.as_deref(), Some("helm.sh/release.v1"));
        assert_eq!(secret.payload(), Some(&b"H4sI"[..]));
        let part = Secret::with_payload(ObjectMeta::default(), "x".into(), Role::Part);
        assert_eq!(part.type_.as_deref(), Some(PART_SECRET_TYPE));
        let cm = ConfigMap::with_payload(ObjectMeta::default(), "H4sI".into(), Role::Head);
        assert_eq!(cm.payload(), Some(&b"H4sI"[..]));
        assert_eq!(ConfigMap::default().payload(), None);
    }
}
