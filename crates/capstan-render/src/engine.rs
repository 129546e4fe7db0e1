//! Compiling a chart's templates into a minijinja environment and rendering it.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use capstan_chart::{Chart, ChartMetadata, Values};
use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};
use sha2::{Digest, Sha256};

use crate::context::{Capabilities, ReleaseInfo, RenderLimits};
use crate::funcs::strval;
use crate::lookup::LookupSession;
use crate::manifest::{self, Hook, Manifest, Rendered};
use crate::objects::{ApiVersions, FailMarker, Files, LimitMarker, SESSION_KEY, Session, session};
use crate::{Error, Result, TemplateErrorKind};

/// Where a named template was defined, to report errors against its file.
#[derive(Debug, Clone)]
struct DefineOrigin {
    file: String,
    line: usize,
    column: usize,
    pad_columns: usize,
}

/// A chart whose templates (and its subcharts', under their aliases) are compiled, ready to be
/// rendered any number of times. Cheap to share behind an `Arc` (it is `Send + Sync`).
///
/// Invariant: every template of every subchart is compiled, whatever the values, so one
/// compiled chart serves every render; values only decide which subcharts are rendered.
pub struct CompiledChart {
    chart: Chart,
    /// The chart's Go templates, unless it is written in capstan's minijinja dialect.
    go: Option<crate::go::GoChart>,
    /// A Go chart without the contents of its templates and files (their names kept): what
    /// computing the values reads, copied by every render at a fraction of the whole chart.
    outline: Option<Chart>,
    /// A Go chart's non-template files by chart path (`top/charts/sub`), subcharts under
    /// their aliases, as every render's `.Files` and CRDs read them.
    files: HashMap<String, crate::go::ChartFiles>,
    /// The values last computed for a render, by what they were computed from: a daemon
    /// renders a chart with the same values again and again.
    computed: Mutex<Option<Arc<Computed>>>,
    env: Environment<'static>,
    defines: HashMap<String, DefineOrigin>,
    sources: HashMap<String, String>,
    limits: RenderLimits,
}

impl std::fmt::Debug for CompiledChart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledChart")
            .field("chart", &self.chart.metadata.name)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Compiles and renders in one call (see [`CompiledChart`]).
pub fn render(
    chart: &Chart,
    user_values: &Values,
    release: &ReleaseInfo,
    capabilities: &Capabilities,
    limits: &RenderLimits,
) -> Result<Rendered> {
    CompiledChart::compile(chart, limits)?.render(user_values, release, capabilities)
}

fn formatter(
    out: &mut minijinja::Output<'_>,
    state: &minijinja::State<'_, '_>,
    value: &Value,
) -> std::result::Result<(), minijinja::Error> {
    if value.is_none() || value.is_undefined() {
        return Ok(());
    }
    if let Ok(sess) = session(state) {
        // A list or map that prints larger than the whole output may be is refused before
        // its text is built.
        sess.check_value(value)?;
    }
    let s = strval(value);
    if let Ok(sess) = session(state) {
        sess.add_output(s.len())?;
        sess.check_time()?;
    }
    out.write_str(&s).map_err(|e| {
        minijinja::Error::new(ErrorKind::WriteFailure, "cannot write output").with_source(e)
    })
}

fn new_env(limits: &RenderLimits) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_fuel(Some(limits.fuel));
    env.set_formatter(formatter);
    crate::funcs::register(&mut env, limits);
    env
}

/// Visits a chart tree depth-first, children before their parent, with each chart's path.
pub(crate) fn walk<'a>(chart: &'a Chart, path: &str, out: &mut Vec<(String, &'a Chart)>) {
    for sub in &chart.dependencies {
        walk(sub, &format!("{path}/charts/{}", sub.name()), out);
    }
    out.push((path.to_string(), chart));
}

/// Whether a template is a partial (its file name starts with `_`): defines only, no output.
pub(crate) fn is_partial(template_path: &str) -> bool {
    template_path
        .rsplit('/')
        .next()
        .is_some_and(|b| b.starts_with('_'))
}

