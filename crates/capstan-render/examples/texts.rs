//! Prints the raw text of a chart's rendered templates (Helm's `engine.Render`, before any
//! manifest parsing), for debugging a chart: `cargo run -p capstan-render --example texts --
//! CHART_DIR [TEMPLATE_SUFFIX] [-f VALUES]`.

use capstan_chart::{Chart, Limits, ValueLayer, user_values};
use capstan_render::{Capabilities, CompiledChart, ReleaseInfo, RenderLimits};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut chart_dir = None;
    let mut only = None;
    let mut layers = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-f" {
            let path = it.next().expect("-f takes a file");
            layers.push(ValueLayer::File {
                name: path.clone(),
                contents: std::fs::read_to_string(path).expect("values file"),
            });
        } else if chart_dir.is_none() {
            chart_dir = Some(a.clone());
        } else {
            only = Some(a.clone());
        }
    }
    let chart = Chart::load_dir(
        chart_dir.expect("a chart directory").as_ref(),
        &Limits::default(),
    )
    .expect("chart loads");
    let values = user_values(&layers, &mut |p| Err(format!("no file {p}"))).expect("values");
    let capabilities = Capabilities {
        kube_version: "v1.33.0".into(),
        ..Capabilities::default()
    };
    let compiled = CompiledChart::compile(&chart, &RenderLimits::default());
    let texts = compiled.and_then(|c| {
        c.render_templates(
            &values,
            &capstan_chart::set_integer_paths(&layers),
            &ReleaseInfo::install("rel", "ns"),
            &capabilities,
        )
    });
    match texts {
        Ok(texts) => {
            for (file, text) in texts {
                if only.as_ref().is_none_or(|o| file.ends_with(o.as_str())) {
                    println!("# ==== {file}\n{text}");
                }
            }
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
