// Checks of charts/grpc-ingress, manifests/deploy.yaml and manifests/examples/greeter:
// what `helm install` and `kubectl apply` would be given is well-formed, consistent
// with itself, and only asks the binary and the API server for what they accept.
// Run by ctest (tests/chart/CMakeLists.txt), one ctest test per Test function.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const (
	chartDir         = "../../charts/grpc-ingress"
	deployYAMLPath   = "../../manifests/deploy.yaml"
	greeterDir       = "../../manifests/examples/greeter"
	customValues     = "values-custom.yaml"
	noGatewayAPI     = "values-no-gateway-api.yaml"
	daemonSetValues  = "values-daemonset.yaml"
	singleReplica    = "values-single-replica.yaml"
	monitoringValues = "values-monitoring.yaml"
	testNamespace    = "ingress-system"
)

// rendering is one render of the chart and what it was rendered with.
type rendering struct {
	label     string
	namespace string
	docs      []Document
	objects   []object
}

func renderChart(t *testing.T, label string, valueFiles ...string) rendering {
	t.Helper()
	docs, notes, err := Render(chartDir, Release{Name: "grpc-ingress", Namespace: testNamespace, Service: "Helm"}, valueFiles)
	if err != nil {
		t.Fatalf("%s render: %v", label, err)
	}
	if strings.TrimSpace(notes) == "" {
		t.Fatalf("%s render: NOTES.txt rendered empty", label)
	}
	r := rendering{label: label, namespace: testNamespace, docs: docs}
	for _, doc := range docs {
		r.objects = append(r.objects, decode(t, doc.Source, doc.Content))
	}
	return r
}

// valuesFiles are the option combinations every render-wide check runs on.
var valuesFiles = []string{customValues, noGatewayAPI, daemonSetValues, singleReplica, monitoringValues}

func renders(t *testing.T) []rendering {
	out := []rendering{renderChart(t, "default values")}
	for _, file := range valuesFiles {
		out = append(out, renderChart(t, file, file))
	}
	return out
}

// args returns the controller container's flags as name -> value ("" for a bare flag).
func args(t *testing.T, deployment object) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, a := range list(container(deployment), "args") {
		text := fmt.Sprint(a)
		name, value, _ := strings.Cut(strings.TrimPrefix(text, "--"), "=")
		out[name] = value
	}
	return out
}

