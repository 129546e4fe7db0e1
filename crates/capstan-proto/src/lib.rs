//! capstan's protobuf API: the generated messages, clients and servers of the renderer and the
//! applier, and the encoded descriptor set for gRPC reflection.
//!
//! The `.proto` files live in `proto/` at the workspace root. The Rust code under `src/generated/` is
//! generated from them with protox (no `protoc` needed) and committed; the `codegen` test fails when it
//! is stale, and `CAPSTAN_BLESS=1 cargo test -p capstan-proto --test codegen` (or
//! `cargo xtask codegen`) regenerates it.
//!
//! Besides, [`compat`] says which value a message means where an enum field replaced a string
//! field (the enum when set, else the deprecated string), for servers and clients alike.
//!
//! Invariant: nothing here but generated code, the descriptor set and the wire's own
//! compatibility rules; conversions to and from domain types live in the services that own
//! those types.

/// The renderer service, `capstan.renderer.v1`.
pub mod renderer {
    /// Version 1 of the renderer API.
    #[allow(missing_docs, clippy::all, clippy::pedantic)]
    pub mod v1 {
        include!("generated/capstan.renderer.v1.rs");
    }
}

/// The applier service, `capstan.applier.v1`.
pub mod applier {
    /// Version 1 of the applier API.
    #[allow(missing_docs, clippy::all, clippy::pedantic)]
    pub mod v1 {
        include!("generated/capstan.applier.v1.rs");
    }
}

pub mod compat;

/// The encoded `FileDescriptorSet` of every capstan proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("generated/descriptor.bin");
