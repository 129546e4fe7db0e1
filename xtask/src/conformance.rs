//! `cargo xtask conformance`: every case of the chart corpus (`CASES.tsv`) rendered by capstan
//! and by the reference Helm v3, compared object by object; writes `docs/compatibility.md` and
//! guards `xtask/conformance-baseline.txt` (cases that passed may never regress).
//!
//! Objects are keyed by apiVersion, kind, namespace and name and compared as parsed YAML data,
//! strings exactly. Helm renders each case twice: a leaf that differs between its two runs (a
//! random password, a generated certificate, base64 of either) is compared by shape instead.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};
use serde_yaml_ng::Value;

/// Helm's reading of YAML (a repeated key keeps its last value), shared with the renderer.
#[path = "../../crates/capstan-chart/src/lenient.rs"]
mod lenient;

use crate::{helm, paths};

/// One row of `CASES.tsv`.
#[derive(Debug, Clone)]
struct Case {
    chart: String,
    /// The values file, relative to the chart (`None` for `-`).
    values: Option<String>,
}

impl Case {
    /// The case's id in the baseline and the table: `chart` or `chart:values`.
    fn id(&self) -> String {
        match &self.values {
            Some(v) => format!("{}:{v}", self.chart),
            None => self.chart.clone(),
        }
    }
}

/// What one case came to.
struct Outcome {
    case: Case,
    version: String,
    objects: usize,
    /// `None` when capstan's objects are identical to Helm's.
    difference: Option<String>,
}

/// Where the chart corpus lives: `CAPSTAN_CHARTS_DIR`, or `shared/charts` beside the repository
/// or one of its parents (`../shared/charts` in the team's layout), or this machine's
/// `/work/shared/charts`.
pub(crate) fn charts_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CAPSTAN_CHARTS_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let root = paths::root();
    let candidates = root
        .ancestors()
        .map(|a| a.join("shared/charts"))
        .chain([PathBuf::from("/work/shared/charts")]);
    for candidate in candidates {
        if candidate.join("CASES.tsv").exists() {
            return Ok(candidate);
        }
    }
    bail!(
        "the chart corpus was not found: set CAPSTAN_CHARTS_DIR to the directory holding CASES.tsv"
    )
}

/// Whether `binary` renders `chart` (defaults, relative to the corpus `charts`) with the objects
/// `helm` renders, compared as the conformance run compares them: `None` when identical, else
/// the first difference. `cargo xtask bench render` times only charts that pass.
pub(crate) fn difference(
    charts: &Path,
    chart: &str,
    binary: &Path,
    helm: &Path,
) -> anyhow::Result<Option<String>> {
    let case = Case {
        chart: chart.to_string(),
        values: None,
    };
    Ok(run_case(charts, &case, binary, helm)?.difference)
}

fn baseline_path() -> PathBuf {
    paths::root().join("xtask").join("conformance-baseline.txt")
}