// (a) The chart renders with its defaults, with values that switch every optional part on
// and move every port, and with the Gateway API off; the optional objects appear exactly
// when asked for.
func TestRendersWithDefaultAndCustomValues(t *testing.T) {
	defaults, custom := renderChart(t, "default values"), renderChart(t, customValues, customValues)
	off := renderChart(t, noGatewayAPI, noGatewayAPI)
	for _, kind := range []string{"Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role",
		"RoleBinding", "IngressClass", "PodDisruptionBudget"} {
		if find(defaults.objects, kind, "") == nil {
			t.Errorf("default values: no %s", kind)
		}
	}
	if n := len(findAll(defaults.objects, "Service")); n != 2 {
		t.Errorf("default values: %d Services, want the traffic and the metrics Service", n)
	}
	for _, kind := range []string{"HorizontalPodAutoscaler", "ServiceMonitor"} {
		if find(defaults.objects, kind, "") != nil {
			t.Errorf("default values: %s is on, want it off by default", kind)
		}
		if find(custom.objects, kind, "") == nil {
			t.Errorf("%s: %s is missing", customValues, kind)
		}
	}
	d := find(defaults.objects, "Deployment", "")
	if get(d, "spec.replicas") != 2 {
		t.Errorf("default values: replicas %v, want 2", get(d, "spec.replicas"))
	}
	if a := args(t, d); a["log-format"] != "json" {
		t.Errorf("default values: --log-format=%q, want json", a["log-format"])
	}
	if get(find(defaults.objects, "IngressClass", ""), "metadata.annotations") != nil {
		t.Errorf("default values: the IngressClass is the default class")
	}
	annotations := stringMap(find(custom.objects, "IngressClass", ""), "metadata.annotations")
	if annotations["ingressclass.kubernetes.io/is-default-class"] != "true" {
		t.Errorf("%s: the IngressClass is not marked as the default class: %v", customValues, annotations)
	}
	hpa := find(custom.objects, "HorizontalPodAutoscaler", "")
	if get(hpa, "spec.minReplicas") != 3 {
		t.Errorf("%s: HPA minReplicas %v, want 3", customValues, get(hpa, "spec.minReplicas"))
	}
	ca := args(t, find(custom.objects, "Deployment", ""))
	for flag, want := range map[string]string{"http-port": "9080", "https-port": "9443", "admin-port": "9254",
		"ingress-class": "grpc-edge", "watch-namespace": "apps", "upstream-connect-timeout": "1s"} {
		if ca[flag] != want {
			t.Errorf("%s: --%s=%q, want %q", customValues, flag, ca[flag], want)
		}
	}
	if _, ok := ca["threads"]; ok {
		t.Errorf("%s: threads 0 still passes --threads", customValues)
	}

	// Gateway API: on by default (auto: served once its CRDs are installed); the
	// GatewayClass only when asked for, and never with the Gateway API off.
	da, oa := args(t, d), args(t, find(off.objects, "Deployment", ""))
	for _, c := range []struct {
		label string
		got   map[string]string
		want  map[string]string
	}{
		{"default values", da, map[string]string{"gateway-api": "auto",
			"gateway-controller-name": "grpc-ingress.io/gateway-controller"}},
		{customValues, ca, map[string]string{"gateway-api": "auto",
			"gateway-controller-name": "example.com/grpc-edge-gateway"}},
		{noGatewayAPI, oa, map[string]string{"gateway-api": "off"}},
	} {
		for flag, want := range c.want {
			if c.got[flag] != want {
				t.Errorf("%s: --%s=%q, want %q", c.label, flag, c.got[flag], want)
			}
		}
	}
	if _, ok := oa["gateway-controller-name"]; ok {
		t.Errorf("%s: --gateway-controller-name is passed with the Gateway API off", noGatewayAPI)
	}
	if find(defaults.objects, "GatewayClass", "") != nil {
		t.Errorf("default values: a GatewayClass is created, want none by default")
	}
	if find(off.objects, "GatewayClass", "") != nil {
		t.Errorf("%s: a GatewayClass is created with the Gateway API off", noGatewayAPI)
	}
	gc := find(custom.objects, "GatewayClass", "grpc-edge")
	if gc == nil || str(gc, "apiVersion") != "gateway.networking.k8s.io/v1" ||
		str(gc, "spec.controllerName") != "example.com/grpc-edge-gateway" {
		t.Errorf("%s: want GatewayClass grpc-edge (gateway.networking.k8s.io/v1) with controllerName "+
			"example.com/grpc-edge-gateway, got %v", customValues, gc)
	}
}

// Values the binary would reject at start, or that Kubernetes would refuse, are rejected
// at render time by values.schema.json, with a message naming the value: each file of
// invalid/ says on a "# want:" line what the message must contain.
func TestSchemaRejectsWrongValues(t *testing.T) {
	files, _ := filepath.Glob("invalid/*.yaml")
	if len(files) < 5 {
		t.Fatalf("only %d files in invalid/", len(files))
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^# want: (.+)$`).FindSubmatch(data)
		if m == nil {
			t.Fatalf("%s: no '# want:' line", file)
		}
		_, _, err = Render(chartDir, Release{Name: "x", Namespace: "x", Service: "Helm"}, []string{file})
		if err == nil || !strings.Contains(err.Error(), "values don't meet the specifications") ||
			!strings.Contains(err.Error(), string(m[1])) {
			t.Errorf("%s rendered or failed otherwise; want a schema error containing %q, got %v", file, m[1], err)
		}
	}
	// The templates' own check of a duration stays, for renders without the schema.
	if _, err := includeSeconds(t, "25 seconds"); err == nil || !strings.Contains(err.Error(), "not a duration") {
		t.Errorf("grpc-ingress.seconds accepted '25 seconds': %v", err)
	}
	for text, want := range map[string]string{"35s": "35", "1m30s": "90", "2500ms": "3", "40": "40", "1h1s": "3601"} {
		if got, err := includeSeconds(t, text); err != nil || got != want {
			t.Errorf("grpc-ingress.seconds %q = %q, %v; want %s", text, got, err, want)
		}
	}
}

