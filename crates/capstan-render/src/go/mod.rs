//! Helm's Go-template charts: compiled by translation onto minijinja, rendered with Go's and
//! Helm's semantics.
//!
//! Every template of the chart and its subcharts is parsed (`capstan-gotmpl`) in Helm's order
//! (deeper paths first, so a parent's `define` wins over a subchart's of the same name),
//! translated, and run on one minijinja environment holding the runtime ([`runtime`]) and the
//! function library (`capstan-sprig`). Each translation is compiled into minijinja's
//! instructions when first rendered ([`program`]; taken from the compile cache's bytes when it
//! kept them) and run on minijinja's VM directly. A render builds Helm's top-level objects per
//! chart and executes each non-partial template with them as dot; a render of many templates
//! is split over two threads (see `GoChart::render`), with the outcome of one.

mod errors;
mod objects;
mod program;
mod runtime;
mod stored;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use capstan_chart::{Chart, FileData, Values};
use capstan_gotmpl::Translation;
use capstan_sprig::value::{Numbers, as_map, map};
use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use crate::context::{Capabilities, ReleaseInfo, RenderLimits};
use crate::engine::{is_partial, walk};
use crate::objects::Session;
use crate::{Error, Result};

pub(crate) use objects::ChartFiles;
use program::Program;
pub use stored::Translations;
use stored::{SharedBytes, SharedText, SpanMap};

/// A template file's Go source: the chart's own bytes, shared rather than copied (a large
/// chart's templates are megabytes), checked to be UTF-8 when made.
#[derive(Debug, Clone)]
pub(crate) struct GoSource(FileData);

impl GoSource {
    /// `data` as a Go source, when it is UTF-8.
    fn new(data: FileData) -> Option<GoSource> {
        std::str::from_utf8(&data).ok()?;
        Some(GoSource(data))
    }

    /// The source's text. It is checked again (there is no unchecked view without `unsafe`):
    /// asked for only to translate the file and to locate an error in it.
    pub(crate) fn text(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// One translated template (a file's body, a `define`, or a `tpl` text).
#[derive(Debug)]
pub(crate) struct Compiled {
    /// Its name in the minijinja environment.
    key: String,
    /// The Go file it comes from (Helm's parse name), for error locations.
    file: String,
    /// The template's Go name (`executing "..."`): the file, or the define's name.
    exec_name: String,
    /// The Go source of `file`.
    go_source: GoSource,
    /// The minijinja source (its translation), shared with its program.
    source: SharedText,
    /// The translation's span map.
    spans: SpanMap,
    /// The translation compiled, when first rendered (see [`Compiled::program`]).
    program: OnceLock<Program>,
    /// Its instructions as a compile cache kept them ([`Program::encode`]), if it did, until
    /// they are decoded.
    stored: Mutex<Option<SharedBytes>>,
}

impl Compiled {
    fn new(
        key: String,
        file: String,
        exec_name: String,
        go_source: GoSource,
        translation: Translation,
    ) -> Compiled {
        Compiled::restored(
            key,
            file,
            exec_name,
            go_source,
            SharedText::from(translation.source),
            SpanMap::new(translation.spans),
            None,
        )
    }

    /// A template as a compile cache kept it, with its instructions if it kept them.
    fn restored(
        key: String,
        file: String,
        exec_name: String,
        go_source: GoSource,
        source: SharedText,
        spans: SpanMap,
        program: Option<SharedBytes>,
    ) -> Compiled {
        Compiled {
            key,
            file,
            exec_name,
            go_source,
            source,
            spans,
            program: OnceLock::new(),
            stored: Mutex::new(program),
        }
    }

    /// Its instructions, built when first asked for: decoded from the compile cache's bytes
    /// when it kept them (and they decode), else compiled from the translation (then the
    /// flag is true).
    fn program(&self) -> Result<(&Program, bool), minijinja::Error> {
        if let Some(p) = self.program.get() {
            return Ok((p, false));
        }
        // One thread builds it; another asking meanwhile waits and takes it.
        let mut stored = self.stored.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = self.program.get() {
            return Ok((p, false));
        }
        let decoded = stored
            .take()
            .and_then(|b| Program::decode_shared(&self.key, self.source.clone(), &b));
        let (built, compiled) = match decoded {
            Some(p) => (p, false),
            None => (
                Program::compile_shared(&self.key, self.source.clone())?,
                true,
            ),
        };
        Ok((self.program.get_or_init(|| built), compiled))
    }
}

/// A `tpl` text, compiled.
#[derive(Debug)]
pub(crate) struct TplCompiled {
    body: Arc<Compiled>,
    defines: HashMap<String, Arc<Compiled>>,
}

/// How a template went at its last render.
#[derive(Debug, Clone, Copy)]
struct Cost {
    /// How long it took, in nanoseconds.
    nanos: u64,
    /// Whether it wrote a Go map made before it started (which a later template may see).
    wrote_outside: bool,
}

/// The environment variable that sets the default [`RenderSplit`] of a process: `never`,
/// `half`, or anything else for [`RenderSplit::Auto`].
pub const RENDER_SPLIT_ENV: &str = "CAPSTAN_RENDER_SPLIT";

/// How a Go chart's renders are split over two threads (see `GoChart::render`). The outcome
/// (outputs and errors) is the same whichever is chosen; only the time differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderSplit {
    /// Where it pays: on two cores or more while no other render runs in the process, for a
    /// chart with many templates that took long enough to render last time, balanced by those
    /// times, while split renders of the chart are the faster (see `Timing`). The default, unless `CAPSTAN_RENDER_SPLIT` says `never` or
    /// `half` (for checking a whole corpus with its renders split).
    Auto,
    /// Never: every template on the calling thread.
    Never,
    /// At half of the templates (when there are two or more), wherever it pays or not.
    Half,
    /// After this many templates (when there are more), wherever it pays or not.
    At(usize),
}

impl RenderSplit {
    /// The default: [`RenderSplit::Auto`], or what `CAPSTAN_RENDER_SPLIT` names.
    fn from_env() -> RenderSplit {
        static FROM_ENV: OnceLock<RenderSplit> = OnceLock::new();
        *FROM_ENV.get_or_init(|| match std::env::var(RENDER_SPLIT_ENV).as_deref() {
            Ok("never") => RenderSplit::Never,
            Ok("half") => RenderSplit::Half,
            _ => RenderSplit::Auto,
        })
    }
}

/// The compiled templates of a Go chart and the state shared by its renders.
#[derive(Debug)]
pub(crate) struct GoTemplates {
    compiled: HashMap<String, Compiled>,
    tpl_cache: Mutex<HashMap<String, Arc<TplCompiled>>>,
    functions: Arc<capstan_sprig::Registry>,
    /// How each template (by file) went at its last render (see [`GoChart::split_point`]).
    costs: Mutex<HashMap<String, Cost>>,
    /// How renders are split.
    split: Mutex<RenderSplit>,
    /// Whether the last render was split (the next one starts its second part's thread at
    /// once).
    split_last: AtomicBool,
    /// How long split and whole renders took (see [`Timing`]).
    timing: Timing,
    /// Whether a compile cache lacks what this chart holds: its translations (compiled anew)
    /// or a program compiled from its translation since (see [`GoChart::take_unsaved`]).
    unsaved: AtomicBool,
}

impl GoTemplates {
    /// The instructions of one of the chart's templates (see [`Compiled::program`]).
    /// Marks the chart unsaved when it was compiled now (after the program is in place, so
    /// a compile cache that takes the mark finds it).
    fn program<'a>(&self, c: &'a Compiled) -> Result<&'a Program, minijinja::Error> {
        let (p, compiled) = c.program()?;
        if compiled && p.storable() {
            self.unsaved.store(true, Ordering::Relaxed);
        }
        Ok(p)
    }
}