/// A render that failed after asking lookups it had no answer for: the failure may be the
/// chart's reaction to an object it believed missing (bitnami's charts refuse to upgrade
/// without the password Secret they look up), so the render is returned as provisional, with
/// nothing rendered and the keys to answer. Rendered again with the answers, a failure that
/// asks nothing new is the chart's own.
fn provisional(
    error: Error,
    session: &Session,
    chart: Arc<Chart>,
    values: Arc<Values>,
) -> Result<Texts> {
    let unanswered = session.lookups.take_unanswered();
    if unanswered.is_empty() {
        return Err(error);
    }
    Ok(Texts {
        chart,
        values,
        files: BTreeMap::new(),
        notes: String::new(),
        crds: Vec::new(),
        lookups_unanswered: unanswered,
        lint_messages: session.lint_messages(),
    })
}

/// What computing a render's values gives (Helm's `ToRenderValues` before the built-in
/// objects), and what it was computed from.
struct Computed {
    chart_values: Option<Values>,
    user_values: Values,
    /// The chart with its values processed (dependencies enabled or not, imports done); for a
    /// Go chart, its outline.
    processed: Arc<Chart>,
    /// The merged values, validated against the charts' schemas.
    values: Arc<Values>,
    /// `values` as JSON, made at the first [`CompiledChart::merged_values_json`] that asks.
    values_json: std::sync::OnceLock<String>,
}

/// What rendering every template gives, before it is read as manifests.
struct Texts {
    /// The chart with its values processed (dependencies enabled or not, imports done).
    chart: Arc<Chart>,
    /// The merged values the top chart saw.
    values: Arc<Values>,
    /// Rendered text by chart-relative path (NOTES excluded).
    files: BTreeMap<String, String>,
    notes: String,
    crds: Vec<(String, String)>,
    lookups_unanswered: Vec<crate::LookupKey>,
    lint_messages: Vec<String>,
}

impl CompiledChart {
    /// Compiles every template of `chart` and its subcharts; syntax errors are reported here.
    pub fn compile(chart: &Chart, limits: &RenderLimits) -> Result<CompiledChart> {
        CompiledChart::compile_reusing(chart.clone(), limits, None)
    }

    /// Compiles as [`CompiledChart::compile`], taking `chart` by value; a Go chart takes
    /// `reuse` (its translations from an earlier compile, see [`CompiledChart::translations`])
    /// in place of parsing and translating its templates again, when they cover exactly this
    /// chart's templates (otherwise they are ignored).
    pub fn compile_reusing(
        chart: Chart,
        limits: &RenderLimits,
        reuse: Option<crate::Translations>,
    ) -> Result<CompiledChart> {
        CompiledChart::compile_reusing_later(chart, limits, || reuse)
    }

    /// [`CompiledChart::compile_reusing`] with the translations asked for only once the
    /// compile needs them (a Go chart's templates read and checked first): a compile cache
    /// still being read meanwhile on another thread is waited for as late as possible. A
    /// chart in capstan's minijinja dialect never asks.
    pub fn compile_reusing_later(
        chart: Chart,
        limits: &RenderLimits,
        reuse: impl FnOnce() -> Option<crate::Translations>,
    ) -> Result<CompiledChart> {
        let resolved = capstan_chart::resolve_dependencies(&chart)?;
        if crate::TemplateSyntax::of(&chart) == crate::TemplateSyntax::Go {
            let go = crate::go::GoChart::compile(&resolved, limits, reuse)?;
            let mut files = HashMap::new();
            let top = resolved.name().to_string();
            take_files(resolved, &top, &mut files);
            return Ok(CompiledChart {
                outline: Some(outline(&chart)),
                chart,
                go: Some(go),
                files,
                computed: Mutex::new(None),
                env: Environment::new(),
                defines: HashMap::new(),
                sources: HashMap::new(),
                limits: *limits,
            });
        }
        let mut env = new_env(limits);
        let mut charts = Vec::new();
        walk(&resolved, resolved.name(), &mut charts);
        let mut compiled = CompiledChart {
            chart: chart.clone(),
            go: None,
            outline: None,
            files: HashMap::new(),
            computed: Mutex::new(None),
            env: Environment::new(),
            defines: HashMap::new(),
            sources: HashMap::new(),
            limits: *limits,
        };
        let mut templates = Vec::new();
        for (path, c) in &charts {
            for t in &c.templates {
                let file = format!("{path}/{}", t.name);
                let source = std::str::from_utf8(&t.data)
                    .map(str::to_owned)
                    .map_err(|_| Error::Template {
                        kind: TemplateErrorKind::Syntax,
                        file: file.clone(),
                        line: 0,
                        column: 0,
                        expr: String::new(),
                        message: "template is not valid UTF-8".into(),
                        included_from: Vec::new(),
                    })?;
                let (rest, found) =
                    crate::defines::extract(&source).map_err(|e| Error::Template {
                        kind: TemplateErrorKind::Syntax,
                        file: file.clone(),
                        line: e.line,
                        column: e.column,
                        expr: source
                            .lines()
                            .nth(e.line - 1)
                            .unwrap_or("")
                            .trim()
                            .to_string(),
                        message: e.message,
                        included_from: Vec::new(),
                    })?;
                for d in found {
                    compiled.defines.insert(
                        d.name.clone(),
                        DefineOrigin {
                            file: file.clone(),
                            line: d.line,
                            column: d.column,
                            pad_columns: d.pad_columns,
                        },
                    );
                    compiled.sources.insert(d.name.clone(), d.source.clone());
                    env.add_template_owned(d.name.clone(), d.source)
                        .map_err(|e| compiled.map_error(&e))?;
                }
                templates.push((file, rest));
            }
        }
        for (file, rest) in templates {
            if compiled.defines.contains_key(&file) {
                return Err(Error::Template {
                    kind: TemplateErrorKind::Syntax,
                    file: file.clone(),
                    line: 0,
                    column: 0,
                    expr: String::new(),
                    message: format!("a define is named like the template file {file:?}"),
                    included_from: Vec::new(),
                });
            }
            compiled.sources.insert(file.clone(), rest.clone());
            env.add_template_owned(file, rest)
                .map_err(|e| compiled.map_error(&e))?;
        }
        compiled.env = env;
        Ok(compiled)
    }