// (b) yamllint (tests/chart/.yamllint) is clean on both renders, deploy.yaml, the
// values files and the greeter example.
func TestYamllintIsClean(t *testing.T) {
	dir := t.TempDir()
	files := append([]string{deployYAMLPath, filepath.Join(chartDir, "values.yaml"), filepath.Join(chartDir, "Chart.yaml")},
		valuesFiles...)
	invalid, _ := filepath.Glob("invalid/*.yaml")
	files = append(files, invalid...)
	greeter, _ := filepath.Glob(filepath.Join(greeterDir, "*.yaml"))
	if len(greeter) == 0 {
		t.Fatalf("no YAML files in %s", greeterDir)
	}
	files = append(files, greeter...)
	for i, r := range renders(t) { // 0: default values, then valuesFiles in order
		file := filepath.Join(dir, fmt.Sprintf("render-%d.yaml", i))
		if err := os.WriteFile(file, []byte(Stream(r.docs)), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, file)
	}
	cmd := exec.Command("yamllint", append([]string{"--strict", "-f", "parsable", "-c", ".yamllint"}, files...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("yamllint %s: %v\n%s", strings.Join(files, " "), err, out)
	}
}

// (c) Every object has a known apiVersion/kind and its kind's required fields, and the
// objects' references to each other resolve.
func TestObjectsAreComplete(t *testing.T) {
	for _, r := range renders(t) {
		watched := args(t, workload(r.objects))["watch-namespace"]
		for _, o := range r.objects {
			namespace := r.namespace
			// --watch-namespace: the Role and RoleBinding for the objects there.
			if (o["kind"] == "Role" || o["kind"] == "RoleBinding") && watched != "" && str(o, "metadata.namespace") == watched {
				namespace = watched
			}
			reportProblems(t, r.label, checkObject(o, namespace))
		}
		reportProblems(t, r.label, checkReferences(r.objects))
	}
	deployObjects := decodeFile(t, deployYAMLPath)
	for _, o := range deployObjects {
		reportProblems(t, deployYAMLPath, checkObject(o, deployYAMLRelease.Namespace))
	}
	reportProblems(t, deployYAMLPath, checkReferences(deployObjects))
	var greeter []object
	files, _ := filepath.Glob(filepath.Join(greeterDir, "*.yaml"))
	for _, file := range files {
		greeter = append(greeter, decodeFile(t, file)...)
	}
	for _, o := range greeter {
		reportProblems(t, greeterDir, checkObject(o, ""))
	}
	reportProblems(t, greeterDir, checkReferences(greeter))
	for _, want := range []string{"Deployment", "Service", "Ingress"} {
		if find(greeter, want, "") == nil {
			t.Errorf("%s: no %s", greeterDir, want)
		}
	}
	if ingress := find(greeter, "Ingress", ""); str(ingress, "spec.ingressClassName") != "grpc" {
		t.Errorf("%s: the Ingress's ingressClassName is %q, want grpc", greeterDir, str(ingress, "spec.ingressClassName"))
	}
	// The checks themselves catch a broken object.
	broken := object{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]interface{}{"name": "x"}}
	if len(checkObject(broken, "")) == 0 {
		t.Errorf("a Deployment without spec passed checkObject")
	}
}

