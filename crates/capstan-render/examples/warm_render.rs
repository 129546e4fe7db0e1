//! Renders a chart the way a warm renderer daemon does (compiled once, then rendered again and
//! again with the request `render_load --as-template` sends), for counting a warm render's
//! instructions under callgrind:
//!
//! ```text
//! cargo build --release -p capstan-render --example warm_render
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*warm_renders*' \
//!   target/release/examples/warm_render CHART_DIR [RENDERS]
//! ```
//!
//! Only the renders after the first (which compiles the templates it uses and fills the
//! documents' head cache) are collected: the instructions divided by `RENDERS` are one warm
//! render's. With `WARM_RENDER_OUT=FILE` it writes the last render's output there (manifests,
//! hooks, notes, metadata and values), so a change can be checked to leave it as it was.
//! With `WARM_RENDER_TIMES=1` it prints the renders' median and fastest times (wall clock, so
//! on a quiet machine only; `CAPSTAN_RENDER_SPLIT=never` renders on one thread).

use capstan_chart::{Chart, Limits, Values, user_values};
use capstan_render::{Capabilities, CompiledChart, ReleaseInfo, RenderLimits, Rendered};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: warm_render CHART_DIR [RENDERS]");
    let renders: usize = args.next().map_or(10, |n| n.parse().expect("RENDERS"));
    let chart = Chart::load_dir(dir.as_ref(), &Limits::default()).expect("chart loads");
    let compiled = CompiledChart::compile(&chart, &RenderLimits::default()).expect("compiles");
    // As the daemon converts `render_load`'s request: no values layers, release `rel` in
    // `ns`, revision 1, an install, Kubernetes 1.33 and the default API versions, no CRDs.
    let user = user_values(&[], &mut |p| Err(format!("no file {p}"))).expect("values");
    let release = ReleaseInfo::install("rel", "ns");
    let capabilities = Capabilities {
        kube_version: "1.33".into(),
        omit_crds: true,
        ..Capabilities::default()
    };
    let render = || {
        let rendered = compiled
            .render_typed(None, &user, &[], &release, &capabilities)
            .expect("renders");
        respond(&compiled, &user, rendered)
    };
    let first = render();
    let last = warm_renders(renders, &render);
    if let Ok(path) = std::env::var("WARM_RENDER_OUT") {
        std::fs::write(path, &last).expect("writes the output");
    }
    println!(
        "{}",
        if first == last {
            "same output every render"
        } else {
            "outputs differ (random functions)"
        }
    );
}

/// The renders that are counted.
#[inline(never)]
fn warm_renders(renders: usize, render: &dyn Fn() -> String) -> String {
    let mut last = String::new();
    let mut times = Vec::with_capacity(renders);
    for _ in 0..renders {
        let started = std::time::Instant::now();
        last = render();
        times.push(started.elapsed());
    }
    if std::env::var_os("WARM_RENDER_TIMES").is_some() && !times.is_empty() {
        times.sort();
        eprintln!(
            "renders {renders}: p50 {:.3} ms, min {:.3} ms",
            times[times.len() / 2].as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3
        );
    }
    last
}

/// What the daemon's response is built from (the manifest text, metadata and values as JSON;
/// CRDs are omitted as `--as-template` asks), as one text.
fn respond(compiled: &CompiledChart, user: &Values, rendered: Rendered) -> String {
    let mut out = rendered.manifest();
    for m in &rendered.manifests {
        out.push_str(&format!("# {} {} {:?}\n", m.kind, m.name, m.namespace));
    }
    for hook in &rendered.hooks {
        out.push_str(&format!(
            "# hook {} {:?} {}\n",
            hook.path, hook.events, hook.weight
        ));
        out.push_str(&hook.manifest);
        out.push('\n');
    }
    out.push_str(&rendered.notes);
    out.push_str(&serde_json::to_string(&rendered.chart).unwrap_or_default());
    out.push_str(&compiled.merged_values_json(None, user, &rendered));
    out
}