    /// A Go chart's translated templates, for a compile cache to keep and give back to
    /// [`CompiledChart::compile_reusing`]; `None` for a chart in capstan's minijinja dialect.
    pub fn translations(&self) -> Option<crate::Translations> {
        self.go.as_ref().map(crate::go::GoChart::translations)
    }

    /// Whether this Go chart's translations came from a compile cache (`reuse` was taken).
    pub fn reused_translations(&self) -> bool {
        self.go.as_ref().is_some_and(crate::go::GoChart::reused)
    }

    /// Whether a compile cache should keep this Go chart's [`CompiledChart::translations`]
    /// (again): true once after it was compiled anew, and after a render compiled
    /// instructions the cache did not hold (a template the earlier renders did not use);
    /// asking clears it. Keep them after rendering, so they hold the instructions too.
    pub fn take_cache_update(&self) -> bool {
        self.go
            .as_ref()
            .is_some_and(crate::go::GoChart::take_unsaved)
    }

    /// How this Go chart's renders are split over two threads from now on (see
    /// [`RenderSplit`]); the outcome is the same however they are. Nothing for a chart in
    /// capstan's minijinja dialect.
    pub fn set_render_split(&self, split: crate::RenderSplit) {
        if let Some(go) = &self.go {
            go.set_split(split);
        }
    }

    /// The compiled Go chart, for the Go module's tests.
    #[cfg(test)]
    pub(crate) fn go_chart(&self) -> Option<&crate::go::GoChart> {
        self.go.as_ref()
    }

    /// The chart this was compiled from.
    pub fn chart(&self) -> &Chart {
        &self.chart
    }

    /// Renders with the user's values (merged layers; see [`capstan_chart::user_values`]).
    pub fn render(
        &self,
        user_values: &Values,
        release: &ReleaseInfo,
        capabilities: &Capabilities,
    ) -> Result<Rendered> {
        self.render_with_defaults(None, user_values, release, capabilities)
    }

    /// Renders as [`CompiledChart::render`], with `chart_values` (when given) in place of the
    /// chart's own `values.yaml`: `upgrade --reuse-values` renders over the previous release's
    /// chart defaults, as Helm does.
    pub fn render_with_defaults(
        &self,
        chart_values: Option<&Values>,
        user_values: &Values,
        release: &ReleaseInfo,
        capabilities: &Capabilities,
    ) -> Result<Rendered> {
        self.render_typed(chart_values, user_values, &[], release, capabilities)
    }

