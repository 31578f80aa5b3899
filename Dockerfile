# syntax=docker/dockerfile:1
#
# Tocsin image. The build stage compiles the binary; rdkafka builds its
# bundled librdkafka from source (configure + make, zlib through libz-sys:
# the `libz` feature in Cargo.toml), hence the C toolchain, cmake, pkg-config
# and zlib headers. The runtime stage holds only the binary and the shipped
# rules; the config is mounted at /etc/tocsin/tocsin.toml (docker-compose.yml
# mounts deploy/tocsin.toml there).

# The crate's rust-version: the oldest toolchain it promises to build with.
FROM rust:1.88-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake pkg-config zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Cache mounts keep the registry and compiled dependencies (librdkafka takes
# minutes) between builds; the binary is copied out of the cached target dir.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin tocsin \
    && install -D -m 0755 target/release/tocsin /out/tocsin

FROM debian:bookworm-slim
# zlib1g (librdkafka's compression) is part of the base image.
RUN useradd --system --no-create-home --shell /usr/sbin/nologin tocsin
COPY --from=build /out/tocsin /usr/local/bin/tocsin
COPY rules/ /etc/tocsin/rules/
USER tocsin
# SIGTERM (docker stop) drains, flushes, commits and leaves the group.
ENTRYPOINT ["/usr/local/bin/tocsin"]
CMD ["run", "--config", "/etc/tocsin/tocsin.toml", "--rules", "/etc/tocsin/rules"]
