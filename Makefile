# grpc-ingress: developer and CI entry points.
# Works on a fresh Debian bookworm machine with nothing but make: `make test` installs
# what it needs, configures, builds and runs every test.

# Debian (bookworm) packages. BUILD_PACKAGES build the binary alone (`make build
# BUILD_TESTING=OFF`, the Dockerfile's build stage through `make build-deps`);
# TEST_PACKAGES add what the tests, the demo and the chart checks need. `make deps`
# installs both.
BUILD_PACKAGES := \
	build-essential cmake pkg-config ccache \
	libboost-dev libnghttp2-dev libssl-dev libmimalloc-dev libre2-dev \
	nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev
# gRPC C++ for the test pods (and the example greeter image: `make example-deps`).
EXAMPLE_PACKAGES := libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc grpc-proto catch2
TEST_PACKAGES := \
	$(EXAMPLE_PACKAGES) \
	curl nghttp2-client python3 openssl \
	golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v2-dev golang-github-xeipuuv-gojsonschema-dev \
	yamllint prometheus
DEB_PACKAGES := $(BUILD_PACKAGES) $(TEST_PACKAGES)

BUILD_DIR      ?= build
ASAN_BUILD_DIR ?= build-asan
BUILD_TYPE     ?= RelWithDebInfo
# Sanitizers for the `build` tree, e.g. `make build SANITIZE=address`. Always passed to
# cmake (empty clears it), so the tree never keeps a sanitizer from an earlier run.
SANITIZE       ?=
# OFF builds the binary alone, needing BUILD_PACKAGES only (the Dockerfile's build stage).
BUILD_TESTING  ?= ON
# Extra cmake configure arguments.
CMAKE_ARGS     ?=
JOBS           ?= $(shell nproc 2>/dev/null || echo 2)
# Upper bound for a test that sets no TIMEOUT of its own, so a hang fails CI instead of
# eating its whole time budget.
TEST_TIMEOUT   ?= 300

# The test recipe uses bash (PIPESTATUS, <<<); bash is essential on Debian.
SHELL := /bin/bash

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT  := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get

# cmake --build runs its own make; keep this make's flags (jobserver, -j) out of it.
CMAKE_BUILD := env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL cmake --build

.PHONY: all deps build-deps example-deps image example-image e2e build test demo asan fuzz fuzz-deps clean deploy-yaml bench-deps bench-check bench bench-robustness bench-kube

all: build

# Installs only the packages of the list $(1) not installed yet; `apt-get update` only when
# something is missing, so on a ready machine this takes well under a second.
define install_missing
	@missing=""; \
	for p in $(1); do \
	  case "$$(dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null)" in \
	    *" ok installed") ;; \
	    *) missing="$$missing $$p" ;; \
	  esac; \
	done; \
	if [ -z "$$missing" ]; then \
	  echo "$@: all $(words $(1)) packages installed"; \
	else \
	  echo "$@: installing$$missing"; \
	  $(APT) update && $(APT) install -y $$missing; \
	fi
endef

deps:
	$(call install_missing,$(DEB_PACKAGES))

build-deps:
	$(call install_missing,$(BUILD_PACKAGES))

example-deps:
	$(call install_missing,$(BUILD_PACKAGES) $(EXAMPLE_PACKAGES))

# Container images, built by docker or podman (CONTAINER_TOOL picks one): `make image`
# the controller (the Dockerfile's default target), `make example-image` the greeter of
# manifests/examples/greeter. PUSH=1 pushes the image after building it.
VERSION          := $(shell sed -n 's/^project(grpc_ingress VERSION \([^ )]*\).*/\1/p' CMakeLists.txt)
IMAGE            ?= ghcr.io/grpc-ingress/grpc-ingress:$(VERSION)
EXAMPLE_IMAGE    ?= ghcr.io/grpc-ingress/greeter-example:$(VERSION)
CONTAINER_TOOL   ?= $(firstword $(foreach tool,docker podman,$(if $(shell command -v $(tool) 2>/dev/null),$(tool))))
PUSH             ?=
IMAGE_BUILD_ARGS ?=
# OCI labels: the commit, its time (not the build's, so a rebuild labels the same), the remote.
IMAGE_LABEL_ARGS  = --build-arg VERSION=$(VERSION) \
	--build-arg REVISION=$(shell git rev-parse HEAD 2>/dev/null) \
	--build-arg CREATED=$(shell git log -1 --format=%cI 2>/dev/null) \
	--build-arg SOURCE=$(shell git config --get remote.origin.url 2>/dev/null)