    /// Renders as [`CompiledChart::render_with_defaults`], with `set_integers` naming the
    /// values that `--set` gave as integers ([`capstan_chart::set_integer_paths`]): a
    /// Go-template chart sees those as Go `int64`, as in Helm, and every other number as
    /// `float64`.
    pub fn render_typed(
        &self,
        chart_values: Option<&Values>,
        user_values: &Values,
        set_integers: &[Vec<String>],
        release: &ReleaseInfo,
        capabilities: &Capabilities,
    ) -> Result<Rendered> {
        let texts = self.render_texts(
            chart_values,
            user_values,
            set_integers,
            release,
            capabilities,
        )?;
        self.finish(texts)
    }

    /// Renders every template to text, as Helm's `engine.Render` does, without reading the
    /// output as manifests: the texts by chart-relative path (`NOTES.txt` of the top chart
    /// included under its path).
    /// `set_integers` as for [`CompiledChart::render_typed`].
    pub fn render_templates(
        &self,
        user_values: &Values,
        set_integers: &[Vec<String>],
        release: &ReleaseInfo,
        capabilities: &Capabilities,
    ) -> Result<BTreeMap<String, String>> {
        let Texts {
            chart: processed,
            mut files,
            notes,
            ..
        } = self.render_texts(None, user_values, set_integers, release, capabilities)?;
        if processed
            .templates
            .iter()
            .any(|t| t.name == "templates/NOTES.txt")
        {
            files.insert(format!("{}/templates/NOTES.txt", processed.name()), notes);
        }
        Ok(files)
    }

    fn render_texts(
        &self,
        chart_values: Option<&Values>,
        user_values: &Values,
        set_integers: &[Vec<String>],
        release: &ReleaseInfo,
        capabilities: &Capabilities,
    ) -> Result<Texts> {
        let computed = self.compute_values(chart_values, user_values)?;
        let processed = computed.processed.clone();
        let values = computed.values.clone();
        if processed.metadata.is_library() {
            return Err(Error::LibraryChart(processed.name().to_string()));
        }
        let kube = capstan_chart::parse_version(&capabilities.kube_version).map_err(|e| {
            Error::Capabilities(format!("kube version {:?}: {e}", capabilities.kube_version))
        })?;
        if !processed.metadata.kube_version.is_empty() {
            let c = capstan_chart::constraint::Constraint::parse(&processed.metadata.kube_version)?;
            if !c.matches(&kube) {
                return Err(Error::KubeVersion {
                    chart: processed.name().to_string(),
                    constraint: processed.metadata.kube_version.clone(),
                    version: capabilities.kube_version.clone(),
                });
            }
        }

        let mut seed = Sha256::new();
        for part in [
            &release.name,
            &release.namespace,
            &release.revision.to_string(),
        ] {
            seed.update(part.as_bytes());
            seed.update([0]);
        }
        let sess = Arc::new(Session {
            limits: self.limits,
            started: Instant::now(),
            depth: AtomicUsize::new(0),
            output: AtomicUsize::new(0),
            prints: AtomicUsize::new(0),
            seed: seed.finalize().into(),
            counter: AtomicU64::new(0),
            now: release.time.clone(),
            lookups: LookupSession {
                answers: capabilities.lookups.clone(),
                ..LookupSession::default()
            },
            lint: capabilities.lint.then(Default::default),
        });
        if let Some(go) = &self.go {
            let rendered = go.render(
                &processed,
                &self.files,
                &values,
                set_integers,
                release,
                capabilities,
                sess.clone(),
            );
            let (files, notes) = match rendered {
                Ok(texts) => texts,
                Err(error) => return provisional(error, &sess, processed, values),
            };
            let mut crds = Vec::new();
            if !capabilities.omit_crds {
                collect_crds(&processed, processed.name(), &self.files, &mut crds);
            }
            return Ok(Texts {
                chart: processed,
                values,
                files,
                notes,
                crds,
                lookups_unanswered: sess.lookups.take_unanswered(),
                lint_messages: sess.lint_messages(),
            });
        }
        let sess_value = Value::from_dyn_object(sess.clone());
        let caps = capabilities_value(capabilities, &kube);
        let release_value = release_value(release);

        let mut files = BTreeMap::new();
        let mut subchart_notes = Vec::new();
        let mut notes = String::new();
        let mut crds = Vec::new();
        let mut stack = vec![(
            processed.name().to_string(),
            &*processed,
            (*values).clone(),
            true,
        )];
        while let Some((path, chart, scoped, top)) = stack.pop() {
            for sub in chart.dependencies.iter().rev() {
                let sub_values = match scoped.get(sub.name()) {
                    Some(serde_json::Value::Object(m)) => m.clone(),
                    _ => Values::new(),
                };
                stack.push((
                    format!("{path}/charts/{}", sub.name()),
                    sub,
                    sub_values,
                    false,
                ));
            }
            for crd in chart.crds().filter(|_| !capabilities.omit_crds) {
                crds.push((
                    format!("{path}/{}", crd.name),
                    String::from_utf8_lossy(&crd.data).into_owned(),
                ));
            }
            if chart.metadata.is_library() {
                continue;
            }
            let base = base_context(chart, &scoped, &release_value, &caps, &sess_value);
            for t in &chart.templates {
                let file = format!("{path}/{}", t.name);
                let is_notes = t.name == "templates/NOTES.txt";
                if is_partial(&t.name) || (is_notes && !top && !capabilities.subchart_notes) {
                    continue;
                }
                let mut ctx = base.clone();
                ctx.insert(
                    "Template".into(),
                    Value::from_iter([
                        ("Name", Value::from(file.as_str())),
                        ("BasePath", Value::from(format!("{path}/templates"))),
                    ]),
                );
                let root = Value::from(ctx.clone());
                ctx.insert("ctx".into(), root);
                ctx.insert(SESSION_KEY.into(), sess_value.clone());
                let out = match self
                    .env
                    .get_template(&file)
                    .and_then(|tmpl| tmpl.render(Value::from(ctx)))
                {
                    Ok(out) => out,
                    Err(e) => return provisional(self.map_error(&e), &sess, processed, values),
                };
                if is_notes && top {
                    notes = out;
                } else if is_notes {
                    subchart_notes.push(out);
                } else {
                    files.insert(file, out);
                }
            }
        }
        // `--render-subchart-notes`: the subcharts' notes after the parent's, as Helm joins them.
        for sub in subchart_notes {
            if !notes.is_empty() {
                notes.push('\n');
            }
            notes.push_str(&sub);
        }

        Ok(Texts {
            chart: processed,
            values,
            files,
            notes,
            crds,
            lookups_unanswered: sess.lookups.take_unanswered(),
            lint_messages: sess.lint_messages(),
        })
    }

