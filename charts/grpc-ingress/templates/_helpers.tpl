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
{{- end }}

{{- define "grpc-ingress.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "grpc-ingress.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "grpc-ingress.image" -}}
{{- $repository := required "image.repository is required" .Values.image.repository }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
Whole seconds (rounded up) in a duration written the way the binary's flags take it:
"250ms", "5s", "2m", "1h", or a bare number of seconds.
*/}}
{{- define "grpc-ingress.seconds" -}}
{{- $text := toString . }}
{{- $number := regexFind "^[0-9]+" $text }}
{{- $unit := trimPrefix $number $text }}
{{- $unitMs := dict "" 1000 "ms" 1 "s" 1000 "m" 60000 "h" 3600000 }}
{{- if or (not $number) (not (hasKey $unitMs $unit)) }}
{{- fail (printf "not a duration: %q (write it like 500ms, 5s, 2m)" $text) }}
{{- end }}
{{- div (add (mul (atoi $number) (get $unitMs $unit)) 999) 1000 }}
{{- end }}