# $(1) the Dockerfile target, $(2) the image name.
define build_image
	@if [ -z "$(CONTAINER_TOOL)" ]; then \
	  echo "$@: needs docker or podman, and neither is on PATH (or set CONTAINER_TOOL=...)" >&2; exit 1; \
	fi; \
	if ! $(CONTAINER_TOOL) info >/dev/null 2>&1; then \
	  echo "$@: $(CONTAINER_TOOL) is installed but cannot build here ('$(CONTAINER_TOOL) info' fails: is its daemon running?)" >&2; \
	  exit 1; \
	fi
	DOCKER_BUILDKIT=1 $(CONTAINER_TOOL) build --target $(1) $(IMAGE_LABEL_ARGS) $(IMAGE_BUILD_ARGS) -t $(2) .
	$(if $(filter-out 0 no false,$(PUSH)),$(CONTAINER_TOOL) push $(2))
endef

image:
	$(call build_image,runtime,$(IMAGE))

example-image:
	$(call build_image,greeter-example,$(EXAMPLE_IMAGE))

# README "Install in a cluster" on a throw-away kind cluster (docker, kind, helm, kubectl
# and grpcurl needed; says SKIPPED without them).
e2e:
	bash tests/e2e/kind.sh

build: $(if $(filter OFF,$(BUILD_TESTING)),build-deps,deps)
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSANITIZE="$(SANITIZE)" \
	  -DBUILD_TESTING=$(BUILD_TESTING) $(CMAKE_ARGS)
	$(CMAKE_BUILD) $(BUILD_DIR) -j $(JOBS)

# The machine has 2 cores and the integration tests are timing sensitive (they start the
# binary, a fake API server and gRPC pods, and wait on deadlines), so they run one at a
# time. Unit tests (ctest names "unit: ...") are pure logic with injected clocks and run
# two at a time. Both passes always run; the target fails if either failed, and ends
# with one line that counts both ("ctest: N passed, N failed").
define run_ctest
	@rc=0; passed=0; failed=0; \
	for sel in "-j 2 -R ^unit:" "-j 1 -E ^unit:"; do \
	  $(2) ctest --test-dir $(1) --output-on-failure --timeout $(TEST_TIMEOUT) $$sel 2>&1 \
	    | tee $(1)/ctest-pass.log; \
	  [ "$${PIPESTATUS[0]}" -eq 0 ] || rc=1; \
	  summary=$$(grep -E '[0-9]+ tests? failed out of [0-9]+' $(1)/ctest-pass.log | tail -n 1); \
	  if [ -n "$$summary" ]; then \
	    f=$$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$$summary"); \
	    t=$$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$$summary"); \
	    failed=$$((failed + f)); passed=$$((passed + t - f)); \
	  fi; \
	done; \
	echo "ctest: $$passed passed, $$failed failed"; \
	exit $$rc
endef

test: build
	$(call run_ctest,$(BUILD_DIR))

demo: build
	bash tests/demo/run_demo.sh $(BUILD_DIR)

# Benchmarks against nghttpx, nginx and haproxy (not part of `make test`: timing on a shared machine
# is no pass/fail matter). Results go to stdout and bench/results/. BENCH_ARGS passes
# options, e.g. `make bench BENCH_ARGS="--duration 5 --rounds 1"`.
BENCH_PACKAGES := nginx haproxy nghttp2-client nghttp2-proxy python3
BENCH_ARGS     ?=

bench-deps:
	$(call install_missing,$(BENCH_PACKAGES))

# The benchmark's own parsers, on recorded tool output.
bench-check:
	/usr/bin/python3 -m unittest discover -s bench/lib -t bench

bench: build bench-deps bench-check
	bash bench/run.sh --build-dir $(BUILD_DIR) $(BENCH_ARGS)

bench-robustness: build bench-deps bench-check
	bash bench/robustness.sh --build-dir $(BUILD_DIR) $(BENCH_ARGS)

