//! `Chart.yaml`: the chart's metadata with Helm's field names, parsing and validation.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::constraint::{Constraint, parse_version};
use crate::{Error, Result};

/// Whether a chart can be installed (`application`) or only provides named templates (`library`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChartType {
    /// An installable chart (the default when `type` is absent).
    #[default]
    Application,
    /// A chart of named templates for other charts; it renders no manifests itself.
    Library,
}

/// A maintainer entry of `Chart.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Maintainer {
    /// The maintainer's name.
    pub name: String,
    /// Their email address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    /// Their URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
}

/// A dependency entry of `Chart.yaml`, resolved against the chart's `charts/` directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    /// The subchart's name (its `Chart.yaml` name).
    pub name: String,
    /// A version constraint the subchart's version must satisfy (empty: any).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Where the chart comes from (not used for rendering; `charts/` must already hold it).
    /// Always written, empty or not, as Helm's JSON does.
    #[serde(default)]
    pub repository: String,
    /// Comma-separated values paths; the first that holds a boolean enables or disables it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition: String,
    /// Tags under the top-level `tags:` values that enable or disable it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The name the subchart is known by in this chart (its values key and template prefix).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alias: String,
    /// Helm's `import-values` (applied by `process_dependencies`).
    #[serde(
        default,
        rename = "import-values",
        skip_serializing_if = "Option::is_none"
    )]
    pub import_values: Option<serde_json::Value>,
}

impl Dependency {
    /// The name the subchart gets in its parent: the alias when set, else its name.
    pub fn effective_name(&self) -> &str {
        if self.alias.is_empty() {
            &self.name
        } else {
            &self.alias
        }
    }
}

/// The contents of `Chart.yaml`, with Helm's field names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartMetadata {
    /// `v2` (Helm 3 charts) or `v1` (legacy).
    #[serde(default)]
    pub api_version: String,
    /// The chart's name.
    #[serde(default)]
    pub name: String,
    /// The chart's SemVer version.
    #[serde(default, deserialize_with = "scalar_string")]
    pub version: String,
    /// The version of the application the chart deploys (any scalar; kept as text).
    #[serde(
        default,
        deserialize_with = "scalar_string",
        skip_serializing_if = "String::is_empty"
    )]
    pub app_version: String,
    /// A one-line description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `application` or `library`; `None` when Chart.yaml does not say (an application, and
    /// `.Chart.Type` is empty, as in Helm).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub chart_type: Option<ChartType>,
    /// A SemVer constraint on the cluster's Kubernetes version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kube_version: String,
    /// The project's home page.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub home: String,
    /// An icon URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub icon: String,
    /// Source URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// Search keywords.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Maintainers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintainers: Vec<Maintainer>,
    /// Whether the chart is deprecated.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
    /// Free-form annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Dependencies, resolved from `charts/`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
}

fn scalar_string<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    let v = serde_yaml_ng::Value::deserialize(d)?;
    Ok(match v {
        serde_yaml_ng::Value::Null => String::new(),
        serde_yaml_ng::Value::String(s) => s,
        serde_yaml_ng::Value::Bool(b) => b.to_string(),
        serde_yaml_ng::Value::Number(n) => n.to_string(),
        other => {
            return Err(serde::de::Error::custom(format!(
                "expected a scalar, found {other:?}"
            )));
        }
    })
}

/// Helm's `sanitizeString`: whitespace becomes a space, unprintable characters are dropped.
pub fn sanitize_string(text: &str) -> String {
    text.chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some(' ')
            } else if c.is_control() || is_unprintable(c) {
                None
            } else {
                Some(c)
            }
        })
        .collect()
}

/// Characters Go's `unicode.IsPrint` refuses besides controls and spaces: format characters
/// (zero-width joiners, bidirectional marks, the byte order mark), surrogates and
/// private-use or unassigned code points as far as they matter in chart metadata.
fn is_unprintable(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{0600}'..='\u{0605}'
        | '\u{061C}'
        | '\u{06DD}'
        | '\u{070F}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E000}'..='\u{F8FF}'
    )
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name != "."
        && name != ".."
}

