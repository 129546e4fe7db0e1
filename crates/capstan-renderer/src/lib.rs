//! capstan's renderer service: charts and values in, manifests out, over gRPC
//! (`capstan.renderer.v1.Renderer`).
//!
//! Platform backends call it thousands of times a day with the same few charts, so charts are
//! addressed by the sha256 digest of their archive: a client asks [`HasChart`], uploads the archive
//! only when it is missing, and renders by digest. Archives and compiled templates are cached by
//! digest ([`ChartCache`], bounded, least recently used out).
//!
//! The same service runs in the `capstan-renderer` daemon and in-process in the `capstan` CLI
//! (`capstan template`), so both give identical output.
//!
//! Invariants:
//! - Rendering is CPU-bound and bounded (time, instructions, include depth, output size, see
//!   [`capstan_render::RenderLimits`]); it runs on threads of its own with a large stack
//!   ([`ServiceLimits::render_stack_bytes`]), never on the async workers, so a hostile template
//!   that nests deeply or panics ends its own render only.
//! - Bounded admission: at most [`ServiceLimits::max_in_flight`] loads, compiles and renders run
//!   at once, and at most [`ServiceLimits::max_in_flight_per_tenant`] of one tenant (more are
//!   refused with `RESOURCE_EXHAUSTED`); a render that overruns its time limit
//!   is answered with `RESOURCE_EXHAUSTED` at the deadline and keeps its slot until it ends.
//! - Every input is bounded: chart archives ([`capstan_chart::Limits`]), values
//!   ([`ServiceLimits::max_values_bytes`]) and messages ([`MAX_MESSAGE_BYTES`]); every rejection
//!   names the limit.
//! - Values never appear in logs; spans carry the release, namespace, revision and chart digest.
//! - Under a tenant policy, a caller renders only if its tenant may `render`, and only for
//!   releases in its namespaces; each tenant's charts are cached apart from every other's, so
//!   a digest uploaded by one tenant is unknown to the others.
//! - Every render is counted and timed by result, and every chart cache lookup counted as a hit
//!   or a miss ([`capstan_telemetry::metrics`]).
//! - A chart named by reference ([`ChartFetcher`], `--chart-sources`) is fetched only from a
//!   source the operator listed, for a tenant whose policy names that source; it is checked
//!   against its index or manifest digest and cached by digest for every tenant, so it is
//!   downloaded once (its cache entries are the only ones tenants share).
//!
//! [`HasChart`]: capstan_proto::renderer::v1::renderer_server::Renderer::has_chart

mod cache;
mod compilecache;
mod convert;
mod fetch;
mod flags;
mod sources;
mod threads;
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use capstan_chart::{Chart, Limits};
use capstan_proto::renderer::v1 as pb;
use capstan_proto::renderer::v1::renderer_server::{Renderer, RendererServer};
use capstan_render::{CompiledChart, RenderLimits};
use capstan_server::{InFlightLimit, Tenant};
use tonic::{Request, Response, Status};
use tracing::Instrument as _;

pub use cache::{CacheLimits, ChartCache};
pub use capstan_render::compile_key;
pub use compilecache::{COMPILE_CACHE_ENV, CompileCache, DaemonCompileCache};
pub use convert::stored_chart;
pub use fetch::{ChartFetcher, Fetched};
pub use flags::LimitFlags;
pub use sources::{ChartSourceConfig, ChartSources, DEFAULT_REFRESH_SECONDS};
pub use worker::{
    DEFAULT_RENDER_MEMORY_LIMIT, DEFAULT_WARM_WORKERS, RENDERER_COMPILE_CACHE_ENV, RenderWorker,
    WORKER_STACK_BYTES, serve_worker,
};

/// Largest gRPC message the renderer accepts or sends.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// Most values layers (values files, `--set` flags...) in one render request.
pub const MAX_VALUES_LAYERS: usize = 1024;

