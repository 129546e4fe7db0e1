//! How `capstan` reports errors and which exit code each kind gets.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (for `diff --detailed-exitcode`: no changes) |
//! | 1 | an error: bad input, a failed operation, an unreachable service |
//! | 2 | `diff --detailed-exitcode` found changes |
//! | 3 | the release is locked by another operation (the message says who holds it, since and until when), or another operation is in progress on it |
//! | 4 | a timeout: waiting for readiness (`--wait`, `--timeout`) or the operation's deadline passed |
//! | 141 | standard output was closed before everything was written (`capstan status R \| head -1`): quietly, with what a shell reports for Helm killed by SIGPIPE there ([`crate::console`]) |

use crate::console::eoutln;

/// Any error.
pub const ERROR: u8 = 1;
/// `diff --detailed-exitcode` found changes.
pub const DIFF_FOUND: u8 = 2;
/// Another operation holds the release.
pub const LOCK_HELD: u8 = 3;
/// A timeout.
pub const TIMEOUT: u8 = 4;
/// Standard output was closed early (128 + SIGPIPE).
pub const OUTPUT_CLOSED: u8 = 141;

/// An error a service reported, with its gRPC code (which decides the exit code).
#[derive(Debug)]
pub struct ServiceError {
    /// The gRPC code.
    pub code: tonic::Code,
    /// The service's message.
    pub message: String,
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ServiceError {}

/// A gRPC status as an error whose message is the service's own. A status made on this side of
/// the connection (the daemon went away, the connection broke) carries its cause as a source:
/// the message then says the service could not be reached, and why.
pub fn status(status: tonic::Status) -> anyhow::Error {
    let mut message = status.message().to_string();
    let mut source = std::error::Error::source(&status);
    if source.is_some() {
        message = format!("cannot reach the service: {message}");
    }
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = cause.source();
    }
    anyhow::Error::new(ServiceError {
        code: status.code(),
        message,
    })
}

/// A plain sentence put over an error whose full chain only `--debug` prints (see
/// [`explain`]).
#[derive(Debug)]
pub struct Summary(pub String);

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The flag that fixes an error of the command, when one may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// No flag fixes it.
    None,
    /// `--create-namespace` (install and upgrade without it).
    CreateNamespace,
    /// `--install` (upgrade without it).
    Install,
    /// `--create-namespace` or `--install`: the two of an upgrade that has neither.
    CreateNamespaceOrInstall,
}

/// Says a service's error in one plain sentence, with the fix when there is an obvious one:
/// a missing namespace (`namespaces "x" not found`, with `--create-namespace`) and a missing
/// release (named with the namespace searched, with `--install`). Other errors are unchanged.
pub fn explain(error: anyhow::Error, namespace: &str, fix: Fix) -> anyhow::Error {
    let Some(service) = error.downcast_ref::<ServiceError>() else {
        return error;
    };
    let message = service.message.clone();
    if let Some(missing) = missing_namespace(&message) {
        let hint = match fix {
            Fix::CreateNamespace | Fix::CreateNamespaceOrInstall => {
                " (add --create-namespace to create it)"
            }
            Fix::None | Fix::Install => "",
        };
        return error.context(Summary(format!("namespaces {missing:?} not found{hint}")));
    }
    if service.code == tonic::Code::NotFound
        && let Some(release) = missing_release(&message)
    {
        let hint = match fix {
            Fix::Install | Fix::CreateNamespaceOrInstall => " (add --install to install it)",
            Fix::None | Fix::CreateNamespace => "",
        };
        return error.context(Summary(format!(
            "release {release:?} not found in namespace {namespace:?}{hint}"
        )));
    }
    error
}

/// The namespace of a `namespaces "x" not found` in a message.
fn missing_namespace(message: &str) -> Option<String> {
    let start = message.find("namespaces \"")? + "namespaces \"".len();
    let rest = &message[start..];
    let end = rest.find("\" not found")?;
    Some(rest[..end].to_owned())
}

/// The release of a `release "x": not found` message.
fn missing_release(message: &str) -> Option<String> {
    let rest = message.strip_prefix("release \"")?;
    let name = rest.strip_suffix("\": not found")?;
    (!name.contains('"')).then(|| name.to_owned())
}

/// Prints the error in one clear line, then its causes; a [`Summary`] stands alone unless
/// `--debug` asks for the whole chain.
pub fn report(error: &anyhow::Error, debug: bool) {
    eoutln!("Error: {error}");
    let summarised = error.downcast_ref::<Summary>().is_some();
    if summarised && !debug {
        return;
    }
    for cause in error.chain().skip(1) {
        eoutln!("  caused by: {cause}");
    }
}

/// The exit code for an error.
pub fn code_of(error: &anyhow::Error) -> u8 {
    let Some(service) = error.chain().find_map(|e| e.downcast_ref::<ServiceError>()) else {
        return ERROR;
    };
    match service.code {
        tonic::Code::DeadlineExceeded => TIMEOUT,
        tonic::Code::FailedPrecondition
            if service.message.contains("locked by")
                || service.message.contains("is held by")
                || service.message.contains("in progress") =>
        {
            LOCK_HELD
        }
        _ => ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_by_status() {
        let locked = status(tonic::Status::failed_precondition(
            "release \"web\" in namespace \"apps\" is locked by a/op-1 since x until y",
        ));
        assert_eq!(code_of(&locked), LOCK_HELD);
        let timeout = status(tonic::Status::deadline_exceeded("timed out waiting"));
        assert_eq!(code_of(&timeout), TIMEOUT);
        let missing = status(tonic::Status::not_found("release: not found"));
        assert_eq!(code_of(&missing), ERROR);
        assert_eq!(code_of(&anyhow::anyhow!("plain")), ERROR);
    }

    #[test]
    fn missing_namespaces_and_releases_are_explained() {
        let lock = status(tonic::Status::not_found(
            "locking release \"w\": create lease nosuch/capstan.release.w: namespaces \"nosuch\" not found",
        ));
        let explained = explain(lock, "nosuch", Fix::CreateNamespace);
        assert_eq!(
            explained.to_string(),
            "namespaces \"nosuch\" not found (add --create-namespace to create it)"
        );
        assert_eq!(code_of(&explained), ERROR);
        let missing = status(tonic::Status::not_found("release \"web\": not found"));
        assert_eq!(
            explain(missing, "apps", Fix::Install).to_string(),
            "release \"web\" not found in namespace \"apps\" (add --install to install it)"
        );
        let other = status(tonic::Status::internal("boom"));
        assert_eq!(explain(other, "apps", Fix::None).to_string(), "boom");
    }

    #[test]
    fn a_broken_connection_says_so_and_why() {
        let refused = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        );
        let mut transport = tonic::Status::unavailable("tcp connect error");
        transport.set_source(std::sync::Arc::new(refused));
        assert_eq!(
            status(transport).to_string(),
            "cannot reach the service: tcp connect error: Connection refused (os error 111)"
        );
        // A service's own status is passed on as it is.
        let draining = tonic::Status::unavailable("the applier is shutting down");
        assert_eq!(status(draining).to_string(), "the applier is shutting down");
    }
}
