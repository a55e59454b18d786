#!/usr/bin/python3
"""A fake Kubernetes API server for grpc-ingress's tests (stdlib only, /usr/bin/python3).

It behaves like kube-apiserver for what a controller and kubectl use: discovery, list with
one global resourceVersion, labelSelector/fieldSelector, limit/continue, chunked watch
streams with bookmarks, 410 Gone, TLS with bearer-token or client-certificate auth,
status subresources with optimistic concurrency, Leases and Events. The contract with
its users is /work/notes/fake-apiserver-contract.md; docs/fake-apiserver.md says how to run it.

    /usr/bin/python3 tests/fakes/fake_apiserver.py --listen 127.0.0.1:0 --dir DIR

writes DIR/{ca.crt,server.crt,server.key,client.crt,client.key,token,kubeconfig}, prints
`LISTENING https://127.0.0.1:PORT` when it accepts connections, logs requests to stderr,
and exits 0 on SIGTERM/SIGINT.

Additions to the contract (everything in the contract is unchanged):
  - fieldSelector `type` on secrets, status.phase on namespaces, involvedObject.*/reason/
    type/source/reportingComponent on core Events (regarding.*/reason/type/
    reportingController on events.k8s.io Events), metadata.name/metadata.namespace on all.
  - List items carry no kind/apiVersion (the List has them), as from the real server.
  - resourceVersionMatch (Exact, NotOlderThan); a list or watch at a resourceVersion the
    server has not reached waits 3 s, then 504 (ResourceVersionTooLarge).
  - Watch on an object path (.../NAME?watch=1) and sendInitialEvents=true (ADDED for the
    current state, then a BOOKMARK annotated k8s.io/initial-events-end=true).
  - A watch without timeoutSeconds ends after a random time between --min-request-timeout
    and twice that (default 1800 s), like the real server.
  - PATCH with application/json-patch+json (RFC 6902); strategic merge patch honours the
    merge keys of these kinds (Service spec.ports by port) and the $patch/$retainKeys/
    $setElementOrder/$deleteFromPrimitiveList directives kubectl sends.
  - dryRun=All on create/update/patch/delete; DeleteOptions preconditions (409).
  - Namespaces are real objects: default, kube-system, kube-public, kube-node-lease
    exist; creating in a missing namespace is 404 (NamespaceLifecycle); deleting a
    namespace deletes its objects (default, kube-system and kube-public answer 403).
    --initial creates the namespaces its objects need.
  - Defaults and validation of the real strategies that clients meet (Service clusterIP/
    nodePort allocation and port defaults, Secret stringData/type/tls keys, Ingress
    pathType required, EndpointSlice addressType, IngressClass controller, names, labels).
  - DIR/kubeconfig-client-cert (client certificate instead of token), DIR/namespace.
    Files already in DIR (CA, certificates, token) are reused on a restart.
  - Plain HTTP on the same port serves /fake/* (API paths answer 400 "Client sent an HTTP
    request to an HTTPS server.", as the Go server does).
  - /fake/errors takes an optional path=PREFIX (only API paths under it fail; only
    watches under it are closed); seconds=0 ends the failure; /fake/stall?seconds=0 ends
    a stall; /fake/drop-watches takes an optional path=PREFIX.
  - GET /fake/state: {resourceVersion, compactedResourceVersion, historyLength, objects,
    stalledSeconds, failing}. Fault endpoints answer JSON: drop-watches {"dropped": N},
    compact {"compactedResourceVersion", "expiredWatches"}, rotate-token {"token"}.
  - Options --bookmark-interval, --history-limit (events kept for watches; older ones are
    compacted, like the watch cache's window), --min-request-timeout, --idle-timeout.
  - CustomResourceDefinitions (apiextensions.k8s.io/v1, fakeapi/crds.py): creating one
    serves its resources (discovery, list/watch, /status, schema pruning, defaults and
    validation); deleting it deletes its objects, ends its watches and makes its URLs 404.
  - The Gateway API standard channel (gateway_api_crds.json: v1.2.1, trimmed) is
    installed at start, as by `kubectl apply -f standard-install.yaml`: in group
    gateway.networking.k8s.io, v1 gatewayclasses (cluster-scoped), gateways, grpcroutes,
    httproutes (all four with /status), v1beta1 referencegrants, and v1beta1 views of
    gatewayclasses, gateways and httproutes. --without-gateway-api starts a cluster
    without it (the group is absent from /apis; its paths answer 404 NotFound, as the real
    server's for an unknown group) until its CRDs are created.

Not imitated: HTTP/2, protobuf, Table output (kubectl prints NAME/AGE from plain lists),
server-side apply, OpenAPI (/openapi/* is 404, so kubectl apply needs --validate=false),
managedFields, finalizers and graceful deletion, RBAC (every authenticated user may do
everything), admission webhooks, Event TTL, aggregated discovery (kubectl falls back),
CRD CEL rules other than `self == oldSelf`, conversion webhooks.
"""

