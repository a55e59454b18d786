// What a Kubernetes object needs, for chart_test.go: decoding YAML documents, the
// required fields of each kind the chart may render, and the references between
// objects (selectors, port names, roles, accounts, scale targets) that must resolve.
package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v2"
)

// object is one decoded YAML document.
type object = map[string]interface{}

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
	"v1/Namespace":                                    false,
	"v1/ServiceAccount":                               true,
	"v1/Service":                                      true,
	"apps/v1/Deployment":                              true,
	"apps/v1/DaemonSet":                               true,
	"v1/ConfigMap":                                    true,
	"networking.k8s.io/v1/NetworkPolicy":              true,
	"monitoring.coreos.com/v1/PrometheusRule":         true,
	"rbac.authorization.k8s.io/v1/ClusterRole":        false,
	"rbac.authorization.k8s.io/v1/ClusterRoleBinding": false,
	"rbac.authorization.k8s.io/v1/Role":               true,
	"rbac.authorization.k8s.io/v1/RoleBinding":        true,
	"networking.k8s.io/v1/IngressClass":               false,
	"gateway.networking.k8s.io/v1/GatewayClass":       false,
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
	case "Deployment", "DaemonSet":
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
	case "GatewayClass":
		nonEmpty("spec.controllerName")
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
	case "NetworkPolicy":
		nonEmpty("spec.podSelector.matchLabels")
		nonEmpty("spec.policyTypes")
	case "PrometheusRule":
		nonEmpty("spec.groups")
		for i, g := range list(o, "spec.groups") {
			if str(g, "name") == "" || len(list(g, "rules")) == 0 {
				fail("spec.groups[%d] needs a name and rules", i)
			}
		}
	case "ConfigMap":
		nonEmpty("data")
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

// workload is the controller's Deployment or DaemonSet.
func workload(objects []object) object {
	if d := find(objects, "Deployment", ""); d != nil {
		return d
	}
	return find(objects, "DaemonSet", "")
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

// checkReferences returns every reference between the objects that points nowhere:
// selectors that miss the pods, port names that no container or Service has, roles,
// accounts and scale targets that are not there.
func checkReferences(objects []object) []string {
	var problems []string
	fail := func(o object, format string, args ...interface{}) {
		problems = append(problems, id(o)+": "+fmt.Sprintf(format, args...))
	}
	deployments := append(findAll(objects, "Deployment"), findAll(objects, "DaemonSet")...)
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
		case "NetworkPolicy":
			d := podsSelectedBy(stringMap(o, "spec.podSelector.matchLabels"))
			if d == nil {
				fail(o, "podSelector matches no controller pods")
				break
			}
			for _, rule := range list(o, "spec.ingress") {
				for _, p := range list(rule, "ports") {
					if name, ok := get(p, "port").(string); ok && !containerPortNames(d)[name] {
						fail(o, "ingress port %q is not a container port of %s", name, id(d))
					}
				}
			}
		case "Deployment", "DaemonSet":
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
