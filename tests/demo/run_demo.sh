#!/usr/bin/env bash
# The grpc-ingress demo: per-call balancing of gRPC over ONE connection.
#
#   tests/demo/run_demo.sh [BUILD_DIR]        (what `make demo` runs; default: build)
#
# Starts three greeter pods and one echo pod (test-pod processes on 127.0.0.2..5),
# starts grpc-ingress on manifests/examples/local, makes 300 calls over one gRPC
# channel and prints which pod answered each. Stops everything it started on exit.
# Environment: HTTP_PORT (8080), ADMIN_PORT (10254), HTTPS_PORT (8443), CALLS (300);
# a port that is taken is replaced by a free one.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="$(cd "${1:-$REPO_DIR/build}" 2>/dev/null && pwd)" || {
  echo "demo: build directory '${1:-$REPO_DIR/build}' not found; run 'make build' first" >&2
  exit 1
}
MANIFESTS="$REPO_DIR/manifests/examples/local"
CALLS="${CALLS:-300}"
POD_PORT=50051
GREETERS=("greeter-0 127.0.0.2" "greeter-1 127.0.0.3" "greeter-2 127.0.0.4")
ECHO_POD="echo-0 127.0.0.5"

for binary in grpc-ingress test-pod grpc-caller; do
  if [[ ! -x "$BUILD_DIR/$binary" ]]; then
    echo "demo: $BUILD_DIR/$binary is missing; run 'make build' first" >&2
    exit 1
  fi
done

