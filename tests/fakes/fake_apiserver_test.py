#!/usr/bin/python3
"""The fake API server behaves like kube-apiserver where grpc-ingress's tests rely on it.

Starts tests/fakes/fake_apiserver.py on 127.0.0.1:0 in a temporary directory and talks to
it over HTTPS with the bearer token it wrote, as a Kubernetes client would. Every wait is
bounded by a socket timeout or a deadline.
"""

import sys

sys.dont_write_bytecode = True

import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import unittest  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import quote, urlsplit  # noqa: E402

SCRIPT = Path(__file__).resolve().parent / "fake_apiserver.py"
BOOKMARK_INTERVAL = 0.2
START_TIMEOUT = 20.0
READ_TIMEOUT = 5.0
USER_AGENT = "fake-apiserver-test"

_fake = None


class Fake:
    """The fake's process, its directory and an HTTPS client for it."""

    def __init__(self, *extra_args):
        self.dir = Path(tempfile.mkdtemp(prefix="fake-apiserver-test-"))
        self.stderr = open(self.dir / "stderr.log", "w")
        self.process = subprocess.Popen(
            ["/usr/bin/python3", str(SCRIPT), "--listen", "127.0.0.1:0", "--dir", str(self.dir),
             "--bookmark-interval", str(BOOKMARK_INTERVAL), *extra_args],
            stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        line = self._read_line(START_TIMEOUT)
        if not line.startswith("LISTENING https://"):
            self.stop()
            raise RuntimeError(f"no LISTENING line, got {line!r}; stderr: {(self.dir / 'stderr.log').read_text()}")
        url = urlsplit(line.split()[1])
        self.host, self.port = url.hostname, url.port
        self.context = ssl.create_default_context(cafile=str(self.dir / "ca.crt"))

    def _read_line(self, timeout):
        import select
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        return self.process.stdout.readline().strip() if ready else ""

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        self.stderr.close()
        if os.environ.get("GRPC_INGRESS_KEEP_TEST_DIRS"):  # as the C++ harness's TempDir
            print(f"test files kept in {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def token(self):
        return (self.dir / "token").read_text().strip()

    def connection(self, timeout=READ_TIMEOUT, context=None):
        return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=context or self.context)

    def request(self, method, path, body=None, token=None, content_type="application/json", context=None):
        """(status, parsed JSON body or text, headers)."""
        connection = self.connection(context=context)
        try:
            headers = {"Content-Type": content_type, "User-Agent": USER_AGENT}
            token = self.token if token is None else token
            if token:
                headers["Authorization"] = f"Bearer {token}"
            data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text
            return response.status, parsed, response.headers
        finally:
            connection.close()

    def ok(self, method, path, body=None, content_type="application/json"):
        status, data, _ = self.request(method, path, body, content_type=content_type)
        if status >= 300:
            raise AssertionError(f"{method} {path} answered {status}: {data}")
        return data

    def fake(self, method, path):
        return self.ok(method, path)

    def watch(self, path, **kwargs):
        return WatchStream(self, path, **kwargs)


class WatchStream:
    def __init__(self, fake, path, token=None):
        self.connection = fake.connection()
        self.connection.request("GET", path, headers={"Authorization": f"Bearer {token or fake.token}"})
        self.response = self.connection.getresponse()
        self.status = self.response.status

    def next(self, timeout=READ_TIMEOUT):
        """The next event, or None when the stream ended cleanly."""
        self.connection.sock.settimeout(timeout)
        line = self.response.readline()
        return json.loads(line) if line else None

    def next_non_bookmark(self, timeout=READ_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(0.01, deadline - time.monotonic()))
            if event is None or event["type"] != "BOOKMARK":
                return event

    def close(self):
        self.connection.close()


def setUpModule():
    global _fake
    _fake = Fake()


def tearDownModule():
    _fake.stop()


def new_namespace(fake):
    name = "t-" + uuid.uuid4().hex[:8]
    fake.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def service(name, labels=None, port=80):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, **({"labels": labels} if labels else {})},
            "spec": {"ports": [{"name": "grpc", "port": port}]}}


def ingress(name, host="a.example"):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name},
            "spec": {"rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
                "service": {"name": "svc", "port": {"number": 80}}}}]}}]}}


def lease(name, holder):
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15}}


GATEWAY_API = "/apis/gateway.networking.k8s.io"
CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def gateway_api_crds():
    """The CRDs the fake installs by default (a trimmed standard-install.yaml)."""
    return json.loads((SCRIPT.parent / "gateway_api_crds.json").read_text())["items"]


def gateway(name, listeners=None):
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": name},
            "spec": {"gatewayClassName": "grpc",
                     "listeners": listeners or [{"name": "http", "port": 80, "protocol": "HTTP"}]}}


def grpc_route(name, service_name="greeter"):
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute", "metadata": {"name": name},
            "spec": {"parentRefs": [{"name": "gw"}],
                     "rules": [{"matches": [{"method": {"service": "helloworld.Greeter"}}],
                                "backendRefs": [{"name": service_name, "port": 50051}]}]}}


def condition(kind, status="True", reason=None):
    return {"type": kind, "status": status, "reason": reason or kind, "message": "",
            "lastTransitionTime": "2024-01-01T00:00:00Z", "observedGeneration": 1}


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class DiscoveryAndAuth(unittest.TestCase):
    def test_discovery_lists_every_served_resource_and_the_status_subresources(self):
        api = _fake.ok("GET", "/api")
        self.assertEqual(api["versions"], ["v1"])
        core = {r["name"] for r in _fake.ok("GET", "/api/v1")["resources"]}
        self.assertTrue({"namespaces", "services", "services/status", "secrets", "events"} <= core)
        groups = {g["name"] for g in _fake.ok("GET", "/apis")["groups"]}
        self.assertEqual(groups, {"networking.k8s.io", "discovery.k8s.io", "coordination.k8s.io", "events.k8s.io",
                                  "apiextensions.k8s.io", "gateway.networking.k8s.io"})
        networking = {r["name"] for r in _fake.ok("GET", "/apis/networking.k8s.io/v1")["resources"]}
        self.assertEqual(networking, {"ingresses", "ingresses/status", "ingressclasses"})
        self.assertEqual(_fake.ok("GET", "/version")["major"], "1")
        status, body, _ = _fake.request("GET", "/apis/nope.example/v1")
        self.assertEqual((status, body["reason"]), (404, "NotFound"))

    def test_a_missing_or_wrong_token_is_401_with_an_unauthorized_status(self):
        for token in ("", "wrong"):
            status, body, _ = _fake.request("GET", "/api/v1/namespaces", token=token)
            self.assertEqual(status, 401)
            self.assertEqual((body["kind"], body["code"], body["reason"]), ("Status", 401, "Unauthorized"))

    def test_a_client_certificate_signed_by_the_ca_authenticates(self):
        context = ssl.create_default_context(cafile=str(_fake.dir / "ca.crt"))
        context.load_cert_chain(str(_fake.dir / "client.crt"), str(_fake.dir / "client.key"))
        status, body, _ = _fake.request("GET", "/api/v1/namespaces", token="", context=context)
        self.assertEqual(status, 200, body)

    def test_the_kubeconfig_names_the_server_the_ca_and_both_token_forms(self):
        text = (_fake.dir / "kubeconfig").read_text()
        self.assertIn(f'server: "https://127.0.0.1:{_fake.port}"', text)
        self.assertIn(f'tokenFile: "{_fake.dir / "token"}"', text)
        self.assertIn(f'token: "{_fake.token}"', text)
        self.assertIn("certificate-authority-data: ", text)
        self.assertIn("current-context: fake", text)

    def test_plain_http_gets_the_go_servers_answer_but_fake_endpoints_work(self):
        connection = http.client.HTTPConnection(_fake.host, _fake.port, timeout=READ_TIMEOUT)
        connection.request("GET", "/api/v1/namespaces")
        response = connection.getresponse()
        self.assertEqual(response.status, 400)
        self.assertIn(b"HTTP request to an HTTPS server", response.read())
        connection.close()
        connection = http.client.HTTPConnection(_fake.host, _fake.port, timeout=READ_TIMEOUT)
        connection.request("GET", "/fake/state")
        self.assertEqual(connection.getresponse().status, 200)
        connection.close()


