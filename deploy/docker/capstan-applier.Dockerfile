# syntax=docker/dockerfile:1
# The capstan-applier daemon. Build from the repository root (deploy/README.md):
#   docker build -f deploy/docker/capstan-applier.Dockerfile -t capstan-applier:0.1.0 .

# Builder: the workspace's locked dependencies, only this daemon's package.
FROM docker.io/library/rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p capstan-applier --bin capstan-applier \
    && install -D -m 0755 target/release/capstan-applier /out/capstan-applier

# Runtime: distroless (glibc, CA certificates, no shell), as the unprivileged user 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/capstan-applier /usr/local/bin/capstan-applier
USER 65532:65532
EXPOSE 50052
ENTRYPOINT ["/usr/local/bin/capstan-applier"]
# Kubernetes' args replace CMD (the chart passes its own --listen).
CMD ["--listen=0.0.0.0:50052"]
