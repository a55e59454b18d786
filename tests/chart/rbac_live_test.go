// The RBAC check's list of requests (requested in rbac_test.go), held against the requests
// the real binary makes: it runs in-cluster style against the fake API server
// (tests/fakes/fake_apiserver.py) with the args the chart renders for watchNamespace,
// until the leader has written every kind of status and an Event, and its API requests,
// read from the fake's request log, are turned into RBAC verbs and scopes.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

const fakeAPIServer = "../fakes/fake_apiserver.py"

// requestGrant is the RBAC permission an API request needs; false for discovery.
func requestGrant(method, path, query string) (grant, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var group string
	var rest []string
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		rest = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		group, rest = parts[1], parts[3:]
	default:
		return grant{}, false
	}
	if len(rest) == 0 {
		return grant{}, false // discovery: every authenticated user may read it
	}
	scope := "*"
	if rest[0] == "namespaces" && len(rest) >= 3 {
		scope, rest = rest[1], rest[2:]
	}
	resource, named := rest[0], len(rest) >= 2
	if len(rest) >= 3 {
		resource += "/" + rest[2]
	}
	watch := regexp.MustCompile(`(^|&)watch=(1|true)(&|$)`).MatchString(query)
	verb := map[string]string{"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]
	switch {
	case method == "GET" && watch:
		verb = "watch"
	case method == "GET" && named:
		verb = "get"
	case method == "GET":
		verb = "list"
	}
	return grant{scope, group, resource, verb}, true
}

func jsonObject(text string) map[string]interface{} {
	var out map[string]interface{}
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		panic(err)
	}
	return out
}