// (d) manifests/deploy.yaml is exactly what `make deploy-yaml` generates from the chart.
func TestDeployYAMLMatchesChart(t *testing.T) {
	want, err := DeployYAML(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(deployYAMLPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) == want {
		return
	}
	wantFile := filepath.Join(t.TempDir(), "deploy.yaml")
	if err := os.WriteFile(wantFile, []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
	diff, _ := exec.Command("diff", "-u", "--label", "manifests/deploy.yaml", "--label", "chart render",
		deployYAMLPath, wantFile).CombinedOutput()
	t.Fatalf("manifests/deploy.yaml differs from the chart's default render; regenerate it with\n"+
		"  make deploy-yaml\n%s", diff)
}

// (f) Every flag the Deployment passes is one `grpc-ingress --help` lists, and the
// binary parses the whole argument list: a chart can't start pods that exit on a flag.
func TestArgsAreFlagsTheBinaryAccepts(t *testing.T) {
	binary := os.Getenv("GRPC_INGRESS_BINARY")
	if binary == "" {
		t.Fatal("GRPC_INGRESS_BINARY is not set (ctest sets it to build/grpc-ingress)")
	}
	help, err := exec.Command(binary, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --help: %v\n%s", binary, err, help)
	}
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+--([a-z0-9-]+)`).FindAllStringSubmatch(string(help), -1) {
		known[m[1]] = true
	}
	if !known["admin-port"] {
		t.Fatalf("%s --help lists no --admin-port; cannot read its flags from:\n%s", binary, help)
	}
	for _, r := range append(renders(t), rendering{label: deployYAMLPath, objects: decodeFile(t, deployYAMLPath)}) {
		var argv []string
		for _, a := range list(container(workload(r.objects)), "args") {
			text := fmt.Sprint(a)
			argv = append(argv, text)
			name, _, _ := strings.Cut(strings.TrimPrefix(text, "--"), "=")
			if !strings.HasPrefix(text, "--") || !known[name] {
				t.Errorf("%s: argument %q is not a flag `grpc-ingress --help` lists", r.label, text)
			}
		}
		// --help last: the binary parses every flag, then prints help and exits 0.
		if out, err := exec.Command(binary, append(argv, "--help")...).CombinedOutput(); err != nil {
			t.Errorf("%s: grpc-ingress rejects the Deployment's args %q: %v\n%s", r.label, argv, err, out)
		}
	}
	if out, err := exec.Command(binary, "--no-such-flag", "--help").CombinedOutput(); err == nil {
		t.Errorf("grpc-ingress accepted --no-such-flag, so this test proves nothing:\n%s", out)
	}
}

// parseDuration reads a duration as the binary's flags do: "250ms", "5s", "2m", "1h",
// "1m30s", or a bare number of seconds. Milliseconds.
func parseDuration(t *testing.T, text string) int {
	t.Helper()
	if n, err := strconv.Atoi(text); err == nil {
		return n * 1000
	}
	if !regexp.MustCompile(`^([0-9]+(ms|s|m|h))+$`).MatchString(text) {
		t.Fatalf("not a duration: %q", text)
	}
	total := 0
	for _, m := range regexp.MustCompile(`([0-9]+)(ms|s|m|h)`).FindAllStringSubmatch(text, -1) {
		n, _ := strconv.Atoi(m[1])
		total += n * map[string]int{"ms": 1, "s": 1000, "m": 60000, "h": 3600000}[m[2]]
	}
	return total
}

// (g) The kubelet's SIGKILL comes no sooner than the drain plus the grace the binary is
// told to take (its defaults, 5s and 25s, when the chart passes no flag).
func TestTerminationGraceCoversDrainAndGrace(t *testing.T) {
	for _, r := range append(renders(t), rendering{label: deployYAMLPath, objects: decodeFile(t, deployYAMLPath)}) {
		d := workload(r.objects)
		a := args(t, d)
		drain, grace := "5s", "25s"
		if v, ok := a["shutdown-drain"]; ok {
			drain = v
		}
		if v, ok := a["shutdown-grace"]; ok {
			grace = v
		}
		needMs := parseDuration(t, drain) + parseDuration(t, grace)
		period, ok := get(d, "spec.template.spec.terminationGracePeriodSeconds").(int)
		if !ok {
			t.Errorf("%s: no terminationGracePeriodSeconds", r.label)
			continue
		}
		if period*1000 < needMs {
			t.Errorf("%s: terminationGracePeriodSeconds %d < --shutdown-drain %s + --shutdown-grace %s",
				r.label, period, drain, grace)
		}
	}
}

// (h) The Service's load balancer settings and the client identity flags
// (docs/edge-access.md) render from their values, and only where the API server
// accepts them: externalTrafficPolicy on NodePort and LoadBalancer Services,
// loadBalancerClass and loadBalancerSourceRanges on LoadBalancer ones.
func TestServiceAndClientIdentityValues(t *testing.T) {
	identityFlags := []string{"use-proxy-protocol", "forwarded-for-header", "compute-full-forwarded-for",
		"proxy-real-ip-cidr"}
	serviceFields := []string{"externalTrafficPolicy", "loadBalancerClass", "loadBalancerSourceRanges"}
	trafficService := func(r rendering) object {
		for _, s := range findAll(r.objects, "Service") {
			if !strings.HasSuffix(str(s, "metadata.name"), "-metrics") {
				return s
			}
		}
		t.Fatalf("%s: no traffic Service", r.label)
		return nil
	}

	defaults := renderChart(t, "default values")
	da := args(t, find(defaults.objects, "Deployment", ""))
	for _, flag := range identityFlags {
		if _, ok := da[flag]; ok {
			t.Errorf("default values: --%s is passed, want the binary's default", flag)
		}
	}
	for _, field := range serviceFields {
		if v := get(trafficService(defaults), "spec."+field); v != nil {
			t.Errorf("default values: Service spec.%s is %v, want it unset", field, v)
		}
	}

	custom := renderChart(t, customValues, customValues)
	ca := args(t, find(custom.objects, "Deployment", ""))
	for flag, want := range map[string]string{"use-proxy-protocol": "", "compute-full-forwarded-for": "",
		"forwarded-for-header": "X-Original-Forwarded-For", "proxy-real-ip-cidr": "10.0.0.0/8,fd00::/8"} {
		if got, ok := ca[flag]; !ok || got != want {
			t.Errorf("%s: --%s=%q (passed: %v), want %q", customValues, flag, got, ok, want)
		}
	}
	cs := trafficService(custom)
	if got := str(cs, "spec.externalTrafficPolicy"); got != "Local" {
		t.Errorf("%s: Service externalTrafficPolicy %q, want Local", customValues, got)
	}
	if got := stringMap(cs, "metadata.annotations")["service.beta.kubernetes.io/aws-load-balancer-proxy-protocol"]; got != "*" {
		t.Errorf("%s: Service annotation aws-load-balancer-proxy-protocol %q, want \"*\"", customValues, got)
	}
	for _, field := range []string{"loadBalancerClass", "loadBalancerSourceRanges"} {
		if v := get(cs, "spec."+field); v != nil {
			t.Errorf("%s: NodePort Service has spec.%s %v, which the API server refuses", customValues, field, v)
		}
	}

	file := filepath.Join(t.TempDir(), "load-balancer.yaml")
	values := "service:\n  type: LoadBalancer\n  externalTrafficPolicy: Local\n  loadBalancerClass: service.k8s.aws/nlb\n" +
		"  loadBalancerSourceRanges: [203.0.113.0/24, 198.51.100.0/24]\nforwardedForHeader: x-forwarded-for\n"
	if err := os.WriteFile(file, []byte(values), 0o644); err != nil {
		t.Fatal(err)
	}
	lb := renderChart(t, "LoadBalancer values", file)
	ls := trafficService(lb)
	if got := str(ls, "spec.loadBalancerClass"); got != "service.k8s.aws/nlb" {
		t.Errorf("LoadBalancer values: loadBalancerClass %q, want service.k8s.aws/nlb", got)
	}
	if got := fmt.Sprint(list(ls, "spec.loadBalancerSourceRanges")); got != "[203.0.113.0/24 198.51.100.0/24]" {
		t.Errorf("LoadBalancer values: loadBalancerSourceRanges %s, want [203.0.113.0/24 198.51.100.0/24]", got)
	}
	if got := str(ls, "spec.externalTrafficPolicy"); got != "Local" {
		t.Errorf("LoadBalancer values: externalTrafficPolicy %q, want Local", got)
	}
	if _, ok := args(t, find(lb.objects, "Deployment", ""))["forwarded-for-header"]; ok {
		t.Errorf("LoadBalancer values: forwardedForHeader x-forwarded-for (the default, in any case) passes a flag")
	}
	reportProblems(t, "LoadBalancer values", checkObject(ls, lb.namespace))
}