/// Bounds of the service itself (those of one chart and one render are
/// [`capstan_chart::Limits`] and [`RenderLimits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceLimits {
    /// Most loads, compiles and renders at once; more are refused with `RESOURCE_EXHAUSTED`.
    pub max_in_flight: usize,
    /// Most loads, compiles and renders of one tenant (under a policy) at once.
    pub max_in_flight_per_tenant: usize,
    /// Stack of each render thread. Deeply nested template values are dropped and printed
    /// recursively; a large stack (reserved, used only as touched) keeps that from overflowing.
    pub render_stack_bytes: usize,
    /// Most bytes of values in one render request (values files, `--set` expressions and
    /// `--set-file` contents together).
    pub max_values_bytes: usize,
}

impl Default for ServiceLimits {
    fn default() -> Self {
        ServiceLimits {
            max_in_flight: 32,
            max_in_flight_per_tenant: 16,
            render_stack_bytes: 1 << 30,
            max_values_bytes: 16 << 20,
        }
    }
}

fn admission(limits: ServiceLimits) -> InFlightLimit {
    InFlightLimit::new(limits.max_in_flight, "--max-in-flight").per_tenant(
        limits.max_in_flight_per_tenant,
        "--max-in-flight-per-tenant",
    )
}

/// The renderer service.
#[derive(Clone)]
pub struct RendererService {
    inner: Arc<Inner>,
}

struct Inner {
    cache: ChartCache,
    chart_limits: Limits,
    render_limits: RenderLimits,
    limits: ServiceLimits,
    in_flight: InFlightLimit,
    /// The threads loads, compiles and renders run on (kept between them).
    threads: threads::Threads,
    /// When set, every render runs in a worker process with a memory limit.
    worker: Option<RenderWorker>,
    /// When set, charts may be named by reference (`--chart-sources`).
    fetcher: Option<Arc<ChartFetcher>>,
    /// When set, Go charts' translated templates are kept on disk between processes.
    compile_cache: Option<CompileCache>,
    /// Charts handed over loaded ([`RendererService::put_loaded_prefetched`]) and not yet
    /// compiled, by cache key: the next render of one compiles it.
    loaded: Mutex<HashMap<String, Arc<Loaded>>>,
}

impl Default for RendererService {
    fn default() -> Self {
        RendererService::new(
            CacheLimits::default(),
            Limits::default(),
            RenderLimits::default(),
        )
    }
}

impl RendererService {
    /// A renderer with these cache, chart-loading and rendering bounds.
    pub fn new(
        cache: CacheLimits,
        chart_limits: Limits,
        render_limits: RenderLimits,
    ) -> RendererService {
        RendererService {
            inner: Arc::new(Inner {
                cache: ChartCache::new(cache),
                chart_limits,
                render_limits,
                limits: ServiceLimits::default(),
                in_flight: admission(ServiceLimits::default()),
                threads: threads::Threads::new(ServiceLimits::default().render_stack_bytes),
                worker: None,
                fetcher: None,
                compile_cache: None,
                loaded: Mutex::default(),
            }),
        }
    }

    /// The same service with these service bounds (admission, render threads, values size).
    pub fn with_service_limits(self, limits: ServiceLimits) -> RendererService {
        let worker = self.inner.worker.clone();
        self.rebuilt(limits, worker)
    }

    /// The same service rendering every chart in a worker process with a memory limit (see
    /// [`RenderWorker`]). Call before serving: it starts a fresh service.
    pub fn with_render_worker(self, worker: RenderWorker) -> RendererService {
        let limits = self.inner.limits;
        self.rebuilt(limits, Some(worker))
    }

    /// The same service fetching charts named by reference with `fetcher` (see
    /// [`ChartFetcher`]). Call before serving: it starts a fresh service.
    pub fn with_chart_fetcher(self, fetcher: ChartFetcher) -> RendererService {
        let mut service = self.rebuilt(self.inner.limits, self.inner.worker.clone());
        Arc::get_mut(&mut service.inner)
            .expect("a fresh service is not shared")
            .fetcher = Some(Arc::new(fetcher));
        service
    }

    /// The same service keeping Go charts' translated templates in `cache` between processes
    /// (see [`CompileCache`]). Call before serving: it starts a fresh service.
    pub fn with_compile_cache(self, cache: CompileCache) -> RendererService {
        let mut service = self.rebuilt(self.inner.limits, self.inner.worker.clone());
        Arc::get_mut(&mut service.inner)
            .expect("a fresh service is not shared")
            .compile_cache = Some(cache);
        service
    }

