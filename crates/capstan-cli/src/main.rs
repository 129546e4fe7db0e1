//! `capstan`: Helm's release commands over capstan's renderer and applier.

/// mimalloc (built without transparent huge pages): `repo update` and `search repo` allocate
/// and free hundreds of thousands of small strings, where glibc's allocator spent a fifth of
/// the time; rendering large charts is a third faster too (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    capstan_cli::main()
}