class ObjectsAndResourceVersions(unittest.TestCase):
    def test_every_write_of_any_kind_bumps_one_global_resource_version(self):
        ns = new_namespace(_fake)
        a = _fake.ok("POST", f"/api/v1/namespaces/{ns}/services", service("a"))
        b = _fake.ok("POST", f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses", ingress("b"))
        self.assertEqual(int(b["metadata"]["resourceVersion"]), int(a["metadata"]["resourceVersion"]) + 1)
        listed = _fake.ok("GET", "/api/v1/services")
        self.assertGreaterEqual(int(listed["metadata"]["resourceVersion"]), int(b["metadata"]["resourceVersion"]))
        self.assertEqual(listed["kind"], "ServiceList")
        item = next(i for i in listed["items"] if i["metadata"]["name"] == "a")
        self.assertNotIn("kind", item)  # list items carry no kind, as from the real server
        self.assertTrue(a["metadata"]["uid"] and a["metadata"]["creationTimestamp"])
        self.assertEqual(b["metadata"]["generation"], 1)
        self.assertTrue(a["spec"]["clusterIP"].startswith("10.96."))

    def test_create_conflicts_and_missing_objects_answer_like_the_real_server(self):
        ns = new_namespace(_fake)
        _fake.ok("POST", f"/api/v1/namespaces/{ns}/services", service("dup"))
        status, body, _ = _fake.request("POST", f"/api/v1/namespaces/{ns}/services", service("dup"))
        self.assertEqual((status, body["reason"]), (409, "AlreadyExists"))
        status, body, _ = _fake.request("GET", f"/api/v1/namespaces/{ns}/services/nope")
        self.assertEqual((status, body["reason"], body["details"]["name"]), (404, "NotFound", "nope"))
        self.assertEqual(body["message"], 'services "nope" not found')
        status, body, _ = _fake.request("POST", "/api/v1/namespaces/no-such-ns/services", service("x"))
        self.assertEqual((status, body["details"]["kind"]), (404, "namespaces"))
        bad = ingress("bad")
        del bad["spec"]["rules"][0]["http"]["paths"][0]["pathType"]
        status, body, _ = _fake.request("POST", f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses", bad)
        self.assertEqual((status, body["reason"]), (422, "Invalid"))
        self.assertIn("pathType", body["message"])

    def test_put_with_a_stale_resource_version_is_409_and_a_no_op_update_writes_nothing(self):
        ns = new_namespace(_fake)
        created = _fake.ok("POST", f"/api/v1/namespaces/{ns}/services", service("s"))
        path = f"/api/v1/namespaces/{ns}/services/s"
        changed = dict(created, metadata=dict(created["metadata"], labels={"v": "2"}))
        updated = _fake.ok("PUT", path, changed)
        self.assertNotEqual(updated["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"])
        status, body, _ = _fake.request("PUT", path, changed)  # still carries the old resourceVersion
        self.assertEqual((status, body["reason"]), (409, "Conflict"))
        again = _fake.ok("PUT", path, updated)
        self.assertEqual(again["metadata"]["resourceVersion"], updated["metadata"]["resourceVersion"])
        self.assertEqual(_fake.request("PUT", f"/api/v1/namespaces/{ns}/services/gone", service("gone"))[0], 404)

    def test_status_subresource_changes_only_status_and_refuses_a_stale_resource_version(self):
        ns = new_namespace(_fake)
        base = f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses"
        created = _fake.ok("POST", base, ingress("web"))
        status_body = dict(created, status={"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}},
                           spec={"rules": []})
        written = _fake.ok("PUT", f"{base}/web/status", status_body)
        self.assertEqual(written["status"]["loadBalancer"]["ingress"][0]["ip"], "10.0.0.1")
        self.assertEqual(written["spec"], created["spec"])  # spec in a status update is ignored
        self.assertEqual(written["metadata"]["generation"], 1)
        status, body, _ = _fake.request("PUT", f"{base}/web/status", status_body)  # stale resourceVersion
        self.assertEqual((status, body["reason"]), (409, "Conflict"))
        self.assertIn("the object has been modified", body["message"])
        # The main resource ignores status and bumps generation only for spec changes.
        main = dict(written, status={}, spec=ingress("web", host="b.example")["spec"])
        replaced = _fake.ok("PUT", f"{base}/web", main)
        self.assertEqual(replaced["status"], written["status"])
        self.assertEqual(replaced["metadata"]["generation"], 2)
        patched = _fake.ok("PATCH", f"{base}/web/status", {"status": {"loadBalancer": {"ingress": None}}},
                           content_type="application/merge-patch+json")
        self.assertEqual(patched["status"], {"loadBalancer": {}})
        self.assertEqual(patched["metadata"]["generation"], 2)

    def test_patches_merge_strategically_and_json_patch_applies(self):
        ns = new_namespace(_fake)
        path = f"/api/v1/namespaces/{ns}/services/p"
        _fake.ok("POST", f"/api/v1/namespaces/{ns}/services", service("p"))
        merged = _fake.ok("PATCH", path, {"spec": {"ports": [{"name": "metrics", "port": 9090}]}},
                          content_type="application/strategic-merge-patch+json")
        self.assertEqual([p["port"] for p in merged["spec"]["ports"]], [80, 9090])  # merged by "port"
        replaced = _fake.ok("PATCH", path, {"spec": {"ports": [{"name": "only", "port": 81}]}},
                            content_type="application/merge-patch+json")
        self.assertEqual([p["port"] for p in replaced["spec"]["ports"]], [81])  # a merge patch replaces lists
        labelled = _fake.ok("PATCH", path, [{"op": "add", "path": "/metadata/labels", "value": {"x": "y"}}],
                            content_type="application/json-patch+json")
        self.assertEqual(labelled["metadata"]["labels"], {"x": "y"})
        stale = {"metadata": {"resourceVersion": replaced["metadata"]["resourceVersion"]}}
        self.assertEqual(_fake.request("PATCH", path, stale, content_type="application/merge-patch+json")[0], 409)
        self.assertEqual(_fake.request("PATCH", path, {}, content_type="application/apply-patch+yaml")[0], 415)

    def test_leases_are_acquired_and_renewed_with_optimistic_concurrency(self):
        ns = new_namespace(_fake)
        base = f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"
        held = _fake.ok("POST", base, lease("leader", "pod-a"))
        # Two candidates read the same version; the first write wins, the second gets 409.
        take_over = json.loads(json.dumps(held))
        take_over["spec"].update(holderIdentity="pod-b", leaseTransitions=1)
        renew = json.loads(json.dumps(held))
        renew["spec"]["renewTime"] = "2024-01-01T00:00:10.000000Z"
        self.assertEqual(_fake.ok("PUT", f"{base}/leader", take_over)["spec"]["holderIdentity"], "pod-b")
        status, body, _ = _fake.request("PUT", f"{base}/leader", renew)
        self.assertEqual((status, body["reason"]), (409, "Conflict"))
        self.assertEqual(_fake.ok("GET", f"{base}/leader")["spec"]["holderIdentity"], "pod-b")

    def test_events_written_through_events_k8s_io_are_read_through_core_v1(self):
        ns = new_namespace(_fake)
        event = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e1"},
                 "eventTime": "2024-01-01T00:00:00.000000Z", "reportingController": "grpc-ingress.io/controller",
                 "reportingInstance": "pod-a", "action": "Sync", "reason": "Rejected", "type": "Warning",
                 "note": "no such service", "regarding": {"kind": "Ingress", "namespace": ns, "name": "web"}}
        _fake.ok("POST", f"/apis/events.k8s.io/v1/namespaces/{ns}/events", event)
        core = _fake.ok("GET", f"/api/v1/namespaces/{ns}/events/e1")
        self.assertEqual((core["message"], core["involvedObject"]["name"]), ("no such service", "web"))
        selected = _fake.ok("GET", f"/api/v1/namespaces/{ns}/events?fieldSelector=involvedObject.kind%3DIngress")
        self.assertEqual(len(selected["items"]), 1)
        bad = dict(event, type="Sometimes", metadata={"name": "e2"})
        self.assertEqual(_fake.request("POST", f"/apis/events.k8s.io/v1/namespaces/{ns}/events", bad)[0], 422)

    def test_deleting_a_namespace_deletes_what_it_holds(self):
        ns = new_namespace(_fake)
        _fake.ok("POST", f"/api/v1/namespaces/{ns}/services", service("s"))
        deleted = _fake.ok("DELETE", f"/api/v1/namespaces/{ns}")
        self.assertEqual(deleted["status"], "Success")
        self.assertEqual(_fake.request("GET", f"/api/v1/namespaces/{ns}/services/s")[0], 404)
        self.assertEqual(_fake.request("DELETE", "/api/v1/namespaces/default")[0], 403)

    def test_an_object_naming_another_namespace_than_its_url_is_a_bad_request(self):
        ns = new_namespace(_fake)
        elsewhere = dict(service("s"), metadata={"name": "s", "namespace": "default"})
        status, body, _ = _fake.request("POST", f"/api/v1/namespaces/{ns}/services", elsewhere)
        self.assertEqual((status, body["reason"]), (400, "BadRequest"))
        created = _fake.ok("POST", f"/api/v1/namespaces/{ns}/services", service("s"))
        self.assertEqual(created["metadata"]["namespace"], ns)
        created["metadata"]["namespace"] = ""  # empty: taken from the URL, as by the real server
        self.assertEqual(_fake.request("PUT", f"/api/v1/namespaces/{ns}/services/s", created)[0], 200)


class ListsAndSelectors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ns = new_namespace(_fake)
        for name, labels in (("a", {"app": "web", "tier": "front"}), ("b", {"app": "web"}),
                             ("c", {"app": "api", "tier": "back"}), ("d", {}), ("e", {"app": "api"})):
            _fake.ok("POST", f"/api/v1/namespaces/{cls.ns}/services", service(name, labels))

    def names(self, query):
        listed = _fake.ok("GET", f"/api/v1/namespaces/{self.ns}/services?{query}")
        return [item["metadata"]["name"] for item in listed["items"]]

    def test_label_selectors_match_like_apimachinery(self):
        cases = {"app=web": "ab", "app==web": "ab", "app!=web": "cde", "app in (web,api)": "abce",
                 "app notin (web)": "cde", "tier": "ac", "!tier": "bde", "app=web,tier=front": "a", "": "abcde"}
        for selector, expected in cases.items():
            with self.subTest(selector=selector):
                self.assertEqual("".join(self.names("labelSelector=" + quote(selector))), expected)
        status, body, _ = _fake.request("GET", f"/api/v1/services?labelSelector={quote('app in (web')}")
        self.assertEqual((status, body["reason"]), (400, "BadRequest"))

    def test_field_selectors_on_name_namespace_and_secret_type(self):
        self.assertEqual(self.names("fieldSelector=metadata.name%3Dc"), ["c"])
        self.assertEqual(self.names("fieldSelector=metadata.name!%3Dc"), ["a", "b", "d", "e"])
        all_ns = _fake.ok("GET", f"/api/v1/services?fieldSelector=metadata.namespace%3D{self.ns}")
        self.assertEqual(len(all_ns["items"]), 5)
        for name, kind, data in (("tls", "kubernetes.io/tls", {"tls.crt": "Y2VydA==", "tls.key": "a2V5"}),
                                 ("plain", None, {"k": "dg=="})):
            secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data}
            if kind:
                secret["type"] = kind
            _fake.ok("POST", f"/api/v1/namespaces/{self.ns}/secrets", secret)
        tls = _fake.ok("GET", f"/api/v1/namespaces/{self.ns}/secrets?fieldSelector=type%3Dkubernetes.io/tls")
        self.assertEqual([s["metadata"]["name"] for s in tls["items"]], ["tls"])
        self.assertEqual(_fake.ok("GET", f"/api/v1/namespaces/{self.ns}/secrets/plain")["type"], "Opaque")
        status, body, _ = _fake.request("GET", "/api/v1/services?fieldSelector=spec.type%3DClusterIP")
        self.assertEqual((status, body["message"]), (400, "field label not supported: spec.type"))

    def test_limit_and_continue_page_through_one_pinned_resource_version(self):
        first = _fake.ok("GET", f"/api/v1/namespaces/{self.ns}/services?limit=2")
        self.assertEqual([i["metadata"]["name"] for i in first["items"]], ["a", "b"])
        self.assertEqual(first["metadata"]["remainingItemCount"], 3)
        rv = first["metadata"]["resourceVersion"]
        # Written after the first page: not part of this list.
        _fake.ok("POST", f"/api/v1/namespaces/{self.ns}/services", service("bb"))
        try:
            names, token = [], first["metadata"]["continue"]
            while token:
                page = _fake.ok("GET", f"/api/v1/namespaces/{self.ns}/services?limit=2&continue={token}")
                self.assertEqual(page["metadata"]["resourceVersion"], rv)
                names += [i["metadata"]["name"] for i in page["items"]]
                token = page["metadata"].get("continue")
            self.assertEqual(names, ["c", "d", "e"])
            # resourceVersion=0 is served from the watch cache: limit is ignored.
            self.assertEqual(len(_fake.ok("GET", f"/api/v1/namespaces/{self.ns}/services?limit=2&"
                                                 "resourceVersion=0")["items"]), 6)
            exact = _fake.ok("GET", f"/api/v1/namespaces/{self.ns}/services?resourceVersion={rv}&"
                                    "resourceVersionMatch=Exact")
            self.assertNotIn("bb", [i["metadata"]["name"] for i in exact["items"]])
            status, body, _ = _fake.request("GET", f"/api/v1/services?limit=1&continue=bm90LWEtdG9rZW4")
            self.assertEqual(status, 400)
        finally:
            _fake.ok("DELETE", f"/api/v1/namespaces/{self.ns}/services/bb")


class WatchTestCase(unittest.TestCase):
    """Services in a fresh namespace; the watch streams a test opens are closed after it."""

    def setUp(self):
        self.ns = new_namespace(_fake)
        self.base = f"/api/v1/namespaces/{self.ns}/services"
        self.streams = []

    def tearDown(self):
        for stream in self.streams:
            stream.close()

    def open_watch(self, path):
        stream = _fake.watch(path)
        self.streams.append(stream)
        self.assertEqual(stream.status, 200)
        return stream


class Watches(WatchTestCase):
    def watch(self, query):
        return self.open_watch(f"{self.base}?watch=1&{query}")

    def test_a_watch_from_a_resource_version_replays_every_later_change_in_order(self):
        created = _fake.ok("POST", self.base, service("w"))
        rv = created["metadata"]["resourceVersion"]
        _fake.ok("PATCH", f"{self.base}/w", {"metadata": {"labels": {"x": "1"}}},
                 content_type="application/merge-patch+json")
        _fake.ok("DELETE", f"{self.base}/w")
        stream = self.watch(f"resourceVersion={rv}")
        modified, deleted = stream.next(), stream.next()
        self.assertEqual((modified["type"], deleted["type"]), ("MODIFIED", "DELETED"))
        self.assertEqual(modified["object"]["kind"], "Service")
        self.assertGreater(int(deleted["object"]["metadata"]["resourceVersion"]),
                           int(modified["object"]["metadata"]["resourceVersion"]))
        _fake.ok("POST", self.base, service("live"))
        live = stream.next()
        self.assertEqual((live["type"], live["object"]["metadata"]["name"]), ("ADDED", "live"))

    def test_a_watch_without_resource_version_starts_with_the_current_state(self):
        _fake.ok("POST", self.base, service("one"))
        _fake.ok("POST", self.base, service("two"))
        stream = self.watch("resourceVersion=0")
        self.assertEqual([stream.next()["object"]["metadata"]["name"] for _ in range(2)], ["one", "two"])

    def test_selectors_turn_changes_into_added_and_deleted_for_the_watcher(self):
        _fake.ok("POST", self.base, service("s", {"app": "web"}))
        stream = self.watch("labelSelector=app%3Dweb")
        self.assertEqual(stream.next()["type"], "ADDED")
        _fake.ok("PATCH", f"{self.base}/s", {"metadata": {"labels": {"app": "api"}}},
                 content_type="application/merge-patch+json")
        left = stream.next()
        self.assertEqual((left["type"], left["object"]["metadata"]["labels"]["app"]), ("DELETED", "web"))
        _fake.ok("PATCH", f"{self.base}/s", {"metadata": {"labels": {"app": "web"}}},
                 content_type="application/merge-patch+json")
        self.assertEqual(stream.next()["type"], "ADDED")

    def test_bookmarks_carry_the_resource_version_the_watch_has_reached(self):
        created = _fake.ok("POST", self.base, service("b"))
        stream = self.watch(f"allowWatchBookmarks=true&resourceVersion={created['metadata']['resourceVersion']}")
        bookmark = stream.next(timeout=BOOKMARK_INTERVAL * 10)
        self.assertEqual(bookmark["type"], "BOOKMARK")
        self.assertEqual(set(bookmark["object"]), {"kind", "apiVersion", "metadata"})
        self.assertGreaterEqual(int(bookmark["object"]["metadata"]["resourceVersion"]),
                                int(created["metadata"]["resourceVersion"]))
        plain = self.watch(f"resourceVersion={created['metadata']['resourceVersion']}")
        with self.assertRaises(socket.timeout):
            plain.next(timeout=BOOKMARK_INTERVAL * 3)  # no bookmarks unless asked for

    def test_timeout_seconds_ends_the_stream_cleanly(self):
        stream = self.watch("timeoutSeconds=1&resourceVersion=0&fieldSelector=metadata.name%3Dnone")
        self.assertIsNone(stream.next(timeout=4))

    def test_compaction_answers_410_to_old_versions_and_ends_open_watches(self):
        created = _fake.ok("POST", self.base, service("c"))
        old_rv = created["metadata"]["resourceVersion"]
        open_watch = self.watch(f"resourceVersion={old_rv}")
        _fake.ok("POST", self.base, service("c2"))
        self.assertEqual(open_watch.next()["type"], "ADDED")
        _fake.fake("POST", "/fake/compact")
        error = open_watch.next()
        self.assertEqual((error["type"], error["object"]["code"], error["object"]["reason"]), ("ERROR", 410, "Expired"))
        self.assertIsNone(open_watch.next())
        late = self.watch(f"resourceVersion={old_rv}")
        error = late.next()
        self.assertEqual((error["type"], error["object"]["code"]), ("ERROR", 410))
        self.assertIn("too old resource version", error["object"]["message"])
        self.assertIsNone(late.next())
        status, body, _ = _fake.request("GET", f"{self.base}?resourceVersion={old_rv}&resourceVersionMatch=Exact")
        self.assertEqual((status, body["reason"]), (410, "Expired"))

    def test_an_expired_continue_token_is_410(self):
        for name in ("p1", "p2"):
            _fake.ok("POST", self.base, service(name))
        token = _fake.ok("GET", f"{self.base}?limit=1")["metadata"]["continue"]
        _fake.ok("POST", self.base, service("p3"))
        _fake.fake("POST", "/fake/compact")
        status, body, _ = _fake.request("GET", f"{self.base}?limit=1&continue={token}")
        self.assertEqual((status, body["reason"]), (410, "Expired"))


class Faults(unittest.TestCase):
    def setUp(self):
        self.ns = new_namespace(_fake)
        self.base = f"/api/v1/namespaces/{self.ns}/services"

    def test_drop_watches_resets_every_open_stream(self):
        streams = [_fake.watch(f"{self.base}?watch=1") for _ in range(3)]
        try:
            self.assertTrue(wait_for(lambda: _fake.fake("GET", "/fake/watches").get(self.base) == 3))
            self.assertEqual(_fake.fake("POST", "/fake/drop-watches")["dropped"], 3)
            for stream in streams:
                with self.assertRaises((http.client.IncompleteRead, ConnectionError, ssl.SSLError, OSError)):
                    while stream.next(timeout=3) is not None:
                        pass
                    raise ConnectionError("the stream ended cleanly instead of being reset")
            self.assertTrue(wait_for(lambda: self.base not in _fake.fake("GET", "/fake/watches")))
        finally:
            for stream in streams:
                stream.close()

    def test_errors_answer_the_code_for_a_while_and_then_stop(self):
        _fake.fake("POST", "/fake/errors?code=500&seconds=1")
        status, body, _ = _fake.request("GET", self.base)
        self.assertEqual((status, body["reason"]), (500, "InternalError"))
        self.assertTrue(wait_for(lambda: _fake.request("GET", self.base)[0] == 200, timeout=5))

    def test_stall_holds_requests_until_it_ends(self):
        _fake.fake("POST", "/fake/stall?seconds=1")
        started = time.monotonic()
        self.assertEqual(_fake.request("GET", self.base)[0], 200)
        self.assertGreater(time.monotonic() - started, 0.7)

    def test_rotate_token_refuses_the_old_token(self):
        old = _fake.token
        new = _fake.fake("POST", "/fake/rotate-token")["token"]
        self.assertNotEqual(old, new)
        self.assertEqual(_fake.token, new)  # DIR/token follows
        self.assertEqual(_fake.request("GET", self.base, token=old)[0], 401)
        self.assertEqual(_fake.request("GET", self.base, token=new)[0], 200)

    def test_the_request_log_records_api_requests(self):
        _fake.fake("POST", "/fake/reset-log")
        _fake.request("GET", f"{self.base}?limit=7")
        entries = _fake.fake("GET", "/fake/requests")
        self.assertEqual(len(entries), 1)
        self.assertEqual((entries[0]["method"], entries[0]["path"], entries[0]["query"], entries[0]["status"]),
                         ("GET", self.base, "limit=7", 200))
        self.assertEqual(entries[0]["user_agent"], USER_AGENT)

    def test_clients_that_vanish_mid_watch_do_not_hurt_the_server(self):
        token = _fake.token
        for _ in range(20):
            raw = socket.create_connection((_fake.host, _fake.port), timeout=READ_TIMEOUT)
            tls = _fake.context.wrap_socket(raw, server_hostname=_fake.host)
            tls.sendall(f"GET {self.base}?watch=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
                        .encode())
            tls.recv(100)
            tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, no goodbye
            tls.close()
        _fake.ok("POST", self.base, service("after"))  # a write wakes every watcher: they find their client gone
        self.assertTrue(wait_for(lambda: self.base not in _fake.fake("GET", "/fake/watches"), timeout=5))
        self.assertEqual(_fake.request("GET", f"{self.base}/after")[0], 200)
        self.assertIsNone(_fake.process.poll())


class MoreWatchesAndReads(WatchTestCase):
    def test_send_initial_events_ends_the_initial_state_with_an_annotated_bookmark(self):
        _fake.ok("POST", self.base, service("i1"))
        stream = self.open_watch(f"{self.base}?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&"
                            "resourceVersionMatch=NotOlderThan&resourceVersion=")
        self.assertEqual(stream.next()["object"]["metadata"]["name"], "i1")
        bookmark = stream.next()
        self.assertEqual(bookmark["type"], "BOOKMARK")
        self.assertEqual(bookmark["object"]["metadata"]["annotations"], {"k8s.io/initial-events-end": "true"})
        status, _, _ = _fake.request("GET", f"{self.base}?watch=1&sendInitialEvents=true")
        self.assertEqual(status, 422)

    def test_a_watch_on_an_object_path_sees_only_that_object(self):
        _fake.ok("POST", self.base, service("mine"))
        stream = self.open_watch(f"{self.base}/mine?watch=1&resourceVersion=0")
        self.assertEqual(stream.next()["object"]["metadata"]["name"], "mine")
        _fake.ok("POST", self.base, service("other"))
        _fake.ok("DELETE", f"{self.base}/mine")
        deleted = stream.next()
        self.assertEqual((deleted["type"], deleted["object"]["metadata"]["name"]), ("DELETED", "mine"))

    def test_generate_name_makes_a_unique_name(self):
        body = service("")
        body["metadata"] = {"generateName": "gen-"}
        names = {_fake.ok("POST", self.base, body)["metadata"]["name"] for _ in range(3)}
        self.assertEqual(len(names), 3)
        self.assertTrue(all(n.startswith("gen-") and len(n) == 9 for n in names))

    def test_a_resource_version_the_server_has_not_reached_is_504_after_waiting(self):
        current = int(_fake.ok("GET", "/fake/state")["resourceVersion"])
        started = time.monotonic()
        status, body, _ = _fake.request("GET", f"{self.base}?resourceVersion={current + 1000}")
        self.assertEqual(status, 504)
        self.assertEqual(body["details"]["causes"][0]["reason"], "ResourceVersionTooLarge")
        self.assertGreater(time.monotonic() - started, 2.5)

    def test_a_stall_holds_back_bookmarks_until_it_ends(self):
        stream = self.open_watch(f"{self.base}?watch=1&allowWatchBookmarks=true")
        self.assertEqual(stream.next(timeout=BOOKMARK_INTERVAL * 10)["type"], "BOOKMARK")
        _fake.fake("POST", "/fake/stall?seconds=1.5")
        stalled_at = last = time.monotonic()
        longest_gap = 0.0
        while last < stalled_at + 2.0:  # bookmarks every 0.2 s, except during the stall
            self.assertEqual(stream.next(timeout=5)["type"], "BOOKMARK")
            now = time.monotonic()
            longest_gap, last = max(longest_gap, now - last), now
        self.assertGreater(longest_gap, 1.0)


class GatewayApi(WatchTestCase):
    """The Gateway API as a cluster with its standard-channel CRDs serves it (the default)."""

    def test_discovery_lists_the_group_at_v1_and_v1beta1_with_status_subresources(self):
        group = next(g for g in _fake.ok("GET", "/apis")["groups"] if g["name"] == "gateway.networking.k8s.io")
        self.assertEqual([v["version"] for v in group["versions"]], ["v1", "v1beta1"])
        self.assertEqual(group["preferredVersion"]["groupVersion"], "gateway.networking.k8s.io/v1")
        self.assertEqual(_fake.ok("GET", GATEWAY_API)["preferredVersion"]["version"], "v1")
        v1 = {r["name"]: r for r in _fake.ok("GET", f"{GATEWAY_API}/v1")["resources"]}
        self.assertEqual(set(v1), {"gatewayclasses", "gatewayclasses/status", "gateways", "gateways/status",
                                   "grpcroutes", "grpcroutes/status", "httproutes", "httproutes/status"})
        self.assertEqual((v1["gatewayclasses"]["namespaced"], v1["gatewayclasses"]["kind"]), (False, "GatewayClass"))
        self.assertEqual((v1["grpcroutes"]["namespaced"], v1["grpcroutes"]["kind"]), (True, "GRPCRoute"))
        self.assertTrue({"get", "list", "watch", "create", "update", "patch", "delete"} <= set(v1["gateways"]["verbs"]))
        self.assertEqual(v1["httproutes/status"]["verbs"], ["get", "patch", "update"])
        self.assertEqual(v1["gateways"]["shortNames"], ["gtw"])
        v1beta1 = {r["name"] for r in _fake.ok("GET", f"{GATEWAY_API}/v1beta1")["resources"]}
        self.assertEqual(v1beta1, {"gatewayclasses", "gatewayclasses/status", "gateways", "gateways/status",
                                   "httproutes", "httproutes/status", "referencegrants"})
        crds = {c["metadata"]["name"] for c in _fake.ok("GET", CRDS_PATH)["items"]}
        self.assertTrue({"gatewayclasses.gateway.networking.k8s.io", "gateways.gateway.networking.k8s.io",
                         "grpcroutes.gateway.networking.k8s.io", "httproutes.gateway.networking.k8s.io",
                         "referencegrants.gateway.networking.k8s.io"} <= crds)

    def test_a_grpc_route_is_created_with_its_schema_defaults_listed_and_watched(self):
        base = f"{GATEWAY_API}/v1/namespaces/{self.ns}/grpcroutes"
        start = _fake.ok("GET", base)["metadata"]["resourceVersion"]
        stream = self.open_watch(f"{base}?watch=1&allowWatchBookmarks=true&resourceVersion={start}")
        created = _fake.ok("POST", base, grpc_route("route"))
        self.assertEqual(created["metadata"]["generation"], 1)
        self.assertNotIn("status", created)  # GRPCRoute's schema has no status default
        self.assertEqual(created["spec"]["parentRefs"][0], {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                                            "name": "gw"})
        rule = created["spec"]["rules"][0]
        self.assertEqual(rule["matches"][0]["method"], {"service": "helloworld.Greeter", "type": "Exact"})
        self.assertEqual(rule["backendRefs"][0], {"group": "", "kind": "Service", "name": "greeter", "port": 50051,
                                                  "weight": 1})
        added = stream.next_non_bookmark()
        self.assertEqual((added["type"], added["object"]["kind"], added["object"]["apiVersion"]),
                         ("ADDED", "GRPCRoute", "gateway.networking.k8s.io/v1"))
        self.assertEqual(added["object"]["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"])
        bookmark = stream.next(timeout=BOOKMARK_INTERVAL * 10)
        while bookmark["type"] != "BOOKMARK":
            bookmark = stream.next(timeout=BOOKMARK_INTERVAL * 10)
        self.assertEqual(bookmark["object"]["kind"], "GRPCRoute")
        listed = _fake.ok("GET", f"{GATEWAY_API}/v1/grpcroutes?labelSelector=")
        self.assertEqual(listed["kind"], "GRPCRouteList")
        self.assertIn(("route", self.ns),
                      [(i["metadata"]["name"], i["metadata"]["namespace"]) for i in listed["items"]])
        _fake.ok("DELETE", f"{base}/route")
        self.assertEqual(stream.next_non_bookmark()["type"], "DELETED")
        status, body, _ = _fake.request("GET", f"{base}/route")
        self.assertEqual((status, body["message"]), (404, 'grpcroutes.gateway.networking.k8s.io "route" not found'))

    def test_generation_follows_spec_changes_and_status_goes_only_through_the_subresource(self):
        base = f"{GATEWAY_API}/v1/namespaces/{self.ns}/gateways"
        created = _fake.ok("POST", base, dict(gateway("gw"), status={"conditions": [condition("Accepted")]}))
        # Create drops status; the schema's default stands in: Accepted and Programmed Unknown.
        self.assertEqual([(c["type"], c["status"], c["reason"]) for c in created["status"]["conditions"]],
                         [("Accepted", "Unknown", "Pending"), ("Programmed", "Unknown", "Pending")])
        self.assertEqual(created["spec"]["listeners"][0]["allowedRoutes"], {"namespaces": {"from": "Same"}})
        self.assertEqual(created["metadata"]["generation"], 1)
        accepted = {"conditions": [condition("Accepted"), condition("Programmed")]}
        written = _fake.ok("PUT", f"{base}/gw/status", dict(created, status=accepted, spec={"gatewayClassName": "x"}))
        self.assertEqual(written["status"], accepted)
        self.assertEqual(written["spec"], created["spec"])  # spec in a status update is ignored
        self.assertEqual(written["metadata"]["generation"], 1)
        self.assertGreater(int(written["metadata"]["resourceVersion"]), int(created["metadata"]["resourceVersion"]))
        # The main resource ignores status: a status-only change is a no-op write.
        same = _fake.ok("PUT", f"{base}/gw", dict(written, status={"conditions": []}))
        self.assertEqual((same["status"], same["metadata"]["resourceVersion"]),
                         (accepted, written["metadata"]["resourceVersion"]))
        labelled = _fake.ok("PATCH", f"{base}/gw", {"metadata": {"labels": {"team": "a"}}},
                            content_type="application/merge-patch+json")
        self.assertEqual(labelled["metadata"]["generation"], 1)  # metadata is not spec
        respec = json.loads(json.dumps(labelled))
        respec["spec"]["listeners"][0]["port"] = 8080
        changed = _fake.ok("PUT", f"{base}/gw", respec)
        self.assertEqual((changed["metadata"]["generation"], changed["status"]), (2, accepted))
        patched = _fake.ok("PATCH", f"{base}/gw/status", {"status": {"listeners": [
            {"name": "http", "attachedRoutes": 1, "conditions": [condition("Accepted")],
             "supportedKinds": [{"kind": "GRPCRoute"}]}]}}, content_type="application/merge-patch+json")
        self.assertEqual(patched["metadata"]["generation"], 2)
        self.assertEqual(patched["status"]["listeners"][0]["supportedKinds"],
                         [{"group": "gateway.networking.k8s.io", "kind": "GRPCRoute"}])  # defaulted
        self.assertEqual(patched["status"]["conditions"], accepted["conditions"])
        stale = dict(created, status=accepted)
        status, body, _ = _fake.request("PUT", f"{base}/gw/status", stale)
        self.assertEqual((status, body["reason"]), (409, "Conflict"))
        cluster = f"{GATEWAY_API}/v1/gatewayclasses"
        name = "gc-" + self.ns
        klass = _fake.ok("POST", cluster, {"metadata": {"name": name},
                                           "spec": {"controllerName": "grpc-ingress.io/gateway-controller"}})
        self.assertNotIn("namespace", klass["metadata"])
        self.assertEqual(klass["status"]["conditions"][0]["message"], "Waiting for controller")
        mine = _fake.ok("PUT", f"{cluster}/{name}/status", dict(klass, status={"conditions": [condition("Accepted")]}))
        self.assertEqual(mine["status"]["conditions"][0]["status"], "True")
        _fake.ok("DELETE", f"{cluster}/{name}")

    def test_writes_are_pruned_defaulted_and_validated_by_the_crd_schema(self):
        base = f"{GATEWAY_API}/v1/namespaces/{self.ns}"
        typo = gateway("pruned")
        typo["spec"]["listners"] = []
        typo["spec"]["listeners"][0]["hostname"] = "*.example.com"
        created = _fake.ok("POST", f"{base}/gateways", typo)
        self.assertNotIn("listners", created["spec"])  # unknown fields are dropped, as by pruning
        self.assertEqual(created["spec"]["listeners"][0]["hostname"], "*.example.com")
        cases = [
            ("gateways", dict(gateway("a"), spec={"gatewayClassName": "grpc"}), "spec.listeners: Required value"),
            ("gateways", gateway("b", [{"name": "http", "port": "80", "protocol": "HTTP"}]),
             "spec.listeners[0].port: Invalid value"),
            ("gateways", gateway("c", [{"name": "http", "port": 0, "protocol": "HTTP"}]),
             "should be greater than or equal to 1"),
            ("gateways", gateway("d", [{"name": "http", "port": 80, "protocol": "HTTP",
                                        "allowedRoutes": {"namespaces": {"from": "Everywhere"}}}]),
             'spec.listeners[0].allowedRoutes.namespaces.from: Unsupported value: "Everywhere"'),
            ("grpcroutes", dict(grpc_route("e"), spec={"hostnames": ["Not A Host"]}), "should match"),
        ]
        for plural, body, message in cases:
            with self.subTest(message=message):
                status, answer, _ = _fake.request("POST", f"{base}/{plural}", body)
                self.assertEqual((status, answer["reason"]), (422, "Invalid"), answer)
                self.assertIn(message, answer["message"])
                self.assertTrue(answer["message"].startswith(f'{body["kind"]}.gateway.networking.k8s.io "'))
        route = _fake.ok("POST", f"{base}/httproutes", {"apiVersion": "gateway.networking.k8s.io/v1",
                                                        "kind": "HTTPRoute", "metadata": {"name": "r"}, "spec": {}})
        self.assertEqual(route["spec"]["rules"], [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}])
        status, body, _ = _fake.request("PUT", f"{base}/gateways/pruned/status",
                                        dict(created, status={"conditions": [{"type": "Accepted", "status": "Yes"}]}))
        self.assertEqual(status, 422)
        self.assertIn("status.conditions[0].lastTransitionTime: Required value", body["message"])
        self.assertIn('status.conditions[0].status: Unsupported value: "Yes"', body["message"])
        name = "immutable-" + self.ns
        klass = _fake.ok("POST", f"{GATEWAY_API}/v1/gatewayclasses",
                         {"metadata": {"name": name}, "spec": {"controllerName": "example.com/a"}})
        klass["spec"]["controllerName"] = "example.com/b"
        status, body, _ = _fake.request("PUT", f"{GATEWAY_API}/v1/gatewayclasses/{name}", klass)
        self.assertEqual(status, 422)
        self.assertIn("spec.controllerName: Invalid value: \"string\": Value is immutable", body["message"])
        _fake.ok("DELETE", f"{GATEWAY_API}/v1/gatewayclasses/{name}")

    def test_reference_grants_are_served_at_v1beta1_without_status(self):
        base = f"{GATEWAY_API}/v1beta1/namespaces/{self.ns}/referencegrants"
        grant = {"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
                 "metadata": {"name": "from-apps"},
                 "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "GRPCRoute", "namespace": "apps"}],
                          "to": [{"group": "", "kind": "Service"}]}}
        created = _fake.ok("POST", base, grant)
        self.assertEqual((created["apiVersion"], created["metadata"]["generation"]),
                         ("gateway.networking.k8s.io/v1beta1", 1))
        self.assertEqual(_fake.request("GET", f"{GATEWAY_API}/v1/namespaces/{self.ns}/referencegrants")[0], 404)
        self.assertEqual(_fake.request("GET", f"{base}/from-apps/status")[0], 404)
        created["spec"]["to"][0]["name"] = "greeter"
        self.assertEqual(_fake.ok("PUT", f"{base}/from-apps", created)["metadata"]["generation"], 2)
        status, body, _ = _fake.request("POST", base, dict(grant, metadata={"name": "empty"}, spec={"from": []}))
        self.assertEqual(status, 422)
        self.assertIn("spec.to: Required value", body["message"])
        listed = _fake.ok("GET", f"{GATEWAY_API}/v1beta1/referencegrants")
        self.assertEqual(listed["kind"], "ReferenceGrantList")

    def test_v1beta1_and_v1_are_views_of_the_same_objects(self):
        created = _fake.ok("POST", f"{GATEWAY_API}/v1/namespaces/{self.ns}/gateways", gateway("both"))
        old = _fake.ok("GET", f"{GATEWAY_API}/v1beta1/namespaces/{self.ns}/gateways/both")
        self.assertEqual((old["apiVersion"], old["metadata"]["uid"]),
                         ("gateway.networking.k8s.io/v1beta1", created["metadata"]["uid"]))
        self.assertEqual(_fake.request("PUT", f"{GATEWAY_API}/v1/namespaces/{self.ns}/gateways/both", old)[0], 400)


