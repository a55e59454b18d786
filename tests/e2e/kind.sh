#!/bin/bash
# README "Install in a cluster", end to end, on a kind cluster made for it and deleted
# after: build both images, load them into kind, helm install, the greeter example, a
# gRPC call through the controller, its logs, its metrics, clean up. The commands between
# the README markers below are the README's own, word for word (readme_commands_test.py
# fails the build when the two differ); lines starting with e2e_ are this script's waits
# and checks. Where docker (with a daemon), kind, helm, kubectl, grpcurl, curl or make is
# missing it prints "SKIPPED: ..." and exits 0. Takes a while: `make image` compiles the
# project inside docker.
#
# usage: tests/e2e/kind.sh   (or `make e2e`); a kubeconfig of its own, ~/.kube is untouched
set -euo pipefail
cd "${BASH_SOURCE[0]%/*}/../.."

readonly cluster=grpc-ingress-demo
missing=()
for tool in docker kind helm kubectl grpcurl curl make; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "SKIPPED: tests/e2e/kind.sh needs ${missing[*]} on PATH (docker, kind, helm, kubectl, grpcurl, curl, make)"
  exit 0
fi
if ! docker info >/dev/null 2>&1; then
  echo "SKIPPED: tests/e2e/kind.sh: docker is installed but its daemon does not answer ('docker info' fails)"
  exit 0
fi
if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  echo "FAIL: a kind cluster named $cluster exists already; delete it (kind delete cluster --name $cluster) and run again"
  exit 1
fi

work=$(mktemp -d)
log=$work/output.log
export KUBECONFIG=$work/kubeconfig  # kind writes the new cluster's credentials here
background=()
cleanup() {
  local status=$?
  for pid in "${background[@]}"; do kill "$pid" 2>/dev/null || true; done
  if kind get clusters 2>/dev/null | grep -qx "$cluster"; then kind delete cluster --name "$cluster" || true; fi
  if [ "$status" -ne 0 ]; then echo "FAIL: tests/e2e/kind.sh (exit $status); its output: $log"; else rm -rf "$work"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  exit 1
}
# The background job just started (a port-forward): killed at the end whatever happens.
e2e_track_background() { background+=("$!"); }
# Until 127.0.0.1:PORT accepts a connection (the port-forward is up), at most 30 s.
e2e_wait_port() {
  for _ in $(seq 60); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  fail "nothing listens on 127.0.0.1:$1 after 30 s"
}
# Until the greeter answers through the controller (its EndpointSlice has reached the
# routing table), at most 60 s.
e2e_wait_routed() {
  for _ in $(seq 60); do
    if grpcurl -plaintext -authority greeter.example.com -proto manifests/examples/greeter/helloworld.proto \
         -d '{"name": "e2e"}' localhost:8080 helloworld.Greeter/SayHello >/dev/null 2>&1; then
      return 0
    fi
    sleep 1
  done
  fail "the greeter did not answer through the controller within 60 s"
}
# Until the access log of pod $1 has the README's call (the log is written by its own thread).
e2e_wait_access_logged() {
  for _ in $(seq 20); do
    if kubectl -n grpc-ingress logs "$1" --tail=5 | grep -q '"path":"/helloworld.Greeter/SayHello"'; then return 0; fi
    sleep 0.5
  done
  fail "no access log line for the call in $1's last 5 lines"
}
# The output so far (the README commands print to it) has a line matching PATTERN.
e2e_expect() {
  for _ in $(seq 10); do  # tee may still be writing the last command's output
    if grep -qE -- "$1" "$log"; then echo "ok: output has /$1/"; return 0; fi
    sleep 0.5
  done
  fail "no line of the output matches /$1/"
}

exec > >(tee -a "$log") 2>&1

# >>> README "Install in a cluster"
export REGISTRY=registry.example.com/team
export VERSION=0.1.0
make image IMAGE=$REGISTRY/grpc-ingress:$VERSION
make example-image EXAMPLE_IMAGE=$REGISTRY/greeter-example:$VERSION
kind create cluster --name grpc-ingress-demo
kind load docker-image --name grpc-ingress-demo \
  $REGISTRY/grpc-ingress:$VERSION $REGISTRY/greeter-example:$VERSION
helm install grpc-ingress charts/grpc-ingress --namespace grpc-ingress --create-namespace \
  --set image.repository=$REGISTRY/grpc-ingress --set image.tag=$VERSION
kubectl -n grpc-ingress rollout status deployment/grpc-ingress --timeout=180s
kubectl apply -f manifests/examples/greeter
kubectl set image deployment/greeter greeter=$REGISTRY/greeter-example:$VERSION
kubectl rollout status deployment/greeter --timeout=180s
POD=$(kubectl -n grpc-ingress get pods -l app.kubernetes.io/name=grpc-ingress -o name | head -n 1)
kubectl -n grpc-ingress port-forward $POD 8080:8080 10254:10254 &
e2e_track_background
e2e_wait_port 8080
e2e_wait_port 10254
e2e_wait_routed
grpcurl -plaintext -authority greeter.example.com -proto manifests/examples/greeter/helloworld.proto \
  -d '{"name": "world"}' localhost:8080 helloworld.Greeter/SayHello
e2e_expect '"message": "Hello world from greeter-'
e2e_wait_access_logged "$POD"
kubectl -n grpc-ingress logs $POD --tail=5
e2e_expect '"path":"/helloworld.Greeter/SayHello"'
curl -s localhost:10254/metrics | grep '^grpc_ingress_requests_total'
e2e_expect '^grpc_ingress_requests_total\{.*service="greeter"'
kill %1
kubectl delete -f manifests/examples/greeter
helm uninstall grpc-ingress --namespace grpc-ingress
# <<< README

echo "PASSED: tests/e2e/kind.sh: README \"Install in a cluster\" works on kind"
