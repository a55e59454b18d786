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
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v2"
)

const (
	chartDir       = "../../charts/grpc-ingress"
	deployYAMLPath = "../../manifests/deploy.yaml"
	greeterDir     = "../../manifests/examples/greeter"
	customValues   = "values-custom.yaml"
	testNamespace  = "ingress-system"
)

// object is one decoded YAML document.
type object = map[string]interface{}

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

func renders(t *testing.T) []rendering {
	return []rendering{renderChart(t, "default values"), renderChart(t, customValues, customValues)}
}

func decode(t *testing.T, source, text string) object {
	t.Helper()
	var raw interface{}
	if err := yaml.Unmarshal([]byte(text), &raw); err != nil {
		t.Fatalf("%s: not YAML: %v\n%s", source, err, text)
	}
	converted, _ := jsonCompatible(raw)
	obj, ok := converted.(map[string]interface{})
	if !ok {
		t.Fatalf("%s: a document that is not an object:\n%s", source, text)
	}
	return obj
}

// decodeFile decodes every document of a multi-document YAML file.
func decodeFile(t *testing.T, file string) []object {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []object
	for _, doc := range documentSeparator.Split(strings.TrimSpace(string(data)), -1) {
		var probe interface{}
		if yaml.Unmarshal([]byte(doc), &probe) == nil && probe == nil {
			continue // only comments, like deploy.yaml's header
		}
		out = append(out, decode(t, file, doc))
	}
	return out
}