    /// Hands a chart already loaded in this process to the service (the `capstan` CLI's own
    /// renderer takes a chart directory so, with no archive made and unpacked again), and
    /// returns the chart source to render it by: the digest `sha256:<compile_key>`, where
    /// `compile_key` is the digest of the files compiling reads
    /// ([`capstan_render::compile_key`], also the compile cache's key). That digest does not
    /// name the chart whole (two charts with the same templates may differ in values or other
    /// files), so each call replaces what the digest names: a render by it uses the chart
    /// handed over last. The chart is held until the next render of it compiles it, on that
    /// render's thread and in the same job (a compile's error is that render's): handing the compiled
    /// chart back to the caller's thread and the render on to another cost two wake-ups,
    /// each a wait for a core while the compile cache's other threads had both.
    pub async fn put_loaded(
        &self,
        chart: Chart,
        compile_key: &str,
    ) -> Result<pb::ChartSource, Status> {
        self.put_loaded_prefetched(chart, compile_key, Prefetched(None))
            .await
    }

    /// Starts a render thread that waits for the first render, so that render finds it
    /// started: its creation, stack and heap happen while the caller still loads the chart.
    /// A process about to render once (the `capstan` CLI's own renderer) calls it first.
    pub fn prestart_render_thread(&self) {
        // Without it, the render starts its thread itself.
        let _ = self.inner.threads.prestart("capstan-render");
    }

    /// Starts reading what the compile cache keeps for the chart whose files have
    /// `compile_key`, on a thread of its own, so that it is read while the caller builds the
    /// chart; hand the result to [`RendererService::put_loaded_prefetched`] with that chart.
    pub fn prefetch_compiled(&self, compile_key: &str) -> Prefetched {
        let Some(cache) = self.inner.compile_cache.clone() else {
            return Prefetched(None);
        };
        let digest = format!("sha256:{compile_key}");
        let reading = std::thread::Builder::new()
            .name("capstan-prefetch".into())
            .spawn(move || cache.load(&digest));
        // Without the thread, the compile reads the entry itself.
        Prefetched(reading.ok())
    }

