//! The Go-template case suite: every case of `tests/gotemplate/*.yaml` rendered by capstan and
//! compared byte for byte with the answer Helm's own engine gave (`*.golden.json`, written by
//! `cargo xtask oracle`). Cases listed in `tests/gotemplate/known-failures.txt` may fail; the test
//! fails on any other failure, and on a listed case that passes (the list only shrinks).
//! `CAPSTAN_GOTEMPLATE_BLESS=1` rewrites the list with the cases that fail now;
//! `CAPSTAN_GOTEMPLATE_SHOW=text` prints how each failing case whose id contains `text` (`actions/`,
//! `toyaml`, or `all`) differs, known failures included.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use capstan_chart::{Chart, Limits, ValueLayer, user_values};
use capstan_render::{Capabilities, CompiledChart, ReleaseInfo, RenderLimits, RenderSplit};
use serde::Deserialize;

/// The Chart.yaml a case gets unless it brings its own (the oracle's, `deploy/oracle/main.go`).
const CHART_YAML: &str = "apiVersion: v2\nname: case\ndescription: A template case\ntype: application\nversion: 0.1.0\nappVersion: \"1.16.0\"\n";

/// The template whose output each case compares.
const CASE_TEMPLATE: &str = "templates/case.yaml";

/// One case of a case file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    template: String,
    /// The text of a user values file (`-f`).
    #[serde(default)]
    values: Option<String>,
    /// `--set` expressions, in order.
    #[serde(default)]
    set: Vec<String>,
    /// Extra chart files by chart-relative path.
    #[serde(default)]
    files: BTreeMap<String, String>,
}

/// Helm's answer for one case.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Golden {
    Output(String),
    Error(String),
}

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("gotemplate")
}

/// Renders one case as `capstan template rel ./case --namespace ns --kube-version 1.33 -f values
/// --set ...` would: the text of `templates/case.yaml`, or the error's text.
fn render_case(case: &Case) -> Result<String, String> {
    // Written to a directory and loaded as `capstan template ./case` loads it (.helmignore applies).
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = dir.path().join("case");
    let mut files: BTreeMap<&str, &str> = BTreeMap::new();
    files.insert("Chart.yaml", CHART_YAML);
    files.insert(CASE_TEMPLATE, &case.template);
    for (name, text) in &case.files {
        files.insert(name, text);
    }
    for (name, text) in files {
        let path = root.join(name);
        fs::create_dir_all(path.parent().expect("a parent")).map_err(|e| e.to_string())?;
        fs::write(&path, text).map_err(|e| e.to_string())?;
    }
    let chart = Chart::load_dir(&root, &Limits::default()).map_err(|e| e.to_string())?;

    let mut layers = Vec::new();
    if let Some(values) = &case.values {
        layers.push(ValueLayer::File {
            name: "values.yaml".into(),
            contents: values.clone(),
        });
    }
    layers.extend(case.set.iter().cloned().map(ValueLayer::Set));
    let values = user_values(&layers, &mut |path| Err(format!("no file {path}")))
        .map_err(|e| e.to_string())?;

    let capabilities = Capabilities {
        kube_version: "1.33".into(),
        ..Capabilities::default()
    };
    // Correctness, not speed: key generation (`genPrivateKey "rsa"` makes 4096-bit keys) takes
    // a varying time, so a loaded machine must not turn a case into a timeout.
    let limits = RenderLimits {
        timeout: std::time::Duration::from_secs(300),
        ..RenderLimits::default()
    };
    let compiled = CompiledChart::compile(&chart, &limits).map_err(|e| e.to_string())?;
    let render = || {
        compiled
            .render_templates(
                &values,
                &capstan_chart::set_integer_paths(&layers),
                &ReleaseInfo::install("rel", "ns"),
                &capabilities,
            )
            .map_err(|e| e.to_string())
    };
    compiled.set_render_split(RenderSplit::Never);
    let whole = render();
    // Split over two threads after every template in turn: the same outputs and errors (the
    // cases' random values aside, which are compared by what the case prints of them).
    for at in 1..=case.files.len() {
        compiled.set_render_split(RenderSplit::At(at));
        let split = render();
        if split != whole {
            return Err(format!(
                "split after {at} templates: {split:?}, where one thread gives {whole:?}"
            ));
        }
    }
    let rendered = whole?;
    rendered
        .get(&format!("case/{CASE_TEMPLATE}"))
        .cloned()
        .ok_or_else(|| format!("no output for case/{CASE_TEMPLATE}"))
}

/// Runs a case, turning a panic into a failure of that case alone.
fn run_case(case: &Case) -> Result<String, String> {
    match catch_unwind(AssertUnwindSafe(|| render_case(case))) {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("PANIC: {message}"))
        }
    }
}