/// Runs every case; with `bless`, rewrites the baseline with the cases that pass.
pub fn run(bless: bool) -> anyhow::Result<ExitCode> {
    let charts = charts_dir()?;
    let cases = read_cases(&charts.join("CASES.tsv"))?;
    let capstan = build_capstan()?;
    let helm = helm::build_all()?
        .into_iter()
        .next()
        .context("no reference Helm v3")?;

    let mut outcomes = Vec::new();
    for case in cases {
        let outcome = run_case(&charts, &case, &capstan, &helm)?;
        println!(
            "{:<60} {:>4}  {}",
            case.id(),
            outcome.objects,
            outcome.difference.as_deref().unwrap_or("identical")
        );
        outcomes.push(outcome);
    }
    let passed: BTreeSet<String> = outcomes
        .iter()
        .filter(|o| o.difference.is_none())
        .map(|o| o.case.id())
        .collect();
    println!(
        "{} of {} cases object-identical",
        passed.len(),
        outcomes.len()
    );

    let doc = paths::root().join("docs").join("compatibility.md");
    fs::write(&doc, compatibility_doc(&outcomes))
        .with_context(|| format!("writing {}", doc.display()))?;
    println!("wrote docs/compatibility.md");

    let baseline_file = baseline_path();
    if bless {
        fs::write(&baseline_file, baseline_text(&passed))?;
        println!(
            "wrote xtask/conformance-baseline.txt ({} cases)",
            passed.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let baseline = parse_baseline(&fs::read_to_string(&baseline_file).unwrap_or_default());
    let regressed: Vec<&String> = baseline.difference(&passed).collect();
    if !regressed.is_empty() {
        eprintln!("regressions (in xtask/conformance-baseline.txt, no longer identical to Helm):");
        for id in &regressed {
            eprintln!("  {id}");
        }
        return Ok(ExitCode::FAILURE);
    }
    let newly: Vec<&String> = passed.difference(&baseline).collect();
    if !newly.is_empty() {
        println!(
            "{} cases pass that the baseline does not list: `cargo xtask conformance --bless` records them",
            newly.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn read_cases(path: &Path) -> anyhow::Result<Vec<Case>> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut cases = Vec::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 2 || cols[0].is_empty() {
            continue;
        }
        cases.push(Case {
            chart: cols[0].to_string(),
            values: (cols[1] != "-").then(|| cols[1].to_string()),
        });
    }
    Ok(cases)
}

/// The binary to test: `CAPSTAN_CONFORMANCE_BIN` when set (e.g. Helm itself, to check the
/// comparison, or a release build), else a fresh debug build of capstan.
fn build_capstan() -> anyhow::Result<PathBuf> {
    if let Some(binary) = std::env::var_os("CAPSTAN_CONFORMANCE_BIN") {
        return Ok(PathBuf::from(binary));
    }
    paths::debug_binary("capstan-cli", "capstan")
}

/// `template rel <chart> --namespace ns --kube-version 1.33 [-f <values>]` with `binary`:
/// its standard output, or its error text.
fn template(binary: &Path, charts: &Path, case: &Case) -> anyhow::Result<Result<String, String>> {
    let chart = charts.join(&case.chart);
    let mut command = Command::new(binary);
    command
        .current_dir(charts)
        .args(["template", "rel"])
        .arg(&chart)
        .args(["--namespace", "ns", "--kube-version", "1.33"]);
    if let Some(values) = &case.values {
        // A case may list several files, comma-separated, as `-f` takes them.
        for file in values.split(',') {
            command.arg("-f").arg(chart.join(file));
        }
    }
    let output = command
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    if output.status.success() {
        Ok(Ok(String::from_utf8_lossy(&output.stdout).into_owned()))
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        Ok(Err(format!("{} ({})", first.trim(), output.status)))
    }
}

fn chart_version(chart_dir: &Path) -> String {
    let text = fs::read_to_string(chart_dir.join("Chart.yaml")).unwrap_or_default();
    serde_yaml_ng::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("version").map(scalar_text))
        .unwrap_or_default()
}

fn run_case(charts: &Path, case: &Case, capstan: &Path, helm: &Path) -> anyhow::Result<Outcome> {
    let version = chart_version(&charts.join(&case.chart));
    let first = template(helm, charts, case)?;
    let second = template(helm, charts, case)?;
    let (first, second) = match (first, second) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            return Ok(Outcome {
                case: case.clone(),
                version,
                objects: 0,
                difference: Some(format!("helm failed: {e}")),
            });
        }
    };
    let reference = match (parse_objects(&first), parse_objects(&second)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            return Ok(Outcome {
                case: case.clone(),
                version,
                objects: 0,
                difference: Some(format!("helm's output does not parse: {e}")),
            });
        }
    };
    let objects = reference.0.len();
    let difference = match template(capstan, charts, case)? {
        Err(e) => Some(format!("capstan failed: {e}")),
        Ok(text) => match parse_objects(&text) {
            Err(e) => Some(format!("capstan's output does not parse: {e}")),
            Ok(ours) => compare_streams(&ours, &reference.0, &reference.1),
        },
    };
    Ok(Outcome {
        case: case.clone(),
        version,
        objects,
        difference,
    })
}