/// A Go chart, compiled: the environment and its templates.
pub(crate) struct GoChart {
    env: Environment<'static>,
    templates: Arc<GoTemplates>,
    /// Whether the translations were taken from a compile cache.
    from_cache: bool,
}

impl std::fmt::Debug for GoChart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoChart").finish_non_exhaustive()
    }
}

/// Below this many kept instructions, the render decodes them all itself.
const DECODE_AHEAD_FROM: usize = 8;

/// Decodes the instructions a compile cache kept on a thread of its own (after compiling the
/// semver patterns, [`capstan_sprig::semver::prepare`]), last template (by key) first, while the render decodes those it asks for before that thread reaches them
/// (named templates, whose keys sort first, and the files in path order): on two cores the
/// decoding is shared. Each template is decoded once, by whichever thread asks first
/// ([`Compiled::program`] holds its lock meanwhile), to the same program whichever does, so
/// the render's output and errors do not depend on the race.
fn decode_ahead(templates: &Arc<GoTemplates>) {
    let mut keys: Vec<String> = templates
        .compiled
        .iter()
        .filter(|(_, c)| c.stored.lock().is_ok_and(|s| s.is_some()))
        .map(|(key, _)| key.clone())
        .collect();
    if keys.len() < DECODE_AHEAD_FROM {
        return;
    }
    keys.sort_unstable_by(|a, b| b.cmp(a));
    let templates = templates.clone();
    // Without the thread (none could be started), the render decodes every one itself.
    let _ = std::thread::Builder::new()
        .name("capstan-decode".into())
        .spawn(move || {
            // Nearly every chart compares the Kubernetes version early on.
            capstan_sprig::semver::prepare();
            for key in keys {
                if let Some(c) = templates.compiled.get(&key) {
                    // A template that does not decode is compiled, as the render would; an
                    // error is the render's to report when (and if) it uses the template.
                    let _ = templates.program(c);
                }
            }
        });
}

/// The minijinja name of the named template `name`.
pub(crate) fn define_name(name: &str) -> String {
    // Built by hand: an include asks for it every time, and `format!` costs several times more.
    let mut key = String::with_capacity(name.len() + 8);
    key.push_str("\u{0}define\u{0}");
    key.push_str(name);
    key
}

/// Helm's parse order: more path segments first; equal depth in reverse lexical order. Later
/// definitions of a name replace earlier ones, so the top chart's win. (The sorts use
/// [`helm_order_key`], which orders alike and counts each path's depth once.)
#[cfg(test)]
fn helm_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (da, db) = (a.matches('/').count(), b.matches('/').count());
    db.cmp(&da).then_with(|| b.cmp(a))
}

/// The key sorting paths in [`helm_order`].
fn helm_order_key(path: &str) -> (std::cmp::Reverse<usize>, std::cmp::Reverse<String>) {
    (
        std::cmp::Reverse(path.bytes().filter(|&b| b == b'/').count()),
        std::cmp::Reverse(path.to_owned()),
    )
}

impl GoChart {
    /// Parses and translates every template of `chart` (dependencies resolved) and its
    /// subcharts; with `reuse` (translations of the same chart, from a compile cache), takes
    /// those (and the instructions it kept) instead when they cover exactly this chart's
    /// files. Templates are compiled into minijinja's instructions when first rendered or
    /// included, so a render pays only for what it uses.
    pub(crate) fn compile(
        chart: &Chart,
        limits: &RenderLimits,
        reuse: impl FnOnce() -> Option<Translations>,
    ) -> Result<GoChart> {
        let functions = Arc::new(capstan_sprig::Registry::helm());
        let is_function =
            |name: &str| functions.contains(name) || runtime::ENGINE_FUNCTIONS.contains(&name);
        let mut charts = Vec::new();
        walk(chart, chart.name(), &mut charts);
        let mut files: Vec<(String, GoSource)> = Vec::new();
        for (path, c) in &charts {
            for t in &c.templates {
                let file = format!("{path}/{}", t.name);
                let source = GoSource::new(t.data.clone()).ok_or_else(|| Error::Go {
                    kind: crate::TemplateErrorKind::Syntax,
                    file: file.clone(),
                    message: format!("template: {file}: template is not valid UTF-8"),
                })?;
                files.push((file, source));
            }
        }
        // Each path's depth counted once: counting it at every comparison was 3.9 M
        // instructions of kube-prometheus-stack's 270 templates.
        files.sort_by_cached_key(|(file, _)| helm_order_key(file));
        let sources: HashMap<&str, &GoSource> =
            files.iter().map(|(f, s)| (f.as_str(), s)).collect();
        // Asked for only now: the files above were read meanwhile.
        let reused = reuse().and_then(|t| t.restore(&sources));
        let from_cache = reused.is_some();
        let compiled = match reused {
            Some(compiled) => compiled,
            None => translate_all(&files, &is_function)?,
        };
        let mut env = Environment::new();
        env.set_keep_trailing_newline(true);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        env.set_fuel(Some(limits.fuel));
        env.set_recursion_limit(limits.max_include_depth.max(16) * 4);
        env.set_formatter(runtime::formatter);
        runtime::register(&mut env, &functions, limits.max_string_bytes);
        let templates = Arc::new(GoTemplates {
            compiled,
            tpl_cache: Mutex::new(HashMap::new()),
            functions,
            costs: Mutex::new(HashMap::new()),
            split: Mutex::new(RenderSplit::from_env()),
            split_last: AtomicBool::new(false),
            timing: Timing::default(),
            unsaved: AtomicBool::new(!from_cache),
        });
        if from_cache {
            decode_ahead(&templates);
        }
        Ok(GoChart {
            env,
            templates,
            from_cache,
        })
    }

