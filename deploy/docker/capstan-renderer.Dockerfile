# syntax=docker/dockerfile:1
# The capstan-renderer daemon. Build from the repository root (deploy/README.md):
#   docker build -f deploy/docker/capstan-renderer.Dockerfile -t capstan-renderer:0.1.0 .

# Builder: the workspace's locked dependencies, only this daemon's package.
FROM docker.io/library/rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p capstan-renderer --bin capstan-renderer \
    && install -D -m 0755 target/release/capstan-renderer /out/capstan-renderer

# Runtime: distroless (glibc, CA certificates, no shell), as the unprivileged user 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/capstan-renderer /usr/local/bin/capstan-renderer
USER 65532:65532
EXPOSE 50051
ENTRYPOINT ["/usr/local/bin/capstan-renderer"]
# Kubernetes' args replace CMD (the chart passes its own --listen).
CMD ["--listen=0.0.0.0:50051"]