    /// [`RendererService::put_loaded`] with the compile cache's entry read ahead for this
    /// `compile_key` ([`RendererService::prefetch_compiled`]).
    pub async fn put_loaded_prefetched(
        &self,
        chart: Chart,
        compile_key: &str,
        prefetched: Prefetched,
    ) -> Result<pb::ChartSource, Status> {
        let digest = format!("sha256:{compile_key}");
        let key = cache_key(&Tenant::Anonymous, &digest);
        self.inner
            .loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, Arc::new(Mutex::new(Some((chart, prefetched)))));
        Ok(pb::ChartSource {
            source: Some(pb::chart_source::Source::Digest(digest)),
        })
    }

    /// A fresh service (empty cache, no admissions) with these service bounds and worker.
    fn rebuilt(&self, limits: ServiceLimits, worker: Option<RenderWorker>) -> RendererService {
        RendererService {
            inner: Arc::new(Inner {
                cache: ChartCache::new(self.inner.cache.limits()),
                chart_limits: self.inner.chart_limits,
                render_limits: self.inner.render_limits,
                limits,
                in_flight: admission(limits),
                threads: threads::Threads::new(limits.render_stack_bytes),
                worker,
                fetcher: self.inner.fetcher.clone(),
                compile_cache: self.inner.compile_cache.clone(),
                loaded: Mutex::default(),
            }),
        }
    }

    /// Where a request's chart is cached, and its digest: an archive sent whole is kept in the
    /// tenant's cache; a digest names one uploaded before; a reference is fetched (or taken
    /// from the shared cache) for the caller.
    async fn chart_key(
        &self,
        caller: &capstan_server::Caller,
        tenant: &Tenant,
        source: Option<pb::ChartSource>,
    ) -> Result<(String, String), Status> {
        use pb::chart_source::Source;
        match source.and_then(|s| s.source) {
            Some(Source::Archive(archive)) => {
                let digest = digest_of(&archive);
                let key = cache_key(tenant, &digest);
                if !self.inner.cache.has(&key) {
                    self.inner.cache.put_archive(&key, archive);
                }
                Ok((key, digest))
            }
            Some(Source::Digest(digest)) => Ok((cache_key(tenant, &digest), digest)),
            Some(Source::Reference(reference)) => {
                let fetcher = self.inner.fetcher.as_ref().ok_or_else(|| {
                    Status::failed_precondition(format!(
                        "chart reference {}{}: this renderer fetches no charts by reference                          (its operator starts it with --chart-sources to allow that)",
                        reference.url,
                        if reference.chart.is_empty() {
                            String::new()
                        } else {
                            format!(" {}", reference.chart)
                        }
                    ))
                })?;
                let fetched = fetcher.fetch(caller, &reference).await?;
                let key = shared_key(&fetched.digest);
                if !self.inner.cache.has(&key) {
                    self.inner.cache.put_archive(&key, fetched.archive);
                }
                Ok((key, fetched.digest))
            }
            None => Err(Status::invalid_argument(
                "the request names no chart (archive, digest or reference)",
            )),
        }
    }

    /// The archive cached under `key`.
    fn archive_of(&self, key: &str, digest: &str) -> Result<Vec<u8>, Status> {
        self.inner
            .cache
            .archive(key)
            .map(|archive| archive.as_ref().clone())
            .ok_or_else(|| {
                Status::not_found(format!(
                    "chart {digest} is not held by this renderer; upload it first"
                ))
            })
    }

    /// Loads, compiles and renders running now (for metrics and tests).
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.in_use()
    }

    /// Runs `f` on a render thread of its own (one kept from an earlier job when idle, see
    /// [`threads`]), admitted against the in-flight limit; answers
    /// `RESOURCE_EXHAUSTED` when the render time limit (plus a second of grace) passes first.
    /// The thread keeps its admission until it really ends (its fuel bounds that).
    async fn blocking<T: Send + 'static>(
        &self,
        tenant: &Tenant,
        what: &'static str,
        f: impl FnOnce() -> Result<T, Status> + Send + 'static,
    ) -> Result<T, Status> {
        let admitted = self.inner.in_flight.admit(tenant)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.inner
            .threads
            .run(&format!("capstan-{what}"), move || {
                let result = f();
                drop(admitted);
                let _ = tx.send(result);
            })
            .map_err(|e| {
                Status::resource_exhausted(format!("cannot start a {what} thread: {e}"))
            })?;
        let deadline = self.inner.render_limits.timeout + Duration::from_secs(1);
        match tokio::time::timeout(deadline, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Status::internal(format!(
                "the {what} thread ended without a result (it panicked)"
            ))),
            Err(_) => {
                tracing::warn!(
                    what,
                    ?deadline,
                    "abandoned a render that overran its time limit"
                );
                Err(Status::resource_exhausted(format!(
                    "{what} took longer than the limit of {:?} (--render-timeout)",
                    self.inner.render_limits.timeout
                )))
            }
        }
    }

    /// The tonic server for this service, with capstan's message size limits.
    pub fn into_server(self) -> RendererServer<RendererService> {
        RendererServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// The chart cache (for metrics and tests).
    pub fn cache(&self) -> &ChartCache {
        &self.inner.cache
    }

    /// The compiled chart cached under `key`, loading and compiling it when needed.
    async fn compiled(
        &self,
        tenant: &Tenant,
        key: &str,
        digest: &str,
    ) -> Result<Arc<CompiledChart>, Status> {
        if let Some(compiled) = self.inner.cache.compiled(key) {
            capstan_telemetry::metrics::chart_cache("compiled", true);
            return Ok(compiled);
        }
        capstan_telemetry::metrics::chart_cache("compiled", false);
        let archive = self.inner.cache.archive(key).ok_or_else(|| {
            Status::not_found(format!(
                "chart {digest} is not held by this renderer; upload it first"
            ))
        })?;
        let inner = self.inner.clone();
        let for_compile = digest.to_owned();
        let compiled = self
            .blocking(tenant, "compile", move || {
                let chart =
                    Chart::load_archive(&archive, &inner.chart_limits).map_err(chart_error)?;
                compile(&inner, chart, &for_compile, Prefetched(None)).map(Arc::new)
            })
            .await?;
        self.inner.cache.put_compiled(key, compiled.clone());
        Ok(compiled)
    }
}