    /// The chart's translated templates and the instructions compiled of them so far, for a
    /// compile cache.
    pub(crate) fn translations(&self) -> Translations {
        Translations::of(&self.templates.compiled)
    }

    /// Whether a compile cache should keep this chart (again): true once after it was
    /// compiled anew, and after a render compiled a template the cache did not hold the
    /// instructions of; asking clears it.
    pub(crate) fn take_unsaved(&self) -> bool {
        self.templates.unsaved.swap(false, Ordering::Relaxed)
    }

    /// Whether the translations came from a compile cache.
    pub(crate) fn reused(&self) -> bool {
        self.from_cache
    }

    /// Renders every non-partial template of `processed` (values computed, disabled
    /// subcharts removed; its files' contents may be left out) with each chart's `.Files` from
    /// `files` (by chart path): the rendered files by path and the top chart's notes.
    ///
    /// A chart with many templates is rendered on two threads (see [`GoChart::split_point`];
    /// by default only while no other render runs in the process, whose cores it would take):
    /// this one renders the first part of the templates in Helm's order, a second one the rest
    /// on state of its own built from the same inputs. The second part's outcome is taken only
    /// when the first part's templates changed nothing a later template can see (no write to
    /// a Go map made before the template that wrote it started, see
    /// [`capstan_sprig::value::outside_writes`]; the engine's `.Template` writes the second
    /// thread makes itself): then every template of it saw what it sees when the templates
    /// are rendered one after another. Otherwise the rest is rendered again here, after the
    /// first part, on its state. Outputs are counted against the output bound in Helm's order
    /// either way, and the first error in that order is the one reported.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn render(
        &self,
        processed: &Chart,
        files: &HashMap<String, ChartFiles>,
        values: &Values,
        set_integers: &[Vec<String>],
        release: &ReleaseInfo,
        capabilities: &Capabilities,
        session: Arc<Session>,
    ) -> Result<(BTreeMap<String, String>, String)> {
        let inputs = Inputs {
            processed,
            files,
            values,
            set_integers,
            release,
            capabilities,
        };
        let go = self.go_session(session.clone());
        // Functions find the session through the thread, not the template's scopes.
        let _running = runtime::Running::start(go.clone());
        // Other renders running on this process's cores leave none for a second part.
        let active = Active::enter();
        let policy = *self
            .templates
            .split
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let started = std::time::Instant::now();
        let (splits, tuned) = match policy {
            RenderSplit::Auto => (active.alone(), true),
            RenderSplit::Never => (false, false),
            RenderSplit::Half | RenderSplit::At(_) => (true, false),
        };
        let splits = splits && session.lint.is_none();
        // Whether a render that may be split is (see `Timing`).
        let choose_split = !tuned || self.templates.timing.choose_split();
        let mut texts = Texts::default();
        let mut costs = Vec::new();
        let mut may_split = false;
        let (run, other, rest, at) = std::thread::scope(|scope| {
            // The second part's thread starts at once when the last render was split (it
            // makes its state while this one makes its own), else when this one is.
            let (at_tx, at_rx) = std::sync::mpsc::sync_channel::<Option<usize>>(1);
            let mut at_rx = Some(at_rx);
            let mut part = None;
            let mut start_part = |at_rx| {
                let session = &session;
                let inputs = &inputs;
                std::thread::Builder::new()
                    .name("capstan-render-part".into())
                    .stack_size(PART_STACK_BYTES)
                    .spawn_scoped(scope, move || self.render_apart(inputs, session, at_rx))
                    .ok()
            };
            if splits && choose_split && self.templates.split_last.load(Ordering::Relaxed) {
                part = at_rx.take().and_then(&mut start_part);
            }
            let renderables = self.renderables(&inputs);
            let split = if splits {
                self.split_point(&renderables)
            } else {
                None
            };
            may_split = split.is_some();
            let split = split.filter(|_| choose_split);
            self.templates
                .split_last
                .store(split.is_some(), Ordering::Relaxed);
            if split.is_some() && part.is_none() {
                part = at_rx.take().and_then(&mut start_part);
            }
            // A part whose thread could not be had is rendered here.
            let at = split.filter(|_| part.is_some());
            let _ = at_tx.send(at);
            let at = at.unwrap_or(renderables.len());
            costs.reserve(renderables.len());
            let outside = capstan_sprig::value::outside_writes();
            let run = self.render_run(&go, &renderables[..at], &mut costs);
            let kept = part.is_some() && capstan_sprig::value::outside_writes() == outside;
            // When the second part's outcome can be taken, nothing of this part's state is
            // seen again: it is let go while the second part runs.
            let rest = if kept {
                go.includes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clear();
                drop(renderables);
                None
            } else {
                Some(renderables)
            };
            let other = part.and_then(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            });
            (run, other.filter(|_| kept), rest, at)
        });
        texts.take(&self.templates, run, None)?;
        // A second part whose outputs would pass the output bound is rendered again here (on
        // state made anew, which is what the first part left), so that it stops where the
        // bound is passed (and asks no `lookup` after that).
        let other = other.filter(|(run, _, _)| {
            let outputs: usize = run
                .iter()
                .map(|(_, out)| out.as_ref().map_or(0, String::len))
                .sum();
            // (A part that passed the bound itself, which ends it, passes it here too: its
            // outputs include the one that did.)
            session.output_so_far() + outputs <= session.limits.max_output_bytes
        });
        let split = other.is_some();
        match (other, rest) {
            (Some((other_run, other_session, other_costs)), _) => {
                costs.extend(other_costs);
                self.note_costs(costs);
                session.lookups.add_unanswered(&other_session.lookups);
                texts.take(&self.templates, other_run, Some(&session))?;
            }
            (None, Some(renderables)) => {
                let run = self.render_run(&go, &renderables[at..], &mut costs);
                self.note_costs(costs);
                texts.take(&self.templates, run, None)?;
            }
            (None, None) => {
                let run = self
                    .render_anew(&inputs, &go, || Some(at), &mut costs)
                    .unwrap_or_default();
                self.note_costs(costs);
                texts.take(&self.templates, run, None)?;
            }
        }
        if tuned && may_split {
            self.templates.timing.record(split, started.elapsed());
        }
        Ok(texts.finish())
    }

    /// How renders are split from now on.
    pub(crate) fn set_split(&self, split: RenderSplit) {
        *self
            .templates
            .split
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = split;
    }

    /// The per-render state of the Go runtime for `session`.
    fn go_session(&self, session: Arc<Session>) -> Arc<runtime::GoSession> {
        Arc::new(runtime::GoSession {
            session,
            templates: self.templates.clone(),
            overlays: Mutex::new(Vec::new()),
            includes: Mutex::new(HashMap::new()),
        })
    }

    /// The charts' roots made of `inputs` (the values as Go maps, Helm's objects), and the
    /// templates to render with them in Helm's order.
    fn renderables(&self, inputs: &Inputs<'_>) -> Vec<Renderable> {
        let top_values = capstan_sprig::value::from_json_map(inputs.values, Numbers::Float64);
        for path in inputs.set_integers {
            as_int64(&top_values, inputs.values, path);
        }
        let mut renderables = Vec::new();
        let shared = Shared {
            release: objects::release(inputs.release),
            capabilities: objects::capabilities(inputs.capabilities),
            subchart_notes: inputs.capabilities.subchart_notes,
            files: inputs.files,
        };
        tree(
            inputs.processed,
            inputs.processed.name(),
            true,
            top_values,
            &shared,
            &mut renderables,
        );
        renderables.sort_by_cached_key(|r| helm_order_key(&r.file));
        renderables
    }

    /// Renders `run` in order until a template fails: each template's output (counted against
    /// the output bound of `go`'s session, whose failure ends the run after that output), or
    /// the error that ended the run; and how long each took, into `costs`.
    fn render_run(
        &self,
        go: &Arc<runtime::GoSession>,
        run: &[Renderable],
        costs: &mut Vec<(String, Cost)>,
    ) -> Vec<(String, Result<String>)> {
        let mut done = Vec::with_capacity(run.len());
        for Renderable {
            file,
            base_path,
            root,
        } in run
        {
            let Some(compiled) = self.templates.compiled.get(file) else {
                continue;
            };
            let started = std::time::Instant::now();
            let outside = capstan_sprig::value::outside_writes();
            // One root per chart, shared by its templates as in Helm (a template that sets a
            // key of `$` changes it for the templates rendered after it); `.Template` is
            // replaced for each.
            if let Some(m) = as_map(root) {
                m.insert_template(objects::template(file, base_path));
            }
            capstan_sprig::value::template_started();
            let context = runtime::GoContext::value(root.clone(), go.clone());
            let out = self
                .templates
                .program(compiled)
                .and_then(|p| p.render(&self.env, context))
                .map_err(|e| errors::render_error(compiled, &e));
            costs.push((
                file.clone(),
                Cost {
                    nanos: started.elapsed().as_nanos() as u64,
                    wrote_outside: capstan_sprig::value::outside_writes() != outside,
                },
            ));
            let Ok(out) = out else {
                done.push((file.clone(), out));
                break;
            };
            // The whole output is bounded; one template's runaway text is bounded by fuel,
            // time and the string bound first.
            let bounded = go.session.add_output(out.len());
            done.push((file.clone(), Ok(out)));
            if let Err(e) = bounded {
                done.push((file.clone(), Err(errors::render_error(compiled, &e))));
                break;
            }
        }
        done
    }

    /// The second part of a split render, on this thread with state of its own: the charts'
    /// roots made again of `inputs`, and a session of its own (the same limits and start;
    /// include depth, output and lookups counted apart). Once the first part says where the
    /// second starts (`None`: it does not), each root is given the `.Template` the first
    /// part's templates leave it, and the templates from there on are rendered: their outputs,
    /// the session, and how each template went.
    fn render_apart(
        &self,
        inputs: &Inputs<'_>,
        session: &Session,
        at: std::sync::mpsc::Receiver<Option<usize>>,
    ) -> Option<Part> {
        let own = Arc::new(session.apart());
        let go = self.go_session(own.clone());
        let _running = runtime::Running::start(go.clone());
        let mut costs = Vec::new();
        let run = self.render_anew(inputs, &go, || at.recv().ok().flatten(), &mut costs)?;
        Some((run, own, costs))
    }

    /// Renders the templates from `at` on (in Helm's order) with `go`, on state made anew of
    /// `inputs`: the charts' roots, each holding the `.Template` the templates before `at`
    /// leave it (once `at` is known: `None` renders nothing).
    fn render_anew(
        &self,
        inputs: &Inputs<'_>,
        go: &Arc<runtime::GoSession>,
        at: impl FnOnce() -> Option<usize>,
        costs: &mut Vec<(String, Cost)>,
    ) -> Option<Vec<(String, Result<String>)>> {
        let renderables = self.renderables(inputs);
        let at = at()?;
        for r in renderables.iter().take(at) {
            if let Some(m) = as_map(&r.root) {
                m.insert_template(objects::template(&r.file, &r.base_path));
            }
        }
        Some(self.render_run(go, renderables.get(at..).unwrap_or_default(), costs))
    }

    /// Where to split a render of `renderables` over two threads, if it pays: on a machine
    /// with two cores or more, for a chart with many templates that took long enough to
    /// render last time (not before its first render), at the template where the first
    /// part's share of that time reaches half.
    fn split_point(&self, renderables: &[Renderable]) -> Option<usize> {
        let n = renderables.len();
        match *self
            .templates
            .split
            .lock()
            .unwrap_or_else(|e| e.into_inner())
        {
            RenderSplit::Auto => {}
            RenderSplit::Never => return None,
            RenderSplit::Half => return (n >= 2).then_some(n / 2),
            RenderSplit::At(at) => return (at > 0 && at < n).then_some(at),
        }
        if n < SPLIT_FROM_TEMPLATES || crate::runs::cores() < 2 {
            return None;
        }
        let costs = self
            .templates
            .costs
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let last: Option<Vec<Cost>> = renderables
            .iter()
            .map(|r| costs.get(&r.file).copied())
            .collect();
        drop(costs);
        // A chart not rendered yet (a whole `capstan template` renders once) is not split: its
        // first render decodes its instructions on a second thread already.
        let last = last?;
        let weights: Vec<u64> = last.iter().map(|c| c.nanos).collect();
        // The second part is taken only when the first wrote nothing a later template sees:
        // it ends before the first template that did so last time.
        let most = last.iter().position(|c| c.wrote_outside).unwrap_or(n);
        let total: u64 = weights.iter().sum();
        if total < SPLIT_FROM_NANOS {
            return None;
        }
        let mut sum = 0;
        let at = weights
            .iter()
            .position(|w| {
                sum += w;
                sum * 2 >= total
            })
            .map_or(n, |i| i + 1)
            .min(most);
        // A first part of less than a quarter of the work leaves the second most of it.
        let first: u64 = weights[..at].iter().sum();
        if first * 4 < total {
            return None;
        }
        (at > 0 && at < n).then_some(at)
    }

    /// Keeps how long each template took, for the next render's [`GoChart::split_point`].
    fn note_costs(&self, costs: Vec<(String, Cost)>) {
        let mut kept = self
            .templates
            .costs
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if kept.len() > MAX_COSTS {
            kept.clear();
        }
        kept.extend(costs);
    }
}

