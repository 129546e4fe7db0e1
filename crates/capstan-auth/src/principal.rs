//! [`Principal`]: who an authenticated call comes from.

use std::fmt;

/// An authenticated identity, before the policy maps it to a tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// No authentication is configured (a loopback or in-process daemon).
    Anonymous,
    /// A bearer token from the token file, with the name its line gives (the tenant).
    Token {
        /// The name after the digest, if the line has one.
        name: Option<String>,
    },
    /// A client certificate verified by mutual TLS.
    Certificate {
        /// The subject's common name first (when it has one), then every DNS, URI, email and IP
        /// subject alternative name.
        names: Vec<String>,
    },
    /// A Kubernetes token the cluster vouched for (TokenReview), e.g. a service account's.
    Kubernetes {
        /// The user name, e.g. `system:serviceaccount:team-a:deployer`.
        username: String,
    },
}

impl Principal {
    /// The service account principal `system:serviceaccount:<namespace>:<name>`.
    pub fn service_account(namespace: &str, name: &str) -> Principal {
        Principal::Kubernetes {
            username: format!("system:serviceaccount:{namespace}:{name}"),
        }
    }
}

impl fmt::Display for Principal {
    /// A short description for messages and logs (never a secret).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::Anonymous => f.write_str("anonymous"),
            Principal::Token { name: Some(name) } => write!(f, "token {name:?}"),
            Principal::Token { name: None } => f.write_str("an unnamed token"),
            Principal::Certificate { names } => match names.first() {
                Some(first) => write!(f, "certificate {first:?}"),
                None => f.write_str("a certificate without names"),
            },
            Principal::Kubernetes { username } => write!(f, "kubernetes user {username:?}"),
        }
    }
}