LOG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/grpc-ingress-demo.XXXXXX")"
STARTED_PIDS=()

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# Stops only what this script started, by PID: SIGTERM, up to 10 s, then SIGKILL.
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local status=$?
  if ((${#STARTED_PIDS[@]})); then
    say "Stopping what the demo started (PIDs ${STARTED_PIDS[*]})"
    kill -TERM "${STARTED_PIDS[@]}" 2>/dev/null || true
    for _ in $(seq 100); do
      local alive=0
      for pid in "${STARTED_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
      ((alive)) || break
      sleep 0.1
    done
    for pid in "${STARTED_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
  fi
  echo "Logs: $LOG_DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# True if something accepts connections on 127.0.0.1:$1 (or on $2:$1).
port_in_use() { (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; }

# $1 if free, else the first free port from 20000 up (bounded search).
pick_port() {
  local port="$1"
  port_in_use "$port" || { echo "$port"; return; }
  for candidate in $(seq 20000 20200); do
    port_in_use "$candidate" || { echo "$candidate"; return; }
  done
  echo "demo: no free port found" >&2
  exit 1
}

HTTP_PORT="$(pick_port "${HTTP_PORT:-8080}")"
ADMIN_PORT="$(pick_port "${ADMIN_PORT:-10254}")"
HTTPS_PORT="$(pick_port "${HTTPS_PORT:-8443}")"
[[ -n "$HTTP_PORT" && -n "$ADMIN_PORT" && -n "$HTTPS_PORT" ]] || exit 1

# Waits (at most 10 s) for a pod's "LISTENING ip:port" line.
start_pod() {
  local name="$1" ip="$2"
  if port_in_use "$POD_PORT" "$ip"; then
    echo "demo: $ip:$POD_PORT is already taken (an old demo still running?)" >&2
    exit 1
  fi
  "$BUILD_DIR/test-pod" --listen "$ip:$POD_PORT" --pod "$name" >"$LOG_DIR/$name.out" 2>"$LOG_DIR/$name.log" &
  STARTED_PIDS+=($!)
  for _ in $(seq 100); do
    if grep -q '^LISTENING ' "$LOG_DIR/$name.out"; then
      printf '    %-10s %s   (pid %d)\n' "$name" "$(sed -n 's/^LISTENING //p' "$LOG_DIR/$name.out")" "$!"
      return
    fi
    kill -0 "$!" 2>/dev/null || break
    sleep 0.1
  done
  echo "demo: pod $name did not start; its log:" >&2
  cat "$LOG_DIR/$name.log" >&2
  exit 1
}

cat <<EOF

grpc-ingress demo
-----------------
gRPC keeps one long-lived HTTP/2 connection per client. A TCP load balancer picks a
pod once per connection, so all of a client's calls land on the same pod.
grpc-ingress balances every call (every HTTP/2 stream) across the pods instead.
EOF

say "Starting 3 greeter pods and 1 echo pod (real gRPC C++ servers, one loopback IP each)"
for pod in "${GREETERS[@]}" "$ECHO_POD"; do
  # shellcheck disable=SC2086  # "name ip"
  start_pod $pod
done

say "Starting grpc-ingress on the objects in manifests/examples/local"
echo "    Service + EndpointSlice per app (the pod IPs above), an Ingress with two Prefix paths:"
echo "      /helloworld.Greeter      -> Service greeter"
echo "      /grpc_ingress.test.Echo  -> Service echo"
INGRESS_CMD=("$BUILD_DIR/grpc-ingress" --manifests "$MANIFESTS" --bind-address 127.0.0.1
  --http-port "$HTTP_PORT" --admin-port "$ADMIN_PORT" --https-port "$HTTPS_PORT"
  --shutdown-drain 500ms)
echo "    ${INGRESS_CMD[*]}"
"${INGRESS_CMD[@]}" >"$LOG_DIR/grpc-ingress.out" 2>"$LOG_DIR/grpc-ingress.log" &
INGRESS_PID=$!
STARTED_PIDS+=("$INGRESS_PID")

ready=0
for _ in $(seq 100); do
  if curl -fsS --max-time 1 "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null 2>&1; then
    ready=1
    break
  fi
  kill -0 "$INGRESS_PID" 2>/dev/null || break
  sleep 0.1
done
if ((!ready)); then
  echo "demo: grpc-ingress did not become ready within 10 s; its log:" >&2
  tail -n 50 "$LOG_DIR/grpc-ingress.log" >&2
  exit 1
fi
echo "    ready: GET http://127.0.0.1:$ADMIN_PORT/readyz -> 200"
echo "    live route table: curl -s http://127.0.0.1:$ADMIN_PORT/debug/routes"

say "Making $CALLS SayHello calls over ONE gRPC channel (one HTTP/2 connection) to 127.0.0.1:$HTTP_PORT"
caller_status=0
"$BUILD_DIR/grpc-caller" --target "127.0.0.1:$HTTP_PORT" --calls "$CALLS" --name demo || caller_status=$?

if ((caller_status == 0)); then
  echo
  echo "Each greeter pod answered about a third of the calls although the client used one"
  echo "connection: that is per-call balancing."
else
  echo
  echo "demo: some calls failed (grpc-caller exit $caller_status); grpc-ingress log: $LOG_DIR/grpc-ingress.log" >&2
fi

say "The same through the Gateway API: Gateway 'local' (host gateway.local) + GRPCRoute 'greeter'"
echo "    manifests/examples/local/gateway.yaml: GatewayClass grpc, Gateway local, GRPCRoute greeter"
echo "    $CALLS calls over ONE channel with :authority gateway.local"
gateway_status=0
"$BUILD_DIR/grpc-caller" --target "127.0.0.1:$HTTP_PORT" --authority gateway.local --calls "$CALLS" \
  --name gateway-demo || gateway_status=$?
if ((gateway_status == 0)); then
  echo
  echo "The GRPCRoute spreads the calls across the same pods, per call: Ingress and Gateway API"
  echo "objects are served by one process, from one route table."
else
  echo
  echo "demo: some Gateway API calls failed (grpc-caller exit $gateway_status); grpc-ingress log: $LOG_DIR/grpc-ingress.log" >&2
  ((caller_status != 0)) || caller_status=$gateway_status
fi

cat <<EOF

To run it yourself (from $REPO_DIR):
  build/test-pod --listen 127.0.0.2:$POD_PORT --pod greeter-0 &   # likewise 127.0.0.3, .4 and echo-0 on .5
  build/grpc-ingress --manifests manifests/examples/local --bind-address 127.0.0.1 \\
      --http-port 8080 --admin-port 10254
  build/grpc-caller --target 127.0.0.1:8080 --calls 300
  build/grpc-caller --target 127.0.0.1:8080 --calls 300 --authority gateway.local   # the GRPCRoute
  curl -s 127.0.0.1:10254/debug/routes
Edit manifests/examples/local/*.yaml while it runs: the directory is watched.
EOF
exit "$caller_status"
