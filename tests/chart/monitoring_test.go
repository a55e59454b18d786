// The PrometheusRule and the Grafana dashboard: promtool accepts the rules and they fire
// on the series they are about (and not on others); the dashboard JSON loads; and every
// metric either of them names is one the real binary exports on /metrics.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v2"
)

const dashboardPath = "../../charts/grpc-ingress/dashboards/grpc-ingress.json"

// prometheusRuleFile renders values-monitoring.yaml and writes the PrometheusRule's spec
// (a Prometheus rule file: groups) to dir; it also returns the rule objects.
func prometheusRuleFile(t *testing.T, dir string) (string, []interface{}) {
	t.Helper()
	rule := find(renderRelease(t, "grpc-ingress", monitoringValues), "PrometheusRule", "")
	if rule == nil {
		t.Fatalf("%s: no PrometheusRule", monitoringValues)
	}
	if find(renderRelease(t, "grpc-ingress"), "PrometheusRule", "") != nil {
		t.Errorf("default values: a PrometheusRule is rendered")
	}
	spec, err := yaml.Marshal(get(rule, "spec"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(file, spec, 0o644); err != nil {
		t.Fatal(err)
	}
	var rules []interface{}
	for _, g := range list(rule, "spec.groups") {
		rules = append(rules, list(g, "rules")...)
	}
	return file, rules
}

func promtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("promtool", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", args[0]+" "+args[1], out)
}

// promtool check rules passes, and promtool test rules shows each alert firing on its
// series: the error ratio counts server-side gRPC codes and HTTP 5xx (not NOT_FOUND), a
// Service whose ready endpoints are 0, rejected objects, a certificate within 21 days
// (values-monitoring.yaml), and a replica not ready or not scraped.
func TestPrometheusRulePassesPromtool(t *testing.T) {
	dir := t.TempDir()
	rulesFile, rules := prometheusRuleFile(t, dir)
	promtool(t, "check", "rules", rulesFile)

	names := map[string]bool{}
	for _, r := range rules {
		names[str(r, "alert")] = true
	}
	for _, want := range []string{"GrpcIngressHighErrorRatio", "GrpcIngressNoReadyEndpoints", "GrpcIngressConfigRejected",
		"GrpcIngressCertificateExpiring", "GrpcIngressControllerNotReady"} {
		if !names[want] {
			t.Errorf("no alert %s in %v", want, names)
		}
	}
	const job = `job="grpc-ingress-metrics"`
	series := func(name, labels, values string) string {
		return fmt.Sprintf("      - series: '%s{%s,%s}'\n        values: '%s'\n", name, job, labels, values)
	}
	alert := func(labels map[string]string, summary, description string) string {
		var out strings.Builder
		out.WriteString("          - exp_labels:\n")
		labels["team"] = "platform"
		keys := make([]string, 0, len(labels))
		for k := range labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&out, "              %s: %q\n", k, labels[k])
		}
		fmt.Fprintf(&out, "            exp_annotations:\n              summary: %q\n              description: %q\n", summary, description)
		return out.String()
	}
	rt := "grpc_ingress_requests_total"
	test := "rule_files: [" + rulesFile + "]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n" +
		// greeter: 6 UNAVAILABLE in 66 calls a minute; catalog: NOT_FOUND only (callers' mistakes);
		// web: half its plain HTTP requests 503.
		series(rt, `namespace="apps",ingress="i",service="greeter",grpc_code="OK"`, "0+60x40") +
		series(rt, `namespace="apps",ingress="i",service="greeter",grpc_code="UNAVAILABLE"`, "0+6x40") +
		series(rt, `namespace="apps",ingress="i",service="catalog",grpc_code="OK"`, "0+60x40") +
		series(rt, `namespace="apps",ingress="i",service="catalog",grpc_code="NOT_FOUND"`, "0+30x40") +
		series(rt, `namespace="apps",ingress="i",service="web",http_code="200"`, "0+10x40") +
		series(rt, `namespace="apps",ingress="i",service="web",http_code="503"`, "0+10x40") +
		series("grpc_ingress_endpoints", `namespace="apps",service="greeter",port="grpc",state="ready"`, "3x40") +
		series("grpc_ingress_endpoints", `namespace="apps",service="empty",port="grpc",state="ready"`, "0x40") +
		series("grpc_ingress_rejected_objects", `kind="Ingress",reason="unknown annotation"`, "1x40") +
		series("grpc_ingress_rejected_objects", `kind="Secret",reason="not a certificate"`, "0x40") +
		// At 80 minutes time() is 4800: one certificate has 10 days left, the other 100.
		series("grpc_ingress_tls_certificate_expiry_timestamp_seconds", `namespace="apps",secret="soon"`, "868800x90") +
		series("grpc_ingress_tls_certificate_expiry_timestamp_seconds", `namespace="apps",secret="later"`, "8640000x90") +
		series("grpc_ingress_ready", `instance="a"`, "0x40") +
		series("grpc_ingress_ready", `instance="b"`, "1x40") +
		series("up", `instance="c"`, "0x40") +
		"    alert_rule_test:\n" +
		"      - eval_time: 25m\n        alertname: GrpcIngressHighErrorRatio\n        exp_alerts:\n" +
		alert(map[string]string{"severity": "warning", "namespace": "apps", "service": "greeter"},
			"Service apps/greeter fails 2%+ of its requests",
			"Server-side gRPC codes and HTTP 5xx over all requests through grpc-ingress, for 10 minutes.") +
		alert(map[string]string{"severity": "warning", "namespace": "apps", "service": "web"},
			"Service apps/web fails 2%+ of its requests",
			"Server-side gRPC codes and HTTP 5xx over all requests through grpc-ingress, for 10 minutes.") +
		"      - eval_time: 12m\n        alertname: GrpcIngressNoReadyEndpoints\n        exp_alerts:\n" +
		alert(map[string]string{"severity": "critical", "namespace": "apps", "service": "empty", "port": "grpc"},
			"Service apps/empty:grpc has no ready endpoint", "Every call routed to it is answered UNAVAILABLE (gRPC) or 503 (HTTP).") +
		"      - eval_time: 10m\n        alertname: GrpcIngressConfigRejected\n        exp_alerts: []\n" +
		"      - eval_time: 20m\n        alertname: GrpcIngressConfigRejected\n        exp_alerts:\n" +
		alert(map[string]string{"severity": "warning", "kind": "Ingress", "reason": "unknown annotation"},
			"Ingress objects rejected: unknown annotation", "Rejected objects are not served; their Events and the controller log name them.") +
		"      - eval_time: 80m\n        alertname: GrpcIngressCertificateExpiring\n        exp_alerts:\n" +
		alert(map[string]string{"severity": "warning", "namespace": "apps", "secret": "soon"},
			"Certificate apps/soon expires within 21 days", "A certificate grpc-ingress serves expires soon (or has expired); renew the Secret.") +
		"      - eval_time: 6m\n        alertname: GrpcIngressControllerNotReady\n        exp_alerts:\n" +
		alert(map[string]string{"severity": "critical", "job": "grpc-ingress-metrics", "instance": "a", "__name__": ""},
			"grpc-ingress a is not ready", "/readyz has not answered 200 (or /metrics was not scraped) for 5 minutes.") +
		alert(map[string]string{"severity": "critical", "job": "grpc-ingress-metrics", "instance": "c", "__name__": ""},
			"grpc-ingress c is not ready", "/readyz has not answered 200 (or /metrics was not scraped) for 5 minutes.")
	test = strings.ReplaceAll(test, "              __name__: \"\"\n", "")
	testFile := filepath.Join(dir, "rules_test.yaml")
	if err := os.WriteFile(testFile, []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	promtool(t, "test", "rules", testFile)
}

// metricNames are the grpc_ingress_* names in PromQL text, a histogram's series names
// (_bucket, _sum, _count) turned into its family name when that is a histogram.
func metricNames(exprs []string, histograms map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, expr := range exprs {
		for _, name := range regexp.MustCompile(`\bgrpc_ingress_[a-z0-9_]+`).FindAllString(expr, -1) {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base := strings.TrimSuffix(name, suffix); base != name && histograms[base] {
					name = base
				}
			}
			out[name] = true
		}
	}
	return out
}