/// Where two texts first differ: the line number and both lines.
fn first_difference(ours: &str, theirs: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (ours.split('\n').collect(), theirs.split('\n').collect());
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i), b.get(i));
        if x != y {
            return format!(
                "line {}:\n      capstan: {}\n      helm:    {}",
                i + 1,
                x.map_or("<end>".to_string(), |s| format!("{s:?}")),
                y.map_or("<end>".to_string(), |s| format!("{s:?}")),
            );
        }
    }
    "no line differs".to_string()
}

/// What a failing case did against what Helm did.
fn describe(ours: &Result<String, String>, golden: &Golden) -> String {
    match (ours, golden) {
        (Ok(o), Golden::Output(t)) => format!("output differs at {}", first_difference(o, t)),
        (Ok(o), Golden::Error(e)) => {
            format!("capstan rendered {o:?}\n      helm failed: {e}")
        }
        (Err(e), Golden::Output(t)) => {
            format!("capstan failed: {e}\n      helm rendered {t:?}")
        }
        (Err(e), Golden::Error(t)) => {
            format!("error differs:\n      capstan: {e}\n      helm:    {t}")
        }
    }
}

fn read_known_failures(path: &Path) -> BTreeSet<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn go_template_cases_match_helm() {
    let dir = suite_dir();
    let mut case_files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("tests/gotemplate exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    case_files.sort();
    assert!(!case_files.is_empty(), "no case files in {}", dir.display());

    let known_path = dir.join("known-failures.txt");
    let known = read_known_failures(&known_path);
    let (mut passed, mut known_failed) = (0usize, 0usize);
    let mut failing = BTreeSet::new();
    let mut new_failures = Vec::new();
    let mut fixed = Vec::new();
    let mut all_ids = BTreeSet::new();
    let show = std::env::var("CAPSTAN_GOTEMPLATE_SHOW").ok();
    let mut shown = Vec::new();

    for case_file in &case_files {
        let stem = case_file
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let cases: Vec<Case> = serde_yaml_ng::from_str(&fs::read_to_string(case_file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", case_file.display()));
        let golden_file = dir.join(format!("{stem}.golden.json"));
        let goldens: BTreeMap<String, Golden> =
            serde_json::from_str(&fs::read_to_string(&golden_file).unwrap_or_else(|_| {
                panic!(
                    "{} is missing: run `cargo xtask oracle`",
                    golden_file.display()
                )
            }))
            .unwrap_or_else(|e| panic!("{}: {e}", golden_file.display()));
        for case in &cases {
            let id = format!("{stem}/{}", case.name);
            assert!(all_ids.insert(id.clone()), "case {id} appears twice");
            let golden = goldens
                .get(&case.name)
                .unwrap_or_else(|| panic!("{id} has no golden answer: run `cargo xtask oracle`"));
            let ours = run_case(case);
            let ok = match (&ours, golden) {
                (Ok(o), Golden::Output(t)) => o == t,
                (Err(e), Golden::Error(t)) => e == t,
                _ => false,
            };
            match (ok, known.contains(&id)) {
                (true, false) => passed += 1,
                (true, true) => {
                    passed += 1;
                    fixed.push(id);
                }
                (false, true) => {
                    known_failed += 1;
                    if show
                        .as_deref()
                        .is_some_and(|s| s == "all" || id.contains(s))
                    {
                        shown.push(format!("{id}: {}", describe(&ours, golden)));
                    }
                    failing.insert(id);
                }
                (false, false) => {
                    failing.insert(id.clone());
                    new_failures.push(format!("{id}: {}", describe(&ours, golden)));
                }
            }
        }
    }
    let stale: Vec<&String> = known.iter().filter(|id| !all_ids.contains(*id)).collect();

    println!(
        "Go-template cases: {} in all, {passed} passed, {known_failed} known failures, {} new failures, {} known failures now pass",
        all_ids.len(),
        new_failures.len(),
        fixed.len()
    );
    for failure in &shown {
        println!("  KNOWN FAILURE {failure}");
    }
    for failure in &new_failures {
        println!("  NEW FAILURE {failure}");
    }

    if std::env::var_os("CAPSTAN_GOTEMPLATE_BLESS").is_some() {
        let mut text = String::from(
            "# Go-template cases (file/name) that capstan does not yet render as Helm does.\n\
             # The suite fails when another case fails or a listed one passes;\n\
             # CAPSTAN_GOTEMPLATE_BLESS=1 cargo test -p capstan-render --test gotemplate rewrites it.\n",
        );
        for id in &failing {
            text.push_str(id);
            text.push('\n');
        }
        fs::write(&known_path, text).expect("known-failures.txt is writable");
        println!("wrote {} ({} cases)", known_path.display(), failing.len());
        return;
    }
    assert!(
        new_failures.is_empty(),
        "{} cases fail that known-failures.txt does not list (see above)",
        new_failures.len()
    );
    assert!(
        fixed.is_empty(),
        "listed in known-failures.txt but passing now (remove them, or bless): {fixed:?}"
    );
    assert!(
        stale.is_empty(),
        "known-failures.txt lists cases that do not exist: {stale:?}"
    );
}