/// How long the renders of a chart that may be split took, split and whole (a moving average
/// of each): a second thread pays only while a core is free for it, which other processes
/// may not leave. Renders are split while that is the faster way (or not yet timed), but one
/// render in [`TIMING_EXPLORE`] goes the other way, so that both averages follow the
/// machine's load. The first render of a chart (which compiles what it uses) is not timed.
#[derive(Debug, Default)]
struct Timing {
    /// Renders that asked [`Timing::choose_split`].
    asked: AtomicU64,
    /// Average nanoseconds of a split render (0: none yet).
    split: AtomicU64,
    /// Average nanoseconds of a whole render (0: none yet).
    whole: AtomicU64,
}

/// One render in this many goes the way that is slower at the moment.
const TIMING_EXPLORE: u64 = 8;

impl Timing {
    /// Whether the next render that may be split is.
    fn choose_split(&self) -> bool {
        let n = self.asked.fetch_add(1, Ordering::Relaxed);
        let (split, whole) = (
            self.split.load(Ordering::Relaxed),
            self.whole.load(Ordering::Relaxed),
        );
        let faster = match (split, whole) {
            (0, _) => return true,
            (_, 0) => return !n.is_multiple_of(TIMING_EXPLORE),
            (split, whole) => split <= whole,
        };
        faster != n.is_multiple_of(TIMING_EXPLORE)
    }