class WithoutGatewayApi(unittest.TestCase):
    """A cluster without the Gateway API CRDs (--without-gateway-api), until they are created."""

    @classmethod
    def setUpClass(cls):
        cls.fake = Fake("--without-gateway-api")

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def groups(self):
        return {g["name"] for g in self.fake.ok("GET", "/apis")["groups"]}

    def test_the_group_appears_with_its_crds_and_goes_with_them(self):
        fake = self.fake
        self.assertNotIn("gateway.networking.k8s.io", self.groups())
        self.assertIn("apiextensions.k8s.io", self.groups())
        routes = f"{GATEWAY_API}/v1/namespaces/default/grpcroutes"
        for path in (GATEWAY_API, f"{GATEWAY_API}/v1", routes, f"{GATEWAY_API}/v1/grpcroutes?watch=1"):
            with self.subTest(path=path):
                status, body, _ = fake.request("GET", path)
                self.assertEqual((status, body["kind"], body["reason"]), (404, "Status", "NotFound"))
        self.assertEqual(fake.request("POST", routes, grpc_route("early"))[0], 404)

        crds = {c["metadata"]["name"]: c for c in gateway_api_crds()}
        installed = fake.ok("POST", CRDS_PATH, crds["grpcroutes.gateway.networking.k8s.io"])
        established = {c["type"]: c["status"] for c in installed["status"]["conditions"]}
        self.assertEqual(established, {"NamesAccepted": "True", "Established": "True"})
        self.assertEqual(installed["status"]["storedVersions"], ["v1"])
        self.assertIn("gateway.networking.k8s.io", self.groups())
        self.assertEqual(fake.ok("GET", GATEWAY_API)["versions"], [{"groupVersion": "gateway.networking.k8s.io/v1",
                                                                    "version": "v1"}])
        self.assertEqual({r["name"] for r in fake.ok("GET", f"{GATEWAY_API}/v1")["resources"]},
                         {"grpcroutes", "grpcroutes/status"})
        self.assertEqual(fake.request("GET", f"{GATEWAY_API}/v1/gateways")[0], 404)
        self.assertEqual(fake.ok("POST", routes, grpc_route("route"))["metadata"]["generation"], 1)
        for name, crd in crds.items():
            if name != "grpcroutes.gateway.networking.k8s.io":
                fake.ok("POST", CRDS_PATH, crd)
        self.assertEqual(fake.ok("GET", GATEWAY_API)["preferredVersion"]["version"], "v1")
        self.assertEqual(len(fake.ok("GET", f"{GATEWAY_API}/v1beta1")["resources"]), 7)

        stream = fake.watch(f"{GATEWAY_API}/v1/grpcroutes?watch=1&resourceVersion=0")
        try:
            self.assertEqual(stream.next()["type"], "ADDED")
            deleted = fake.ok("DELETE", f"{CRDS_PATH}/grpcroutes.gateway.networking.k8s.io")
            self.assertEqual(deleted["status"], "Success")
            # The CRD's objects are deleted first, then the watch on them ends.
            gone = stream.next()
            self.assertEqual((gone["type"], gone["object"]["metadata"]["name"]), ("DELETED", "route"))
            self.assertIsNone(stream.next())
        finally:
            stream.close()
        self.assertEqual(fake.request("GET", routes)[0], 404)
        self.assertNotIn("grpcroutes", {r["name"] for r in fake.ok("GET", f"{GATEWAY_API}/v1")["resources"]})
        fake.ok("POST", CRDS_PATH, crds["grpcroutes.gateway.networking.k8s.io"])
        self.assertEqual(fake.ok("GET", routes)["items"], [])  # reinstalled empty

    def test_a_crd_is_validated_like_the_real_one(self):
        crd = json.loads(json.dumps(gateway_api_crds()[0]))
        crd["metadata"]["name"] = "wrong.example.com"
        status, body, _ = self.fake.request("POST", CRDS_PATH, crd)
        self.assertEqual(status, 422)
        self.assertIn('must be spec.names.plural+"."+spec.group', body["message"])
        for version in crd["spec"]["versions"]:
            version["storage"] = True
        crd["metadata"]["name"] = "gatewayclasses.gateway.networking.k8s.io"
        status, body, _ = self.fake.request("POST", CRDS_PATH, crd)
        self.assertEqual(status, 422)
        self.assertIn("exactly one version marked as storage version", body["message"])