    /// Processes the dependencies and merges and validates the values (Helm's order), or
    /// takes them from the last render when it had the same values.
    fn compute_values(
        &self,
        chart_values: Option<&Values>,
        user_values: &Values,
    ) -> Result<Arc<Computed>> {
        let same = |c: &&Arc<Computed>| {
            c.chart_values.as_ref() == chart_values && c.user_values == *user_values
        };
        if let Some(hit) = self.lock_computed().as_ref().filter(same) {
            return Ok(hit.clone());
        }
        // A Go chart's values are computed on its outline: the files' contents are read from
        // `self.files` by path.
        let base = self.outline.as_ref().unwrap_or(&self.chart);
        let chart = match chart_values {
            Some(values) => std::borrow::Cow::Owned(Chart {
                values: values.clone(),
                ..base.clone()
            }),
            None => std::borrow::Cow::Borrowed(base),
        };
        let (processed, values) = capstan_chart::compute_values(&chart, user_values)?;
        capstan_chart::validate_values(&processed, &values)?;
        let computed = Arc::new(Computed {
            chart_values: chart_values.cloned(),
            user_values: user_values.clone(),
            processed: Arc::new(processed),
            values: Arc::new(values),
            values_json: std::sync::OnceLock::new(),
        });
        *self.lock_computed() = Some(computed.clone());
        Ok(computed)
    }

    /// `rendered.values` (a render's merged values) as JSON, for a render of this chart with
    /// `chart_values` and `user_values`: kept with the computed values, so a daemon rendering
    /// with the same values again serialises them once.
    pub fn merged_values_json(
        &self,
        chart_values: Option<&Values>,
        user_values: &Values,
        rendered: &Rendered,
    ) -> String {
        let hit = self
            .lock_computed()
            .as_ref()
            .filter(|c| c.chart_values.as_ref() == chart_values && c.user_values == *user_values)
            .cloned();
        let json = |values: &Values| serde_json::to_string(values).unwrap_or_default();
        match hit {
            // The render's values are a copy of these (they are computed from nothing else).
            Some(c) => c.values_json.get_or_init(|| json(&c.values)).clone(),
            None => json(&rendered.values),
        }
    }