/// The objects of a YAML stream by `apiVersion/kind/namespace/name` (a repeated key gets `#2`,
/// `#3`, ... in document order); empty documents are skipped.
fn parse_objects(text: &str) -> Result<BTreeMap<String, Value>, String> {
    let mut objects = BTreeMap::new();
    for (index, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let value =
            lenient::from_document(document).map_err(|e| format!("document {}: {e}", index + 1))?;
        if value.is_null() {
            continue;
        }
        let field = |path: &[&str]| {
            let mut v = &value;
            for key in path {
                match v.get(*key) {
                    Some(next) => v = next,
                    None => return String::new(),
                }
            }
            scalar_text(v)
        };
        let base = format!(
            "{}/{}/{}/{}",
            field(&["apiVersion"]),
            field(&["kind"]),
            field(&["metadata", "namespace"]),
            field(&["metadata", "name"])
        );
        let mut key = base.clone();
        let mut n = 1;
        while objects.contains_key(&key) {
            n += 1;
            key = format!("{base}#{n}");
        }
        objects.insert(key, value);
    }
    Ok(objects)
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => serde_yaml_ng::to_string(other)
            .unwrap_or_default()
            .trim_end()
            .to_string(),
    }
}

/// The first difference between capstan's objects and Helm's (`helm` and `helm_again` are Helm's
/// two runs), or `None` when they are identical up to the shape of random leaves.
fn compare_streams(
    ours: &BTreeMap<String, Value>,
    helm: &BTreeMap<String, Value>,
    helm_again: &BTreeMap<String, Value>,
) -> Option<String> {
    // Objects named at random (a test pod `rel-ui-test-x7k2p`) have another key in each run: a
    // key of Helm's first run missing from its second is paired, in order, with an unmatched
    // key of the second run of the same apiVersion, kind and namespace.
    let mut again_left: Vec<&String> = helm_again
        .keys()
        .filter(|k| !helm.contains_key(*k))
        .collect();
    let mut random_names: BTreeMap<&String, &String> = BTreeMap::new();
    for key in helm.keys().filter(|k| !helm_again.contains_key(*k)) {
        if let Some(i) = again_left.iter().position(|a| prefix(a) == prefix(key)) {
            random_names.insert(key, again_left.remove(i));
        }
    }
    let mut ours_left: Vec<&String> = ours.keys().filter(|k| !helm.contains_key(*k)).collect();
    for (key, theirs) in helm {
        let (mine, again) = if let Some(mine) = ours.get(key) {
            (mine, helm_again.get(key).unwrap_or(theirs))
        } else if let Some(again_key) = random_names.get(key) {
            // Ours may have its own random name of the same shape.
            let (name, again_name) = (name_of(key), name_of(again_key));
            let found = ours_left
                .iter()
                .position(|o| prefix(o) == prefix(key) && same_shape(name_of(o), name, again_name));
            let Some(i) = found else {
                return Some(format!("{key}: missing in capstan's output"));
            };
            (&ours[ours_left.remove(i)], &helm_again[*again_key])
        } else {
            return Some(format!("{key}: missing in capstan's output"));
        };
        if let Some(diff) = compare(mine, theirs, again, "") {
            return Some(format!("{key}: {diff}"));
        }
    }
    ours_left
        .first()
        .map(|key| format!("{key}: not in Helm's output"))
}

/// `apiVersion/kind/namespace/` of an object key.
fn prefix(key: &str) -> &str {
    key.rfind('/').map_or(key, |i| &key[..=i])
}

/// The name part of an object key.
fn name_of(key: &str) -> &str {
    key.rfind('/').map_or(key, |i| &key[i + 1..])
}

fn path_key(path: &str, key: &Value) -> String {
    format!("{path}.{}", scalar_text(key))
}

fn show(v: &Value) -> String {
    let text = match v {
        Value::String(s) => format!("{s:?}"),
        other => scalar_text(other),
    };
    if text.chars().count() > 60 {
        let short: String = text.chars().take(57).collect();
        format!("{short}...")
    } else {
        text
    }
}