class SmallHistoryAndInitialObjects(unittest.TestCase):
    """A second fake: a 5-change history window and objects preloaded from --initial."""

    @classmethod
    def setUpClass(cls):
        initial = Path(tempfile.mkdtemp(prefix="fake-apiserver-initial-")) / "objects.json"
        initial.write_text(json.dumps({"kind": "List", "items": [
            dict(service("preloaded"), metadata={"name": "preloaded", "namespace": "apps"}),
            lease("leader", "pod-a")]}))
        cls.fake = Fake("--history-limit", "5", "--initial", str(initial))
        shutil.rmtree(initial.parent)

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def test_initial_objects_exist_with_their_namespaces(self):
        self.assertEqual(self.fake.ok("GET", "/api/v1/namespaces/apps/services/preloaded")["spec"]["ports"][0]["port"],
                         80)
        self.assertEqual(self.fake.ok("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/leader")
                         ["spec"]["holderIdentity"], "pod-a")

    def test_a_watch_that_falls_out_of_the_history_window_gets_410(self):
        start = self.fake.ok("GET", "/api/v1/services")["metadata"]["resourceVersion"]
        for i in range(8):
            self.fake.ok("POST", "/api/v1/namespaces/default/services", service(f"h{i}"))
        stream = self.fake.watch(f"/api/v1/services?watch=1&resourceVersion={start}")
        try:
            error = stream.next()
            self.assertEqual((error["type"], error["object"]["code"]), ("ERROR", 410))
        finally:
            stream.close()
        self.assertLessEqual(self.fake.ok("GET", "/fake/state")["historyLength"], 5)