/// Compiles `chart`, taking its translated templates (and their compiled instructions) from
/// the compile cache under `digest` (a content digest covering every file compiling reads)
/// when it holds them; they are kept there after a render ([`keep_compiled`]).
/// What the compile cache keeps for a chart, being read ahead
/// ([`RendererService::prefetch_compiled`]).
#[derive(Debug)]
pub struct Prefetched(Option<std::thread::JoinHandle<Option<capstan_render::Translations>>>);

/// Compiles `chart` (known by `digest`), taking its translations from the compile cache:
/// those `prefetched` reads (waited for only when the compile needs them), else read then.
fn compile(
    inner: &Inner,
    chart: Chart,
    digest: &str,
    prefetched: Prefetched,
) -> Result<CompiledChart, Status> {
    let cache = inner.compile_cache.as_ref();
    let reuse = || match prefetched.0 {
        Some(reading) => reading
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        None => cache.and_then(|c| c.load(digest)),
    };
    let compiled = CompiledChart::compile_reusing_later(chart, &inner.render_limits, reuse)
        .map_err(render_error)?;
    tracing::debug!(
        chart = %digest,
        reused = compiled.reused_translations(),
        "chart compiled"
    );
    Ok(compiled)
}

/// A chart handed over loaded, until a render takes it to compile.
type Loaded = Mutex<Option<(Chart, Prefetched)>>;

/// Compiles the chart handed over as `loaded` (under cache `key`, known by `digest`) and
/// caches it, for the render about to use it. A render of the same chart meanwhile waits for
/// it (holding `loaded`), then takes it from the cache; one after it finds the cache.
fn compile_loaded(
    inner: &Inner,
    key: &str,
    digest: &str,
    loaded: &Arc<Loaded>,
) -> Result<Arc<CompiledChart>, Status> {
    let mut slot = loaded.lock().unwrap_or_else(|e| e.into_inner());
    let Some((chart, prefetched)) = slot.take() else {
        return inner.cache.compiled(key).ok_or_else(|| {
            Status::failed_precondition(format!(
                "chart {digest} did not compile in an earlier render; hand it over again"
            ))
        });
    };
    let compiled = compile(inner, chart, digest, prefetched).map(Arc::new);
    if let Ok(compiled) = &compiled {
        inner.cache.put_compiled(key, compiled.clone());
    }
    // Let go only now: a render that no longer finds the chart handed over finds it compiled.
    let mut all = inner.loaded.lock().unwrap_or_else(|e| e.into_inner());
    if all.get(key).is_some_and(|l| Arc::ptr_eq(l, loaded)) {
        all.remove(key);
    }
    compiled
}

/// Keeps `compiled` in the compile cache under `digest` after a render (successful or not)
/// when the cache lacks it: a chart compiled anew, or instructions this render compiled.
fn keep_compiled(cache: Option<&CompileCache>, digest: &str, compiled: &CompiledChart) {
    if let Some(cache) = cache
        && compiled.take_cache_update()
    {
        cache.store(digest, compiled);
    }
}

/// Where the renderer caches a tenant's chart: each tenant has its own cache entries, so no
/// tenant can render, or learn that the renderer holds, a chart another tenant uploaded.
fn cache_key(tenant: &Tenant, digest: &str) -> String {
    match tenant {
        Tenant::Anonymous => digest.to_owned(),
        Tenant::Named(name) => format!("{name}/{digest}"),
    }
}

/// Where a chart fetched by reference is cached: one entry for every tenant (the space keeps
/// it apart from every tenant's keys, since tenant names hold no whitespace).
fn shared_key(digest: &str) -> String {
    format!("fetched {digest}")
}

/// The digest a chart archive is addressed by: `sha256:<hex>`.
pub fn digest_of(archive: &[u8]) -> String {
    format!("sha256:{}", capstan_chart::archive_digest(archive))
}

