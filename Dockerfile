# grpc-ingress image: build on Debian bookworm, run on bookworm-slim as uid 65532.
#   docker build -t grpc-ingress:0.1.0 .

FROM debian:bookworm AS build
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The package list lives in the Makefile (DEB_PACKAGES); copying it alone first keeps
# this layer cached until the list changes.
COPY Makefile ./
RUN make deps && rm -rf /var/lib/apt/lists/*
COPY . .
ENV CCACHE_DIR=/ccache
RUN --mount=type=cache,target=/ccache \
    make build BUILD_DIR=/build CMAKE_ARGS=-DBUILD_TESTING=OFF
# The runtime stage installs exactly the packages that own the shared libraries the
# binary links (ldd), so a new dependency can't be forgotten there.
RUN mkdir /out \
 && strip --strip-debug -o /out/grpc-ingress /build/grpc-ingress \
 && ldd /out/grpc-ingress | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' \
    | while read -r lib; do \
        dpkg -S "*/$(basename "$(dirname "$lib")")/$(basename "$lib")"; \
      done \
    | awk -F': ' '{ sub(/:.*/, "", $1); print $1 }' | sort -u > /out/runtime-packages \
 && cat /out/runtime-packages

FROM debian:bookworm-slim
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
ARG DEBIAN_FRONTEND=noninteractive
COPY --from=build /out/runtime-packages /tmp/runtime-packages
RUN apt-get update \
 && xargs -r -a /tmp/runtime-packages apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages \
 && groupadd --system --gid 65532 nonroot \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin nonroot
COPY --from=build /out/grpc-ingress /usr/local/bin/grpc-ingress
# Fail the build, not the pod, if a shared library is missing.
RUN if ldd /usr/local/bin/grpc-ingress | grep 'not found'; then exit 1; fi
USER 65532:65532
# 8080 h2c/HTTP, 8443 TLS, 10254 admin (/healthz /readyz /metrics /debug/routes).
EXPOSE 8080 8443 10254
ENTRYPOINT ["/usr/local/bin/grpc-ingress"]
