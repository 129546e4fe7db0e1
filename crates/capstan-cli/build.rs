//! Links the `capstan` binary as a position-dependent executable on Linux.
//!
//! A position-independent `capstan` carries ~68,000 relative relocations (1.6 MB) that the
//! dynamic loader applies at every start, touching (and copying) every page of `.data.rel.ro`
//! and the GOT: about 700 page faults before `main`, a large part of a short command's time
//! (`capstan version`, `capstan template` of a small chart). Linked without PIE, the addresses
//! are fixed at link time and those pages are read from the file only where used. The cost is
//! that the binary's own code is not placed at a random address (its libraries, heap and
//! stacks still are).

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        println!("cargo:rustc-link-arg-bin=capstan=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
