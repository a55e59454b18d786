#!/usr/bin/env bash
# kubectl works against the fake API server: `apply -f` creates and then updates an
# Ingress, a Service, an EndpointSlice and a GRPCRoute (a custom resource of the Gateway
# API CRDs the fake installs); `get -A` lists them; `get -w` sees a later change. Then
# the fault endpoints do what tests rely on: rotate-token makes the old token 401
# (kubectl keeps working through the kubeconfig's tokenFile), compact makes an old
# resourceVersion 410, errors answers 500 for a while.
#
# Usage: kubectl_test.sh [KUBECTL]   (default: kubectl on PATH)
# Every wait is bounded; only the PIDs this script started are signalled.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kubectl_bin=${1:-kubectl}
python=/usr/bin/python3
dir=$(mktemp -d "${TMPDIR:-/tmp}/fake-apiserver-kubectl-XXXXXX")
pids=()
failed=1

cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ $failed -eq 0 && -z "${GRPC_INGRESS_KEEP_TEST_DIRS:-}" ]]; then
    rm -rf "$dir"
  else
    echo "test files kept in $dir" >&2
  fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  echo "----- fake apiserver stderr (tail) -----" >&2
  tail -n 40 "$dir/fake.stderr" >&2 || true
  exit 1
}

# wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds or time is up.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

command -v "$kubectl_bin" >/dev/null || fail "kubectl ($kubectl_bin) is not installed"

"$python" "$here/fake_apiserver.py" --listen 127.0.0.1:0 --dir "$dir" >"$dir/fake.stdout" 2>"$dir/fake.stderr" &
pids+=($!)
wait_for 20 grep -q '^LISTENING https://' "$dir/fake.stdout" || fail "the fake printed no LISTENING line"
url=$(sed -n 's/^LISTENING //p' "$dir/fake.stdout")

k() { timeout 30 "$kubectl_bin" --kubeconfig "$dir/kubeconfig" --cache-dir "$dir/kube-cache" "$@"; }
fake() { curl -sS --max-time 10 --cacert "$dir/ca.crt" -X "$1" "$url$2"; }
# http_status TOKEN PATH: the status code of an authenticated GET.
http_status() {
  curl -sS --max-time 10 --cacert "$dir/ca.crt" -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer $1" "$url$2"
}
expect_status() {  # expect_status WANT TOKEN PATH WHAT
  local got
  got=$(http_status "$2" "$3")
  [[ $got == "$1" ]] || fail "$4: HTTP $got, want $1"
}

manifest() {  # manifest TARGET_PORT: an Ingress, its Service, an EndpointSlice, a GRPCRoute
  cat <<EOF
apiVersion: v1
kind: Service
metadata:
  name: greeter
  namespace: default
spec:
  clusterIP: None
  ports:
  - name: grpc
    port: 80
    targetPort: $1
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: greeter-1
  namespace: default
  labels:
    kubernetes.io/service-name: greeter
addressType: IPv4
ports:
- name: grpc
  port: $1
endpoints:
- addresses: ["127.0.0.2"]
  conditions: {ready: true}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: greeter
  namespace: default
spec:
  ingressClassName: grpc
  rules:
  - host: greeter.example
    http:
      paths:
      - path: /helloworld.Greeter
        pathType: Prefix
        backend:
          service:
            name: greeter
            port: {number: 80}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata:
  name: greeter
  namespace: default
spec:
  parentRefs:
  - name: gateway
  rules:
  - matches:
    - method: {service: helloworld.Greeter}
    backendRefs:
    - name: greeter
      port: 80
EOF
}

# ---- kubectl apply: create ----
# The fake serves no OpenAPI document, so kubectl's client-side validation is off.
manifest 50051 >"$dir/app.yaml"
k apply --validate=false -f "$dir/app.yaml" >"$dir/apply.out" 2>&1 || fail "kubectl apply: $(cat "$dir/apply.out")"
for created in "service/greeter created" "endpointslice.discovery.k8s.io/greeter-1 created" \
  "ingress.networking.k8s.io/greeter created" "grpcroute.gateway.networking.k8s.io/greeter created"; do
  grep -qF "$created" "$dir/apply.out" || fail "kubectl apply did not say '$created': $(cat "$dir/apply.out")"