// get walks a dotted path of map keys; nil when any step is missing.
func get(v interface{}, path string) interface{} {
	for _, key := range strings.Split(path, ".") {
		m, ok := v.(map[string]interface{})
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

func str(v interface{}, path string) string {
	s, _ := get(v, path).(string)
	return s
}

func list(v interface{}, path string) []interface{} {
	l, _ := get(v, path).([]interface{})
	return l
}

func stringMap(v interface{}, path string) map[string]string {
	m, _ := get(v, path).(map[string]interface{})
	out := map[string]string{}
	for key, value := range m {
		out[key] = fmt.Sprint(value)
	}
	return out
}

func id(o object) string {
	return fmt.Sprintf("%s %s/%s", o["kind"], str(o, "metadata.namespace"), str(o, "metadata.name"))
}

func find(objects []object, kind, name string) object {
	for _, o := range objects {
		if o["kind"] == kind && (name == "" || str(o, "metadata.name") == name) {
			return o
		}
	}
	return nil
}

func findAll(objects []object, kind string) []object {
	var out []object
	for _, o := range objects {
		if o["kind"] == kind {
			out = append(out, o)
		}
	}
	return out
}

// The apiVersion/kind pairs the chart, deploy.yaml and the examples may contain, and
// whether the kind is namespaced. A new kind is added here deliberately.
var knownKinds = map[string]bool{
	"v1/Namespace":       false,
	"v1/ServiceAccount":  true,
	"v1/Service":         true,
	"apps/v1/Deployment": true,
	"rbac.authorization.k8s.io/v1/ClusterRole":        false,
	"rbac.authorization.k8s.io/v1/ClusterRoleBinding": false,
	"rbac.authorization.k8s.io/v1/Role":               true,
	"rbac.authorization.k8s.io/v1/RoleBinding":        true,
	"networking.k8s.io/v1/IngressClass":               false,
	"networking.k8s.io/v1/Ingress":                    true,
	"policy/v1/PodDisruptionBudget":                   true,
	"autoscaling/v2/HorizontalPodAutoscaler":          true,
	"monitoring.coreos.com/v1/ServiceMonitor":         true,
}

var dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// checkObject returns what is missing or wrong in one object, by the API's required
// fields for its kind. namespace is the namespace namespaced objects must carry ("":
// none required, as in the examples).
func checkObject(o object, namespace string) []string {
	var problems []string
	fail := func(format string, args ...interface{}) {
		problems = append(problems, id(o)+": "+fmt.Sprintf(format, args...))
	}
	apiVersion, kind := str(o, "apiVersion"), str(o, "kind")
	namespaced, known := knownKinds[apiVersion+"/"+kind]
	if !known {
		fail("unknown apiVersion/kind %q/%q", apiVersion, kind)
		return problems
	}
	if name := str(o, "metadata.name"); !dnsSubdomain.MatchString(name) || len(name) > 253 {
		fail("metadata.name %q is not a DNS subdomain", name)
	}
	switch ns := str(o, "metadata.namespace"); {
	case !namespaced && ns != "":
		fail("cluster-scoped, but has metadata.namespace %q", ns)
	case namespaced && namespace != "" && ns != namespace:
		fail("metadata.namespace %q, want the release namespace %q", ns, namespace)
	}
	nonEmpty := func(path string) {
		switch v := get(o, path).(type) {
		case nil:
			fail("no %s", path)
		case string:
			if v == "" {
				fail("empty %s", path)
			}
		case []interface{}:
			if len(v) == 0 {
				fail("empty %s", path)
			}
		case map[string]interface{}:
			if len(v) == 0 {
				fail("empty %s", path)
			}
		}
	}
	switch kind {
	case "Service":
		nonEmpty("spec.ports")
		nonEmpty("spec.selector")
		for i, port := range list(o, "spec.ports") {
			if _, ok := get(port, "port").(int); !ok {
				fail("spec.ports[%d].port is not a number", i)
			}
			if len(list(o, "spec.ports")) > 1 && str(port, "name") == "" {
				fail("spec.ports[%d] needs a name (the Service has several ports)", i)
			}
		}
	case "Deployment":
		nonEmpty("spec.selector.matchLabels")
		nonEmpty("spec.template.metadata.labels")
		nonEmpty("spec.template.spec.containers")
		podLabels := stringMap(o, "spec.template.metadata.labels")
		if !selects(stringMap(o, "spec.selector.matchLabels"), podLabels) {
			fail("spec.selector does not select the pod template's labels")
		}
		for i, c := range list(o, "spec.template.spec.containers") {
			if str(c, "name") == "" || str(c, "image") == "" {
				fail("spec.template.spec.containers[%d] needs a name and an image", i)
			}
		}
	case "ClusterRole", "Role":
		nonEmpty("rules")
		for i, rule := range list(o, "rules") {
			for _, field := range []string{"apiGroups", "resources", "verbs"} {
				if len(list(rule, field)) == 0 {
					fail("rules[%d].%s is empty", i, field)
				}
			}
		}
	case "ClusterRoleBinding", "RoleBinding":
		nonEmpty("roleRef.apiGroup")
		nonEmpty("roleRef.kind")
		nonEmpty("roleRef.name")
		nonEmpty("subjects")
		for i, s := range list(o, "subjects") {
			if str(s, "kind") == "" || str(s, "name") == "" {
				fail("subjects[%d] needs a kind and a name", i)
			}
			if str(s, "kind") == "ServiceAccount" && str(s, "namespace") == "" {
				fail("subjects[%d]: a ServiceAccount subject needs a namespace", i)
			}
		}
	case "IngressClass":
		nonEmpty("spec.controller")
	case "Ingress":
		if get(o, "spec.rules") == nil && get(o, "spec.defaultBackend") == nil {
			fail("neither spec.rules nor spec.defaultBackend")
		}
		for _, rule := range list(o, "spec.rules") {
			for i, p := range list(rule, "http.paths") {
				switch str(p, "pathType") {
				case "Exact", "Prefix", "ImplementationSpecific":
				default:
					fail("paths[%d].pathType %q", i, str(p, "pathType"))
				}
				if str(p, "backend.service.name") == "" ||
					(get(p, "backend.service.port.number") == nil && str(p, "backend.service.port.name") == "") {
					fail("paths[%d] needs backend.service.name and a port number or name", i)
				}
			}
		}
	case "PodDisruptionBudget":
		nonEmpty("spec.selector.matchLabels")
		if get(o, "spec.minAvailable") == nil && get(o, "spec.maxUnavailable") == nil {
			fail("neither spec.minAvailable nor spec.maxUnavailable")
		}
	case "HorizontalPodAutoscaler":
		nonEmpty("spec.scaleTargetRef.apiVersion")
		nonEmpty("spec.scaleTargetRef.kind")
		nonEmpty("spec.scaleTargetRef.name")
		if _, ok := get(o, "spec.maxReplicas").(int); !ok {
			fail("spec.maxReplicas is not a number")
		}
	case "ServiceMonitor":
		nonEmpty("spec.selector.matchLabels")
		nonEmpty("spec.endpoints")
		for i, e := range list(o, "spec.endpoints") {
			if str(e, "port") == "" {
				fail("spec.endpoints[%d] needs a port name", i)
			}
		}
	}
	return problems
}

// selects: every selector label is on the object (an empty selector selects nothing here).
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for key, value := range selector {
		if labels[key] != value {
			return false
		}
	}
	return true
}

func container(deployment object) interface{} {
	containers := list(deployment, "spec.template.spec.containers")
	if len(containers) == 0 {
		return nil
	}
	return containers[0]
}

func containerPortNames(deployment object) map[string]bool {
	names := map[string]bool{}
	for _, c := range list(deployment, "spec.template.spec.containers") {
		for _, p := range list(c, "ports") {
			names[str(p, "name")] = true
		}
	}
	return names
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

// checkReferences returns every reference between the objects that points nowhere:
// selectors that miss the pods, port names that no container or Service has, roles,
// accounts and scale targets that are not there.
func checkReferences(objects []object) []string {
	var problems []string
	fail := func(o object, format string, args ...interface{}) {
		problems = append(problems, id(o)+": "+fmt.Sprintf(format, args...))
	}
	deployments := findAll(objects, "Deployment")
	podsSelectedBy := func(selector map[string]string) object {
		for _, d := range deployments {
			if selects(selector, stringMap(d, "spec.template.metadata.labels")) {
				return d
			}
		}
		return nil
	}
	for _, o := range objects {
		switch o["kind"] {
		case "Service":
			d := podsSelectedBy(stringMap(o, "spec.selector"))
			if d == nil {
				fail(o, "spec.selector matches no Deployment's pods")
				break
			}
			for _, p := range list(o, "spec.ports") {
				if name, ok := get(p, "targetPort").(string); ok && !containerPortNames(d)[name] {
					fail(o, "targetPort %q is not a container port of %s", name, id(d))
				}
			}
		case "Deployment":
			ports := containerPortNames(o)
			for _, probe := range []string{"readinessProbe", "livenessProbe"} {
				if name, ok := get(container(o), probe+".httpGet.port").(string); ok && !ports[name] {
					fail(o, "%s port %q is not a container port", probe, name)
				}
			}
			if account := str(o, "spec.template.spec.serviceAccountName"); account != "" &&
				find(objects, "ServiceAccount", account) == nil {
				fail(o, "serviceAccountName %q: no such ServiceAccount here", account)
			}
			for _, term := range list(o, "spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution") {
				if podsSelectedBy(stringMap(term, "podAffinityTerm.labelSelector.matchLabels")) == nil {
					fail(o, "pod anti-affinity selector misses the pods")
				}
			}
			for _, c := range list(o, "spec.template.spec.topologySpreadConstraints") {
				if podsSelectedBy(stringMap(c, "labelSelector.matchLabels")) == nil {
					fail(o, "topology spread selector misses the pods")
				}
			}
		case "PodDisruptionBudget":
			if podsSelectedBy(stringMap(o, "spec.selector.matchLabels")) == nil {
				fail(o, "selector matches no Deployment's pods")
			}
		case "ClusterRoleBinding", "RoleBinding":
			if find(objects, str(o, "roleRef.kind"), str(o, "roleRef.name")) == nil {
				fail(o, "roleRef %s %q is not here", str(o, "roleRef.kind"), str(o, "roleRef.name"))
			}
			for _, s := range list(o, "subjects") {
				if str(s, "kind") == "ServiceAccount" && find(objects, "ServiceAccount", str(s, "name")) == nil {
					fail(o, "subject ServiceAccount %q is not here", str(s, "name"))
				}
			}
		case "HorizontalPodAutoscaler":
			target := find(objects, str(o, "spec.scaleTargetRef.kind"), str(o, "spec.scaleTargetRef.name"))
			if target == nil {
				fail(o, "scaleTargetRef is not here")
			} else if get(target, "spec.replicas") != nil {
				fail(target, "sets spec.replicas, which fights the HorizontalPodAutoscaler on every upgrade")
			}
		case "ServiceMonitor":
			found := false
			for _, svc := range findAll(objects, "Service") {
				if !selects(stringMap(o, "spec.selector.matchLabels"), stringMap(svc, "metadata.labels")) {
					continue
				}
				for _, p := range list(svc, "spec.ports") {
					if str(p, "name") == str(list(o, "spec.endpoints")[0], "port") {
						found = true
					}
				}
			}
			if !found {
				fail(o, "no selected Service has the endpoint's port name")
			}
		case "Ingress":
			for _, rule := range list(o, "spec.rules") {
				for _, p := range list(rule, "http.paths") {
					svc := find(objects, "Service", str(p, "backend.service.name"))
					if svc == nil {
						fail(o, "backend Service %q is not here", str(p, "backend.service.name"))
						continue
					}
					if name := str(p, "backend.service.port.name"); name != "" {
						found := false
						for _, sp := range list(svc, "spec.ports") {
							found = found || str(sp, "name") == name
						}
						if !found {
							fail(o, "backend port %q is not a port of %s", name, id(svc))
						}
					}
				}
			}
		}
	}
	return problems
}

func reportProblems(t *testing.T, label string, problems []string) {
	t.Helper()
	for _, p := range problems {
		t.Errorf("%s: %s", label, p)
	}
}

// (a) The chart renders with its defaults and with values that switch every optional
// part on and move every port; the optional objects appear exactly when asked for.
func TestRendersWithDefaultAndCustomValues(t *testing.T) {
	defaults, custom := renderChart(t, "default values"), renderChart(t, customValues, customValues)
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
}

// Values the binary would reject at start are rejected at render time instead.
func TestRejectsBadDuration(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(file, []byte("shutdownGrace: 25 seconds\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := Render(chartDir, Release{Name: "x", Namespace: "x", Service: "Helm"}, []string{file})
	if err == nil || !strings.Contains(err.Error(), "not a duration") {
		t.Fatalf("shutdownGrace '25 seconds' rendered; want a 'not a duration' failure, got %v", err)
	}
}

// (b) yamllint (tests/chart/.yamllint) is clean on both renders, deploy.yaml, the
// values files and the greeter example.
func TestYamllintIsClean(t *testing.T) {
	dir := t.TempDir()
	files := []string{deployYAMLPath, filepath.Join(chartDir, "values.yaml"), filepath.Join(chartDir, "Chart.yaml"), customValues}
	greeter, _ := filepath.Glob(filepath.Join(greeterDir, "*.yaml"))
	if len(greeter) == 0 {
		t.Fatalf("no YAML files in %s", greeterDir)
	}
	files = append(files, greeter...)
	for i, r := range renders(t) { // 0: default values, 1: values-custom.yaml
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
		for _, o := range r.objects {
			reportProblems(t, r.label, checkObject(o, r.namespace))
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

type rule struct{ apiGroup, resource, verb string }

func rules(o object) []rule {
	var out []rule
	for _, r := range list(o, "rules") {
		for _, g := range list(r, "apiGroups") {
			for _, res := range list(r, "resources") {
				for _, v := range list(r, "verbs") {
					out = append(out, rule{fmt.Sprint(g), fmt.Sprint(res), fmt.Sprint(v)})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return fmt.Sprint(out[i]) < fmt.Sprint(out[j])
	})
	return out
}

// subtract returns the rules of a that are not in b, as "group/resource verb".
func subtract(a, b []rule) []string {
	in := map[rule]bool{}
	for _, r := range b {
		in[r] = true
	}
	var out []string
	for _, r := range a {
		if !in[r] {
			out = append(out, fmt.Sprintf("%s/%s %s", r.apiGroup, r.resource, r.verb))
		}
	}
	return out
}

func expand(groups []string, resources []string, verbs ...string) []rule {
	var out []rule
	for _, g := range groups {
		for _, r := range resources {
			for _, v := range verbs {
				out = append(out, rule{g, r, v})
			}
		}
	}
	return out
}

// (e) The RBAC rules are exactly the requests the controller makes: its sources list and
// then watch (and get single objects of) what routing reads, the leader updates
// ingresses/status with the --publish-service address, rejections are reported as
// events (core and events.k8s.io), and leader election reads, creates and renews one
// Lease in the controller's namespace. A new request needs a new line here.
func TestRBACIsExactlyWhatTheControllerRequests(t *testing.T) {
	var clusterWant []rule
	clusterWant = append(clusterWant, expand([]string{"networking.k8s.io"}, []string{"ingresses", "ingressclasses"}, "get", "list", "watch")...)
	clusterWant = append(clusterWant, expand([]string{""}, []string{"services", "secrets"}, "get", "list", "watch")...)
	clusterWant = append(clusterWant, expand([]string{"discovery.k8s.io"}, []string{"endpointslices"}, "get", "list", "watch")...)
	clusterWant = append(clusterWant, expand([]string{"networking.k8s.io"}, []string{"ingresses/status"}, "update")...)
	clusterWant = append(clusterWant, expand([]string{"", "events.k8s.io"}, []string{"events"}, "create", "patch")...)
	roleWant := expand([]string{"coordination.k8s.io"}, []string{"leases"}, "get", "create", "update")
	sortRules := func(r []rule) []rule {
		sort.Slice(r, func(i, j int) bool { return fmt.Sprint(r[i]) < fmt.Sprint(r[j]) })
		return r
	}
	clusterWant, roleWant = sortRules(clusterWant), sortRules(roleWant)
	sets := []struct {
		label   string
		objects []object
	}{{deployYAMLPath, decodeFile(t, deployYAMLPath)}}
	for _, r := range renders(t) {
		sets = append(sets, struct {
			label   string
			objects []object
		}{r.label, r.objects})
	}
	for _, s := range sets {
		for kind, want := range map[string][]rule{"ClusterRole": clusterWant, "Role": roleWant} {
			roles := findAll(s.objects, kind)
			if len(roles) != 1 {
				t.Errorf("%s: %d %s objects, want 1", s.label, len(roles), kind)
				continue
			}
			if got := rules(roles[0]); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %s rules differ from the controller's requests\n  granted, not requested: %v\n  requested, not granted: %v",
					s.label, kind, subtract(got, want), subtract(want, got))
			}
		}
	}
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
		for _, a := range list(container(find(r.objects, "Deployment", "")), "args") {
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
// or a bare number of seconds. Milliseconds.
func parseDuration(t *testing.T, text string) int {
	t.Helper()
	m := regexp.MustCompile(`^([0-9]+)(ms|s|m|h|)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("not a duration: %q", text)
	}
	n, _ := strconv.Atoi(m[1])
	return n * map[string]int{"": 1000, "ms": 1, "s": 1000, "m": 60000, "h": 3600000}[m[2]]
}

// (g) The kubelet's SIGKILL comes no sooner than the drain plus the grace the binary is
// told to take (its defaults, 5s and 25s, when the chart passes no flag).
func TestTerminationGraceCoversDrainAndGrace(t *testing.T) {
	for _, r := range append(renders(t), rendering{label: deployYAMLPath, objects: decodeFile(t, deployYAMLPath)}) {
		d := find(r.objects, "Deployment", "")
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