fn invalid(error: impl std::fmt::Display) -> Status {
    Status::invalid_argument(error.to_string())
}

/// Chart loading errors: a limit is `RESOURCE_EXHAUSTED`, anything else `INVALID_ARGUMENT`.
fn chart_error(error: capstan_chart::Error) -> Status {
    match &error {
        capstan_chart::Error::Limit { .. } => Status::resource_exhausted(error.to_string()),
        _ => Status::invalid_argument(error.to_string()),
    }
}

fn render_error(error: capstan_render::Error) -> Status {
    match &error {
        capstan_render::Error::Template {
            kind: capstan_render::TemplateErrorKind::Limit,
            ..
        }
        | capstan_render::Error::Limit { .. }
        | capstan_render::Error::Chart(capstan_chart::Error::Limit { .. }) => {
            Status::resource_exhausted(error.to_string())
        }
        _ => Status::invalid_argument(error.to_string()),
    }
}

/// The tenant's policy bounds what its templates may read: a lookup in a namespace it may not
/// render in is refused, before its client is asked to read it.
fn check_lookups(
    caller: &capstan_server::Caller,
    response: &pb::RenderResponse,
) -> Result<(), Status> {
    for key in &response.lookups_unanswered {
        if key.namespace.is_empty() {
            continue;
        }
        caller
            .authorize(capstan_server::Operation::Render, &key.namespace)
            .map_err(|e| {
                Status::permission_denied(format!(
                    "the chart looks up {} {} {:?} in namespace {:?}: {e}",
                    key.api_version, key.kind, key.name, key.namespace
                ))
            })?;
    }
    Ok(())
}

/// May `caller` render (for a release in `namespace`; `""`: charts, in no namespace)?
fn authorize(caller: &capstan_server::Caller, namespace: &str) -> Result<(), Status> {
    caller
        .authorize(capstan_server::Operation::Render, namespace)
        .map_err(|e| capstan_server::security::status(&e))
}