# Kubernetes API mode at scale against the fake API server, at 10,000 Ingresses /
# 100,000 endpoints and at 50,000 / 500,000: initial sync, EndpointSlice and Ingress
# change to routed, sustained churn. BENCH_ARGS (e.g. --churn-seconds 0) goes to both runs.
bench-kube: build
	$(BUILD_DIR)/kube-sync-bench --out bench/results/kube-sync.md $(BENCH_ARGS)
	$(BUILD_DIR)/kube-sync-bench --ingresses 50000 --endpoints 500000 --out bench/results/kube-sync-50k.md $(BENCH_ARGS)

# UBSan only reports and goes on unless told to stop; a report must fail the test.
SANITIZER_ENV ?= ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# A separate tree, so switching between it and `build` never forces a full rebuild.
asan: deps
	cmake -S . -B $(ASAN_BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSANITIZE=address,undefined $(CMAKE_ARGS)
	$(CMAKE_BUILD) $(ASAN_BUILD_DIR) -j $(JOBS)
	$(call run_ctest,$(ASAN_BUILD_DIR),$(SANITIZER_ENV))

# libFuzzer on every parser of outside bytes (tests/fuzz), in its own clang tree with
# ASan/UBSan: each target runs FUZZ_SECONDS with its corpus. New inputs go to a scratch
# corpus in the tree; a crash, leak or timeout is saved into tests/fuzz/corpus/<name>/
# (so `make test` replays it from then on) and fails the target. FUZZ_TARGETS picks
# some, e.g. `make fuzz FUZZ_TARGETS="h2_session h1_request" FUZZ_SECONDS=600`;
# FUZZ_ARGS passes libFuzzer flags.
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS   ?= 60
FUZZ_TARGETS   ?= h1_request h1_response grpc_web grpc_framing object_decoder manifest \
                  kube_config annotations h2_session
FUZZ_ARGS      ?=
FUZZ_PACKAGES  := clang libclang-rt-14-dev
# A single input running this long is a hang (seconds).
FUZZ_TIMEOUT   ?= 10

fuzz-deps:
	$(call install_missing,$(FUZZ_PACKAGES))

fuzz: deps fuzz-deps
	cmake -S . -B $(FUZZ_BUILD_DIR) -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	  -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DFUZZ=ON -DSANITIZE= $(CMAKE_ARGS)
	$(CMAKE_BUILD) $(FUZZ_BUILD_DIR) -j $(JOBS) --target $(addsuffix _fuzz,$(FUZZ_TARGETS))
	@rc=0; summary=""; \
	for name in $(FUZZ_TARGETS); do \
	  corpus=tests/fuzz/corpus/$$name; scratch=$(FUZZ_BUILD_DIR)/corpus/$$name; \
	  log=$(FUZZ_BUILD_DIR)/fuzz-$$name.log; \
	  mkdir -p $$scratch; \
	  echo "== fuzz $$name for $(FUZZ_SECONDS) s"; \
	  env UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(FUZZ_BUILD_DIR)/fuzz/$${name}_fuzz $$scratch $$corpus -max_total_time=$(FUZZ_SECONDS) \
	    -timeout=$(FUZZ_TIMEOUT) -artifact_prefix=$$corpus/ -print_final_stats=1 $(FUZZ_ARGS) >$$log 2>&1; \
	  status=$$?; \
	  tail -n 20 $$log; \
	  runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log); \
	  speed=$$(sed -n 's/^stat::average_exec_per_sec: *//p' $$log); \
	  if [ $$status -eq 0 ]; then result=ok; else result="FAILED (exit $$status, see $$log)"; rc=1; fi; \
	  summary="$$summary$$(printf '%-16s %10s runs %8s exec/s  %s' $$name "$${runs:-?}" "$${speed:-?}" "$$result")\n"; \
	done; \
	printf "fuzz, $(FUZZ_SECONDS) s per target:\n$$summary"; \
	exit $$rc

# manifests/deploy.yaml is the chart's default render (tests/chart checks it); after a
# chart change, regenerate it. The renderer builds from Debian's Go packages (GOPATH mode).
GO_ENV := env GO111MODULE=off GOPATH=/usr/share/gocode
deploy-yaml: deps
	$(GO_ENV) go run tests/chart/render.go -deploy-yaml charts/grpc-ingress > manifests/deploy.yaml.new
	mv manifests/deploy.yaml.new manifests/deploy.yaml

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR) $(FUZZ_BUILD_DIR)