    fn lock_computed(&self) -> std::sync::MutexGuard<'_, Option<Arc<Computed>>> {
        self.computed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Parses, bounds and orders the rendered files.
    fn finish(&self, texts: Texts) -> Result<Rendered> {
        let Texts {
            chart: processed,
            values,
            files,
            notes,
            crds,
            lookups_unanswered,
            lint_messages,
        } = texts;
        let (mut manifests, mut hooks) = parse_all(&files)?;
        let objects = manifests.iter().filter(|m| m.is_object()).count() + hooks.len();
        if objects > self.limits.max_objects {
            return Err(Error::Limit {
                what: format!("chart {} renders {objects} objects", processed.name()),
                limit: format!("{} objects", self.limits.max_objects),
            });
        }
        manifest::sort(&mut manifests, &mut hooks);
        Ok(Rendered {
            chart: processed.metadata.clone(),
            values,
            manifests,
            hooks,
            notes,
            files,
            crds,
            lookups_unanswered,
            lint_messages,
        })
    }

    /// Turns a minijinja error into [`Error::Template`] with file, line, column and expression,
    /// reporting the innermost failing location and the include chain that led to it.
    fn map_error(&self, err: &minijinja::Error) -> Error {
        // The chain of minijinja errors, outermost first.
        let mut chain: Vec<&minijinja::Error> = vec![err];
        let mut kind = match err.kind() {
            ErrorKind::SyntaxError | ErrorKind::BadEscape => TemplateErrorKind::Syntax,
            ErrorKind::OutOfFuel => TemplateErrorKind::Limit,
            _ => TemplateErrorKind::Runtime,
        };
        let mut cur: &dyn std::error::Error = err;
        while let Some(next) = cur.source() {
            if next.is::<FailMarker>() {
                kind = TemplateErrorKind::Fail;
            } else if next.is::<LimitMarker>() {
                kind = TemplateErrorKind::Limit;
            } else if let Some(m) = next.downcast_ref::<minijinja::Error>() {
                if m.kind() == ErrorKind::OutOfFuel {
                    kind = TemplateErrorKind::Limit;
                }
                chain.push(m);
            }
            cur = next;
        }
        let located: Vec<&minijinja::Error> = chain
            .iter()
            .copied()
            .filter(|e| e.line().is_some())
            .collect();
        let inner = located.last().copied().unwrap_or(err);
        let innermost = chain.last().copied().unwrap_or(err);
        let (file, line, column, expr) = self.locate(inner);
        let message = match kind {
            TemplateErrorKind::Fail => innermost.detail().unwrap_or_default().to_string(),
            TemplateErrorKind::Limit if innermost.kind() == ErrorKind::OutOfFuel => format!(
                "template ran out of fuel after {} instructions (endless or too long loop?)",
                self.limits.fuel
            ),
            _ => match innermost.detail() {
                Some(d) => format!("{}: {d}", innermost.kind()),
                None => innermost.kind().to_string(),
            },
        };
        let message = if kind == TemplateErrorKind::Syntax && looks_like_go(&expr) {
            format!(
                "{message} (this looks like a Go template: the chart is marked as capstan's \
                 minijinja dialect by its Chart.yaml annotation {}: minijinja; remove the \
                 annotation to render it as Helm does)",
                crate::SYNTAX_ANNOTATION
            )
        } else {
            message
        };
        let included_from = located
            .iter()
            .rev()
            .skip(1)
            .map(|e| {
                let (f, l, c, _) = self.locate(e);
                format!("{f}:{l}:{c}")
            })
            .collect();
        Error::Template {
            kind,
            file,
            line,
            column,
            expr,
            message,
            included_from,
        }
    }

    fn locate(&self, e: &minijinja::Error) -> (String, usize, usize, String) {
        let name = e.name().unwrap_or("<unknown>").to_string();
        let line = e.line().unwrap_or(0);
        let source = self.sources.get(&name);
        let (mut column, expr) = match (&source, e.range()) {
            (Some(src), Some(r)) if r.end <= src.len() => {
                let line_start = src[..r.start].rfind('\n').map_or(0, |i| i + 1);
                let col = src[line_start..r.start].chars().count() + 1;
                (col, enclosing_tag(src, r.clone()))
            }
            (Some(src), _) if line > 0 => (
                0,
                src.lines().nth(line - 1).unwrap_or("").trim().to_string(),
            ),
            _ => (0, String::new()),
        };
        match self.defines.get(&name) {
            Some(origin) => {
                if line == origin.line && column > 0 {
                    column = column.saturating_sub(origin.pad_columns) + origin.column - 1;
                }
                (
                    format!("{} (define {name:?})", origin.file),
                    line,
                    column,
                    expr,
                )
            }
            None => (name, line, column, expr),
        }
    }
}