#[tonic::async_trait]
impl Renderer for RendererService {
    async fn render(
        &self,
        request: Request<pb::RenderRequest>,
    ) -> Result<Response<pb::RenderResponse>, Status> {
        let caller = capstan_server::caller(&request);
        let started = std::time::Instant::now();
        let mut request = request.into_inner();
        let release = convert::release(request.release.clone());
        let namespace = if release.namespace.is_empty() {
            "default"
        } else {
            release.namespace.as_str()
        };
        authorize(&caller, namespace)?;
        let tenant = Tenant::of(&caller);
        let span = tracing::info_span!(
            "render",
            otel.name = "renderer.render",
            release = %release.name,
            namespace = %release.namespace,
            revision = release.revision,
            chart = tracing::field::Empty,
        );
        let result = async move {
            let (key, digest) = self
                .chart_key(&caller, &tenant, request.chart.take())
                .await?;
            tracing::Span::current().record("chart", digest.as_str());
            if let Some(worker) = &self.inner.worker {
                let archive = self.archive_of(&key, &digest)?;
                let _admitted = self.inner.in_flight.admit(&tenant)?;
                let request = pb::RenderRequest {
                    chart: Some(pb::ChartSource {
                        source: Some(pb::chart_source::Source::Archive(archive)),
                    }),
                    ..request
                };
                // The worker's own start-up and chart load on top of the render's limit.
                let timeout = self.inner.render_limits.timeout + Duration::from_secs(2);
                let response = worker.render(request, timeout).await?;
                check_lookups(&caller, &response)?;
                return Ok(Response::new(response));
            }
            // Charts are handed over under the anonymous tenant's keys, which no named
            // tenant's key equals.
            let loaded = self
                .inner
                .loaded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
                .cloned();
            let compiled = match loaded {
                Some(loaded) => Err(loaded),
                None => Ok(self.compiled(&tenant, &key, &digest).await?),
            };
            if request.values.len() > MAX_VALUES_LAYERS {
                return Err(Status::resource_exhausted(format!(
                    "{} values layers exceed the limit of {MAX_VALUES_LAYERS}",
                    request.values.len()
                )));
            }
            let values_bytes = convert::values_bytes(&request.values);
            if values_bytes > self.inner.limits.max_values_bytes {
                return Err(Status::resource_exhausted(format!(
                    "values of {values_bytes} bytes exceed the limit of {} bytes (--max-values-bytes)",
                    self.inner.limits.max_values_bytes
                )));
            }
            let omit = convert::Omit {
                stored_chart: request.omit_stored_chart,
                crds: request.omit_crds,
                release_texts: request.omit_release_texts,
            };
            let (layers, files) = convert::layers(request.values);
            let mut capabilities = convert::capabilities(request.capabilities);
            capabilities.lookups = convert::lookups(request.lookups)?;
            capabilities.lint = request.lint_mode;
            capabilities.subchart_notes = request.render_subchart_notes;
            capabilities.omit_crds = request.omit_crds;
            let chart_values = request
                .chart_values_json
                .as_deref()
                .map(convert::chart_values)
                .transpose()?;
            let compile_cache = self.inner.compile_cache.clone();
            let inner = self.inner.clone();
            let response = self.blocking(&tenant, "render", move || {
                let compiled = match compiled {
                    Ok(compiled) => compiled,
                    Err(loaded) => compile_loaded(&inner, &key, &digest, &loaded)?,
                };
                let mut read_file = |path: &str| {
                    files
                        .iter()
                        .find(|(p, _)| p == path)
                        .map(|(_, content)| content.clone())
                        .ok_or_else(|| format!("file {path} was not sent with the request"))
                };
                let user = capstan_chart::user_values(&layers, &mut read_file).map_err(invalid)?;
                let set_integers = capstan_chart::set_integer_paths(&layers);
                let rendered = compiled.render_typed(
                    chart_values.as_ref(),
                    &user,
                    &set_integers,
                    &release,
                    &capabilities,
                );
                keep_compiled(compile_cache.as_ref(), &digest, &compiled);
                let rendered = rendered.map_err(render_error)?;
                Ok(convert::response(
                    digest,
                    &compiled,
                    chart_values.as_ref(),
                    &user,
                    rendered,
                    omit,
                ))
            })
            .await?;
            check_lookups(&caller, &response)?;
            tracing::debug!(
                objects = response.manifests.iter().filter(|m| !m.kind.is_empty()).count(),
                hooks = response.hooks.len(),
                lookups_unanswered = response.lookups_unanswered.len(),
                "rendered"
            );
            Ok(Response::new(response))
        }
        .instrument(span)
        .await;
        let code = result
            .as_ref()
            .map_or_else(Status::code, |_| tonic::Code::Ok);
        capstan_telemetry::metrics::render_finished(
            capstan_server::code_label(code),
            started.elapsed(),
        );
        result
    }

    async fn has_chart(
        &self,
        request: Request<pb::HasChartRequest>,
    ) -> Result<Response<pb::HasChartResponse>, Status> {
        let caller = capstan_server::caller(&request);
        authorize(&caller, "")?;
        let key = cache_key(&Tenant::of(&caller), &request.into_inner().digest);
        let present = self.inner.cache.has(&key);
        capstan_telemetry::metrics::chart_cache("archive", present);
        Ok(Response::new(pb::HasChartResponse { present }))
    }

    async fn upload_chart(
        &self,
        request: Request<pb::UploadChartRequest>,
    ) -> Result<Response<pb::UploadChartResponse>, Status> {
        let caller = capstan_server::caller(&request);
        authorize(&caller, "")?;
        let tenant = Tenant::of(&caller);
        let archive = request.into_inner().archive;
        let digest = digest_of(&archive);
        let limits = self.inner.chart_limits;
        // Reject what cannot be loaded now, rather than at the first render.
        let (digest, archive) = self
            .blocking(&tenant, "upload", move || {
                Chart::load_archive(&archive, &limits).map_err(chart_error)?;
                Ok((digest, archive))
            })
            .await?;
        self.inner
            .cache
            .put_archive(&cache_key(&tenant, &digest), archive);
        tracing::info!(chart = %digest, "chart uploaded");
        Ok(Response::new(pb::UploadChartResponse { digest }))
    }
}