class PureLogic(unittest.TestCase):
    """The selector and patch modules on their own."""

    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, str(SCRIPT.parent))
        from fakeapi import patch, selectors
        cls.patch, cls.selectors = patch, selectors

    def test_label_selector_syntax_errors_are_bad_requests(self):
        for text in ("app in (a", "app=", "=a", "app notin ()", "a,,b", "app > x", "Bad Key!=1"):
            with self.subTest(selector=text):
                try:
                    selector = self.selectors.LabelSelector(text)
                except Exception as error:  # noqa: BLE001 - ApiError from the module
                    self.assertEqual(getattr(error, "code", None), 400)
                else:
                    self.assertEqual(text, "app=", "only 'app=' (empty value) is valid")
                    self.assertTrue(selector.matches({"app": ""}))

    def test_field_selector_escapes(self):
        labels = {"metadata.name": lambda o: o["name"]}
        selector = self.selectors.FieldSelector(r"metadata.name=a\,b", labels)
        self.assertTrue(selector.matches({"name": "a,b"}))
        self.assertFalse(selector.matches({"name": "a"}))

    def test_strategic_merge_patch_directives(self):
        current = {"spec": {"ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "b"}]},
                   "metadata": {"finalizers": ["x"], "labels": {"k": "v", "drop": "1"}}}
        keys = {("spec", "ports"): "port"}
        patched = self.patch.strategic_merge_patch(current, {
            "spec": {"ports": [{"port": 81, "$patch": "delete"}, {"port": 82, "name": "c"}],
                     "$setElementOrder/ports": [{"port": 82}, {"port": 80}]},
            "metadata": {"finalizers": ["y"], "labels": {"drop": None}}}, keys)
        self.assertEqual([p["port"] for p in patched["spec"]["ports"]], [82, 80])
        self.assertEqual(patched["metadata"], {"finalizers": ["x", "y"], "labels": {"k": "v"}})
        replaced = self.patch.strategic_merge_patch(current, {"metadata": {"$patch": "replace", "name": "n"}}, keys)
        self.assertEqual(replaced["metadata"], {"name": "n"})

    def test_json_patch_test_failure_is_a_patch_error(self):
        with self.assertRaises(self.patch.PatchError):
            self.patch.json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])
        self.assertEqual(self.patch.json_patch({"a": [1, 2]}, [{"op": "move", "from": "/a/0", "path": "/b"}]),
                         {"a": [2], "b": 1})


if __name__ == "__main__":
    unittest.main(verbosity=2)
