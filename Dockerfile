# grpc-ingress image: build on Debian bookworm, run on bookworm-slim as uid 65532.
#   docker build -t grpc-ingress:0.1.0 .

FROM debian:bookworm AS build
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The same two commands as the README. The package list lives in the Makefile
# (DEB_PACKAGES); copying it alone first keeps this layer cached until the list changes.
COPY Makefile ./
RUN make deps && rm -rf /var/lib/apt/lists/*
COPY . .
ENV CCACHE_DIR=/ccache
RUN --mount=type=cache,target=/ccache \
    make build BUILD_DIR=/build CMAKE_ARGS=-DBUILD_TESTING=OFF \
 && strip --strip-debug -o /grpc-ingress /build/grpc-ingress

FROM debian:bookworm-slim
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
ARG DEBIAN_FRONTEND=noninteractive
# The packages of the shared libraries the binary links (ldd), one per line; libc6 is
# already there. tests/chart/dockerfile_test.sh fails when the binary needs a library
# that none of these (or what they depend on) installs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libfmt9 \
      libgcc-s1 \
      libmimalloc2.0 \
      libnghttp2-14 \
      libre2-9 \
      libspdlog1.10 \
      libssl3 \
      libstdc++6 \
      libyaml-cpp0.7 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 nonroot \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin nonroot
COPY --from=build /grpc-ingress /usr/local/bin/grpc-ingress
# Fail the build, not the pod, if a shared library is missing.
RUN if ldd /usr/local/bin/grpc-ingress | grep 'not found'; then exit 1; fi
USER 65532:65532
# 8080 h2c/HTTP, 8443 TLS, 10254 admin (/healthz /readyz /metrics /debug/routes).
EXPOSE 8080 8443 10254
ENTRYPOINT ["/usr/local/bin/grpc-ingress"]
