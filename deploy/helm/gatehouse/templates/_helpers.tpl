{{/*
Names, labels and the list of workloads every other template ranges over.
*/}}

{{- define "gatehouse.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gatehouse.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* labels go on every resource. */}}
{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.extraLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* selectorLabels of one workload (dict root, w): stable across upgrades. */}}
{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .w.component }}
{{- end -}}

{{/* workloadLabels of a workload's resources (dict root, w): common, meaningful and selector labels, merged. */}}
{{- define "gatehouse.workloadLabels" -}}
{{- $l := merge (fromYaml (include "gatehouse.selectorLabels" .)) (deepCopy .w.labels) (fromYaml (include "gatehouse.labels" .root)) -}}
{{- toYaml $l -}}
{{- end -}}

{{/* podLabels (dict root, w): selector and meaningful labels. Gatehouse is the proxy, so Istio must not inject an Envoy beside it. */}}
{{- define "gatehouse.podLabels" -}}
{{- $l := merge (fromYaml (include "gatehouse.selectorLabels" .)) (deepCopy .w.labels) (dict "sidecar.istio.io/inject" "false") -}}
{{- toYaml $l -}}
{{- end -}}

{{- define "gatehouse.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
workloads is a YAML list, one entry per Deployment:
  component       the app.kubernetes.io/component label
  kind            gateway, authz or ca
  name            the Deployment's (and Service's, HPA's, PDB's) name
  serviceAccount  its ServiceAccount
  labels          pod labels that carry meaning (Gateway selectors match them: --labels)
  runsCA          whether the process signs certificates (RBAC for TokenReview, root ConfigMaps)
  and the replicas, autoscaling, podDisruptionBudget, resources and service values.
*/}}
{{- define "gatehouse.workloads" -}}
{{- $split := eq .Values.mode "split" -}}
{{- $ws := list -}}
{{- range $key := list "ingress" "egress" -}}
{{- $g := index $.Values.gateways $key -}}
{{- if $g.enabled -}}
{{- $ws = append $ws (dict
    "component" (printf "%sgateway" $key) "kind" "gateway" "name" $g.name
    "serviceAccount" $g.serviceAccountName "labels" (merge (dict) $g.labels $.Values.extraLabels)
    "runsCA" (not $split) "replicas" $g.replicas "autoscaling" $g.autoscaling
    "podDisruptionBudget" $g.podDisruptionBudget "resources" $g.resources "service" $g.service) -}}
{{- end -}}
{{- end -}}
{{- if $split -}}
{{- $full := include "gatehouse.fullname" . -}}
{{- $a := .Values.authz -}}
{{- $ws = append $ws (dict
    "component" "authz" "kind" "authz" "name" (printf "%s-authz" $full)
    "serviceAccount" (printf "%s-authz" $full) "labels" (merge (dict "app" (printf "%s-authz" $full)) .Values.extraLabels)
    "runsCA" false "replicas" $a.replicas "autoscaling" $a.autoscaling
    "podDisruptionBudget" $a.podDisruptionBudget "resources" $a.resources) -}}
{{- $c := .Values.ca -}}
{{- $ws = append $ws (dict
    "component" "ca" "kind" "ca" "name" (printf "%s-ca" $full)
    "serviceAccount" (printf "%s-ca" $full) "labels" (merge (dict "app" (printf "%s-ca" $full)) .Values.extraLabels)
    "runsCA" true "replicas" $c.replicas "autoscaling" (dict "enabled" false)
    "podDisruptionBudget" $c.podDisruptionBudget "resources" $c.resources) -}}
{{- end -}}
{{- toYaml $ws -}}
{{- end -}}

{{/* maxReplicas of a workload: what PDBs and the session-store check reason about. */}}
{{- define "gatehouse.maxReplicas" -}}
{{- if .autoscaling.enabled -}}{{ .autoscaling.maxReplicas }}{{- else -}}{{ .replicas }}{{- end -}}
{{- end -}}

{{/* labelFlag renders a label map as --labels takes it: k=v,k=v, sorted. */}}
{{- define "gatehouse.labelFlag" -}}
{{- $kv := list -}}
{{- range $k := keys . | sortAlpha -}}
{{- $kv = append $kv (printf "%s=%v" $k (index $ $k)) -}}
{{- end -}}
{{- join "," $kv -}}
{{- end -}}