import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import select  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402
import struct  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections import deque  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from urllib.parse import parse_qs, urlsplit  # noqa: E402

from fakeapi import errors, resources  # noqa: E402
from fakeapi.crds import CRDS, gateway_api_crds  # noqa: E402
from fakeapi.credentials import Credentials  # noqa: E402
from fakeapi.patch import PatchError, json_patch, merge_patch, strategic_merge_patch  # noqa: E402
from fakeapi.selectors import FieldSelector, LabelSelector  # noqa: E402
from fakeapi.store import Store, Watch  # noqa: E402

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-fake", "gitCommit": "0" * 40,
           "gitTreeState": "clean", "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.4", "compiler": "gc",
           "platform": "linux/amd64"}
MAX_REQUEST_BODY = 3 * 1024 * 1024   # the real server's request size limit (413 above it)
HANDSHAKE_TIMEOUT_SECONDS = 10
CLIENT_CHECK_SECONDS = 1.0           # an idle watch looks this often whether its client left
REQUEST_LOG_LIMIT = 10000
TRUE_VALUES = {"1", "t", "T", "true", "True", "TRUE"}  # Go's strconv.ParseBool
PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json")


def log(message):
    now = time.time()
    stamp = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"
    print(f"{stamp} {message}", file=sys.stderr, flush=True)


class RequestLog:
    """API requests served (not /fake/*), newest last, bounded; read by GET /fake/requests."""

    def __init__(self, limit=REQUEST_LOG_LIMIT):
        self._lock = threading.Lock()
        self._entries = deque(maxlen=limit)

    def add(self, entry):
        with self._lock:
            self._entries.append(entry)

    def entries(self):
        with self._lock:
            return list(self._entries)

    def clear(self):
        with self._lock:
            self._entries.clear()


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, store, credentials, options):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, ApiHandler)
        self.store = store
        self.credentials = credentials
        self.options = options
        self.request_log = RequestLog()
        self.tls_context = credentials.tls_context()

    def finish_request(self, request, client_address):
        # Runs on the connection's own thread, so a slow TLS handshake never holds up the
        # accept loop. A first byte of 0x16 is a TLS handshake record; anything else is
        # plain HTTP, served only for /fake/*.
        connection = request
        try:
            request.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
            first = request.recv(1, socket.MSG_PEEK)
            if not first:
                return
            if first[0] == 0x16:
                connection = self.tls_context.wrap_socket(request, server_side=True)
            connection.settimeout(self.options.idle_timeout)
            self.RequestHandlerClass(connection, client_address, self)
        except (OSError, ssl.SSLError) as error:
            log(f"connection from {client_address[0]}:{client_address[1]} ended: {error}")
        except Exception:  # a bug in a handler must not take the server down
            log("unexpected error on a connection:\n" + traceback.format_exc())
        finally:
            try:
                connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            connection.close()

    def shutdown_request(self, request):
        # finish_request has closed the connection (or its TLS wrapper) already.
        request.close()


class ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked watch streams
    server_version = "fake-apiserver"
    sys_version = ""

    def setup(self):
        super().setup()
        self.tls = isinstance(self.connection, ssl.SSLSocket)

    def log_request(self, code="-", size="-"):
        pass  # _finish logs each request once, with its duration

    def log_message(self, format, *args):
        log(f"{self.client_address[0]}:{self.client_address[1]} {format % args}")

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # ---- one request ----

    def _dispatch(self):
        self.started = time.monotonic()
        self.status_code = None
        self.streaming = False
        url = urlsplit(self.path)
        self.url_path, self.raw_query = url.path or "/", url.query
        query = {key: values[0] for key, values in parse_qs(url.query, keep_blank_values=True).items()}
        api = not self.url_path.startswith("/fake/")
        try:
            if not api:
                self._read_body()
                self._fake(self.url_path, query)
                return
            if not self.tls:
                self._send(400, b"Client sent an HTTP request to an HTTPS server.\n", "text/plain; charset=utf-8")
                self.close_connection = True
                return
            body = self._read_body()
            # Fault injection, in front of everything else the server does.
            self.server.store.wait_while_stalled()
            code = self.server.store.injected_failure(self.url_path)
            if code:
                raise errors.injected(code)
            self._authenticate()
            self._api(self.url_path, query, body)
        except errors.ApiError as error:
            if self.streaming:
                self.close_connection = True
            else:
                self._send_json(error.code, error.status(), error.headers)
        except OSError as error:  # the client went away; nothing more to send
            self.close_connection = True
            log(f"{self.command} {self.path}: connection lost: {error}")
        except Exception:
            log(f"{self.command} {self.path}: internal error:\n{traceback.format_exc()}")
            self.close_connection = True
            if not self.streaming:
                self._send_json(500, errors.ApiError(500, "InternalError", "fake apiserver bug").status())
        finally:
            if api and self.tls:
                self._finish()

    def _record(self):
        self.server.request_log.add({"method": self.command, "path": self.url_path, "query": self.raw_query,
                                     "status": self.status_code, "user_agent": self.headers.get("User-Agent", "")})

    def _finish(self):
        if not self.streaming:
            self._record()
        elapsed = (time.monotonic() - self.started) * 1000
        query = f"?{self.raw_query}" if self.raw_query else ""
        log(f"{self.command} {self.url_path}{query} {self.status_code} {elapsed:.0f}ms "
            f"\"{self.headers.get('User-Agent', '')}\"")

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024).strip():
                        pass  # trailers
                    return body
                if len(body) + size > MAX_REQUEST_BODY:
                    self.close_connection = True
                    raise errors.ApiError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")
                body += self.rfile.read(size)
                self.rfile.readline(16)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise errors.bad_request("invalid Content-Length") from None
        if length > MAX_REQUEST_BODY:
            self.close_connection = True  # the body stays unread
            raise errors.ApiError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")
        return self.rfile.read(length) if length > 0 else b""

    def _authenticate(self):
        # The real authenticator chain: x509 client certificate, then bearer token. With
        # --anonymous-auth=false, a request with neither (or a bad token) is 401.
        if self.connection.getpeercert():
            return
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip() and self.server.credentials.token_is_valid(token.strip()):
            return
        raise errors.unauthorized()

    # ---- responses ----

    def _send(self, code, data, content_type, headers=None):
        self.status_code = code
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_json(self, code, obj, headers=None):
        self._send(code, json.dumps(obj).encode() + b"\n", "application/json", headers)

    # ---- the API ----

    def _api(self, path, query, body):
        parts = [p for p in path.split("/") if p]
        discovery = self._discovery(path, parts)
        if discovery is not None:
            if self.command != "GET":
                raise errors.method_not_allowed(self.command)
            if isinstance(discovery, str):
                self._send(200, discovery.encode(), "text/plain; charset=utf-8")
            else:
                self._send_json(200, discovery)
            return
        target = self._resource_target(parts)
        if target is None:
            raise errors.path_not_found()
        resource, namespace, name, subresource = target
        store = self.server.store
        dry_run = self._dry_run(query)
        method = self.command
        watching = query.get("watch") in TRUE_VALUES
        if name is None:
            if method == "GET" and watching:
                self._watch(resource, namespace, None, query)
            elif method == "GET":
                self._send_json(200, store.list(
                    resource, namespace, LabelSelector(query.get("labelSelector")),
                    FieldSelector(query.get("fieldSelector"), resource.field_labels),
                    self._non_negative(query, "limit"), query.get("continue"), query.get("resourceVersion"),
                    query.get("resourceVersionMatch")))
            elif method == "POST" and (namespace or not resource.namespaced):
                self._send_json(201, store.create(resource, namespace, self._object_body(body, resource), dry_run))
            else:
                raise errors.method_not_allowed(method)
        elif method == "GET" and watching and not subresource:
            self._watch(resource, namespace, name, query)
        elif method == "GET":
            self._send_json(200, store.get(resource, namespace, name))
        elif method == "PUT":
            self._send_json(200, store.update(resource, namespace, name, self._object_body(body, resource),
                                              subresource, dry_run))
        elif method == "PATCH":
            self._send_json(200, store.patch(resource, namespace, name, self._patcher(body, resource),
                                             subresource, dry_run))
        elif method == "DELETE" and not subresource:
            options = self._json(body) if body.strip() else {}
            if not isinstance(options, dict):
                raise errors.bad_request("DeleteOptions must be a JSON object")
            dry_run = dry_run or options.get("dryRun") == ["All"]
            self._send_json(200, store.delete(resource, namespace, name, options.get("preconditions"), dry_run))
        else:
            raise errors.method_not_allowed(method)

    def _discovery(self, path, parts):
        if path in ("/healthz", "/livez", "/readyz"):
            return "ok"
        if path == "/version":
            return VERSION
        if parts == ["api"]:
            host, port = self.connection.getsockname()[:2]
            return resources.api_versions(f"{host}:{port}")
        served = self.server.store.served()
        if parts == ["apis"]:
            return resources.api_group_list(served)
        if parts == ["api", "v1"]:
            return resources.api_resource_list("", "v1", served) or None
        # A group or version no CRD serves (any more) is a 404, as for any unknown path.
        if len(parts) == 2 and parts[0] == "apis":
            return resources.api_group(parts[1], served) or None
        if len(parts) == 3 and parts[0] == "apis":
            return resources.api_resource_list(parts[1], parts[2], served) or None
        return None

    def _resource_target(self, parts):
        """(resource, namespace, name, subresource) for a resource URL, or None. The real
        layout: /api/v1 or /apis/GROUP/VERSION, then [namespaces/NS/]RESOURCE[/NAME[/status]];
        RESOURCE without a namespace lists or watches across all namespaces."""
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        if not rest:
            return None
        namespace = None
        resource = None
        store = self.server.store
        if len(rest) >= 3 and rest[0] == "namespaces":
            resource = store.find(group, version, rest[2])
            if resource and resource.namespaced:
                namespace, rest = rest[1], rest[2:]
        resource = store.find(group, version, rest[0])
        tail = rest[1:]
        if resource is None or len(tail) > 2 or (resource.namespaced and namespace is None and tail):
            return None
        name = tail[0] if tail else None
        subresource = tail[1] if len(tail) == 2 else None
        if subresource and (subresource != "status" or not resource.status_subresource):
            return None
        return resource, namespace, name, subresource

    @staticmethod
    def _non_negative(query, key):
        text = query.get(key)
        if text in (None, ""):
            return 0
        if not text.isdigit():
            raise errors.bad_request(f'{key}: Invalid value: "{text}": must be a non-negative integer')
        return int(text)

    @staticmethod
    def _dry_run(query):
        # dryRun=All: the real server defaults and validates the write, answers with the
        # result, and stores nothing.
        value = query.get("dryRun")
        if value in (None, ""):
            return False
        if value != "All":
            raise errors.bad_request(f'dryRun: Unsupported value: "{value}": supported values: "All"')
        return True

    @staticmethod
    def _json(body):
        try:
            value = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            raise errors.bad_request(f"the body of the request is not valid JSON: {error}") from None
        if not isinstance(value, (dict, list)):
            raise errors.bad_request("the body of the request must be a JSON object")
        return value

    def _object_body(self, body, resource):
        # The real decoder fills a missing kind/apiVersion from the URL and refuses others.
        obj = self._json(body)
        if not isinstance(obj, dict):
            raise errors.bad_request(f"the object provided is unrecognized (must be of type {resource.kind})")
        if obj.setdefault("apiVersion", resource.api_version) != resource.api_version:
            raise errors.bad_request(f"the API version in the data ({obj['apiVersion']}) does not match the "
                                     f"expected API version ({resource.api_version})")
        if obj.setdefault("kind", resource.kind) != resource.kind:
            raise errors.bad_request(f"the object provided is unrecognized (must be of type {resource.kind}): "
                                     f"{obj['kind']}")
        if not isinstance(obj.setdefault("metadata", {}), dict):
            raise errors.bad_request("metadata must be an object")
        return obj

    def _patcher(self, body, resource):
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type not in PATCH_TYPES:
            raise errors.ApiError(415, "UnsupportedMediaType",
                                  f"the body of the request was in an unknown format - accepted media types "
                                  f"include: {', '.join(PATCH_TYPES)} (server-side apply is not imitated)")
        document = self._json(body)
        if content_type != "application/json-patch+json" and not isinstance(document, dict):
            raise errors.bad_request("a merge patch must be a JSON object")

        def apply(current):
            try:
                if content_type == "application/json-patch+json":
                    patched = json_patch(current, document)
                elif content_type == "application/merge-patch+json":
                    patched = merge_patch(current, document)
                else:
                    patched = strategic_merge_patch(current, document, resource.merge_keys)
            except PatchError as error:
                raise errors.ApiError(422, "Invalid", f"the server rejected our request due to an error in our "
                                                      f"request: {error}") from None
            if not isinstance(patched, dict) or patched.get("kind") != resource.kind or \
                    patched.get("apiVersion") != resource.api_version:
                raise errors.bad_request("a patch must not change the object's kind or apiVersion")
            return patched

        return apply

    # ---- watch streams ----

    def _watch(self, resource, namespace, name, query):
        fields_text = query.get("fieldSelector") or ""
        if name:  # a watch on an object path is a watch with metadata.name pinned
            escaped = name.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
            fields_text = f"metadata.name={escaped}" + (f",{fields_text}" if fields_text else "")
        labels = LabelSelector(query.get("labelSelector"))
        fields = FieldSelector(fields_text, resource.field_labels)
        timeout = self._non_negative(query, "timeoutSeconds")
        if timeout == 0:
            # The real server ends a watch after a random time in [min-request-timeout, 2x).
            timeout = self.server.options.min_request_timeout * (1 + random.random())
        bookmarks = query.get("allowWatchBookmarks") in TRUE_VALUES
        initial_events = query.get("sendInitialEvents") in TRUE_VALUES
        if initial_events and query.get("resourceVersionMatch") != "NotOlderThan":
            raise errors.ApiError(422, "Invalid", "resourceVersionMatch: Forbidden: sendInitialEvents requires "
                                                  "setting resourceVersionMatch to NotOlderThan")
        store = self.server.store
        watch = Watch(resource, namespace, labels, fields, self.url_path)
        initial, error = store.open_watch(watch, query.get("resourceVersion"), initial_events)
        try:
            self._start_stream()
            if error:
                self._send_event("ERROR", error)
                self._end_stream()
                return
            for event_type, obj in initial:
                self._send_event(event_type, obj)
            if initial_events:
                self._send_bookmark(resource, watch.cursor, {"k8s.io/initial-events-end": "true"})
            self._stream_changes(resource, watch, timeout, bookmarks)
        finally:
            store.close_watch(watch)

    def _stream_changes(self, resource, watch, timeout, bookmarks):
        store = self.server.store
        interval = self.server.options.bookmark_interval
        now = time.monotonic()
        end = now + timeout
        next_bookmark = now + interval
        while True:
            now = time.monotonic()
            if now >= end:
                self._end_stream()  # timeoutSeconds reached: a clean end of the stream
                return
            wait = min(end - now, CLIENT_CHECK_SECONDS)
            if bookmarks:
                wait = min(wait, max(next_bookmark - now, 0))
            state, events, cursor = store.poll_watch(watch, wait)
            if state == "dropped":
                self._reset_connection()
                return
            if state == "expired":
                # A watch on a compacted revision: etcd's "required revision has been
                # compacted" reaches the client as an ERROR event with a 410 Status.
                self._send_event("ERROR", errors.expired("The resourceVersion for the provided watch is too old.")
                                 .status())
                self._end_stream()
                return
            for event_type, obj in events:
                self._send_event(event_type, obj)
            if state == "gone":
                # The resource's CRD was deleted: the real server ends the stream cleanly
                # once the objects' deletions are out; a relist then gets 404.
                self._end_stream()
                return
            if bookmarks and state != "stalled" and time.monotonic() >= next_bookmark:
                self._send_bookmark(resource, cursor)
                next_bookmark = time.monotonic() + interval
            if not self._client_connected():
                self.close_connection = True
                return

    def _start_stream(self):
        self.status_code = 200
        self.streaming = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self._record()

    def _send_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _send_event(self, event_type, obj):
        # One event per chunk, one JSON document per line, as the real watch encoder writes.
        self._send_chunk(json.dumps({"type": event_type, "object": obj}).encode() + b"\n")

    def _send_bookmark(self, resource, rv, annotations=None):
        # A bookmark carries only the type and the resourceVersion the watch has reached.
        metadata = {"resourceVersion": str(rv)}
        if annotations:
            metadata["annotations"] = annotations
        self._send_event("BOOKMARK", {"kind": resource.kind, "apiVersion": resource.api_version,
                                      "metadata": metadata})

    def _end_stream(self):
        self.wfile.write(b"0\r\n\r\n")

    def _reset_connection(self):
        # SO_LINGER 0 makes close() send a TCP RST: the client sees a broken stream, as
        # when an apiserver or a load balancer in front of it goes away.
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.connection.close()

    def _client_connected(self):
        # An HTTP/1.1 client sends nothing while it reads a watch: a readable socket means
        # it closed the connection (or broke the protocol). Either way the watch ends.
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
        except (OSError, ValueError):
            return False
        if not readable:
            return True
        self.connection.settimeout(0)
        try:
            self.connection.recv(1)
            return False
        except (ssl.SSLWantReadError, BlockingIOError):
            return True  # only part of a TLS record arrived (e.g. a renegotiation); still there
        except OSError:
            return False
        finally:
            try:
                self.connection.settimeout(self.server.options.idle_timeout)
            except OSError:
                pass

    # ---- fault injection (/fake/*) ----

    def _fake(self, path, query):
        store = self.server.store
        routes = {
            "/fake/drop-watches": ("POST", lambda: {"dropped": store.drop_watches(query.get("path", ""))}),
            "/fake/errors": ("POST", lambda: self._fail_requests(query)),
            "/fake/stall": ("POST", lambda: self._stall(query)),
            "/fake/compact": ("POST", self._compact),
            "/fake/rotate-token": ("POST", lambda: {"token": self.server.credentials.rotate_token()}),
            "/fake/requests": ("GET", self.server.request_log.entries),
            "/fake/watches": ("GET", store.watch_counts),
            "/fake/reset-log": ("POST", lambda: self.server.request_log.clear() or {}),
            "/fake/state": ("GET", store.state),
        }
        route = routes.get(path.rstrip("/"))
        if route is None:
            raise errors.path_not_found()
        method, action = route
        if self.command != method:
            raise errors.method_not_allowed(self.command)
        result = action()
        if self.command == "POST":
            log(f"fault injection: {path}?{self.raw_query} -> {json.dumps(result)}")
        self._send_json(200, result)

    @staticmethod
    def _seconds(query):
        try:
            seconds = float(query.get("seconds", ""))
            if seconds < 0 or seconds != seconds:
                raise ValueError
            return seconds
        except ValueError:
            raise errors.bad_request("seconds must be a non-negative number") from None

    def _fail_requests(self, query):
        try:
            code = int(query.get("code", "500"))
            if not 400 <= code <= 599:
                raise ValueError
        except ValueError:
            raise errors.bad_request("code must be an HTTP error status (400-599)") from None
        seconds = self._seconds(query)
        self.server.store.fail_requests(code, seconds, query.get("path", ""))
        return {"code": code, "seconds": seconds, "path": query.get("path", "")}

    def _stall(self, query):
        seconds = self._seconds(query)
        self.server.store.stall(seconds)
        return {"seconds": seconds}

    def _compact(self):
        rv, expired = self.server.store.compact()
        return {"compactedResourceVersion": str(rv), "expiredWatches": expired}