/// Compares one value of capstan's with Helm's two runs of it; the first difference with its path.
fn compare(ours: &Value, helm: &Value, again: &Value, path: &str) -> Option<String> {
    let at = if path.is_empty() { "." } else { path };
    match (ours, helm) {
        (Value::Mapping(o), Value::Mapping(h)) => {
            let mut keys: Vec<&Value> = h.keys().collect();
            keys.sort_by_key(|k| scalar_text(k));
            for k in keys {
                let sub = path_key(path, k);
                let Some(ov) = o.get(k) else {
                    return Some(format!("{sub}: missing in capstan's output"));
                };
                let again_v = again.get(k).unwrap_or(&h[k]);
                if let Some(d) = compare(ov, &h[k], again_v, &sub) {
                    return Some(d);
                }
            }
            let mut extra: Vec<&Value> = o.keys().filter(|k| !h.contains_key(*k)).collect();
            extra.sort_by_key(|k| scalar_text(k));
            extra
                .first()
                .map(|k| format!("{}: not in Helm's output", path_key(path, k)))
        }
        (Value::Sequence(o), Value::Sequence(h)) => {
            let again_seq = again.as_sequence().filter(|a| a.len() == h.len());
            if o.len() != h.len() {
                return Some(format!("{at}: {} items, Helm has {}", o.len(), h.len()));
            }
            for (i, (ov, hv)) in o.iter().zip(h).enumerate() {
                let again_v = again_seq.map_or(hv, |a| &a[i]);
                if let Some(d) = compare(ov, hv, again_v, &format!("{path}[{i}]")) {
                    return Some(d);
                }
            }
            None
        }
        (Value::Tagged(o), Value::Tagged(h)) => {
            if o.tag != h.tag {
                return Some(format!("{at}: tag {} but Helm has {}", o.tag, h.tag));
            }
            compare(&o.value, &h.value, again, path)
        }
        _ if helm == again => {
            (ours != helm).then(|| format!("{at}: {} but Helm has {}", show(ours), show(helm)))
        }
        (Value::String(o), Value::String(h)) => {
            let a = again.as_str().unwrap_or(h);
            (!same_shape(o, h, a)).then(|| {
                format!(
                    "{at}: {} does not have the shape of Helm's random value {}",
                    show(ours),
                    show(helm)
                )
            })
        }
        // A random number or bool: only its type is checked.
        _ if std::mem::discriminant(ours) == std::mem::discriminant(helm) => None,
        _ => Some(format!("{at}: {} but Helm has {}", show(ours), show(helm))),
    }
}

/// PEM block types in order (`CERTIFICATE`, `RSA PRIVATE KEY`, ...), looking inside base64 too.
fn pem_types(s: &str) -> Option<Vec<String>> {
    use base64_lite::decode;
    let find = |text: &str| -> Vec<String> {
        text.match_indices("-----BEGIN ")
            .filter_map(|(i, _)| {
                let rest = &text[i + "-----BEGIN ".len()..];
                rest.find("-----").map(|end| rest[..end].to_string())
            })
            .collect()
    };
    let direct = find(s);
    if !direct.is_empty() {
        return Some(direct);
    }
    let decoded = decode(s.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let inner = find(&text);
    (!inner.is_empty()).then(|| inner.into_iter().map(|t| format!("base64 {t}")).collect())
}

/// The character classes a string uses: alphanumerics, ASCII punctuation, whitespace, other.
fn classes(s: &str) -> BTreeSet<u8> {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                0
            } else if c.is_ascii_punctuation() {
                1
            } else if c.is_whitespace() {
                2
            } else {
                3
            }
        })
        .collect()
}

/// Whether `ours` has the shape of a value Helm made at random (`helm` and `again` being its two
/// runs): the same PEM block types when Helm's are PEM (or base64 of PEM); otherwise a length
/// within the range of Helm's (exact when both runs agree) and only character classes Helm used.
fn same_shape(ours: &str, helm: &str, again: &str) -> bool {
    if let Some(types) = pem_types(helm) {
        return pem_types(ours) == Some(types);
    }
    let (lo, hi) = {
        let (a, b) = (helm.chars().count(), again.chars().count());
        (a.min(b), a.max(b))
    };
    let n = ours.chars().count();
    if n < lo || n > hi {
        return false;
    }
    let allowed: BTreeSet<u8> = classes(helm).union(&classes(again)).copied().collect();
    classes(ours).is_subset(&allowed)
}

