//! `Chart.lock` and chart dependencies: `dependency list|update|build`.