// liveObjects: routing inputs of every kind in namespace apps (one Ingress rejected, for an
// Event), the same in namespace elsewhere (never to be read), and the published Service.
func liveObjects() []map[string]interface{} {
	var out []map[string]interface{}
	for _, ns := range []string{"apps", "elsewhere"} {
		for _, text := range []string{
			`{"apiVersion":"v1","kind":"Service","metadata":{"name":"greeter","namespace":"NS"},
			  "spec":{"ports":[{"name":"grpc","port":50051,"appProtocol":"kubernetes.io/h2c"}]}}`,
			`{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"greeter-1","namespace":"NS",
			  "labels":{"kubernetes.io/service-name":"greeter"}},"addressType":"IPv4",
			  "ports":[{"name":"grpc","port":50051,"protocol":"TCP"}],
			  "endpoints":[{"addresses":["127.0.0.9"],"conditions":{"ready":true,"serving":true,"terminating":false}}]}`,
			`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"greeter","namespace":"NS"},
			  "spec":{"ingressClassName":"grpc","rules":[{"http":{"paths":[{"path":"/helloworld.Greeter","pathType":"Prefix",
			  "backend":{"service":{"name":"greeter","port":{"name":"grpc"}}}}]}}]}}`,
			`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"typo","namespace":"NS",
			  "annotations":{"grpc-ingress.io/no-such-annotation":"x"}},
			  "spec":{"ingressClassName":"grpc","rules":[{"http":{"paths":[{"path":"/typo","pathType":"Prefix",
			  "backend":{"service":{"name":"greeter","port":{"name":"grpc"}}}}]}}]}}`,
			`{"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway","metadata":{"name":"edge","namespace":"NS"},
			  "spec":{"gatewayClassName":"grpc","listeners":[{"name":"http","port":80,"protocol":"HTTP"}]}}`,
			`{"apiVersion":"gateway.networking.k8s.io/v1","kind":"GRPCRoute","metadata":{"name":"greeter","namespace":"NS"},
			  "spec":{"parentRefs":[{"name":"edge"}],"rules":[{"backendRefs":[{"name":"greeter","port":50051}]}]}}`,
			`{"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute","metadata":{"name":"web","namespace":"NS"},
			  "spec":{"parentRefs":[{"name":"edge"}],"rules":[{"backendRefs":[{"name":"greeter","port":50051}]}]}}`,
		} {
			out = append(out, jsonObject(strings.ReplaceAll(text, `"NS"`, strconv.Quote(ns))))
		}
	}
	return append(out,
		jsonObject(`{"apiVersion":"networking.k8s.io/v1","kind":"IngressClass","metadata":{"name":"grpc"},
		  "spec":{"controller":"grpc-ingress.io/controller"}}`),
		jsonObject(`{"apiVersion":"gateway.networking.k8s.io/v1","kind":"GatewayClass","metadata":{"name":"grpc"},
		  "spec":{"controllerName":"grpc-ingress.io/gateway-controller"}}`),
		jsonObject(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"grpc-ingress","namespace":"ingress-system"},
		  "spec":{"externalIPs":["203.0.113.10"],"ports":[{"name":"http","port":80}]}}`))
}

// startProcess starts argv with env added, logging to file; the process is ended by
// SIGTERM (then SIGKILL) when the test ends, and killed after 90 s in any case.
func startProcess(t *testing.T, log string, env []string, argv ...string) (*exec.Cmd, io.Reader) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	logFile, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		stopProcess(cmd, done)
		cancel()
		logFile.Close()
	})
	return cmd, stdout
}

type apiRequest struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Query     string `json:"query"`
	Status    int    `json:"status"`
	UserAgent string `json:"user_agent"`
}

func TestRBACMatchesTheLiveControllersRequests(t *testing.T) {
	binary := os.Getenv("GRPC_INGRESS_BINARY")
	if binary == "" {
		t.Fatal("GRPC_INGRESS_BINARY is not set (ctest sets it to build/grpc-ingress)")
	}
	dir := t.TempDir()
	initial, _ := json.Marshal(liveObjects())
	if err := os.WriteFile(filepath.Join(dir, "initial.json"), initial, 0o644); err != nil {
		t.Fatal(err)
	}
	apiDir := filepath.Join(dir, "api")
	_, stdout := startProcess(t, filepath.Join(dir, "apiserver.log"), nil, "/usr/bin/python3", "-B", fakeAPIServer,
		"--listen", "127.0.0.1:0", "--dir", apiDir, "--initial", filepath.Join(dir, "initial.json"))
	listening := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			if line := scanner.Text(); strings.HasPrefix(line, "LISTENING ") {
				listening <- strings.TrimPrefix(line, "LISTENING ")
			}
		}
	}()
	var url string
	select {
	case url = <-listening:
	case <-time.After(20 * time.Second):
		log, _ := os.ReadFile(filepath.Join(dir, "apiserver.log"))
		t.Fatalf("the fake API server did not start:\n%s", log)
	}
	apiPort := url[strings.LastIndex(url, ":")+1:]

	// The chart's args for watchNamespace apps, with ports of our own on 127.0.0.1.
	objects := renderRelease(t, "grpc-ingress", valuesFile(t, "watch.yaml", "watchNamespace: apps\n"))
	argv := []string{binary}
	for _, a := range list(container(workload(objects)), "args") {
		name, _, _ := strings.Cut(strings.TrimPrefix(fmt.Sprint(a), "--"), "=")
		if name != "http-port" && name != "https-port" && name != "admin-port" {
			argv = append(argv, fmt.Sprint(a))
		}
	}
	argv = append(argv, "--bind-address", "127.0.0.1", "--http-port", strconv.Itoa(freePort(t)),
		"--https-port", strconv.Itoa(freePort(t)), "--admin-port", strconv.Itoa(freePort(t)))
	// As in the pod: the service account's files, and POD_NAME/POD_NAMESPACE from the chart's env.
	startProcess(t, filepath.Join(dir, "grpc-ingress.log"), []string{"KUBERNETES_SERVICE_HOST=127.0.0.1",
		"KUBERNETES_SERVICE_PORT=" + apiPort, "GRPC_INGRESS_SERVICE_ACCOUNT_DIR=" + apiDir,
		"POD_NAME=grpc-ingress-0", "POD_NAMESPACE=ingress-system"}, argv...)

	// Until the leader has renewed its Lease and written each kind of status and an Event.
	wantWrites := []string{"PUT /apis/coordination.k8s.io/v1/namespaces/ingress-system/leases/grpc-ingress-leader",
		"PUT /apis/networking.k8s.io/v1/namespaces/apps/ingresses/greeter/status",
		"POST /api/v1/namespaces/apps/events",
		"PUT /apis/gateway.networking.k8s.io/v1/gatewayclasses/grpc/status",
		"PUT /apis/gateway.networking.k8s.io/v1/namespaces/apps/gateways/edge/status",
		"PUT /apis/gateway.networking.k8s.io/v1/namespaces/apps/grpcroutes/greeter/status",
		"PUT /apis/gateway.networking.k8s.io/v1/namespaces/apps/httproutes/web/status"}
	client := &http.Client{Timeout: 2 * time.Second}
	var requests []apiRequest
	var missing []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		resp, err := client.Get("http://127.0.0.1:" + apiPort + "/fake/requests")
		if err != nil {
			continue
		}
		requests = nil
		err = json.NewDecoder(resp.Body).Decode(&requests)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("/fake/requests: %v", err)
		}
		seen := map[string]bool{}
		for _, r := range requests {
			seen[r.Method+" "+r.Path] = true
		}
		missing = nil
		for _, w := range wantWrites {
			if !seen[w] {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			break
		}
	}
	if len(missing) > 0 {
		log, _ := os.ReadFile(filepath.Join(dir, "grpc-ingress.log"))
		t.Fatalf("within 30 s the controller did not make %v; its log:\n%s", missing, log)
	}

	observed := map[grant]bool{}
	for _, r := range requests {
		if !strings.HasPrefix(r.UserAgent, "grpc-ingress") {
			continue
		}
		if g, ok := requestGrant(r.Method, r.Path, r.Query); ok {
			observed[g] = true
		}
	}
	want := requested("apps", "ingress-system", true)
	var unlisted, unseen []string
	for g := range observed {
		if !want[g] {
			unlisted = append(unlisted, g.String())
		}
	}
	for g := range want {
		if !observed[g] {
			unseen = append(unseen, g.String())
		}
	}
	sort.Strings(unlisted)
	sort.Strings(unseen)
	if len(unlisted) > 0 {
		t.Errorf("the controller made requests the RBAC list (requested, rbac_test.go) lacks: %v", unlisted)
	}
	if len(unseen) > 0 {
		t.Errorf("the RBAC list has requests the controller did not make: %v", unseen)
	}
	// And the chart grants exactly that list for this render (TestRBACIsExactlyWhatTheControllerRequests does the rest).
	got := withoutCovered(granted(objects, str(workload(objects), "spec.template.spec.serviceAccountName"), testNamespace))
	if w := withoutCovered(want); strings.Join(got, "\n") != strings.Join(w, "\n") {
		t.Errorf("the chart's grants differ from the live requests:\n  granted, not made: %v\n  made, not granted: %v",
			difference(got, w), difference(w, got))
	}
}
