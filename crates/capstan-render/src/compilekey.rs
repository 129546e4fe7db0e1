//! The content key of a chart's compilation ([`compile_key`]): the digest of the files that
//! compiling reads, so a compile cache entry is found again for the same templates whatever the
//! chart's values, CRDs or other files, and never for different ones.

use capstan_chart::ChartFile;
use sha2::{Digest as _, Sha256};

/// Whether compiling can read `name`: every `Chart.yaml` and `requirements.yaml` (names,
/// aliases, dependencies, the template syntax annotation), every file under a `templates/`
/// directory of the chart or a subchart, and every subchart archive (which holds both).
fn read_by_compile(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    base == "Chart.yaml"
        || base == "requirements.yaml"
        || name.starts_with("templates/")
        || name.contains("/templates/")
        || name.ends_with(".tgz")
        || name.ends_with(".tar.gz")
}

/// The sha256 (64 hex digits) of the files of a chart directory or archive (chart-relative
/// paths, as [`capstan_chart::Chart::dir_files`] gives them) that compiling the chart reads:
/// their paths, lengths and bytes in path order.
pub fn compile_key(files: &[ChartFile]) -> String {
    let mut read: Vec<&ChartFile> = files.iter().filter(|f| read_by_compile(&f.name)).collect();
    read.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hasher = Sha256::new();
    hasher.update(b"capstan compile inputs v1\0");
    for file in read {
        hasher.update((file.name.len() as u64).to_be_bytes());
        hasher.update(file.name.as_bytes());
        hasher.update((file.data.len() as u64).to_be_bytes());
        hasher.update(&file.data);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, data: &str) -> ChartFile {
        ChartFile {
            name: name.into(),
            data: data.into(),
        }
    }

    #[test]
    fn only_what_compiling_reads_changes_the_key() {
        let base = vec![
            file("Chart.yaml", "name: a"),
            file("values.yaml", "x: 1"),
            file("templates/a.yaml", "a"),
            file("crds/c.yaml", "c"),
            file("charts/db/Chart.yaml", "name: db"),
            file("charts/db/templates/s.yaml", "s"),
            file("charts/cache-1.0.0.tgz", "archive"),
            file("README.md", "readme"),
        ];
        let key = compile_key(&base);
        let with = |i: usize, data: &str| {
            let mut files = base.clone();
            files[i].data = data.into();
            compile_key(&files)
        };
        for unread in [1, 3, 7] {
            assert_eq!(with(unread, "changed"), key, "{}", base[unread].name);
        }
        for read in [0, 2, 4, 5, 6] {
            assert_ne!(with(read, "changed"), key, "{}", base[read].name);
        }
        let mut added = base.clone();
        added.push(file("templates/b.yaml", ""));
        assert_ne!(compile_key(&added), key);
        let mut reversed = base.clone();
        reversed.reverse();
        assert_eq!(compile_key(&reversed), key);
    }
}
