//! The renderer daemon's limit flags, with the library defaults as their defaults.

use std::time::Duration;

use capstan_chart::Limits;
use capstan_render::RenderLimits;

use crate::ServiceLimits;

/// Bounds on charts, renders and requests (`capstan-renderer --help` lists them).
#[derive(Debug, Clone, clap::Args)]
pub struct LimitFlags {
    /// Most loads, compiles and renders at once; more are refused (RESOURCE_EXHAUSTED).
    #[arg(long, env = "CAPSTAN_MAX_IN_FLIGHT", default_value_t = ServiceLimits::default().max_in_flight)]
    pub max_in_flight: usize,
    /// Most loads, compiles and renders of one tenant (under a policy) at once.
    #[arg(long, env = "CAPSTAN_MAX_IN_FLIGHT_PER_TENANT", default_value_t = ServiceLimits::default().max_in_flight_per_tenant)]
    pub max_in_flight_per_tenant: usize,
    /// Wall-clock limit of one render, in seconds.
    #[arg(long, default_value_t = RenderLimits::default().timeout.as_secs_f64())]
    pub render_timeout: f64,
    /// minijinja instructions allowed per template evaluation.
    #[arg(long, default_value_t = RenderLimits::default().fuel)]
    pub render_fuel: u64,
    /// Deepest nesting of include/tpl calls.
    #[arg(long, default_value_t = RenderLimits::default().max_include_depth)]
    pub max_include_depth: usize,
    /// Largest rendered output of one render, in bytes.
    #[arg(long, default_value_t = RenderLimits::default().max_output_bytes)]
    pub max_output_bytes: usize,
    /// Largest string one template function may build, in bytes.
    #[arg(long, default_value_t = RenderLimits::default().max_string_bytes)]
    pub max_string_bytes: usize,
    /// Most Kubernetes objects one render may produce.
    #[arg(long, default_value_t = RenderLimits::default().max_objects)]
    pub max_objects: usize,
    /// Most bytes of values (files, --set expressions, --set-file contents) in one request.
    #[arg(long, default_value_t = ServiceLimits::default().max_values_bytes)]
    pub max_values_bytes: usize,
    /// Render each chart in a worker process allowed this many bytes of memory (0: in the
    /// daemon, bounded by time and output only, and a render past its time limit keeps its
    /// thread until its fuel ends). A render past it gets RESOURCE_EXHAUSTED.
    #[arg(long, env = "CAPSTAN_RENDER_MEMORY_LIMIT", default_value_t = crate::DEFAULT_RENDER_MEMORY_LIMIT)]
    pub render_memory_limit: u64,
    /// Render workers kept started ahead, so a render does not wait for a process to start
    /// (with a render memory limit).
    #[arg(long, env = "CAPSTAN_RENDER_WARM_WORKERS", default_value_t = crate::DEFAULT_WARM_WORKERS)]
    pub render_warm_workers: usize,
    /// Stack of each render thread, in bytes (reserved, used only as touched).
    #[arg(long, default_value_t = ServiceLimits::default().render_stack_bytes)]
    pub render_stack_bytes: usize,
    /// Largest chart archive (compressed), in bytes.
    #[arg(long, default_value_t = Limits::default().max_archive_bytes)]
    pub max_chart_bytes: u64,
    /// Most bytes a chart archive may decompress to (stops gzip bombs).
    #[arg(long, default_value_t = Limits::default().max_decompressed_bytes)]
    pub max_chart_decompressed_bytes: u64,
    /// Most files in a chart, its subcharts included.
    #[arg(long, default_value_t = Limits::default().max_files)]
    pub max_chart_files: usize,
}

impl LimitFlags {
    /// The chart loading limits.
    pub fn chart_limits(&self) -> Limits {
        Limits {
            max_archive_bytes: self.max_chart_bytes,
            max_decompressed_bytes: self.max_chart_decompressed_bytes,
            max_files: self.max_chart_files,
            ..Limits::default()
        }
    }

    /// The limits of one render.
    pub fn render_limits(&self) -> RenderLimits {
        RenderLimits {
            max_include_depth: self.max_include_depth,
            fuel: self.render_fuel,
            timeout: Duration::from_secs_f64(self.render_timeout.max(0.0)),
            max_output_bytes: self.max_output_bytes,
            max_string_bytes: self.max_string_bytes,
            max_objects: self.max_objects,
        }
    }

    /// The service's own limits.
    pub fn service_limits(&self) -> ServiceLimits {
        ServiceLimits {
            max_in_flight: self.max_in_flight,
            max_in_flight_per_tenant: self.max_in_flight_per_tenant,
            render_stack_bytes: self.render_stack_bytes,
            max_values_bytes: self.max_values_bytes,
        }
    }
}