# ---- start-up ----

def parse_listen(text):
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"--listen wants HOST:PORT, got {text!r}")
    return host, int(port)


def load_initial(store, path):
    """Creates the objects of a JSON file (a list, a List object or one object)."""
    with open(path, encoding="utf-8") as source:
        data = json.load(source)
    objects = data.get("items", []) if isinstance(data, dict) and data.get("kind", "").endswith("List") else data
    for obj in objects if isinstance(objects, list) else [objects]:
        resource = store.resource_for(obj)
        if resource is None:
            raise ValueError(f"--initial: no served resource for apiVersion {obj.get('apiVersion')!r} "
                             f"kind {obj.get('kind')!r}")
        namespace = None
        if resource.namespaced:
            namespace = obj.get("metadata", {}).get("namespace") or "default"
            store.ensure_namespace(namespace)
        if resource is resources.NAMESPACES:
            store.ensure_namespace(obj["metadata"]["name"])
            continue
        store.create(resource, namespace, obj)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Fake Kubernetes API server for tests.")
    parser.add_argument("--listen", type=parse_listen, default="127.0.0.1:0", help="HOST:PORT (port 0: any)")
    parser.add_argument("--dir", required=True, help="where certificates, token and kubeconfig are written")
    parser.add_argument("--initial", help="JSON file of objects to create at start-up")
    parser.add_argument("--bookmark-interval", type=float, default=1.0,
                        help="seconds between BOOKMARK events on watches that allow them")
    parser.add_argument("--history-limit", type=int, default=100000,
                        help="changes kept for watches and paginated lists; older ones are compacted")
    parser.add_argument("--min-request-timeout", type=float, default=1800.0,
                        help="a watch without timeoutSeconds ends after this many seconds times 1 to 2")
    parser.add_argument("--idle-timeout", type=float, default=120.0,
                        help="seconds a connection may wait for a request, or a write may block")
    parser.add_argument("--without-gateway-api", action="store_true",
                        help="start as a cluster without the Gateway API CRDs (creating them installs it)")
    options = parser.parse_args(argv)
    if isinstance(options.listen, str):
        options.listen = parse_listen(options.listen)
    if options.bookmark_interval <= 0 or options.min_request_timeout <= 0 or options.idle_timeout <= 0:
        parser.error("intervals and timeouts must be positive")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    host, port = options.listen
    credentials = Credentials(options.dir, host)
    store = Store(history_limit=options.history_limit)
    if not options.without_gateway_api:
        # As if `kubectl apply -f standard-install.yaml` had run before anything else.
        for crd in gateway_api_crds():
            store.create(CRDS, None, crd)
    if options.initial:
        load_initial(store, options.initial)
    server = ApiServer((host, port), store, credentials, options)
    port = server.server_address[1]
    url_host = f"[{host}]" if ":" in host else host
    url = f"https://{url_host}:{port}"
    credentials.write_kubeconfigs(url)
    serving = threading.Thread(target=server.serve_forever, name="accept", daemon=True)
    serving.start()
    log(f"fake apiserver on {url}, files in {credentials.dir}, pid {os.getpid()}")
    print(f"LISTENING {url}", flush=True)
    while not stop.wait(0.5):
        pass
    log("signalled: shutting down")
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
