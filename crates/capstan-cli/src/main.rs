//! `capstan`: Helm's release commands over capstan's renderer and applier.

fn main() -> std::process::ExitCode {
    capstan_cli::main()
}