impl ChartType {
    /// The name Chart.yaml gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            ChartType::Application => "application",
            ChartType::Library => "library",
        }
    }
}

impl ChartMetadata {
    /// Helm's `json.Marshal` of its `chart.Metadata` (its field order, empty fields left out):
    /// an OCI chart's config blob, and through sigs.k8s.io/yaml `show chart` and a packaged
    /// chart's Chart.yaml.
    pub fn helm_json(&self) -> Vec<u8> {
        let metadata = self;
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Config<'a> {
            #[serde(skip_serializing_if = "str::is_empty")]
            name: &'a str,
            #[serde(skip_serializing_if = "str::is_empty")]
            home: &'a str,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            sources: &'a [String],
            #[serde(skip_serializing_if = "str::is_empty")]
            version: &'a str,
            #[serde(skip_serializing_if = "str::is_empty")]
            description: &'a str,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            keywords: &'a [String],
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            maintainers: &'a [Maintainer],
            #[serde(skip_serializing_if = "str::is_empty")]
            icon: &'a str,
            #[serde(skip_serializing_if = "str::is_empty")]
            api_version: &'a str,
            #[serde(skip_serializing_if = "str::is_empty")]
            app_version: &'a str,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            deprecated: bool,
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            annotations: &'a BTreeMap<String, String>,
            #[serde(skip_serializing_if = "str::is_empty")]
            kube_version: &'a str,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            dependencies: &'a [Dependency],
            #[serde(rename = "type", skip_serializing_if = "str::is_empty")]
            chart_type: &'a str,
        }
        let config = Config {
            name: &metadata.name,
            home: &metadata.home,
            sources: &metadata.sources,
            version: &metadata.version,
            description: &metadata.description,
            keywords: &metadata.keywords,
            maintainers: &metadata.maintainers,
            icon: &metadata.icon,
            api_version: &metadata.api_version,
            app_version: &metadata.app_version,
            deprecated: metadata.deprecated,
            annotations: &metadata.annotations,
            kube_version: &metadata.kube_version,
            dependencies: &metadata.dependencies,
            chart_type: metadata.chart_type.map_or("", ChartType::as_str),
        };
        serde_json::to_vec(&config).unwrap_or_default()
    }

    /// Whether the chart is a library chart (`type: library`).
    pub fn is_library(&self) -> bool {
        self.chart_type == Some(ChartType::Library)
    }

    /// Parses and validates `Chart.yaml`; `file` names it in errors (e.g. `webapp/Chart.yaml`).
    pub fn parse(text: &str, file: &str) -> Result<ChartMetadata> {
        let mut md: ChartMetadata = crate::values::from_yaml(text, file)?;
        md.sanitize();
        md.validate(file)?;
        Ok(md)
    }

    /// Helm's loader rule (`Metadata.Validate`): in the name, description, home, icon, app and
    /// Kubernetes versions, sources, keywords and maintainers, every whitespace character
    /// becomes a space and unprintable characters go (a description written as a YAML block
    /// reads as one line, in templates and stored releases alike).
    pub fn sanitize(&mut self) {
        for field in [
            &mut self.name,
            &mut self.description,
            &mut self.home,
            &mut self.icon,
            &mut self.app_version,
            &mut self.kube_version,
        ] {
            *field = sanitize_string(field);
        }
        for field in self.sources.iter_mut().chain(self.keywords.iter_mut()) {
            *field = sanitize_string(field);
        }
        for m in &mut self.maintainers {
            for field in [&mut m.name, &mut m.email, &mut m.url] {
                *field = sanitize_string(field);
            }
        }
    }

    /// Checks the rules Helm checks: apiVersion, name, SemVer version, type, kubeVersion,
    /// dependency names and aliases.
    pub fn validate(&self, file: &str) -> Result<()> {
        let err = |message: String| Error::Metadata {
            file: file.to_string(),
            message,
        };
        match self.api_version.as_str() {
            "v2" | "v1" => {}
            "" => return Err(err("apiVersion is required".into())),
            other => {
                return Err(err(format!(
                    "apiVersion {other:?} is not valid (expected v2)"
                )));
            }
        }
        if self.name.is_empty() {
            return Err(err("name is required".into()));
        }
        if !valid_name(&self.name) {
            return Err(err(format!(
                "name {:?} is invalid: use letters, digits, '-', '_' and '.' only",
                self.name
            )));
        }
        if self.version.is_empty() {
            return Err(err("version is required".into()));
        }
        parse_version(&self.version).map_err(|e| {
            err(format!(
                "version {:?} is not a valid SemVer 2 version: {e}",
                self.version
            ))
        })?;
        if !self.kube_version.is_empty() {
            Constraint::parse(&self.kube_version).map_err(|e| err(format!("kubeVersion: {e}")))?;
        }
        for dep in &self.dependencies {
            if !valid_name(&dep.name) {
                return Err(err(format!("dependency name {:?} is invalid", dep.name)));
            }
            if !dep.alias.is_empty()
                && !dep
                    .alias
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
            {
                return Err(err(format!(
                    "dependency {:?} has disallowed characters in the alias {:?}",
                    dep.name, dep.alias
                )));
            }
            if !dep.version.is_empty() {
                Constraint::parse(&dep.version)
                    .map_err(|e| err(format!("dependency {:?}: {e}", dep.name)))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_as_helms_loader() {
        let md = ChartMetadata::parse(
            "apiVersion: v2\nname: web\nversion: 1.0.0\ndescription: |\n  two\n  lines\u{200B}\n\
             keywords: [\"a\\tb\"]\n",
            "web/Chart.yaml",
        )
        .unwrap();
        assert_eq!(md.description, "two lines ");
        assert_eq!(md.keywords, ["a b"]);
    }

    #[test]
    fn parses_helm_fields() {
        let md = ChartMetadata::parse(
            "apiVersion: v2\nname: web\nversion: 1.2.3\nappVersion: 1.16\ntype: library\n\
             kubeVersion: '>=1.20.0-0'\ndependencies:\n- name: redis\n  version: ~1.0\n  \
             condition: redis.enabled\n  tags: [cache]\n  alias: cache\n",
            "web/Chart.yaml",
        )
        .unwrap();
        assert_eq!(md.app_version, "1.16");
        assert_eq!(md.chart_type, Some(ChartType::Library));
        assert_eq!(md.dependencies[0].effective_name(), "cache");
        assert_eq!(md.dependencies[0].tags, vec!["cache"]);
    }

    #[test]
    fn invalid_semver_names_file_and_version() {
        let e = ChartMetadata::parse(
            "apiVersion: v2\nname: web\nversion: one.two\n",
            "web/Chart.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("web/Chart.yaml: version \"one.two\""), "{e}");
        assert!(e.contains("SemVer"), "{e}");
    }

    #[test]
    fn other_validation_errors() {
        let cases = [
            ("name: web\nversion: 1.0.0\n", "apiVersion is required"),
            (
                "apiVersion: v3\nname: web\nversion: 1.0.0\n",
                "apiVersion \"v3\"",
            ),
            ("apiVersion: v2\nversion: 1.0.0\n", "name is required"),
            ("apiVersion: v2\nname: a\n", "version is required"),
            (
                "apiVersion: v2\nname: a/b\nversion: 1.0.0\n",
                "name \"a/b\" is invalid",
            ),
            (
                "apiVersion: v2\nname: a\nversion: 1.0.0\ntype: plugin\n",
                "unknown variant",
            ),
            (
                "apiVersion: v2\nname: a\nversion: 1.0.0\nkubeVersion: '>=abc'\n",
                "kubeVersion",
            ),
        ];
        for (text, want) in cases {
            let e = ChartMetadata::parse(text, "a/Chart.yaml")
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{text}: {e}");
            assert!(e.starts_with("a/Chart.yaml"), "{e}");
        }
    }

    #[test]
    fn unparseable_yaml_has_line_and_column() {
        let e = ChartMetadata::parse("apiVersion: v2\nname: [web\n", "w/Chart.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("w/Chart.yaml:"), "{e}");
        assert!(e.contains("yaml does not parse"), "{e}");
    }
}
