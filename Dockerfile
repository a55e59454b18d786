# grpc-ingress image: built on Debian bookworm, run from `scratch` as uid 65532.
#   make image IMAGE=registry.example.com/team/grpc-ingress:0.1.0 [PUSH=1]
# (or `docker build -t grpc-ingress:0.1.0 .`; BuildKit, for the ccache mount).
#
# Reproducible: the base images are dated Debian tags and apt reads the Debian archive
# snapshot of the same day (docker/apt-snapshot.sh), so a rebuild installs the same
# package versions. Pin a base image by digest too with
# --build-arg BUILD_IMAGE=debian:bookworm-20250520@sha256:... (and RUNTIME_LIBS_IMAGE).
ARG DEBIAN_SNAPSHOT=20250520T000000Z
ARG BUILD_IMAGE=debian:bookworm-20250520
ARG RUNTIME_LIBS_IMAGE=debian:bookworm-20250520-slim

# ---- build: build dependencies only (the Makefile's BUILD_PACKAGES), no test toolchain
FROM ${BUILD_IMAGE} AS build
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
ARG DEBIAN_FRONTEND=noninteractive
ARG DEBIAN_SNAPSHOT
COPY docker/apt-snapshot.sh /usr/local/sbin/
RUN apt-snapshot.sh "$DEBIAN_SNAPSHOT" \
 && apt-get update \
 && apt-get install -y make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The package list lives in the Makefile; copying it alone first keeps this layer
# cached until the list changes.
COPY Makefile ./
RUN make build-deps && rm -rf /var/lib/apt/lists/*
COPY . .
ENV CCACHE_DIR=/ccache
RUN --mount=type=cache,target=/ccache \
    make build BUILD_DIR=/build BUILD_TESTING=OFF \
 && strip --strip-debug -o /grpc-ingress /build/grpc-ingress

# ---- greeter-build: the example greeter of manifests/examples/greeter (test-pod: a gRPC
# C++ helloworld.Greeter with grpc.health.v1), for `make example-image`
FROM build AS greeter-build
RUN make example-deps && apt-get update && apt-get install -y ca-certificates && rm -rf /var/lib/apt/lists/*
RUN --mount=type=cache,target=/ccache \
    cmake -S . -B /build-greeter -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build-greeter -j "$(nproc)" --target test-pod \
 && strip -o /test-pod /build-greeter/test-pod \
 && docker/rootfs.sh /test-pod greeter /rootfs

FROM scratch AS greeter-example
COPY --from=greeter-build /rootfs/ /
USER 65532:65532
EXPOSE 50051
ENTRYPOINT ["/usr/local/bin/greeter"]

# ---- runtime-libs: the packages of the shared libraries the binary links (ldd), at the
# snapshot's versions; what the runtime stage gets is collected from here
FROM ${RUNTIME_LIBS_IMAGE} AS runtime-libs
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
ARG DEBIAN_FRONTEND=noninteractive
ARG DEBIAN_SNAPSHOT
COPY docker/apt-snapshot.sh /usr/local/sbin/
# One package per line; libc6 is already there. tests/chart/dockerfile_test.sh fails
# when the binary needs a library that none of these (or what they depend on) installs.
RUN apt-snapshot.sh "$DEBIAN_SNAPSHOT" \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      libfmt9 \
      libgcc-s1 \
      libmimalloc2.0 \
      libnghttp2-14 \
      libre2-9 \
      libspdlog1.10 \
      libssl3 \
      libstdc++6 \
      libyaml-cpp0.7 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /grpc-ingress /grpc-ingress
COPY docker/rootfs.sh /usr/local/sbin/
# The binary, exactly its libraries, the CA bundle, passwd/group. Fail the build, not
# the pod, if the binary cannot start from that alone.
RUN rootfs.sh /grpc-ingress grpc-ingress /rootfs \
 && chroot --userspec=65532:65532 /rootfs /usr/local/bin/grpc-ingress --version

# ---- runtime: no package manager, no shell; the default target
FROM scratch AS runtime
ARG VERSION=0.1.0
ARG REVISION=""
ARG CREATED=""
ARG SOURCE=""
COPY --from=runtime-libs /rootfs/ /
LABEL org.opencontainers.image.title="grpc-ingress" \
      org.opencontainers.image.description="Kubernetes ingress controller with an embedded HTTP/2 data plane that balances every gRPC call across the ready pods of a Service" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}"
USER 65532:65532
# 8080 h2c/HTTP, 8443 TLS, 10254 admin (/healthz /readyz /metrics /debug/routes).
EXPOSE 8080 8443 10254
ENTRYPOINT ["/usr/local/bin/grpc-ingress"]
