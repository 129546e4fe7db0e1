//! `capstan completion SHELL`: print the shell completion script, as `helm completion` does.

use clap::CommandFactory as _;

use crate::cli::{Cli, CompletionArgs};
use crate::console::out;

pub fn run(args: CompletionArgs) -> anyhow::Result<u8> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "capstan", &mut out);
    out!("{}", String::from_utf8_lossy(&out));
    Ok(0)
}
