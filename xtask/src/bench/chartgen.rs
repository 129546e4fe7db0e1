//! Generates the same chart twice, in minijinja for capstan and in Go templates for Helm, with
//! `objects` objects (Deployments, Services, ConfigMaps and ServiceAccounts in turn, each in a
//! template of its own using shared named templates, as real charts do). Services are headless, so
//! that many installed copies (`bench apply`) do not exhaust the local cluster's Service IP range.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// Which template language a generated chart uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Capstan,
    Helm,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Capstan => "capstan",
            Flavor::Helm => "helm",
        }
    }
}

const VALUES: &str = "\
replicaCount: 1
image:
  repository: nginx
  tag: \"1.27\"
resources:
  limits:
    cpu: 100m
    memory: 128Mi
  requests:
    cpu: 50m
    memory: 64Mi
podAnnotations:
  team: platform
  tier: web
config:
  logLevel: info
  greeting: hello
# Used by exactly one object (the first ConfigMap), so that an upgrade can change one object.
marker: initial
";

fn helpers(flavor: Flavor) -> String {
    match flavor {
        Flavor::Capstan => "\
{%- define \"bench.fullname\" -%}
{{ printf(\"%s-%s\", Release.Name, Chart.Name) | trunc(63) | trimSuffix(\"-\") }}
{%- enddefine %}
{%- define \"bench.labels\" -%}
app.kubernetes.io/name: {{ Chart.Name }}
app.kubernetes.io/instance: {{ Release.Name }}
app.kubernetes.io/version: {{ Chart.AppVersion | quote }}
helm.sh/chart: {{ printf(\"%s-%s\", Chart.Name, Chart.Version) }}
{%- enddefine %}
"
        .into(),
        Flavor::Helm => "\
{{- define \"bench.fullname\" -}}
{{ printf \"%s-%s\" .Release.Name .Chart.Name | trunc 63 | trimSuffix \"-\" }}
{{- end }}
{{- define \"bench.labels\" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf \"%s-%s\" .Chart.Name .Chart.Version }}
{{- end }}
"
        .into(),
    }
}

/// The template of object `i`; `{{fullname}}`, `{{labels4}}` etc. are filled per flavor.
/// Object `i`: a Deployment, Service, ConfigMap and ServiceAccount in turn; a Deployment slot
/// becomes a ConfigMap unless `deployment` is set.
fn object(i: usize, flavor: Flavor, deployment: bool) -> String {
    let (fullname, labels, labels8, values) = match flavor {
        Flavor::Capstan => (
            "{{ include(\"bench.fullname\", ctx) }}",
            "{{- include(\"bench.labels\", ctx) | nindent(4) }}",
            "{{- include(\"bench.labels\", ctx) | nindent(8) }}",
            "Values",
        ),
        Flavor::Helm => (
            "{{ include \"bench.fullname\" . }}",
            "{{- include \"bench.labels\" . | nindent 4 }}",
            "{{- include \"bench.labels\" . | nindent 8 }}",
            ".Values",
        ),
    };
    let pipe = |expr: &str, filters: &[(&str, Option<&str>)]| -> String {
        let mut out = format!("{{{{ {expr}");
        for (name, arg) in filters {
            match (flavor, arg) {
                (Flavor::Capstan, Some(a)) => write!(out, " | {name}({a})").unwrap(),
                (Flavor::Capstan, None) => write!(out, " | {name}").unwrap(),
                (Flavor::Helm, Some(a)) => write!(out, " | {name} {a}").unwrap(),
                (Flavor::Helm, None) => write!(out, " | {name}").unwrap(),
            }
        }
        out.push_str(" }}");
        out
    };
    let image = format!(
        "\"{}:{}\"",
        pipe(&format!("{values}.image.repository"), &[]),
        pipe(&format!("{values}.image.tag"), &[])
    );
    let index = format!("\"{i}\"");
    match (i % 4, deployment) {
        (0, true) => format!(
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {fullname}-{i}
  labels:
    {labels}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app.kubernetes.io/instance: {{{{ {release}.Name }}}}
      component: c{i}
  template:
    metadata:
      labels:
        component: c{i}
        {labels8}
      annotations:
        {annotations}
    spec:
      containers:
        - name: main
          image: {image}
          resources:
            {resources}
",
            replicas = pipe(&format!("{values}.replicaCount"), &[]),
            release = if flavor == Flavor::Capstan {
                "Release"
            } else {
                ".Release"
            },
            annotations = pipe(
                &format!("{values}.podAnnotations"),
                &[("toYaml", None), ("nindent", Some("8"))]
            )
            .replacen("{{ ", "{{- ", 1),
            resources = pipe(
                &format!("{values}.resources"),
                &[("toYaml", None), ("nindent", Some("12"))]
            )
            .replacen("{{ ", "{{- ", 1),
        ),
        (1, _) => format!(
            "apiVersion: v1
kind: Service
metadata:
  name: {fullname}-{i}
  labels:
    {labels}
spec:
  type: ClusterIP
  clusterIP: None
  ports:
    - port: {port}
      targetPort: http
      name: http
  selector:
    component: c{prev}
",
            port = 8000 + i,
            prev = i - 1,
        ),
        (0 | 2, _) => {
            format!(
                "apiVersion: v1
kind: ConfigMap
metadata:
  name: {fullname}-{i}
  labels:
    {labels}
data:
  log-level: {level}
  greeting: {greeting}
  index: {index}
",
                level = pipe(
                    &format!("{values}.config.logLevel"),
                    &[("upper", None), ("quote", None)]
                ),
                greeting = pipe(&format!("{values}.config.greeting"), &[("quote", None)]),
            ) + &marker(i, values)
        }
        _ => format!(
            "apiVersion: v1
kind: ServiceAccount
metadata:
  name: {fullname}-{i}
  labels:
    {labels}
"
        ),
    }
}

/// The value only the first ConfigMap (object 2) uses, as an extra data key.
/// (`values` is `Values` or `.Values`; the filter syntax is the same in both languages.)
fn marker(i: usize, values: &str) -> String {
    if i != MARKER_OBJECT {
        return String::new();
    }
    format!("  marker: {{{{ {values}.marker | quote }}}}\n")
}

/// The index of the one object that uses the `marker` value.
pub const MARKER_OBJECT: usize = 2;

/// Writes the chart with `objects` objects in `flavor` under `dir` and returns its path.
pub fn generate(dir: &Path, flavor: Flavor, objects: usize) -> anyhow::Result<PathBuf> {
    generate_with(dir, flavor, objects, usize::MAX)
}

/// [`generate`] with at most `deployments` Deployments: the Deployment slots past that many
/// become ConfigMaps (e.g. 50 objects with 10 Deployments).
pub fn generate_with(
    dir: &Path,
    flavor: Flavor,
    objects: usize,
    deployments: usize,
) -> anyhow::Result<PathBuf> {
    let name = if deployments == usize::MAX {
        format!("{}-{objects}", flavor.name())
    } else {
        format!("{}-{objects}-{deployments}d", flavor.name())
    };
    let chart = dir.join(name).join("bench");
    let _ = fs::remove_dir_all(&chart);
    fs::create_dir_all(chart.join("templates"))?;
    fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nannotations:\n  capstan.dev/template-syntax: minijinja\nname: bench\nversion: 0.1.0\nappVersion: \"1.0.0\"\ndescription: generated benchmark chart\n",
    )?;
    fs::write(chart.join("values.yaml"), VALUES)?;
    fs::write(
        chart.join("templates").join("_helpers.tpl"),
        helpers(flavor),
    )?;
    for i in 0..objects {
        fs::write(
            chart.join("templates").join(format!("object-{i:04}.yaml")),
            object(i, flavor, i / 4 < deployments),
        )?;
    }
    Ok(chart)
}
