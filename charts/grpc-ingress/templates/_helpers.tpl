{{/* Chart name, at most 63 characters (a DNS label). */}}
{{- define "grpc-ingress.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name for the release's objects: the release name, prefixed to the chart name
unless it already contains it.
*/}}
{{- define "grpc-ingress.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "grpc-ingress.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "grpc-ingress.selectorLabels" -}}
app.kubernetes.io/name: {{ include "grpc-ingress.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "grpc-ingress.labels" -}}
helm.sh/chart: {{ include "grpc-ingress.chart" . }}
{{ include "grpc-ingress.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: controller
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The leader-election Lease: one per release, so releases in one namespace never share it. */}}
{{- define "grpc-ingress.electionId" -}}
{{- default (printf "%s-leader" (include "grpc-ingress.fullname" .)) .Values.electionId }}
{{- end }}

{{/* Replicas that stay when nothing scales down: the autoscaler's floor, or replicaCount. */}}
{{- define "grpc-ingress.minReplicas" -}}
{{- if .Values.autoscaling.enabled }}{{ .Values.autoscaling.minReplicas }}{{ else }}{{ .Values.replicaCount }}{{ end }}
{{- end }}

{{- define "grpc-ingress.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "grpc-ingress.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository@digest when a digest is given, else repository:tag (tag default: appVersion). */}}
{{- define "grpc-ingress.image" -}}
{{- $repository := required "image.repository is required" .Values.image.repository }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}
{{- end }}

{{/*
Whole seconds (rounded up) in a duration written the way the binary's flags take it:
"250ms", "5s", "2m", "1h", "1m30s", or a bare number of seconds.
*/}}
{{- define "grpc-ingress.seconds" -}}
{{- $text := toString . }}
{{- $unitMs := dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000 }}
{{- $ms := 0 }}
{{- if regexMatch "^[0-9]+$" $text }}
{{- $ms = mul (atoi $text) 1000 }}
{{- else if regexMatch "^([0-9]+(ms|s|m|h))+$" $text }}
{{- range regexFindAll "[0-9]+(ms|s|m|h)" $text -1 }}
{{- $number := regexFind "^[0-9]+" . }}
{{- $ms = add $ms (mul (atoi $number) (get $unitMs (trimPrefix $number .))) }}
{{- end }}
{{- else }}
{{- fail (printf "not a duration: %q (write it like 500ms, 5s, 2m, 1m30s)" $text) }}
{{- end }}
{{- div (add $ms 999) 1000 }}
{{- end }}

{{/*
RBAC: exactly the requests the controller makes (tests/chart checks them). Its informers
list and watch; the status writer gets an object, then updates its status; rejections are
core Events created in the object's namespace. These rules are for objects in the watched
namespace(s): a Role there with --watch-namespace, else part of the ClusterRole.
*/}}
{{- define "grpc-ingress.namespacedRules" -}}
# Routing inputs: Ingresses, Services (port names), EndpointSlices (ready pod addresses)
# and Secrets (certificates of Ingress tls entries).
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["services", "secrets"]
  verbs: ["list", "watch"]
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["list", "watch"]
# The leader writes the --publish-service address to status.loadBalancer.
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses/status"]
  verbs: ["update"]
# Rejected Ingresses are reported as Events on them.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- if .Values.gatewayApi.enabled }}
# Gateway API routing inputs, listed and watched once its CRDs are installed; the leader
# writes the status conditions (Accepted, Programmed, ResolvedRefs, ...) of those with one.
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["gateways", "grpcroutes", "httproutes"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["referencegrants"]
  verbs: ["list", "watch"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["gateways/status", "grpcroutes/status", "httproutes/status"]
  verbs: ["update"]
{{- end }}
{{- end }}

{{/* RBAC for cluster-scoped objects, needed with or without --watch-namespace. */}}
{{- define "grpc-ingress.clusterScopedRules" -}}
# IngressClasses: which Ingresses are this controller's.
- apiGroups: ["networking.k8s.io"]
  resources: ["ingressclasses"]
  verbs: ["list", "watch"]
{{- if .Values.gatewayApi.enabled }}
# GatewayClasses (and their status), and the namespaces whose labels a listener's
# allowedRoutes selector matches.
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["gatewayclasses"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["gatewayclasses/status"]
  verbs: ["update"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["list", "watch"]
{{- end }}
{{- end }}
