//! capstan's multi-tenant security core: who is calling ([`Principal`]), which tenant that is
//! ([`Policy`]), and what that tenant may do ([`Caller`]).
//!
//! The daemons authenticate a call in one of three ways — a bearer token listed in a token file
//! ([`TokenTable`]), a client certificate (its subject CN or a SAN), or a Kubernetes
//! service-account token (checked by the cluster with a TokenReview, in `capstan-kube`) — and
//! turn it into a [`Principal`]. With a tenant policy ([`PolicySource`], YAML from a file or a ConfigMap,
//! reloaded when it changes) the principal is mapped to exactly one [`Tenant`]; the resulting [`Caller`] is
//! asked before every operation ([`Caller::authorize`]) and before anything of a chart is
//! applied ([`Caller::check_objects`]). Without a policy every authenticated caller is
//! unrestricted ([`Caller::unrestricted`]), which is single-tenant capstan as before.
//!
//! # Main types
//!
//! - [`Principal`]: an authenticated identity (token name, certificate names, service account).
//! - [`TokenTable`]: the token file: `sha256:<hex>` digests, each optionally naming its tenant.
//! - [`Policy`], [`Tenant`], [`Operation`], [`Impersonation`]: the policy file's model and its
//!   validation; [`Glob`], the `*`/`?` patterns it uses.
//! - [`PolicySource`]: the policy in force: a file re-read when its content changes, or text an
//!   adapter pushes (a ConfigMap).
//! - [`TokenReviewer`]: the port through which a cluster vouches for a token.
//! - [`Caller`], [`ObjectInfo`]: the authorizer.
//! - [`Error`]: one error for the crate; [`Error::Unauthenticated`], [`Error::Denied`] and
//!   [`Error::Quota`] are what the services map to gRPC codes.
//!
//! # Invariants
//!
//! - No I/O but reading the files it is handed; no async runtime, tonic or kube (the
//!   architecture test checks it): the daemons adapt this crate, not the other way round.
//! - Tokens are never kept or logged in the clear; only their sha256 digests are compared.
//! - A principal maps to at most one tenant: a certificate or service account matching two
//!   tenants is refused, never resolved by order.
//! - A policy that does not parse or validate is never used: loading fails, and a reload keeps
//!   the last good policy.
//! - Denials name the tenant and what was refused (operation and namespace, or the object), never
//!   values or tokens.

mod caller;
mod error;
mod glob;
mod policy;
mod principal;
mod source;
mod tokens;

pub use caller::{Caller, ObjectInfo};
pub use error::{Error, Result};
pub use glob::Glob;
pub use policy::{Impersonation, Operation, Policy, Tenant};
pub use principal::Principal;
pub use source::PolicySource;
pub use tokens::TokenTable;

use std::future::Future;
use std::pin::Pin;

/// What a [`TokenReviewer`] answers: the principal of a valid token, `None` for a token that is
/// not (unknown, expired, revoked), or why it could not be checked.
pub type Review<'a> =
    Pin<Box<dyn Future<Output = std::result::Result<Option<Principal>, String>> + Send + 'a>>;

/// Verifies bearer tokens a token file does not list, e.g. with a Kubernetes TokenReview
/// (`capstan_kube::auth::TokenReviewer`). Object-safe; implementations are adapters.
pub trait TokenReviewer: Send + Sync + 'static {
    /// Reviews `token`.
    fn review<'a>(&'a self, token: &'a str) -> Review<'a>;
}
