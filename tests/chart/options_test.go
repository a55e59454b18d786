// The chart's options, one behaviour each: image reference, leader-election Lease per
// release, securityContext, PodDisruptionBudget, DaemonSet/hostNetwork, pod extras,
// NetworkPolicy and the drain defaults, checked on the rendered objects.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// includeSeconds runs the chart's duration helper on text.
func includeSeconds(t *testing.T, text string) (string, error) {
	t.Helper()
	return Include(chartDir, "grpc-ingress.seconds", text)
}

// valuesFile writes values text to a file of the test's temporary directory.
func valuesFile(t *testing.T, name, text string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func renderRelease(t *testing.T, release string, valueFiles ...string) []object {
	t.Helper()
	docs, _, err := Render(chartDir, Release{Name: release, Namespace: testNamespace, Service: "Helm"}, valueFiles)
	if err != nil {
		t.Fatalf("release %s: %v", release, err)
	}
	var out []object
	for _, doc := range docs {
		out = append(out, decode(t, doc.Source, doc.Content))
	}
	return out
}

// The image is repository:tag with the appVersion as the default tag, and
// repository@digest when a digest is given, whatever the tag.
func TestImageReference(t *testing.T) {
	for _, c := range []struct{ label, values, want string }{
		{"default values", "", "ghcr.io/grpc-ingress/grpc-ingress:0.1.0"},
		{"a tag", "image: {tag: \"0.2.0-rc1\"}\n", "ghcr.io/grpc-ingress/grpc-ingress:0.2.0-rc1"},
		{singleReplica, "", "r.example:5000/ingress@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		{customValues, "", "registry.example.com/grpc-ingress:0.1.0-rc1"},
	} {
		files := []string{}
		if strings.HasSuffix(c.label, ".yaml") {
			files = append(files, c.label)
		} else if c.values != "" {
			files = append(files, valuesFile(t, "image.yaml", c.values))
		}
		got := str(container(workload(renderRelease(t, "grpc-ingress", files...))), "image")
		if got != c.want {
			t.Errorf("%s: image %q, want %q", c.label, got, c.want)
		}
	}
	if deploy := str(container(workload(decodeFile(t, deployYAMLPath))), "image"); deploy != "ghcr.io/grpc-ingress/grpc-ingress:0.1.0" {
		t.Errorf("%s: image %q", deployYAMLPath, deploy)
	}
}

// Two releases in one namespace hold two different Leases; electionId overrides.
func TestElectionIdDiffersPerRelease(t *testing.T) {
	ids := map[string]bool{}
	for _, release := range []string{"edge-a", "edge-b", "grpc-ingress"} {
		id := args(t, workload(renderRelease(t, release)))["election-id"]
		if id == "" || ids[id] {
			t.Errorf("release %s: --election-id=%q is empty or another release's", release, id)
		}
		ids[id] = true
	}
	if !ids["grpc-ingress-leader"] {
		t.Errorf("release grpc-ingress: want the binary's default Lease name grpc-ingress-leader, got %v", ids)
	}
	if got := args(t, workload(renderRelease(t, "x", daemonSetValues)))["election-id"]; got != "edge-leader" {
		t.Errorf("%s: --election-id=%q, want edge-leader", daemonSetValues, got)
	}
}

// Defaults: non-root, read-only root, no capabilities, no privilege escalation, seccomp
// RuntimeDefault, and no fixed user (OpenShift's restricted SCC assigns one); values
// replace either securityContext.
func TestSecurityContext(t *testing.T) {
	d := workload(renderRelease(t, "grpc-ingress"))
	pod := get(d, "spec.template.spec.securityContext")
	want := map[string]interface{}{"runAsNonRoot": true, "seccompProfile": map[string]interface{}{"type": "RuntimeDefault"}}
	if !reflect.DeepEqual(pod, want) {
		t.Errorf("default pod securityContext %v, want %v (no runAsUser)", pod, want)
	}
	c := get(container(d), "securityContext")
	wantC := map[string]interface{}{"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
		"capabilities": map[string]interface{}{"drop": []interface{}{"ALL"}}}
	if !reflect.DeepEqual(c, wantC) {
		t.Errorf("default container securityContext %v, want %v", c, wantC)
	}
	ds := workload(renderRelease(t, "grpc-ingress", daemonSetValues))
	if get(ds, "spec.template.spec.securityContext.runAsUser") != 10001 || get(ds, "spec.template.spec.securityContext.fsGroup") != 10001 {
		t.Errorf("%s: pod securityContext %v, want runAsUser and fsGroup 10001", daemonSetValues, get(ds, "spec.template.spec.securityContext"))
	}
}

// A PodDisruptionBudget only where it cannot block a node drain: a Deployment whose
// fewest replicas (replicaCount, or autoscaling.minReplicas) are at least 2.
func TestPodDisruptionBudgetOnlyWithTwoReplicas(t *testing.T) {
	for _, c := range []struct {
		label string
		files []string
		want  bool
	}{
		{"default values (2 replicas)", nil, true},
		{singleReplica, []string{singleReplica}, false},
		{customValues + " (autoscaling from 3)", []string{customValues}, true},
		{monitoringValues + " (autoscaling from 1)", []string{monitoringValues}, false},
		{daemonSetValues, []string{daemonSetValues}, false},
		{"autoscaling from 2 over replicaCount 1", []string{valuesFile(t, "hpa.yaml",
			"replicaCount: 1\nautoscaling: {enabled: true, minReplicas: 2}\n")}, true},
	} {
		objects := renderRelease(t, "grpc-ingress", c.files...)
		pdb := find(objects, "PodDisruptionBudget", "")
		if (pdb != nil) != c.want {
			t.Errorf("%s: PodDisruptionBudget rendered %v, want %v", c.label, pdb != nil, c.want)
		}
		if pdb != nil && get(pdb, "spec.minAvailable") != 1 && c.label != customValues+" (autoscaling from 3)" {
			t.Errorf("%s: minAvailable %v", c.label, get(pdb, "spec.minAvailable"))
		}
	}
}

// A minAvailable that leaves no pod to evict would hang node drains: refused at render.
func TestPodDisruptionBudgetMustLeaveAPodToEvict(t *testing.T) {
	file := valuesFile(t, "pdb.yaml", "replicaCount: 2\npodDisruptionBudget: {minAvailable: 2}\n")
	_, _, err := Render(chartDir, Release{Name: "x", Namespace: "x", Service: "Helm"}, []string{file})
	if err == nil || !strings.Contains(err.Error(), "podDisruptionBudget.minAvailable 2 with 2 replicas leaves no pod to evict") {
		t.Errorf("minAvailable 2 of 2 replicas: %v, want a render failure that says why", err)
	}
	percent := valuesFile(t, "pdb-percent.yaml", "replicaCount: 3\npodDisruptionBudget: {minAvailable: \"50%\"}\n")
	if pdb := find(renderRelease(t, "x", percent), "PodDisruptionBudget", ""); pdb == nil || get(pdb, "spec.minAvailable") != "50%" {
		t.Errorf("minAvailable 50%%: PodDisruptionBudget %v", pdb)
	}
}

// kind: DaemonSet with hostNetwork: one pod per node on the node's ports, DNS that still
// resolves cluster names, a one-node-at-a-time update, no replicas, HPA, anti-affinity or
// spread; priorityClassName, extra env, volumes, mounts and labels reach the pod.
func TestDaemonSetHostNetworkAndPodExtras(t *testing.T) {
	objects := renderRelease(t, "grpc-ingress", daemonSetValues)
	if find(objects, "Deployment", "") != nil || find(objects, "HorizontalPodAutoscaler", "") != nil {
		t.Errorf("%s: a Deployment or an HPA is rendered beside the DaemonSet", daemonSetValues)
	}
	ds := find(objects, "DaemonSet", "")
	if ds == nil {
		t.Fatalf("%s: no DaemonSet", daemonSetValues)
	}
	spec := get(ds, "spec.template.spec")
	for path, want := range map[string]interface{}{
		"hostNetwork": true, "dnsPolicy": "ClusterFirstWithHostNet", "priorityClassName": "system-cluster-critical",
	} {
		if got := get(spec, path); got != want {
			t.Errorf("%s: pod %s = %v, want %v", daemonSetValues, path, got, want)
		}
	}
	for path, want := range map[string]interface{}{
		"spec.updateStrategy.rollingUpdate.maxUnavailable": 1, "spec.updateStrategy.rollingUpdate.maxSurge": 0,
	} {
		if got := get(ds, path); got != want {
			t.Errorf("%s: %s = %v, want %v (the node's ports are held by the old pod)", daemonSetValues, path, got, want)
		}
	}
	for _, absent := range []string{"spec.replicas", "spec.strategy", "spec.template.spec.affinity", "spec.template.spec.topologySpreadConstraints"} {
		if get(ds, absent) != nil {
			t.Errorf("%s: DaemonSet has %s", daemonSetValues, absent)
		}
	}
	env := map[string]bool{}
	for _, e := range list(container(ds), "env") {
		env[str(e, "name")] = true
	}
	for _, name := range []string{"POD_NAME", "POD_NAMESPACE", "TZ", "NODE_NAME"} {
		if !env[name] {
			t.Errorf("%s: container env has no %s: %v", daemonSetValues, name, env)
		}
	}
	if v := list(spec, "volumes"); len(v) != 1 || str(v[0], "secret.secretName") != "edge-default-cert" {
		t.Errorf("%s: pod volumes %v", daemonSetValues, v)
	}
	if m := list(container(ds), "volumeMounts"); len(m) != 1 || str(m[0], "mountPath") != "/etc/grpc-ingress/default-cert" {
		t.Errorf("%s: volumeMounts %v", daemonSetValues, m)
	}
	podLabels := stringMap(ds, "spec.template.metadata.labels")
	if podLabels["example.com/tier"] != "edge" || podLabels["example.com/team"] != "platform" {
		t.Errorf("%s: pod labels %v lack podLabels and commonLabels", daemonSetValues, podLabels)
	}
	if stringMap(ds, "spec.template.metadata.annotations")["example.com/owner"] != "platform" {
		t.Errorf("%s: pod annotations %v", daemonSetValues, get(ds, "spec.template.metadata.annotations"))
	}
	for _, o := range objects {
		if stringMap(o, "metadata.labels")["example.com/team"] != "platform" {
			t.Errorf("%s: %s lacks the commonLabels", daemonSetValues, id(o))
		}
	}
	if selector := stringMap(ds, "spec.selector.matchLabels"); selector["example.com/tier"] != "" || selector["example.com/team"] != "" {
		t.Errorf("%s: extra labels reached the immutable selector %v", daemonSetValues, selector)
	}
	// Without hostNetwork a node's new pod is ready before the old one stops.
	plain := find(renderRelease(t, "grpc-ingress", valuesFile(t, "ds.yaml", "kind: DaemonSet\n")), "DaemonSet", "")
	if get(plain, "spec.updateStrategy.rollingUpdate.maxSurge") != 1 || get(plain, "spec.template.spec.hostNetwork") != nil ||
		get(plain, "spec.template.spec.dnsPolicy") != nil {
		t.Errorf("kind DaemonSet without hostNetwork: %v", get(plain, "spec"))
	}
}

// The default drain outlasts a cloud load balancer's deregistration of a pod IP target
// (tens of seconds), and the kubelet waits for drain and grace before SIGKILL.
func TestDrainDefaultsSuitCloudLoadBalancers(t *testing.T) {
	d := workload(renderRelease(t, "grpc-ingress"))
	a := args(t, d)
	drain, grace := parseDuration(t, a["shutdown-drain"]), parseDuration(t, a["shutdown-grace"])
	if drain < 30000 || drain > 60000 {
		t.Errorf("default --shutdown-drain=%s; want 30-60 s, the time a pod-IP target takes to leave a cloud load balancer",
			a["shutdown-drain"])
	}
	period, _ := get(d, "spec.template.spec.terminationGracePeriodSeconds").(int)
	if period*1000 <= drain+grace {
		t.Errorf("terminationGracePeriodSeconds %d does not exceed drain %s + grace %s", period, a["shutdown-drain"], a["shutdown-grace"])
	}
	ds := workload(renderRelease(t, "grpc-ingress", daemonSetValues))
	if got := get(ds, "spec.template.spec.terminationGracePeriodSeconds"); got != 90+25+5 {
		t.Errorf("%s: drain 1m30s gives terminationGracePeriodSeconds %v, want 120", daemonSetValues, got)
	}
}

// NetworkPolicy: traffic ports from anywhere, the admin port from the configured peers
// only (the release namespace's pods by default), egress to the API server, DNS and pods.
func TestNetworkPolicy(t *testing.T) {
	if find(renderRelease(t, "grpc-ingress"), "NetworkPolicy", "") != nil {
		t.Errorf("default values: a NetworkPolicy is rendered")
	}
	np := find(renderRelease(t, "grpc-ingress", monitoringValues), "NetworkPolicy", "")
	if np == nil {
		t.Fatalf("%s: no NetworkPolicy", monitoringValues)
	}
	if got := fmt.Sprint(list(np, "spec.policyTypes")); got != "[Ingress Egress]" {
		t.Errorf("policyTypes %s", got)
	}
	ports := func(rule interface{}) string {
		var out []string
		for _, p := range list(rule, "ports") {
			out = append(out, fmt.Sprintf("%v/%v", get(p, "port"), get(p, "protocol")))
		}
		return strings.Join(out, ",")
	}
	ingress := list(np, "spec.ingress")
	if len(ingress) != 2 {
		t.Fatalf("%d ingress rules, want traffic and admin", len(ingress))
	}
	if ports(ingress[0]) != "http/TCP,https/TCP" || get(ingress[0], "from") != nil {
		t.Errorf("traffic rule %v: want http and https from anywhere", ingress[0])
	}
	from := list(ingress[1], "from")
	if ports(ingress[1]) != "admin/TCP" || len(from) != 1 ||
		stringMap(from[0], "namespaceSelector.matchLabels")["kubernetes.io/metadata.name"] != "monitoring" {
		t.Errorf("admin rule %v: want the admin port from namespace monitoring only", ingress[1])
	}
	egress := list(np, "spec.egress")
	if len(egress) != 3 || ports(egress[0]) != "6443/TCP" || str(list(egress[0], "to")[0], "ipBlock.cidr") != "172.18.0.2/32" ||
		ports(egress[1]) != "53/UDP,53/TCP" || ports(egress[2]) != "" || len(list(egress[2], "to")) != 1 {
		t.Errorf("egress %v: want the API server 172.18.0.2/32:6443, DNS, and pods", egress)
	}
	def := find(renderRelease(t, "grpc-ingress", valuesFile(t, "np.yaml", "networkPolicy: {enabled: true}\n")), "NetworkPolicy", "")
	adminFrom := list(list(def, "spec.ingress")[1], "from")
	if len(adminFrom) != 1 || !reflect.DeepEqual(get(adminFrom[0], "podSelector"), map[string]interface{}{}) {
		t.Errorf("default adminFrom %v, want the release namespace's pods", adminFrom)
	}
	if e := list(def, "spec.egress"); ports(e[0]) != "443/TCP,6443/TCP" || get(e[0], "to") != nil {
		t.Errorf("default API server egress %v, want ports 443 and 6443 to any address", e[0])
	}
}
