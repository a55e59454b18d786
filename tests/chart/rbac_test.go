// (e) RBAC: what the chart grants, by scope, against the requests the controller makes.
package main

import (
	"fmt"
	"reflect"
	"sort"
	"testing"
)

// grant is one permission: verb on group/resource in a namespace ("*": every namespace
// and cluster-scoped objects, from a ClusterRole bound by a ClusterRoleBinding).
type grant struct{ scope, apiGroup, resource, verb string }

func (g grant) String() string {
	return fmt.Sprintf("%s %s/%s in %s", g.verb, g.apiGroup, g.resource, g.scope)
}

// granted is every permission the objects give the controller's ServiceAccount: rules of
// a ClusterRole through a ClusterRoleBinding apply everywhere, of a Role through a
// RoleBinding in the Role's namespace.
func granted(objects []object, account, namespace string) map[grant]bool {
	out := map[grant]bool{}
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		for _, b := range findAll(objects, kind) {
			bound := false
			for _, s := range list(b, "subjects") {
				bound = bound || (str(s, "kind") == "ServiceAccount" && str(s, "name") == account && str(s, "namespace") == namespace)
			}
			if !bound {
				continue
			}
			scope := "*"
			if kind == "RoleBinding" {
				scope = str(b, "metadata.namespace")
			}
			role := find(objects, str(b, "roleRef.kind"), str(b, "roleRef.name"))
			if role != nil && role["kind"] == "Role" && str(role, "metadata.namespace") != scope {
				role = nil // a RoleBinding refers to a Role of its own namespace
			}
			for _, r := range list(role, "rules") {
				for _, g := range list(r, "apiGroups") {
					for _, res := range list(r, "resources") {
						for _, v := range list(r, "verbs") {
							out[grant{scope, fmt.Sprint(g), fmt.Sprint(res), fmt.Sprint(v)}] = true
						}
					}
				}
			}
		}
	}
	return out
}

func add(set map[grant]bool, scope, group string, resources []string, verbs ...string) {
	for _, r := range resources {
		for _, v := range verbs {
			set[grant{scope, group, r, v}] = true
		}
	}
}

// requested is what the controller asks the API server for, read from its code:
//   - informers (controller/kube_informer.cc) list and watch each kind: in the watched
//     namespace with --watch-namespace (everywhere without), IngressClasses, Namespaces
//     and GatewayClasses cluster-wide; Namespaces and the Gateway API kinds only unless
//     --gateway-api=off (controller/kube_source.cc);
//   - the status writer (controller/status_writer.cc) watches the --publish-service
//     Service in its namespace (the release's), and gets an Ingress, Gateway,
//     GatewayClass, GRPCRoute or HTTPRoute, then updates (PUT) its status;
//   - the event recorder (controller/event_recorder.cc) creates (POST) core Events in a
//     rejected Ingress's namespace;
//   - leader election (controller/leader_election.cc) gets, creates and updates one Lease
//     in the pod's namespace.
//
// A new request in the code needs a new line here.
func requested(watchNamespace, releaseNamespace string, gatewayAPI bool) map[grant]bool {
	routing := "*"
	if watchNamespace != "" {
		routing = watchNamespace
	}
	want := map[grant]bool{}
	add(want, routing, "networking.k8s.io", []string{"ingresses"}, "get", "list", "watch")
	add(want, routing, "", []string{"services", "secrets"}, "list", "watch")
	add(want, routing, "discovery.k8s.io", []string{"endpointslices"}, "list", "watch")
	add(want, routing, "networking.k8s.io", []string{"ingresses/status"}, "update")
	add(want, routing, "", []string{"events"}, "create")
	add(want, "*", "networking.k8s.io", []string{"ingressclasses"}, "list", "watch")
	if gatewayAPI {
		add(want, routing, "gateway.networking.k8s.io", []string{"gateways", "grpcroutes", "httproutes"}, "get", "list", "watch")
		add(want, routing, "gateway.networking.k8s.io", []string{"referencegrants"}, "list", "watch")
		add(want, routing, "gateway.networking.k8s.io", []string{"gateways/status", "grpcroutes/status", "httproutes/status"}, "update")
		add(want, "*", "gateway.networking.k8s.io", []string{"gatewayclasses"}, "get", "list", "watch")
		add(want, "*", "gateway.networking.k8s.io", []string{"gatewayclasses/status"}, "update")
		add(want, "*", "", []string{"namespaces"}, "list", "watch")
	}
	add(want, releaseNamespace, "", []string{"services"}, "list", "watch")
	add(want, releaseNamespace, "coordination.k8s.io", []string{"leases"}, "get", "create", "update")
	return want
}

// withoutCovered drops namespaced permissions that an everywhere ("*") one already gives.
func withoutCovered(set map[grant]bool) []string {
	var out []string
	for g := range set {
		if g.scope != "*" && set[grant{"*", g.apiGroup, g.resource, g.verb}] {
			continue
		}
		out = append(out, g.String())
	}
	sort.Strings(out)
	return out
}

func difference(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

// The permissions granted are exactly the requests the controller makes, in the scope it
// makes them: with watchNamespace, nothing namespaced is granted cluster-wide.
func TestRBACIsExactlyWhatTheControllerRequests(t *testing.T) {
	sets := []rendering{{label: deployYAMLPath, namespace: deployYAMLRelease.Namespace, objects: decodeFile(t, deployYAMLPath)}}
	sets = append(sets, renders(t)...)
	watched := 0
	for _, s := range sets {
		d := workload(s.objects)
		a := args(t, d)
		want := withoutCovered(requested(a["watch-namespace"], s.namespace, a["gateway-api"] != "off"))
		got := withoutCovered(granted(s.objects, str(d, "spec.template.spec.serviceAccountName"), s.namespace))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s (watch namespace %q): RBAC differs from the controller's requests\n  granted, not requested: %v\n  requested, not granted: %v",
				s.label, a["watch-namespace"], difference(got, want), difference(want, got))
		}
		if a["watch-namespace"] == "" {
			continue
		}
		watched++
		for g := range granted(s.objects, str(d, "spec.template.spec.serviceAccountName"), s.namespace) {
			if g.scope == "*" && g.resource != "ingressclasses" && g.resource != "gatewayclasses" &&
				g.resource != "gatewayclasses/status" && g.resource != "namespaces" {
				t.Errorf("%s: --watch-namespace=%s, yet %s is granted cluster-wide", s.label, a["watch-namespace"], g)
			}
		}
	}
	if watched < 2 {
		t.Errorf("only %d renders watch one namespace; want one with the Gateway API and one without", watched)
	}
}
