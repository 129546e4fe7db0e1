//! Helm's Go-template charts: compiled by translation onto minijinja, rendered with Go's and
//! Helm's semantics.
//!
//! Every template of the chart and its subcharts is parsed (`capstan-gotmpl`) in Helm's order
//! (deeper paths first, so a parent's `define` wins over a subchart's of the same name),
//! translated, and run on one minijinja environment holding the runtime ([`runtime`]) and the
//! function library (`capstan-sprig`). Each translation is compiled into minijinja's
//! instructions when first rendered ([`program`]; taken from the compile cache's bytes when it
//! kept them) and run on minijinja's VM directly. A render builds Helm's top-level objects per
//! chart and executes each non-partial template with them as dot.

mod errors;
mod objects;
mod program;
mod runtime;
mod stored;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use capstan_chart::{Chart, Values};
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
use stored::{SharedBytes, SpanMap};

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
    go_source: Arc<str>,
    /// The minijinja source (its translation), shared with its program.
    source: Arc<str>,
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
        go_source: Arc<str>,
        translation: Translation,
    ) -> Compiled {
        Compiled::restored(
            key,
            file,
            exec_name,
            go_source,
            Arc::from(translation.source),
            SpanMap::new(translation.spans),
            None,
        )
    }

    /// A template as a compile cache kept it, with its instructions if it kept them.
    fn restored(
        key: String,
        file: String,
        exec_name: String,
        go_source: Arc<str>,
        source: Arc<str>,
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

/// The compiled templates of a Go chart and the state shared by its renders.
#[derive(Debug)]
pub(crate) struct GoTemplates {
    compiled: HashMap<String, Compiled>,
    tpl_cache: Mutex<HashMap<String, Arc<TplCompiled>>>,
    functions: Arc<capstan_sprig::Registry>,
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
        let mut files: Vec<(String, Arc<str>)> = Vec::new();
        for (path, c) in &charts {
            for t in &c.templates {
                let file = format!("{path}/{}", t.name);
                let source = std::str::from_utf8(&t.data).map_err(|_| Error::Go {
                    kind: crate::TemplateErrorKind::Syntax,
                    file: file.clone(),
                    message: format!("template: {file}: template is not valid UTF-8"),
                })?;
                files.push((file, Arc::from(source)));
            }
        }
        // Each path's depth counted once: counting it at every comparison was 3.9 M
        // instructions of kube-prometheus-stack's 270 templates.
        files.sort_by_cached_key(|(file, _)| helm_order_key(file));
        let sources: HashMap<&str, &Arc<str>> =
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
        let go = Arc::new(runtime::GoSession {
            session,
            templates: self.templates.clone(),
            overlays: Mutex::new(Vec::new()),
            includes: Mutex::new(HashMap::new()),
        });
        // Functions find the session through the thread, not the template's scopes.
        let _running = runtime::Running::start(go.clone());
        let top_values = capstan_sprig::value::from_json_map(values, Numbers::Float64);
        for path in set_integers {
            as_int64(&top_values, values, path);
        }

        let mut renderables = Vec::new();
        let shared = Shared {
            release: objects::release(release),
            capabilities: objects::capabilities(capabilities),
            subchart_notes: capabilities.subchart_notes,
            files,
        };
        tree(
            processed,
            processed.name(),
            true,
            top_values,
            &shared,
            &mut renderables,
        );
        renderables.sort_by_cached_key(|r| helm_order_key(&r.file));

        let mut files = BTreeMap::new();
        let mut notes = String::new();
        let mut subchart_notes = BTreeMap::new();
        for Renderable {
            file,
            base_path,
            root,
        } in renderables
        {
            let Some(compiled) = self.templates.compiled.get(&file) else {
                continue;
            };
            // One root per chart, shared by its templates as in Helm (a template that sets a
            // key of `$` changes it for the templates rendered after it); `.Template` is
            // replaced for each.
            if let Some(m) = as_map(&root) {
                m.insert_template(objects::template(&file, &base_path));
            }
            let context = runtime::GoContext::value(root, go.clone());
            let out = self
                .templates
                .program(compiled)
                .and_then(|p| p.render(&self.env, context))
                .map_err(|e| errors::render_error(compiled, &e))?;
            // The whole output is bounded; one template's runaway text is bounded by fuel,
            // time and the string bound first.
            go.session
                .add_output(out.len())
                .map_err(|e| errors::render_error(compiled, &e))?;
            let out = runtime::without_no_value(out);
            if file.ends_with("/templates/NOTES.txt") && file.matches("/charts/").count() == 0 {
                notes = out;
            } else if file.ends_with("/templates/NOTES.txt") {
                subchart_notes.insert(file, out);
            } else {
                files.insert(file, out);
            }
        }
        // `--render-subchart-notes`: the subcharts' notes after the parent's, each on a new
        // line, as Helm joins them.
        for sub in subchart_notes.into_values() {
            if !notes.is_empty() {
                notes.push('\n');
            }
            notes.push_str(&sub);
        }
        Ok((files, notes))
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
    files: &[(String, Arc<str>)],
    is_function: &(dyn Fn(&str) -> bool + Sync),
) -> Result<HashMap<String, Compiled>> {
    let compile_run = |run: &[(String, Arc<str>)]| -> Result<Vec<Compiled>> {
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
    source: &Arc<str>,
    is_function: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Vec<Compiled>> {
    let tree = capstan_gotmpl::parse(source).map_err(|e| errors::syntax_error(file, source, &e))?;
    let translate = |list: &capstan_gotmpl::ast::List| {
        capstan_gotmpl::translate(list, is_function)
            .map_err(|e| errors::syntax_error(file, source, &e))
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
        let source: Arc<str> = Arc::from(text);
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
