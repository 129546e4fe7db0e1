//! `--post-renderer`: the rendered manifests piped through an executable (standard input to
//! standard output), as Helm's post-renderers are, before they are applied or printed.

use std::io::Write as _;
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

use crate::cli::PostRenderFlags;

/// The manifests after the post-renderer, or as they are without one.
pub fn run(flags: &PostRenderFlags, manifests: &str) -> anyhow::Result<String> {
    let Some(program) = &flags.post_renderer else {
        return Ok(manifests.to_owned());
    };
    let shown = program.display().to_string();
    let mut child = Command::new(program)
        .args(&flags.post_renderer_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting post-renderer {shown:?}"))?;
    let mut stdin = child
        .stdin
        .take()
        .context("the post-renderer's standard input")?;
    let input = manifests.to_owned();
    // Written from another thread so a post-renderer that writes before reading all its input
    // cannot deadlock with us.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child
        .wait_with_output()
        .with_context(|| format!("running post-renderer {shown:?}"))?;
    let _ = writer.join();
    if !output.status.success() {
        bail!(
            "post-renderer {shown:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8(output.stdout)
        .with_context(|| format!("post-renderer {shown:?} printed something that is not UTF-8"))?;
    if text.trim().is_empty() {
        bail!("post-renderer {shown:?} produced empty output");
    }
    Ok(text)
}
