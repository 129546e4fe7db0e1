//! Helm's built-in objects as Go values: `.Release`, `.Chart`, `.Capabilities`, `.Files`,
//! `.Template`.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use capstan_chart::{Chart, ChartMetadata, FileData};
use capstan_sprig::value::{GoStruct, int, list, map};
use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::{Error, State, Value};

use crate::context::{Capabilities, ReleaseInfo};

fn s(v: &str) -> Value {
    Value::from(v)
}

fn strings(v: &[String]) -> Value {
    list(v.iter().map(|x| s(x)).collect())
}

/// `.Release`: a map in Helm 3.
pub(crate) fn release(r: &ReleaseInfo) -> Value {
    map(BTreeMap::from([
        ("Name".to_string(), s(&r.name)),
        ("Namespace".to_string(), s(&r.namespace)),
        ("Revision".to_string(), int(r.revision as i64)),
        ("IsInstall".to_string(), Value::from(r.is_install)),
        ("IsUpgrade".to_string(), Value::from(r.is_upgrade)),
        ("Service".to_string(), s(&r.service)),
    ]))
}

/// `.Chart`: Helm's chart metadata (`chart.Metadata` with Go's field names) and `IsRoot`.
pub(crate) fn chart(md: &ChartMetadata, is_root: bool) -> Value {
    let maintainers = md
        .maintainers
        .iter()
        .map(|m| {
            Value::from_object(
                GoStruct::new(
                    "*chart.Maintainer",
                    [
                        ("Name", s(&m.name)),
                        ("Email", s(&m.email)),
                        ("URL", s(&m.url)),
                    ],
                )
                .with_json(&[
                    ("Name", "name", true),
                    ("Email", "email", true),
                    ("URL", "url", true),
                ]),
            )
        })
        .collect();
    let dependencies = md
        .dependencies
        .iter()
        .map(|d| {
            Value::from_object(
                GoStruct::new(
                    "*chart.Dependency",
                    [
                        ("Name", s(&d.name)),
                        ("Version", s(&d.version)),
                        ("Repository", s(&d.repository)),
                        ("Condition", s(&d.condition)),
                        ("Tags", strings(&d.tags)),
                        ("Enabled", Value::from(true)),
                        ("ImportValues", list(Vec::new())),
                        ("Alias", s(&d.alias)),
                    ],
                )
                .with_json(&[
                    ("Name", "name", false),
                    ("Version", "version", true),
                    ("Repository", "repository", false),
                    ("Condition", "condition", true),
                    ("Tags", "tags", true),
                    ("Enabled", "enabled", true),
                    ("ImportValues", "import-values", true),
                    ("Alias", "alias", true),
                ]),
            )
        })
        .collect();
    let chart_type = md.chart_type.map_or("", capstan_chart::ChartType::as_str);
    let annotations = map(md
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), s(v)))
        .collect());
    Value::from_object(
        GoStruct::new(
            "struct { chart.Metadata; IsRoot bool }",
            [
                ("Name", s(&md.name)),
                ("Home", s(&md.home)),
                ("Sources", strings(&md.sources)),
                ("Version", s(&md.version)),
                ("Description", s(&md.description)),
                ("Keywords", strings(&md.keywords)),
                ("Maintainers", list(maintainers)),
                ("Icon", s(&md.icon)),
                ("APIVersion", s(&md.api_version)),
                ("Condition", s("")),
                ("Tags", s("")),
                ("AppVersion", s(&md.app_version)),
                ("Deprecated", Value::from(md.deprecated)),
                ("Annotations", annotations),
                ("KubeVersion", s(&md.kube_version)),
                ("Dependencies", list(dependencies)),
                ("Type", s(chart_type)),
                ("IsRoot", Value::from(is_root)),
            ],
        )
        .with_json(&[
            ("Name", "name", true),
            ("Home", "home", true),
            ("Sources", "sources", true),
            ("Version", "version", true),
            ("Description", "description", true),
            ("Keywords", "keywords", true),
            ("Maintainers", "maintainers", true),
            ("Icon", "icon", true),
            ("APIVersion", "apiVersion", true),
            ("Condition", "condition", true),
            ("Tags", "tags", true),
            ("AppVersion", "appVersion", true),
            ("Deprecated", "deprecated", true),
            ("Annotations", "annotations", true),
            ("KubeVersion", "kubeVersion", true),
            ("Dependencies", "dependencies", true),
            ("Type", "type", true),
            ("IsRoot", "IsRoot", false),
        ]),
    )
}

/// `.Capabilities`: Helm's `*chartutil.Capabilities`.
pub(crate) fn capabilities(c: &Capabilities) -> Value {
    // The engine checked the version before rendering.
    let kube = capstan_chart::parse_version(&c.kube_version)
        .unwrap_or_else(|_| semver::Version::new(0, 0, 0));
    // As Helm's ParseKubeVersion: the version as given, with a `v` in front.
    let given = c.kube_version.trim();
    let version = if given.starts_with('v') {
        given.to_string()
    } else {
        format!("v{given}")
    };
    let kube_version = GoStruct::new(
        "chartutil.KubeVersion",
        [
            ("Version", s(&version)),
            ("Major", s(&kube.major.to_string())),
            ("Minor", s(&kube.minor.to_string())),
            ("GitVersion", s(&version)),
        ],
    )
    // `GitVersion` is a method in Helm 3.22, not a field JSON would write.
    .with_json(&[
        ("Version", "Version", false),
        ("Major", "Major", false),
        ("Minor", "Minor", false),
    ])
    .with_display(version.clone());
    let helm = GoStruct::new(
        "chartutil.HelmVersion",
        [
            ("Version", s("v3.22.0")),
            ("GitCommit", s("")),
            ("GitTreeState", s("")),
            ("GoVersion", s("go1.26")),
        ],
    );
    Value::from_object(GoStruct::new(
        "*chartutil.Capabilities",
        [
            ("KubeVersion", Value::from_object(kube_version)),
            (
                "APIVersions",
                Value::from_object(ApiVersions {
                    versions: c.api_versions.clone(),
                }),
            ),
            ("HelmVersion", Value::from_object(helm)),
        ],
    ))
}

