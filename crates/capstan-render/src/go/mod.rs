//! Helm's Go-template charts: compiled by translation onto minijinja, rendered with Go's and
//! Helm's semantics.
//!
//! Every template of the chart and its subcharts is parsed (`capstan-gotmpl`) in Helm's order
//! (deeper paths first, so a parent's `define` wins over a subchart's of the same name),
//! translated, and added to one minijinja environment together with the runtime
//! ([`runtime`]) and the function library (`capstan-sprig`). A render builds Helm's top-level
//! objects per chart and executes each non-partial template with them as dot.

mod errors;
mod objects;
mod runtime;
mod stored;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

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
pub use stored::Translations;

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
    /// The minijinja source and its span map.
    translation: Translation,
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

/// The minijinja name of the named template `name`.
pub(crate) fn define_name(name: &str) -> String {
    // Built by hand: an include asks for it every time, and `format!` costs several times more.
    let mut key = String::with_capacity(name.len() + 8);
    key.push_str("\u{0}define\u{0}");
    key.push_str(name);
    key
}

/// Helm's parse order: more path segments first; equal depth in reverse lexical order. Later
/// definitions of a name replace earlier ones, so the top chart's win.
fn helm_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (da, db) = (a.matches('/').count(), b.matches('/').count());
    db.cmp(&da).then_with(|| b.cmp(a))
}

impl GoChart {
    /// Parses and translates every template of `chart` (dependencies resolved) and its
    /// subcharts; with `reuse` (translations of the same chart, from a compile cache), takes
    /// those instead when they cover exactly this chart's files. Templates are compiled into
    /// minijinja when first rendered or included, so a render pays only for what it uses.
    pub(crate) fn compile(
        chart: &Chart,
        limits: &RenderLimits,
        reuse: Option<Translations>,
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
                let source = String::from_utf8(t.data.clone()).map_err(|_| Error::Go {
                    kind: crate::TemplateErrorKind::Syntax,
                    file: file.clone(),
                    message: format!("template: {file}: template is not valid UTF-8"),
                })?;
                files.push((file, Arc::from(source)));
            }
        }
        files.sort_by(|a, b| helm_order(&a.0, &b.0));
        let sources: HashMap<&str, &Arc<str>> =
            files.iter().map(|(f, s)| (f.as_str(), s)).collect();
        let reused = reuse.and_then(|t| t.restore(&sources));
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
        });
        // minijinja compiles a template the first time it is asked for (and keeps it): a
        // chart's disabled parts and unused defines cost nothing.
        let sources = templates.clone();
        env.set_loader(move |name| {
            Ok(sources
                .compiled
                .get(name)
                .map(|c| c.translation.source.clone()))
        });
        Ok(GoChart {
            env,
            templates,
            from_cache,
        })
    }

    /// The chart's translated templates, for a compile cache.
    pub(crate) fn translations(&self) -> Translations {
        Translations::of(&self.templates.compiled)
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
        // Helm's order (see `helm_order`), each path's depth counted once.
        renderables.sort_by_cached_key(|r| {
            (
                std::cmp::Reverse(r.file.matches('/').count()),
                std::cmp::Reverse(r.file.clone()),
            )
        });

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
                m.insert("Template".into(), objects::template(&file, &base_path));
            }
            let context = runtime::GoContext::value(root, go.clone());
            let out = self
                .env
                .get_template(&file)
                .and_then(|t| t.render(context))
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
        let key = define_name(&d.name);
        out.push(Compiled {
            key,
            file: file.to_string(),
            exec_name: d.name.clone(),
            go_source: source.clone(),
            translation: translate(&d.list)?,
        });
    }
    out.push(Compiled {
        key: file.to_string(),
        file: file.to_string(),
        exec_name: file.to_string(),
        go_source: source.clone(),
        translation: translate(&tree.root)?,
    });
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
    /// Translates a `tpl` text (cached by text).
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
                Arc::new(Compiled {
                    key,
                    file: "gotpl".into(),
                    exec_name: d.name.clone(),
                    go_source: source.clone(),
                    translation: capstan_gotmpl::translate(&d.list, &is_function)?,
                }),
            );
        }
        let compiled = Arc::new(TplCompiled {
            body: Arc::new(Compiled {
                key: "gotpl".into(),
                file: "gotpl".into(),
                exec_name: "gotpl".into(),
                go_source: source,
                translation: capstan_gotmpl::translate(&tree.root, &is_function)?,
            }),
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
