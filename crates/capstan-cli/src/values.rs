//! The values flags shared by `template`, `install`, `upgrade` and `lint`, turned into the
//! renderer's values layers in Helm's order.

use std::path::Path;

use anyhow::Context as _;
use capstan_proto::renderer::v1 as pb;
use clap::Args;

/// `-f`, `--set`, `--set-string`, `--set-file`, `--set-json`, `--set-literal`.
#[derive(Args, Debug, Clone, Default)]
pub struct ValuesFlags {
    /// Values file (YAML), or `-` for standard input; may be repeated, later files win.
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    pub files: Vec<String>,
    /// Set values: `a.b=c,x[0]=y` (Helm's syntax).
    #[arg(long = "set", value_name = "KEY=VAL")]
    pub set: Vec<String>,
    /// Set values, keeping them strings.
    #[arg(long = "set-string", value_name = "KEY=VAL")]
    pub set_string: Vec<String>,
    /// Set values from files: `key=path`.
    #[arg(long = "set-file", value_name = "KEY=PATH")]
    pub set_file: Vec<String>,
    /// Set JSON values: `key={"a":1}`.
    #[arg(long = "set-json", value_name = "KEY=JSON")]
    pub set_json: Vec<String>,
    /// Set one value as a literal string: everything after the first `=` (commas too).
    #[arg(long = "set-literal", value_name = "KEY=VAL")]
    pub set_literal: Vec<String>,
}

impl ValuesFlags {
    /// Whether any values flag was given.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
            && self.set.is_empty()
            && self.set_string.is_empty()
            && self.set_file.is_empty()
            && self.set_json.is_empty()
            && self.set_literal.is_empty()
    }

    /// The layers in Helm's order: files, `--set-json`, `--set`, `--set-string`, `--set-file`,
    /// `--set-literal`.
    pub fn layers(&self) -> anyhow::Result<Vec<pb::ValuesLayer>> {
        use pb::values_layer::Layer;
        let mut layers = Vec::new();
        // The renderer refuses more values than this in one render; saying so here, before a
        // large file is read and sent, names the file instead of a transport limit.
        let limit = capstan_renderer::ServiceLimits::default().max_values_bytes;
        let too_large = |what: &str, bytes: u64| {
            anyhow::anyhow!(
                "{what} is {bytes} bytes, over the limit of {limit} bytes of values a render \
                 takes (the renderer's --max-values-bytes)"
            )
        };
        for file in &self.files {
            let contents = if file == "-" {
                std::io::read_to_string(std::io::stdin())
                    .context("reading values from standard input")?
            } else {
                let size = std::fs::metadata(file)
                    .with_context(|| format!("reading values file {file}"))?
                    .len();
                if size > limit as u64 {
                    return Err(too_large(&format!("values file {file}"), size));
                }
                std::fs::read_to_string(file)
                    .with_context(|| format!("reading values file {file}"))?
            };
            if contents.len() > limit {
                return Err(too_large(
                    &format!("values file {file}"),
                    contents.len() as u64,
                ));
            }
            layers.push(Layer::File(contents));
        }
        layers.extend(self.set_json.iter().cloned().map(Layer::SetJson));
        layers.extend(self.set.iter().cloned().map(Layer::Set));
        layers.extend(self.set_string.iter().cloned().map(Layer::SetString));
        for expression in &self.set_file {
            let mut files = std::collections::HashMap::new();
            for part in expression.split(',') {
                if let Some((_, path)) = part.split_once('=') {
                    let content = std::fs::read_to_string(Path::new(path))
                        .with_context(|| format!("reading {path} for --set-file {expression}"))?;
                    files.insert(path.to_string(), content);
                }
            }
            layers.push(Layer::SetFile(pb::SetFile {
                expression: expression.clone(),
                files,
            }));
        }
        // `--set-literal key=value`: the value as a JSON string, so nothing in it is parsed.
        for expression in &self.set_literal {
            let Some((key, value)) = expression.split_once('=') else {
                anyhow::bail!("--set-literal {expression:?}: expected key=value");
            };
            layers.push(Layer::SetJson(format!(
                "{key}={}",
                serde_json::to_string(value)?
            )));
        }
        Ok(layers
            .into_iter()
            .map(|layer| pb::ValuesLayer { layer: Some(layer) })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_values_file_over_the_limit_is_refused_by_name_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.yaml");
        // Sparse: 100 MB long, nothing written.
        std::fs::File::create(&path)
            .unwrap()
            .set_len(100_000_000)
            .unwrap();
        let flags = ValuesFlags {
            files: vec![path.display().to_string()],
            ..ValuesFlags::default()
        };
        let error = flags.layers().unwrap_err().to_string();
        assert!(
            error.starts_with(&format!(
                "values file {} is 100000000 bytes, over the limit of",
                path.display()
            )),
            "{error}"
        );
    }
}
