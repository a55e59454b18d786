#!/bin/bash
# `make image` / `make example-image` as a user sees them, with fake container tools on
# PATH (no engine runs here): without docker or podman, a message saying so and exit 1;
# with a docker whose daemon is down, a message saying that; otherwise the build of the
# Dockerfile's target, named IMAGE, with the project version and the OCI label values,
# and a push only with PUSH=1; podman when it is the only tool.
#
# usage: make_image_test.sh SOURCE_DIR
set -uo pipefail
src=$1
version=$(sed -n 's/^project(grpc_ingress VERSION \([^ )]*\).*/\1/p' "$src/CMakeLists.txt")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# A PATH with what make's recipes use and no container tool.
bin=$work/bin
mkdir -p "$bin"
for tool in make bash sh sed git env cat id nproc; do ln -s "$(command -v "$tool")" "$bin/$tool"; done
# fake TOOL INFO_EXIT: records each call's arguments in $work/TOOL.calls.
fake() {
  printf '#!/bin/bash\necho "$*" >>%s/%s.calls\n[ "$1" = info ] && exit %s\nexit 0\n' "$work" "$1" "$2" >"$bin/$1"
  chmod +x "$bin/$1"
}
run_make() { (cd "$src" && env -i PATH="$bin" HOME="$work" make --no-print-directory "$@" 2>&1); }

out=$(run_make image IMAGE=reg.example/team/grpc-ingress:1); status=$?
[ "$status" -ne 0 ] || fail "make image without docker or podman exited 0"
grep -q "needs docker or podman, and neither is on PATH" <<<"$out" || fail "make image without a tool said: $out"
echo "no tool: exit $status: $(head -n 1 <<<"$out")"

fake docker 1
out=$(run_make image); status=$?
[ "$status" -ne 0 ] || fail "make image with docker's daemon down exited 0"
grep -q "docker is installed but cannot build here" <<<"$out" || fail "make image with the daemon down said: $out"
echo "daemon down: exit $status: $(head -n 1 <<<"$out")"

fake docker 0
rm -f "$work/docker.calls"
out=$(run_make image IMAGE=reg.example/team/grpc-ingress:1) || fail "make image failed: $out"
build=$(grep '^build ' "$work/docker.calls" || true)
echo "docker $build"
for want in "--target runtime " "--build-arg VERSION=$version " "--build-arg REVISION=$(git -C "$src" rev-parse HEAD) " \
            "-t reg.example/team/grpc-ingress:1 ."; do
  [[ "$build " == *"$want"* ]] || fail "make image did not run docker build with '$want': $build"
done
grep -q '^push' "$work/docker.calls" && fail "make image pushed without PUSH=1"

rm -f "$work/docker.calls"
out=$(run_make image PUSH=1) || fail "make image PUSH=1 failed: $out"
grep -qx "push ghcr.io/grpc-ingress/grpc-ingress:$version" "$work/docker.calls" \
  || fail "make image PUSH=1 did not push the default image: $(cat "$work/docker.calls")"

rm -f "$work/docker.calls"
out=$(run_make example-image EXAMPLE_IMAGE=reg.example/team/greeter-example:1) || fail "make example-image failed: $out"
grep -qE '^build --target greeter-example .*-t reg.example/team/greeter-example:1 \.$' "$work/docker.calls" \
  || fail "make example-image did not build the greeter-example target: $(cat "$work/docker.calls")"

rm -f "$bin/docker"
fake podman 0
out=$(run_make image IMAGE=x/y:1) || fail "make image with podman failed: $out"
grep -qE '^build --target runtime .*-t x/y:1 \.$' "$work/podman.calls" || fail "make image did not use podman: $out"

if [ "$failures" -ne 0 ]; then echo "$failures problem(s)"; exit 1; fi
echo "make image builds with docker or podman, pushes only with PUSH=1, and says why when it cannot"