/// `.Template` of one template file.
pub(crate) fn template(name: &str, base_path: &str) -> Value {
    map(BTreeMap::from([
        ("Name".to_string(), s(name)),
        ("BasePath".to_string(), s(base_path)),
    ]))
}

/// `.Files` of a chart: its files outside `templates/` (and Helm's metadata files).
pub(crate) fn files(chart: &Chart) -> Value {
    ChartFiles::new(
        chart
            .files
            .iter()
            .map(|f| (f.name.clone(), f.data.clone()))
            .collect(),
    )
    .value
}

/// One file of a chart as `.Files` holds it: its bytes, and its text once a template read it.
#[derive(Debug)]
pub(crate) struct FileEntry {
    data: FileData,
    /// `Get`'s string (invalid UTF-8 replaced), made at the first `Get` and shared by every
    /// later one: a string value is immutable.
    text: OnceLock<Value>,
}

impl FileEntry {
    fn new(data: FileData) -> Arc<FileEntry> {
        Arc::new(FileEntry {
            data,
            text: OnceLock::new(),
        })
    }

    /// The file's bytes.
    pub(crate) fn data(&self) -> &[u8] {
        &self.data
    }

    fn text(&self) -> Value {
        self.text
            .get_or_init(|| Value::from(String::from_utf8_lossy(&self.data).into_owned()))
            .clone()
    }
}

impl crate::chartfiles::FileBytes for Arc<FileEntry> {
    fn bytes(&self) -> &[u8] {
        &self.data
    }
}

/// A chart's non-template files, built once per compiled chart: `.Files` has no method that
/// changes it, so every render shares one object ([`ChartFiles::value`]).
#[derive(Debug)]
pub(crate) struct ChartFiles {
    /// The files by chart-relative path.
    pub files: Arc<BTreeMap<String, Arc<FileEntry>>>,
    /// The `.Files` object over them.
    pub value: Value,
}

impl ChartFiles {
    /// The files `(path, bytes)` of one chart.
    pub(crate) fn new(files: Vec<(String, FileData)>) -> ChartFiles {
        let files: Arc<BTreeMap<String, Arc<FileEntry>>> = Arc::new(
            files
                .into_iter()
                .map(|(name, data)| (name, FileEntry::new(data)))
                .collect(),
        );
        ChartFiles {
            value: Value::from_object(Files {
                files: files.clone(),
            }),
            files,
        }
    }
}

/// Helm's `files` type: a map of path to bytes with `Get`, `GetBytes`, `Glob`, `Lines`,
/// `AsConfig` and `AsSecrets`.
#[derive(Debug, Clone)]
pub(crate) struct Files {
    files: Arc<BTreeMap<String, Arc<FileEntry>>>,
}

impl Object for Files {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(self.files.get(key.as_str()?)?.text())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.files.keys().map(|k| s(k)).collect())
    }

    fn is_true(self: &Arc<Self>) -> bool {
        !self.files.is_empty()
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let want = |n: usize| capstan_sprig::want_args(method, args, n);
        let arg = |i: usize| capstan_sprig::args::string_arg(args, i);
        match method {
            "Get" | "GetBytes" => {
                want(1)?;
                Ok(self
                    .files
                    .get(arg(0)?)
                    .map_or_else(|| Value::from(""), |f| f.text()))
            }
            "Lines" => {
                want(1)?;
                let lines = crate::chartfiles::lines(self.files.get(arg(0)?).map(|f| f.data()));
                Ok(list(lines.iter().map(|l| s(l)).collect()))
            }
            "Glob" => {
                want(1)?;
                let files = crate::chartfiles::glob(&self.files, arg(0)?)
                    .map_err(|e| capstan_sprig::go_error(format!("{e}")))?;
                Ok(Value::from_object(Files {
                    files: Arc::new(files),
                }))
            }
            "AsConfig" | "AsSecrets" => {
                want(0)?;
                // No files still prints `{}`: Helm returns "" only for a nil map.
                let entries = crate::chartfiles::config_entries(&self.files, method == "AsSecrets")
                    .into_iter()
                    .map(|(k, v)| (k, s(&v)))
                    .collect();
                super::runtime::to_yaml(&map(entries)).map(Value::from)
            }
            _ => Err(Error::new(
                minijinja::ErrorKind::UnknownMethod,
                format!("can't evaluate field {method} in type chart.Files"),
            )),
        }
    }
}

/// Helm's `.Capabilities.APIVersions`: a list of versions with `Has`.
#[derive(Debug, Clone)]
pub(crate) struct ApiVersions {
    versions: Vec<String>,
}

impl Object for ApiVersions {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.versions.iter().map(|v| s(v)).collect())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "Has" => {
                capstan_sprig::want_args("Has", args, 1)?;
                let want = capstan_sprig::args::string_arg(args, 0)?;
                Ok(Value::from(self.versions.iter().any(|v| v == want)))
            }
            _ => Err(Error::new(
                minijinja::ErrorKind::UnknownMethod,
                format!("can't evaluate field {method} in type chartutil.VersionSet"),
            )),
        }
    }
}