{{/* portMap renders a gateway Service's ports as --port-map takes them: 80=8080,443=8443. */}}
{{- define "gatehouse.portMap" -}}
{{- $kv := list -}}
{{- range . -}}
{{- $kv = append $kv (printf "%v=%v" .port .targetPort) -}}
{{- end -}}
{{- join "," $kv -}}
{{- end -}}

{{/* authzAddress is where split gateways send their checks. */}}
{{- define "gatehouse.authzAddress" -}}
{{- printf "%s-authz.%s.svc:9191" (include "gatehouse.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/* redisAddress turns redis.url into the host:port an OIDCLogin's session.redis.address takes. */}}
{{- define "gatehouse.redisAddress" -}}
{{- $u := urlParse .Values.redis.url -}}
{{- if or (ne $u.scheme "redis") (not $u.host) $u.userinfo $u.query (not (has $u.path (list "" "/"))) -}}
{{- fail (printf "redis.url %q: want redis://host:port (the session store speaks plain Redis: no credentials, database or TLS)" .Values.redis.url) -}}
{{- end -}}
{{- if regexMatch ":[0-9]+$" $u.host -}}
{{- $u.host -}}
{{- else -}}
{{- printf "%s:6379" $u.host -}}
{{- end -}}
{{- end -}}

{{/* meshConfig is the MeshConfig the `istio` ConfigMap carries under `mesh`. */}}
{{- define "gatehouse.meshConfig" -}}
{{- toYaml (mergeOverwrite (dict "trustDomain" .Values.trustDomain) (deepCopy .Values.meshConfig.mesh)) -}}
{{- end -}}

{{/* meshConfigMap is the `istio` ConfigMap, as a manifest and as a file in the config directory. */}}
{{- define "gatehouse.meshConfigMap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: istio
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "gatehouse.labels" . | nindent 4 }}
data:
  mesh: |-
    {{- include "gatehouse.meshConfig" . | nindent 4 }}
{{- end -}}

{{/* oidcLogins renders the OIDCLogin resources, separated by ---, with the Redis session store filled in. */}}
{{- define "gatehouse.oidcLogins" -}}
{{- range $name := keys .Values.oidcLogins | sortAlpha }}
{{- $spec := deepCopy (index $.Values.oidcLogins $name) }}
{{- $session := default (dict) (get $spec "session") }}
{{- if and $.Values.redis.url (not (get $session "store")) }}
{{- $_ := set $session "store" "redis" }}
{{- $_ = set $session "redis" (dict "address" (include "gatehouse.redisAddress" $) "keys" (dict "name" $.Values.redis.keysSecret)) }}
{{- $_ = set $spec "session" $session }}
{{- end }}
---
apiVersion: gatehouse.dev/v1alpha1
kind: OIDCLogin
metadata:
  name: {{ $name }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "gatehouse.labels" $ | nindent 4 }}
spec:
  {{- toYaml $spec | nindent 2 }}
{{- end }}
{{- end -}}

{{/* validate fails the render on values that would install something that cannot work. */}}
{{- define "gatehouse.validate" -}}
{{- if not (has .Values.mode (list "allInOne" "split")) -}}
{{- fail (printf "mode %q: want allInOne or split" .Values.mode) -}}
{{- end -}}
{{- if not (has .Values.source (list "configmap" "kubernetes")) -}}
{{- fail (printf "source %q: want configmap or kubernetes" .Values.source) -}}
{{- end -}}
{{- if and (eq .Values.mode "split") (gt (int .Values.ca.replicas) 1) (not .Values.pluginCA.secretName) -}}
{{- fail "ca.replicas > 1 needs pluginCA.secretName: each replica would otherwise bootstrap its own root" -}}
{{- end -}}
{{- if .Values.redis.url -}}
{{- $_ := include "gatehouse.redisAddress" . -}}
{{- else -}}
{{- range $name, $spec := .Values.oidcLogins -}}
{{- if not (dig "session" "store" "" $spec) -}}
{{- range $key := list "ingress" "egress" -}}
{{- $g := index $.Values.gateways $key -}}
{{- if and $g.enabled (gt (int (include "gatehouse.maxReplicas" $g)) 1) -}}
{{- fail (printf "oidcLogins.%s: gateways.%s may run more than one replica, and memory sessions are per replica: set redis.url (or session.store explicitly)" $name $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