/// Whether a failing expression reads like Go template syntax (`.Values`, `$.x`, `{{-`).
fn looks_like_go(expr: &str) -> bool {
    let t = expr
        .trim_start_matches("{{")
        .trim_start_matches('-')
        .trim_start();
    t.starts_with('.') || t.starts_with('$') || expr.contains(" .Values") || expr.contains("{{ .")
}

/// The `{{ ... }}` or `{% ... %}` tag around a byte range, else the range's own text.
fn enclosing_tag(src: &str, r: std::ops::Range<usize>) -> String {
    let own = src[r.clone()].trim().to_string();
    let before = &src[..r.start];
    let open = match (before.rfind("{{"), before.rfind("{%")) {
        (Some(a), Some(b)) => a.max(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return own,
    };
    let closer = if src[open..].starts_with("{{") {
        "}}"
    } else {
        "%}"
    };
    match src[open..].find(closer) {
        Some(end) if open + end + 2 >= r.end && !src[open..r.start].contains(['}']) => {
            src[open..open + end + 2].trim().to_string()
        }
        _ => own,
    }
}

fn release_value(r: &ReleaseInfo) -> Value {
    Value::from_iter([
        ("Name", Value::from(r.name.as_str())),
        ("Namespace", Value::from(r.namespace.as_str())),
        ("Revision", Value::from(r.revision)),
        ("IsInstall", Value::from(r.is_install)),
        ("IsUpgrade", Value::from(r.is_upgrade)),
        ("Service", Value::from(r.service.as_str())),
    ])
}

fn capabilities_value(c: &Capabilities, kube: &semver::Version) -> Value {
    let version = format!("v{}.{}.{}", kube.major, kube.minor, kube.patch);
    Value::from_iter([
        (
            "KubeVersion",
            Value::from_iter([
                ("Version", Value::from(version.as_str())),
                ("GitVersion", Value::from(c.kube_version.as_str())),
                ("Major", Value::from(kube.major.to_string())),
                ("Minor", Value::from(kube.minor.to_string())),
            ]),
        ),
        (
            "APIVersions",
            Value::from_object(ApiVersions {
                versions: c.api_versions.clone(),
            }),
        ),
        ("HelmVersion", Value::from_iter([("Version", "v3.22.0")])),
    ])
}

fn chart_value(md: &ChartMetadata) -> Value {
    let deps: Vec<Value> = md
        .dependencies
        .iter()
        .map(|d| {
            Value::from_iter([
                ("Name", Value::from(d.name.as_str())),
                ("Version", Value::from(d.version.as_str())),
                ("Repository", Value::from(d.repository.as_str())),
                ("Condition", Value::from(d.condition.as_str())),
                ("Tags", Value::from(d.tags.clone())),
                ("Alias", Value::from(d.alias.as_str())),
            ])
        })
        .collect();
    let maintainers: Vec<Value> = md
        .maintainers
        .iter()
        .map(|m| {
            Value::from_iter([
                ("Name", m.name.as_str()),
                ("Email", m.email.as_str()),
                ("URL", m.url.as_str()),
            ])
        })
        .collect();
    // capstan's dialect has always said `application` for a chart that does not say.
    let chart_type = md.chart_type.unwrap_or_default().as_str();
    Value::from_iter([
        ("APIVersion", Value::from(md.api_version.as_str())),
        ("Name", Value::from(md.name.as_str())),
        ("Version", Value::from(md.version.as_str())),
        ("AppVersion", Value::from(md.app_version.as_str())),
        ("Description", Value::from(md.description.as_str())),
        ("Type", Value::from(chart_type)),
        ("KubeVersion", Value::from(md.kube_version.as_str())),
        ("Home", Value::from(md.home.as_str())),
        ("Icon", Value::from(md.icon.as_str())),
        ("Sources", Value::from(md.sources.clone())),
        ("Keywords", Value::from(md.keywords.clone())),
        ("Maintainers", Value::from(maintainers)),
        ("Deprecated", Value::from(md.deprecated)),
        ("Annotations", Value::from_serialize(&md.annotations)),
        ("Dependencies", Value::from(deps)),
    ])
}

fn base_context(
    chart: &Chart,
    values: &Values,
    release: &Value,
    caps: &Value,
    _session: &Value,
) -> BTreeMap<String, Value> {
    let files: BTreeMap<String, Vec<u8>> = chart
        .files
        .iter()
        .map(|f| (f.name.clone(), f.data.to_vec()))
        .collect();
    let mut ctx = BTreeMap::new();
    ctx.insert("Values".to_string(), Value::from_serialize(values));
    ctx.insert("Release".to_string(), release.clone());
    ctx.insert("Chart".to_string(), chart_value(&chart.metadata));
    ctx.insert("Capabilities".to_string(), caps.clone());
    ctx.insert(
        "Files".to_string(),
        Value::from_object(Files {
            files: Arc::new(files),
        }),
    );
    ctx
}

/// The CRDs of a chart and its subcharts, parents first, as `(path, text)`; their contents
/// from `files` (by chart path), where the chart (an outline) has none.
fn collect_crds(
    chart: &Chart,
    path: &str,
    files: &HashMap<String, crate::go::ChartFiles>,
    out: &mut Vec<(String, String)>,
) {
    let table = files.get(path);
    for crd in chart.crds() {
        let data = table
            .and_then(|t| t.files.get(&crd.name))
            .map_or(crd.data.as_slice(), |f| f.data());
        // Valid UTF-8 (every CRD in practice) is checked and copied in one pass; only
        // invalid bytes take the slower lossy conversion.
        let text = String::from_utf8(data.to_vec())
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        out.push((format!("{path}/{}", crd.name), text));
    }
    for sub in &chart.dependencies {
        collect_crds(sub, &format!("{path}/charts/{}", sub.name()), files, out);
    }
}

/// `chart` without the contents of its templates, files and `values.yaml` text, subcharts
/// included: everything computing and validating values reads (metadata, values, schema,
/// dependencies, the files' names).
fn outline(chart: &Chart) -> Chart {
    let names = |files: &[capstan_chart::ChartFile]| {
        files
            .iter()
            .map(|f| capstan_chart::ChartFile {
                name: f.name.clone(),
                data: capstan_chart::FileData::default(),
            })
            .collect()
    };
    Chart {
        metadata: chart.metadata.clone(),
        values: chart.values.clone(),
        values_yaml: String::new(),
        schema: chart.schema.clone(),
        templates: names(&chart.templates),
        files: names(&chart.files),
        dependencies: chart.dependencies.iter().map(outline).collect(),
    }
}

/// Moves the non-template files of `chart` (resolved: subcharts under their aliases) and its
/// subcharts into `out` by chart path; of two subcharts at one path, the first is kept.
fn take_files(chart: Chart, path: &str, out: &mut HashMap<String, crate::go::ChartFiles>) {
    for sub in chart.dependencies {
        let sub_path = format!("{path}/charts/{}", sub.name());
        take_files(sub, &sub_path, out);
    }
    out.entry(path.to_string()).or_insert_with(|| {
        crate::go::ChartFiles::new(chart.files.into_iter().map(|f| (f.name, f.data)).collect())
    });
}

/// Templates below this count are parsed on the calling thread.
const PARALLEL_PARSE_FROM: usize = 64;

/// Parses every rendered template (in path order) into manifests and hooks, in that order. Large
/// charts are parsed on a few threads, each taking a contiguous run of templates, so the result
/// and the first error reported are the same as parsing one by one.
fn parse_all(files: &BTreeMap<String, String>) -> Result<(Vec<Manifest>, Vec<Hook>)> {
    let files: Vec<(&String, &String)> = files.iter().collect();
    let parse = |run: &[(&String, &String)]| -> Result<(Vec<Manifest>, Vec<Hook>)> {
        let (mut manifests, mut hooks) = (Vec::new(), Vec::new());
        for (file, text) in run {
            manifest::parse_template(file, text, &mut manifests, &mut hooks)?;
        }
        Ok((manifests, hooks))
    };
    let runs = crate::runs::in_runs(&files, PARALLEL_PARSE_FROM, "capstan-parse", parse);
    let (mut manifests, mut hooks) = (Vec::new(), Vec::new());
    for run in runs {
        let (m, h) = run?;
        manifests.extend(m);
        hooks.extend(h);
    }
    Ok((manifests, hooks))
}
