//! Every template of the shared chart corpus parses and translates.

use std::path::{Path, PathBuf};

/// `CAPSTAN_CHARTS_DIR`, or `shared/charts` beside the repository or a parent of it, or this
/// machine's `/work/shared/charts` (as `cargo xtask conformance` finds it).
fn corpus() -> PathBuf {
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

fn templates(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            templates(&p, out);
        } else if p.parent().is_some_and(|d| {
            d.ends_with("templates") || d.to_string_lossy().contains("/templates/")
        }) && p
            .extension()
            .is_some_and(|x| x == "yaml" || x == "tpl" || x == "txt" || x == "yml")
        {
            out.push(p);
        }
    }
}

#[test]
fn every_corpus_template_parses_and_translates() {
    let root = corpus();
    assert!(
        root.join("CASES.tsv").is_file(),
        "chart corpus not found at {}",
        root.display()
    );
    let mut files = Vec::new();
    templates(&root, &mut files);
    assert!(files.len() > 2000, "found only {} templates", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        let result = capstan_gotmpl::parse(&src).and_then(|tree| {
            capstan_gotmpl::translate(&tree.root, &|_| true)?;
            for d in &tree.defines {
                capstan_gotmpl::translate(&d.list, &|_| true)?;
            }
            Ok(())
        });
        if let Err(e) = result {
            let (line, col) = capstan_gotmpl::line_col(&src, e.pos());
            failures.push(format!("{}:{line}:{col}: {e}", f.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
