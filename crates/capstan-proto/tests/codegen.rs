//! Checks that the committed generated code matches `proto/`; with `CAPSTAN_BLESS=1` it rewrites it.

use std::path::{Path, PathBuf};

use prost::Message as _;

const PROTOS: [&str; 2] = [
    "capstan/renderer/v1/renderer.proto",
    "capstan/applier/v1/applier.proto",
];

fn generate(out: &Path) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let fds = protox::compile(PROTOS, [&root]).expect("the protos compile");
    let descriptor = fds.encode_to_vec();
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .build_transport(true)
        .out_dir(out)
        .compile_fds(fds)
        .expect("code generation succeeds");
    descriptor
}

#[test]
fn generated_code_is_fresh() {
    let committed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/generated");
    let scratch = std::env::temp_dir().join(format!("capstan-codegen-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let descriptor = generate(&scratch);
    std::fs::write(scratch.join("descriptor.bin"), descriptor).unwrap();

    let bless = std::env::var_os("CAPSTAN_BLESS").is_some();
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(&scratch).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        let fresh = std::fs::read(&path).unwrap();
        let target = committed.join(name);
        if std::fs::read(&target).ok().as_ref() != Some(&fresh) {
            if bless {
                std::fs::write(&target, &fresh).unwrap();
            } else {
                stale.push(target.display().to_string());
            }
        }
    }
    std::fs::remove_dir_all(&scratch).ok();
    assert!(
        stale.is_empty(),
        "generated code is stale: {stale:?}; run `cargo xtask codegen` and commit the result"
    );
}
