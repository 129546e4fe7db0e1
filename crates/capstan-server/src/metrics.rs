//! A daemon's metrics endpoint (`--metrics-listen ADDR`): Prometheus text at
//! `http://ADDR/metrics`, on its own port, stopped with the daemon.

use std::net::SocketAddr;

use capstan_telemetry::metrics::MetricsServer;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{Error, Result};

/// The running metrics endpoint, or none when the daemon was not asked for one.
#[derive(Debug, Default)]
pub struct MetricsEndpoint {
    addr: Option<SocketAddr>,
    running: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

/// Binds `addr` and serves metrics there in the background; `None` serves nothing.
pub async fn serve_metrics(addr: Option<&str>) -> Result<MetricsEndpoint> {
    let Some(addr) = addr.filter(|a| !a.is_empty()) else {
        return Ok(MetricsEndpoint::default());
    };
    let server = MetricsServer::bind(addr).await.map_err(Error::Metrics)?;
    let bound = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));
    Ok(MetricsEndpoint {
        addr: Some(bound),
        running: Some((stop, task)),
    })
}

impl MetricsEndpoint {
    /// The address metrics are served on, if they are.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// Stops serving metrics.
    pub async fn stop(self) {
        if let Some((stop, task)) = self.running {
            let _ = stop.send(());
            let _ = task.await;
        }
    }
}

/// A gRPC code as a metric label: `success` for OK, otherwise the code in snake case.
pub fn code_label(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "success",
        Code::Cancelled => "cancelled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_become_snake_case_labels() {
        assert_eq!(code_label(tonic::Code::Ok), "success");
        assert_eq!(
            code_label(tonic::Code::FailedPrecondition),
            "failed_precondition"
        );
    }

    #[tokio::test]
    async fn no_address_serves_nothing() {
        let endpoint = serve_metrics(None).await.unwrap();
        assert!(endpoint.local_addr().is_none());
        endpoint.stop().await;
    }
}