done

# ---- kubectl get -A ----
k get -A ingresses,services,endpointslices,grpcroutes >"$dir/get.out" 2>&1 ||
  fail "kubectl get -A: $(cat "$dir/get.out")"
for row in "ingress.networking.k8s.io/greeter" "service/greeter" "endpointslice.discovery.k8s.io/greeter-1" \
  "grpcroute.gateway.networking.k8s.io/greeter"; do
  grep -qE "^default +$row " "$dir/get.out" || fail "kubectl get -A did not list $row: $(cat "$dir/get.out")"
done

# ---- kubectl get -w sees a later change ----
timeout 30 "$kubectl_bin" --kubeconfig "$dir/kubeconfig" --cache-dir "$dir/kube-cache" \
  get -w -A services --output-watch-events >"$dir/watch.out" 2>&1 &
watch_pid=$!
pids+=("$watch_pid")
watching() { fake GET /fake/watches | grep -q '"/api/v1/services": 1'; }
wait_for 20 watching || fail "kubectl get -w opened no watch: $(cat "$dir/watch.out")"
grep -qE '^ADDED +default +greeter ' "$dir/watch.out" || fail "kubectl get -w did not list greeter first"

# ---- kubectl apply: update (a strategic merge patch) ----
manifest 50052 >"$dir/app.yaml"
k apply --validate=false -f "$dir/app.yaml" >"$dir/apply.out" 2>&1 || fail "kubectl apply (update): $(cat "$dir/apply.out")"
grep -qF "service/greeter configured" "$dir/apply.out" || fail "apply did not update: $(cat "$dir/apply.out")"
port=$(k get service greeter -o 'jsonpath={.spec.ports[0].targetPort}')
[[ $port == 50052 ]] || fail "the Service's targetPort is $port after apply, want 50052"

wait_for 20 grep -qE '^MODIFIED +default +greeter ' "$dir/watch.out" ||
  fail "kubectl get -w did not see the update: $(cat "$dir/watch.out")"
kill "$watch_pid" 2>/dev/null || true

# ---- fault: rotate-token ----
old_token=$(cat "$dir/token")
expect_status 200 "$old_token" /api/v1/services "the token before rotation"
new_token=$(fake POST /fake/rotate-token | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p')
[[ -n $new_token && $new_token != "$old_token" ]] || fail "rotate-token returned no new token"
[[ $(cat "$dir/token") == "$new_token" ]] || fail "DIR/token does not hold the rotated token"
expect_status 401 "$old_token" /api/v1/services "the old token after rotation"
expect_status 200 "$new_token" /api/v1/services "the new token"
k get services >/dev/null 2>&1 || fail "kubectl (tokenFile) failed after rotation"

# ---- fault: compact ----
old_rv=$(k get services greeter -o 'jsonpath={.metadata.resourceVersion}')
k label service greeter changed=yes >/dev/null || fail "kubectl label"
fake POST /fake/compact >/dev/null
curl -sS --max-time 10 --cacert "$dir/ca.crt" -H "Authorization: Bearer $new_token" \
  "$url/api/v1/services?watch=1&resourceVersion=$old_rv" >"$dir/watch-410.out" || fail "watch after compact"
grep -q '"type": "ERROR".*"code": 410' "$dir/watch-410.out" ||
  fail "a watch from a compacted resourceVersion did not get ERROR 410: $(cat "$dir/watch-410.out")"
expect_status 410 "$new_token" "/api/v1/services?resourceVersion=$old_rv&resourceVersionMatch=Exact" \
  "a list at a compacted resourceVersion"

# ---- fault: errors (a long window, ended early with seconds=0, so a slow kubectl cannot
# outlive it) ----
fake POST "/fake/errors?code=500&seconds=60" >/dev/null
expect_status 500 "$new_token" /api/v1/services "a request during /fake/errors"
if k get services >/dev/null 2>&1; then fail "kubectl succeeded during /fake/errors"; fi
fake POST "/fake/errors?seconds=0" >/dev/null
expect_status 200 "$new_token" /api/v1/services "a request after /fake/errors ended"

failed=0
echo "PASS: kubectl apply/get -A/get -w and the fault endpoints work against $url"