// dashboardExprs loads the dashboard and returns its panels' queries and its template
// variables' queries; it fails the test when the JSON does not load as a dashboard.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var dashboard struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dashboard); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	if dashboard.Title == "" || dashboard.UID == "" || len(dashboard.Panels) < 10 {
		t.Fatalf("%s: title %q, uid %q, %d panels: not the dashboard", dashboardPath, dashboard.Title, dashboard.UID, len(dashboard.Panels))
	}
	var exprs []string
	for _, p := range dashboard.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			if target.Expr == "" {
				t.Errorf("panel %q has an empty query", p.Title)
			}
			exprs = append(exprs, target.Expr)
		}
	}
	for _, v := range dashboard.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	return exprs
}

// The dashboard JSON loads, its ConfigMap carries it verbatim with the sidecar's label,
// and it shows what an operator needs: requests by grpc_code and http_code, error ratio,
// latency quantiles, streams, upstream latency, endpoints, config, connections, certificates.
func TestDashboardLoadsAndIsPackaged(t *testing.T) {
	exprs := dashboardExprs(t)
	all := strings.Join(exprs, "\n")
	for _, want := range []string{"by (grpc_code)", "by (http_code)", "histogram_quantile(0.99, sum by (le) (rate(grpc_ingress_request_duration_seconds_bucket",
		"grpc_ingress_stream_duration_seconds_bucket", "grpc_ingress_upstream_response_seconds_bucket", "grpc_ingress_endpoints",
		"grpc_ingress_config_generation", "grpc_ingress_rejected_objects", "grpc_ingress_downstream_connections",
		"grpc_ingress_tls_certificate_expiry_timestamp_seconds"} {
		if !strings.Contains(all, want) {
			t.Errorf("no dashboard query has %q", want)
		}
	}
	data, _ := os.ReadFile(dashboardPath)
	cm := find(renderRelease(t, "grpc-ingress", monitoringValues), "ConfigMap", "grpc-ingress-dashboard")
	if cm == nil {
		t.Fatalf("%s: no ConfigMap grpc-ingress-dashboard", monitoringValues)
	}
	if got := stringMap(cm, "data")["grpc-ingress.json"]; got != strings.TrimSpace(string(data)) {
		t.Errorf("the ConfigMap's grpc-ingress.json differs from %s", dashboardPath)
	}
	if stringMap(cm, "metadata.labels")["grafana_dashboard"] != "1" || stringMap(cm, "metadata.annotations")["grafana_folder"] != "Ingress" {
		t.Errorf("ConfigMap labels %v annotations %v: want grafana_dashboard=1 and the folder annotation",
			get(cm, "metadata.labels"), get(cm, "metadata.annotations"))
	}
	if find(renderRelease(t, "grpc-ingress"), "ConfigMap", "") != nil {
		t.Errorf("default values: a dashboard ConfigMap is rendered")
	}
	// The queries group by the routed Service's namespace label: the scrape must keep it.
	sm := find(renderRelease(t, "grpc-ingress", monitoringValues), "ServiceMonitor", "")
	if endpoints := list(sm, "spec.endpoints"); len(endpoints) != 1 || get(endpoints[0], "honorLabels") != true {
		t.Errorf("ServiceMonitor endpoints %v: want honorLabels true (else namespace becomes exported_namespace)", endpoints)
	}
}

// Every grpc_ingress_* metric the dashboard and the alerts name is a family the real
// binary exports on /metrics (read from its # TYPE lines after one routed request and
// one TLS certificate served).
func TestDashboardAndAlertsUseExportedMetrics(t *testing.T) {
	families := scrapeBinaryMetrics(t)
	histograms := map[string]bool{}
	for name, kind := range families {
		histograms[name] = kind == "histogram"
	}
	_, rules := prometheusRuleFile(t, t.TempDir())
	exprs := dashboardExprs(t)
	for _, r := range rules {
		exprs = append(exprs, str(r, "expr"))
	}
	referenced := metricNames(exprs, histograms)
	if len(referenced) < 15 {
		t.Fatalf("only %d metric names found in the dashboard and alerts: %v", len(referenced), referenced)
	}
	var missing []string
	for name := range referenced {
		if _, ok := families[name]; !ok {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the dashboard or alerts reference metrics the binary does not export: %v", missing)
	}
}