    /// Notes how long a render that may have been split took.
    fn record(&self, split: bool, took: std::time::Duration) {
        if self.asked.load(Ordering::Relaxed) <= 1 {
            return;
        }
        let nanos = (took.as_nanos() as u64).max(1);
        let average = if split { &self.split } else { &self.whole };
        let old = average.load(Ordering::Relaxed);
        let new = if old == 0 {
            nanos
        } else {
            (old * 3 + nanos) / 4
        };
        average.store(new, Ordering::Relaxed);
    }
}

/// Go renders running in this process.
static ACTIVE_RENDERS: AtomicUsize = AtomicUsize::new(0);

/// A Go render counted in [`ACTIVE_RENDERS`] until dropped.
struct Active(usize);

impl Active {
    fn enter() -> Active {
        Active(ACTIVE_RENDERS.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Whether no other render was running when this one started (a split render's second
    /// part is not counted).
    fn alone(&self) -> bool {
        self.0 == 1
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE_RENDERS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Fewest templates a render is split over two threads for.
const SPLIT_FROM_TEMPLATES: usize = 16;

/// Least time the templates took last render for the next to be split: below it, the second
/// thread's start and its own values and roots cost more than they save.
const SPLIT_FROM_NANOS: u64 = 1_500_000;

/// Most templates whose last render time a chart keeps.
const MAX_COSTS: usize = 65_536;

/// The stack of the thread rendering a split render's second part (as the renderer daemon's
/// render threads: room for a template's recursion up to its bounds).
const PART_STACK_BYTES: usize = 1 << 30;

/// A split render's second part: its outputs (see [`GoChart::render_run`]), its session, and
/// how each template went.
type Part = (
    Vec<(String, Result<String>)>,
    Arc<Session>,
    Vec<(String, Cost)>,
);

/// What a render is made of.
struct Inputs<'a> {
    processed: &'a Chart,
    files: &'a HashMap<String, ChartFiles>,
    values: &'a Values,
    set_integers: &'a [Vec<String>],
    release: &'a ReleaseInfo,
    capabilities: &'a Capabilities,
}

/// A render's rendered files and notes, gathered from its runs in Helm's order.
#[derive(Default)]
struct Texts {
    files: BTreeMap<String, String>,
    notes: String,
    subchart_notes: BTreeMap<String, String>,
}

impl Texts {
    /// Takes a run's outputs until its error, counting each against `counted`'s output bound
    /// first when the run was counted apart (as the templates are counted one after another:
    /// the first output past the bound fails).
    fn take(
        &mut self,
        templates: &GoTemplates,
        run: Vec<(String, Result<String>)>,
        counted: Option<&Session>,
    ) -> Result<()> {
        for (file, out) in run {
            let out = out?;
            if let Some(session) = counted
                && let Err(e) = session.add_output(out.len())
            {
                return Err(match templates.compiled.get(&file) {
                    Some(compiled) => errors::render_error(compiled, &e),
                    None => Error::Go {
                        kind: crate::TemplateErrorKind::Limit,
                        message: format!("template: {file}: {}", e.detail().unwrap_or_default()),
                        file,
                    },
                });
            }
            let out = runtime::without_no_value(out);
            if file.ends_with("/templates/NOTES.txt") && file.matches("/charts/").count() == 0 {
                self.notes = out;
            } else if file.ends_with("/templates/NOTES.txt") {
                self.subchart_notes.insert(file, out);
            } else {
                self.files.insert(file, out);
            }
        }
        Ok(())
    }

    /// The rendered files, and the notes: the top chart's, then (`--render-subchart-notes`)
    /// the subcharts', each on a new line, as Helm joins them.
    fn finish(self) -> (BTreeMap<String, String>, String) {
        let mut notes = self.notes;
        for sub in self.subchart_notes.into_values() {
            if !notes.is_empty() {
                notes.push('\n');
            }
            notes.push_str(&sub);
        }
        (self.files, notes)
    }
}

/// Makes the value at `path` a Go `int64` when the merged values still hold an integer there
/// (a `--set` integer that no later layer replaced).
fn as_int64(values: &Value, json: &Values, path: &[String]) {
    let mut at = json.get(&path[0]);
    for p in &path[1..] {
        at = at.and_then(|v| v.get(p));
    }
    let Some(exact) = at.and_then(serde_json::Value::as_i64) else {
        return;
    };
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = values.clone();
    for p in parents {
        match as_map(&cur).and_then(|m| m.get(p)) {
            Some(next) => cur = next,
            None => return,
        }
    }
    let Some(m) = as_map(&cur) else {
        return;
    };
    if m.contains(last) {
        m.insert(last.clone(), capstan_sprig::value::int64(exact));
    }
}

/// Parses and translates every file (in Helm's order: a later define replaces an earlier one;
/// the first error in that order is the one reported). Files are independent: large charts use
/// a few threads, each taking a contiguous run.
fn translate_all(
    files: &[(String, GoSource)],
    is_function: &(dyn Fn(&str) -> bool + Sync),
) -> Result<HashMap<String, Compiled>> {
    let compile_run = |run: &[(String, GoSource)]| -> Result<Vec<Compiled>> {
        let mut out = Vec::new();
        for (file, source) in run {
            out.extend(compile_file(file, source, is_function)?);
        }
        Ok(out)
    };
    let runs = crate::runs::in_runs(files, 32, "capstan-compile", compile_run);
    let mut compiled = HashMap::new();
    for run in runs {
        for c in run? {
            compiled.insert(c.key.clone(), c);
        }
    }
    Ok(compiled)
}

/// One template file parsed and translated: its `define`s (in source order), then its body.
fn compile_file(
    file: &str,
    source: &GoSource,
    is_function: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Vec<Compiled>> {
    let text = source.text();
    let tree = capstan_gotmpl::parse(text).map_err(|e| errors::syntax_error(file, text, &e))?;
    let translate = |list: &capstan_gotmpl::ast::List| {
        capstan_gotmpl::translate(list, is_function)
            .map_err(|e| errors::syntax_error(file, text, &e))
    };
    let mut out = Vec::with_capacity(tree.defines.len() + 1);
    for d in &tree.defines {
        out.push(Compiled::new(
            define_name(&d.name),
            file.to_string(),
            d.name.clone(),
            source.clone(),
            translate(&d.list)?,
        ));
    }
    out.push(Compiled::new(
        file.to_string(),
        file.to_string(),
        file.to_string(),
        source.clone(),
        translate(&tree.root)?,
    ));
    Ok(out)
}

/// What every chart's root shares.
struct Shared<'a> {
    release: Value,
    capabilities: Value,
    /// Whether subcharts' NOTES.txt are rendered (`--render-subchart-notes`).
    subchart_notes: bool,
    /// Each chart's `.Files`, by chart path.
    files: &'a HashMap<String, ChartFiles>,
}

/// A template to render and the root (`$`) of its chart.
struct Renderable {
    file: String,
    base_path: String,
    root: Value,
}

/// Builds the root of `chart` (at `path`, with its scoped `values`) and its subcharts', and
/// lists their templates to render; returns the root.
fn tree(
    chart: &Chart,
    path: &str,
    top: bool,
    values: Value,
    shared: &Shared<'_>,
    out: &mut Vec<Renderable>,
) -> Value {
    let mut subcharts = BTreeMap::new();
    for sub in &chart.dependencies {
        let sub_values = as_map(&values)
            .and_then(|m| m.get(sub.name()))
            .filter(|v| as_map(v).is_some())
            .unwrap_or_else(|| map(BTreeMap::new()));
        let sub_path = format!("{path}/charts/{}", sub.name());
        let root = tree(sub, &sub_path, false, sub_values, shared, out);
        subcharts.insert(sub.name().to_string(), root);
    }
    let values = match as_map(&values) {
        Some(m) => capstan_sprig::value::chart_values(m),
        None => values,
    };
    let root = map(BTreeMap::from([
        ("Values".to_string(), values),
        ("Release".to_string(), shared.release.clone()),
        ("Chart".to_string(), objects::chart(&chart.metadata, top)),
        ("Capabilities".to_string(), shared.capabilities.clone()),
        (
            "Files".to_string(),
            shared
                .files
                .get(path)
                .map_or_else(|| objects::files(chart), |f| f.value.clone()),
        ),
        ("Subcharts".to_string(), map(subcharts)),
    ]));
    if !chart.metadata.is_library() {
        for t in &chart.templates {
            let is_notes = t.name == "templates/NOTES.txt";
            if is_partial(&t.name) || (is_notes && !top && !shared.subchart_notes) {
                continue;
            }
            out.push(Renderable {
                file: format!("{path}/{}", t.name),
                base_path: format!("{path}/templates"),
                root: root.clone(),
            });
        }
    }
    root
}

impl GoTemplates {
    /// Translates a `tpl` text (cached by text, with its instructions once compiled).
    fn compile_tpl(
        &self,
        text: &str,
    ) -> std::result::Result<Arc<TplCompiled>, capstan_gotmpl::Error> {
        if let Some(hit) = self
            .tpl_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(text)
        {
            return Ok(hit.clone());
        }
        let is_function =
            |name: &str| self.functions.contains(name) || runtime::ENGINE_FUNCTIONS.contains(&name);
        let source = GoSource(FileData::from(text));
        let tree = capstan_gotmpl::parse(text)?;
        let mut defines = HashMap::new();
        for d in &tree.defines {
            let key = format!("\u{0}tpl-define\u{0}{}", d.name);
            defines.insert(
                d.name.clone(),
                Arc::new(Compiled::new(
                    key,
                    "gotpl".into(),
                    d.name.clone(),
                    source.clone(),
                    capstan_gotmpl::translate(&d.list, &is_function)?,
                )),
            );
        }
        let compiled = Arc::new(TplCompiled {
            body: Arc::new(Compiled::new(
                "gotpl".into(),
                "gotpl".into(),
                "gotpl".into(),
                source,
                capstan_gotmpl::translate(&tree.root, &is_function)?,
            )),
            defines,
        });
        let mut cache = self.tpl_cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() > 4096 {
            cache.clear();
        }
        cache.insert(text.to_string(), compiled.clone());
        Ok(compiled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    #[test]
    fn helm_order_key_sorts_as_helm_order() {
        let paths = [
            "web/templates/a.yaml",
            "web/templates/_helpers.tpl",
            "web/charts/db/templates/a.yaml",
            "web/charts/db/templates/sub/b.yaml",
            "web/templates/z/b.yaml",
            "web/charts/cache/templates/a.yaml",
            "web/templates/NOTES.txt",
        ];
        let mut by_order: Vec<&str> = paths.to_vec();
        by_order.sort_by(|a, b| helm_order(a, b));
        let mut by_key: Vec<&str> = paths.to_vec();
        by_key.sort_by_cached_key(|p| helm_order_key(p));
        assert_eq!(by_key, by_order);
        assert_eq!(by_key[0], "web/charts/db/templates/sub/b.yaml");
    }

    /// The shared chart corpus: `CAPSTAN_CHARTS_DIR`, or `shared/charts` beside the
    /// repository or a parent of it, or this machine's `/work/shared/charts`.
    pub(crate) fn corpus() -> PathBuf {
        if let Some(dir) = std::env::var_os("CAPSTAN_CHARTS_DIR") {
            return PathBuf::from(dir);
        }
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|a| a.join("shared/charts"))
            .chain([PathBuf::from("/work/shared/charts")])
            .find(|c| c.join("CASES.tsv").is_file())
            .unwrap_or_else(|| PathBuf::from("shared/charts"))
    }

    /// Every template of every corpus chart compiles to instructions that the stored form
    /// keeps exactly (instructions, lines, spans; the bytes encode again equal).
    #[test]
    fn corpus_programs_round_trip_through_their_stored_form() {
        let root = corpus();
        let mut names: Vec<String> = std::fs::read_dir(&root)
            .unwrap_or_else(|e| panic!("chart corpus at {}: {e}", root.display()))
            .flatten()
            .filter(|e| e.path().join("Chart.yaml").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert!(names.len() > 50, "found only {names:?}");
        for name in &names {
            let chart = Chart::load_dir(&root.join(name), &capstan_chart::Limits::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let resolved = capstan_chart::resolve_dependencies(&chart).unwrap();
            let go = GoChart::compile(&resolved, &RenderLimits::default(), || None).unwrap();
            assert!(!go.templates.compiled.is_empty(), "{name}");
            for c in go.templates.compiled.values() {
                let what = format!("{name}: {}", c.key);
                let source = &c.source;
                let compiled = Program::compile(&c.key, source).unwrap();
                assert!(compiled.storable(), "{what}");
                let bytes = compiled.encode().unwrap();
                let decoded = Program::decode(&c.key, source, &bytes).unwrap();
                let (a, b) = (compiled.instructions(), decoded.instructions());
                assert_eq!(format!("{a:?}"), format!("{b:?}"), "{what}");
                for i in 0..a.len() as u32 {
                    assert_eq!(a.get_span(i), b.get_span(i), "{what}: span of {i}");
                }
                assert_eq!(decoded.encode(), Some(bytes), "{what}");
            }
        }
    }

    fn corpus_chart(name: &str) -> Chart {
        Chart::load_dir(&corpus().join(name), &capstan_chart::Limits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// Every rendered file and the notes (as `NOTES`), or the error.
    fn render(
        compiled: &crate::CompiledChart,
        values: &str,
    ) -> Result<BTreeMap<String, String>, String> {
        let values: capstan_chart::Values = serde_json::from_str(values).unwrap();
        compiled
            .render(
                &values,
                &crate::ReleaseInfo::install("rel", "ns"),
                &crate::Capabilities::default(),
            )
            .map(|r| {
                let mut files = r.files;
                files.insert("NOTES".into(), r.notes);
                files
            })
            .map_err(|e| e.to_string())
    }

    /// The first file that differs, so a failure names it rather than printing everything.
    fn first_difference(
        a: &BTreeMap<String, String>,
        b: &BTreeMap<String, String>,
    ) -> Option<String> {
        let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        keys.into_iter()
            .find(|k| a.get(*k) != b.get(*k))
            .map(|k| format!("{k}:\n{:?}\n---\n{:?}", a.get(k), b.get(k)))
    }

    /// The translations of `compiled` through their bytes, as a compile cache gives them.
    fn through_bytes(compiled: &crate::CompiledChart) -> Translations {
        Translations::decode(&compiled.translations().unwrap().encode()).unwrap()
    }

    /// Corpus charts render the same whether compiled anew or from the compile cache's bytes
    /// holding their instructions (none of them is decoded wrong or compiled anew).
    #[test]
    fn corpus_charts_render_the_same_with_the_cache_warm() {
        let limits = RenderLimits::default();
        // Passwords made at random unless given.
        let postgresql =
            r#"{"auth": {"postgresPassword": "p", "password": "q", "replicationPassword": "r"}}"#;
        let kps = r#"{"grafana": {"adminPassword": "p"}}"#;
        for (name, values) in [
            ("kube-prometheus-stack", kps),
            ("ingress-nginx", "{}"),
            ("postgresql", postgresql),
        ] {
            let chart = corpus_chart(name);
            let cold = crate::CompiledChart::compile(&chart, &limits).unwrap();
            assert!(cold.take_cache_update(), "{name}: compiled anew");
            let expected = render(&cold, values).unwrap_or_else(|e| panic!("{name}: {e}"));
            let kept = through_bytes(&cold);
            let stored = kept.entries.iter().filter(|e| e.program.is_some()).count();
            assert!(stored > 10, "{name}: {stored} programs kept");
            let warm = crate::CompiledChart::compile_reusing(chart, &limits, Some(kept)).unwrap();
            assert!(warm.reused_translations());
            let got = render(&warm, values).unwrap_or_else(|e| panic!("{name}: {e}"));
            if let Some(d) = first_difference(&expected, &got) {
                panic!("{name}: {d}");
            }
            assert!(!warm.take_cache_update(), "{name}: nothing compiled anew");
        }
    }

    /// Instructions that do not decode are compiled from the translation again: the render
    /// is the same, errors included, and the chart asks to be kept again.
    #[test]
    fn damaged_instructions_fall_back_to_compiling() {
        let limits = RenderLimits::default();
        let chart = Chart::from_files(
            vec![
                capstan_chart::ChartFile {
                    name: "Chart.yaml".into(),
                    data: b"apiVersion: v2\nname: web\nversion: 1.0.0\n".to_vec().into(),
                },
                capstan_chart::ChartFile {
                    name: "templates/_helpers.tpl".into(),
                    data: br#"{{ define "web.name" }}{{ .Values.name | trunc 63 }}{{ end }}"#.to_vec().into(),
                },
                capstan_chart::ChartFile {
                    name: "templates/cm.yaml".into(),
                    data: b"kind: A\napiVersion: v1\nmetadata:\n  name: {{ include \"web.name\" . }}\n{{ if .Values.boom }}{{ .Values.boom.deep.x }}{{ end }}\n"
                        .to_vec()
                        .into(),
                },
            ],
            &capstan_chart::Limits::default(),
        )
        .unwrap();
        let cold = crate::CompiledChart::compile(&chart, &limits).unwrap();
        let ok = render(&cold, r#"{"name": "app"}"#);
        let failed = render(&cold, r#"{"name": "app", "boom": 1}"#);
        assert!(ok.is_ok() && failed.is_err(), "{ok:?} {failed:?}");
        let kept = through_bytes(&cold);
        for damage in [
            (|b: &mut Vec<u8>| b.truncate(b.len() / 2)) as fn(&mut Vec<u8>),
            |b| b.push(7),
            |b| b.iter_mut().for_each(|x| *x = 0xff),
        ] {
            let mut damaged = kept.clone();
            let mut programs = 0;
            for e in &mut damaged.entries {
                if let Some(p) = e.program.take() {
                    let mut bytes = p.to_vec();
                    damage(&mut bytes);
                    e.program = Some(bytes.into());
                    programs += 1;
                }
            }
            assert_eq!(programs, 2, "the file and the define it includes");
            let warm = crate::CompiledChart::compile_reusing(chart.clone(), &limits, Some(damaged))
                .unwrap();
            assert!(!warm.take_cache_update());
            assert_eq!(render(&warm, r#"{"name": "app"}"#), ok);
            assert_eq!(render(&warm, r#"{"name": "app", "boom": 1}"#), failed);
            assert!(warm.take_cache_update(), "compiled anew: kept again");
            let again = through_bytes(&warm);
            assert_eq!(again, kept, "the instructions kept again are whole");
        }
    }

    /// A render is split where the first part's share of last render's time reaches half,
    /// but never past a template that wrote a Go map made before it (the second part would
    /// be rendered again), nor where the first part gets less than a quarter; a chart not
    /// rendered yet is not split.
    #[test]
    fn renders_are_split_by_last_render_times_before_any_outside_write() {
        let chart = Chart::from_files(
            vec![capstan_chart::ChartFile {
                name: "Chart.yaml".into(),
                data: b"apiVersion: v2\nname: web\nversion: 1.0.0\n"
                    .to_vec()
                    .into(),
            }],
            &capstan_chart::Limits::default(),
        )
        .unwrap();
        let go = GoChart::compile(&chart, &RenderLimits::default(), || None).unwrap();
        go.set_split(RenderSplit::Auto);
        let renderables: Vec<Renderable> = (0..20)
            .map(|i| Renderable {
                file: format!("web/templates/t{i:02}.yaml"),
                base_path: "web/templates".into(),
                root: Value::UNDEFINED,
            })
            .collect();
        let cores = crate::runs::cores();
        let split_with = |outside: Option<usize>| {
            let costs = renderables
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let cost = Cost {
                        nanos: 1_000_000,
                        wrote_outside: outside == Some(i),
                    };
                    (r.file.clone(), cost)
                })
                .collect();
            go.note_costs(costs);
            go.split_point(&renderables)
        };
        if cores >= 2 {
            assert_eq!(split_with(None), Some(10));
            assert_eq!(split_with(Some(15)), Some(10));
            assert_eq!(split_with(Some(6)), Some(6));
        }
        assert_eq!(split_with(Some(4)), None);
        assert_eq!(split_with(Some(0)), None);
        go.set_split(RenderSplit::Never);
        assert_eq!(split_with(None), None);
        go.set_split(RenderSplit::At(3));
        assert_eq!(split_with(Some(0)), Some(3));
        go.set_split(RenderSplit::Half);
        assert_eq!(split_with(Some(0)), Some(10));
        // Before a first render: not split.
        go.set_split(RenderSplit::Auto);
        go.templates.costs.lock().unwrap().clear();
        assert_eq!(go.split_point(&renderables), None);
    }

    /// Renders are split while split renders are the faster (or not timed yet), with one in
    /// eight going the other way; the first render is not timed.
    #[test]
    fn renders_are_split_while_that_is_faster() {
        let ms = std::time::Duration::from_millis;
        let timing = Timing::default();
        assert!(timing.choose_split(), "not timed yet");
        timing.record(true, ms(100));
        assert_eq!(
            timing.split.load(Ordering::Relaxed),
            0,
            "the first is not timed"
        );
        let choices: Vec<bool> = (0..16)
            .map(|_| {
                let split = timing.choose_split();
                timing.record(split, if split { ms(4) } else { ms(6) });
                split
            })
            .collect();
        assert_eq!(choices.iter().filter(|s| !**s).count(), 2, "{choices:?}");
        // The machine gets busy: split renders take longer than whole ones.
        let choices: Vec<bool> = (0..32)
            .map(|_| {
                let split = timing.choose_split();
                timing.record(split, if split { ms(8) } else { ms(6) });
                split
            })
            .collect();
        assert!(
            choices[16..].iter().filter(|s| **s).count() <= 2,
            "{choices:?}"
        );
    }

    /// A `tpl` text is translated and compiled once per compiled chart, however often and
    /// from however many templates it runs.
    #[test]
    fn a_tpl_text_is_compiled_once_per_chart() {
        let file = |name: &str, data: &str| capstan_chart::ChartFile {
            name: name.into(),
            data: data.into(),
        };
        let body = "kind: A\napiVersion: v1\nmetadata:\n  name: {{ tpl .Values.name . }}\n";
        let chart = Chart::from_files(
            vec![
                file("Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n"),
                file("values.yaml", "name: \"{{ .Release.Name }}-web\"\n"),
                file("templates/a.yaml", body),
                file("templates/b.yaml", body),
            ],
            &capstan_chart::Limits::default(),
        )
        .unwrap();
        let compiled = crate::CompiledChart::compile(&chart, &RenderLimits::default()).unwrap();
        let first = render(&compiled, "{}").unwrap();
        assert!(
            first["web/templates/a.yaml"].contains("name: rel-web"),
            "{first:?}"
        );
        let go = compiled.go_chart().unwrap();
        let cached = |text: &str| {
            let cache = go.templates.tpl_cache.lock().unwrap();
            cache.get(text).cloned()
        };
        let text = "{{ .Release.Name }}-web";
        let once = cached(text).expect("cached by text");
        assert!(once.body.program.get().is_some(), "compiled");
        assert_eq!(go.templates.tpl_cache.lock().unwrap().len(), 1);
        assert_eq!(render(&compiled, "{}").unwrap(), first);
        assert!(
            Arc::ptr_eq(&once, &cached(text).unwrap()),
            "the same compiled text"
        );
    }
}