/// A small standard-alphabet base64 decoder (padding optional, whitespace ignored), so xtask
/// needs no base64 crate.
mod base64_lite {
    /// The decoded bytes, or `None` when `s` is not base64.
    pub fn decode(s: &str) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(s.len() * 3 / 4);
        let (mut acc, mut bits) = (0u32, 0u32);
        let body = s.trim_end_matches('=');
        if body.is_empty() {
            return None;
        }
        for c in body.bytes().filter(|c| !c.is_ascii_whitespace()) {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            };
            acc = (acc << 6) | u32::from(v);
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        Some(out)
    }
}

fn parse_baseline(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn baseline_text(passed: &BTreeSet<String>) -> String {
    let mut text = String::from(
        "# Cases of the chart corpus (CASES.tsv) whose objects capstan renders identical to Helm v3's.\n\
         # `cargo xtask conformance` fails when one of them regresses; `--bless` rewrites this file.\n",
    );
    for id in passed {
        text.push_str(id);
        text.push('\n');
    }
    text
}

fn compatibility_doc(outcomes: &[Outcome]) -> String {
    let passed = outcomes.iter().filter(|o| o.difference.is_none()).count();
    let mut doc = String::from("# Compatibility with Helm: the chart corpus\n\n");
    let _ = writeln!(
        doc,
        "Written by `cargo xtask conformance`: each case of the corpus (`../shared/charts/CASES.tsv`) \
         rendered by capstan and by Helm v3.22.0 with `template rel <chart> --namespace ns \
         --kube-version 1.33 [-f <values>]`, objects compared as parsed data (values Helm makes at \
         random compared by shape).\n\n**{passed} of {} cases object-identical.**\n",
        outcomes.len()
    );
    doc.push_str(
        "The lifecycle column is each chart's outcome through `install --wait`, `upgrade --wait` \
         changing a value, `rollback --wait` and `uninstall` on the local cluster \
         (`tests/charts.rs`; kept in `xtask/lifecycle.tsv`).\n\n",
    );
    let lifecycles = lifecycle_outcomes();
    doc.push_str(
        "| chart | version | values | objects | result | lifecycle |\n|---|---|---|---|---|---|\n",
    );
    for o in outcomes {
        let result = match &o.difference {
            None => "identical".to_string(),
            Some(d) => d.replace('|', "\\|").replace('\n', " "),
        };
        let _ = writeln!(
            doc,
            "| {} | {} | {} | {} | {} | {} |",
            o.case.chart,
            o.version,
            o.case.values.as_deref().unwrap_or("-"),
            o.objects,
            result,
            lifecycles
                .get(o.case.chart.as_str())
                .map_or("-", String::as_str)
        );
    }
    doc
}

/// Each chart's lifecycle outcome from `xtask/lifecycle.tsv` (`chart<TAB>outcome`, `#`
/// comments).
fn lifecycle_outcomes() -> BTreeMap<String, String> {
    let text =
        fs::read_to_string(paths::root().join("xtask").join("lifecycle.tsv")).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .map(|(chart, outcome)| (chart.to_owned(), outcome.replace('|', "\\|")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(text: &str) -> BTreeMap<String, Value> {
        parse_objects(text).expect("parses")
    }

    #[test]
    fn order_of_documents_and_keys_does_not_matter() {
        let helm = objects(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: ns\ndata:\n  x: \"1\"\n  y: two\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: b\nspec:\n  ports: [80, 443]\n",
        );
        let ours = objects(
            "apiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec:\n  ports:\n  - 80\n  - 443\n---\n# a comment\ndata:\n  y: two\n  x: \"1\"\nkind: ConfigMap\nmetadata:\n  namespace: ns\n  name: a\napiVersion: v1\n---\n",
        );
        assert_eq!(compare_streams(&ours, &helm, &helm), None);
    }

    #[test]
    fn strings_compare_exactly_and_differences_name_their_path() {
        let helm =
            objects("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: \"1\"\n");
        let ours =
            objects("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: 1\n");
        assert_eq!(
            compare_streams(&ours, &helm, &helm).as_deref(),
            Some("v1/ConfigMap//a: .data.x: 1 but Helm has \"1\"")
        );
        let missing = objects("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n");
        assert_eq!(
            compare_streams(&missing, &helm, &helm).as_deref(),
            Some("v1/ConfigMap//a: missing in capstan's output")
        );
        let list_helm = objects("apiVersion: v1\nkind: List\nmetadata: {name: l}\nitems: [a, b]\n");
        let list_ours = objects("apiVersion: v1\nkind: List\nmetadata: {name: l}\nitems: [a, c]\n");
        assert_eq!(
            compare_streams(&list_ours, &list_helm, &list_helm).as_deref(),
            Some("v1/List//l: .items[1]: \"c\" but Helm has \"b\"")
        );
    }

    #[test]
    fn random_leaves_compare_by_shape() {
        let doc = |password: &str, cert: &str| {
            objects(&format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  password: {password}\n  tls.crt: {cert}\n  fixed: abc\n"
            ))
        };
        // base64 of "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" and of a variant.
        let cert1 =
            "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkFBQUEKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";
        let cert2 =
            "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkJCQkJCQgotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==";
        // base64 of "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n".
        let key = "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpBQUFBCi0tLS0tRU5EIFJTQSBQUklWQVRFIEtFWS0tLS0tCg==";
        let helm = doc("aB3dE5gH9k", cert1);
        let again = doc("Zz81QwErTy", cert2);
        // Another random password of the same length and alphabet, another certificate: identical.
        assert_eq!(
            compare_streams(&doc("q1W2e3R4t5", cert2), &helm, &again),
            None
        );
        // Wrong length.
        assert!(
            compare_streams(&doc("short", cert1), &helm, &again)
                .unwrap()
                .contains(".data.password")
        );
        // Wrong alphabet.
        assert!(compare_streams(&doc("q1W2e3R4t!", cert1), &helm, &again).is_some());
        // A private key where Helm has a certificate.
        assert!(
            compare_streams(&doc("q1W2e3R4t5", key), &helm, &again)
                .unwrap()
                .contains("tls.crt")
        );
        // A leaf that is the same in both of Helm's runs still compares exactly.
        let mut changed = doc("q1W2e3R4t5", cert1);
        changed.values_mut().for_each(|v| {
            v["data"]["fixed"] = Value::String("abd".into());
        });
        assert!(
            compare_streams(&changed, &helm, &again)
                .unwrap()
                .contains(".data.fixed")
        );
    }

    #[test]
    fn repeated_keys_and_empty_documents() {
        let o = objects(
            "---\n---\napiVersion: v1\nkind: A\nmetadata: {name: x}\n---\napiVersion: v1\nkind: A\nmetadata: {name: x}\n",
        );
        assert_eq!(o.keys().collect::<Vec<_>>(), vec!["v1/A//x", "v1/A//x#2"]);
    }

    #[test]
    fn objects_named_at_random_pair_by_shape() {
        let pod = |name: &str| {
            objects(&format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: rel-test-{name}\n  namespace: ns\nspec: {{}}\n"
            ))
        };
        let (helm, again) = (pod("x7k2p"), pod("a9b3c"));
        assert_eq!(compare_streams(&pod("qq1zz"), &helm, &again), None);
        assert_eq!(
            compare_streams(&pod("toolong"), &helm, &again).as_deref(),
            Some("v1/Pod/ns/rel-test-x7k2p: missing in capstan's output")
        );
        // A name that is the same in both of Helm's runs still compares exactly.
        assert!(compare_streams(&pod("qq1zz"), &helm, &helm).is_some());
    }

    #[test]
    fn repeated_mapping_keys_last_wins() {
        let o = objects("apiVersion: v1\nkind: A\nmetadata: {name: x}\nspec:\n  a: 1\n  a: 2\n");
        assert_eq!(o["v1/A//x"]["spec"]["a"], Value::Number(2.into()));
        let tagged = objects("apiVersion: v1\nkind: A\nmetadata: {name: x}\nv: !custom 5\n");
        assert!(matches!(tagged["v1/A//x"]["v"], Value::Tagged(_)));
    }

    #[test]
    fn baseline_round_trips() {
        let passed: BTreeSet<String> = ["nginx".to_string(), "redis:ci/x.yaml".to_string()].into();
        assert_eq!(parse_baseline(&baseline_text(&passed)), passed);
        assert!(parse_baseline(&baseline_text(&BTreeSet::new())).is_empty());
    }

    #[test]
    fn base64_decodes() {
        assert_eq!(
            base64_lite::decode("aGVsbG8=").as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(base64_lite::decode("not base64!"), None);
    }
}
