{{/*
The pieces of a Gatehouse container: flags, ports, probes and volumes. Each takes
(dict "root" $ "w" <workload>) unless it says otherwise.
*/}}

{{/* sourceArgs: where the config comes from, and the namespaces every command reads. */}}
{{- define "gatehouse.sourceArgs" -}}
{{- if eq .Values.source "kubernetes" }}
- --kubernetes
{{- else }}
- --config
- /etc/gatehouse/config
{{- end }}
- --namespace
- {{ .Release.Namespace }}
- --mesh-namespace
- {{ .Release.Namespace }}
- --log-level
- {{ .Values.logLevel }}
{{- end -}}

{{/* caArgs: where a CA keeps its root, and the plug-in CA that replaces it. */}}
{{- define "gatehouse.caArgs" -}}
- --data
- /var/lib/gatehouse
{{- if .Values.pluginCA.secretName }}
- --ca-plugin
- /etc/cacerts
{{- end }}
{{- end -}}

{{/* args of the workload's main container. */}}
{{- define "gatehouse.args" -}}
{{- $root := .root -}}
{{- $w := .w -}}
{{- if eq $w.kind "gateway" }}
{{- if eq $root.Values.mode "split" }}
- gateway
{{- else }}
- run
{{- end }}
{{- include "gatehouse.sourceArgs" $root }}
- --labels
- {{ include "gatehouse.labelFlag" $w.labels }}
- --service-name
- {{ $w.name }}
- --port-map
- {{ include "gatehouse.portMap" $w.service.ports }}
{{- if eq $root.Values.mode "split" }}
- --sds
- 127.0.0.1:15010
- --authz
- {{ include "gatehouse.authzAddress" $root }}
{{- else }}
- --service-account
- {{ $w.serviceAccount }}
{{- include "gatehouse.caArgs" $root | nindent 0 }}
{{- end }}
{{- else if eq $w.kind "authz" }}
- authz
{{- include "gatehouse.sourceArgs" $root }}
- --authz-listen
- :9191
- --authz-http-listen
- :9192
{{- else if eq $w.kind "ca" }}
- ca
{{- include "gatehouse.sourceArgs" $root }}
- --ca-listen
- :15012
{{- include "gatehouse.caArgs" $root | nindent 0 }}
{{- end }}
{{- end -}}

{{/* ports of the workload's main container, besides status and metrics. */}}
{{- define "gatehouse.ports" -}}
{{- if eq .w.kind "gateway" }}
{{- range .w.service.ports }}
- name: {{ .name }}
  containerPort: {{ .targetPort }}
  protocol: TCP
{{- end }}
{{- else if eq .w.kind "authz" }}
- name: grpc-authz
  containerPort: 9191
  protocol: TCP
- name: http-authz
  containerPort: 9192
  protocol: TCP
{{- else if eq .w.kind "ca" }}
- name: tls-ca
  containerPort: 15012
  protocol: TCP
{{- end }}
- name: status-port
  containerPort: 15021
  protocol: TCP
- name: http-envoy-prom
  containerPort: 15090
  protocol: TCP
{{- end -}}

{{/* readinessProbe on a status port (an int): 200 once config is applied and listeners are up. */}}
{{- define "gatehouse.readinessProbe" -}}
readinessProbe:
  httpGet:
    path: /healthz/ready
    port: {{ . }}
    scheme: HTTP
  periodSeconds: 2
  timeoutSeconds: 1
  successThreshold: 1
  failureThreshold: 3
{{- end -}}

{{/* env: the container memory limit as Go's soft limit (GOMEMLIMIT), so the GC works harder before the OOM killer acts. */}}
{{- define "gatehouse.env" -}}
{{- if dig "limits" "memory" "" .resources }}
env:
  - name: GOMEMLIMIT
    valueFrom:
      resourceFieldRef:
        containerName: {{ .container }}
        resource: limits.memory
{{- end }}
{{- end -}}

{{- define "gatehouse.usesConfigVolume" -}}
{{- if eq .Values.source "configmap" }}true{{ end -}}
{{- end -}}

{{- define "gatehouse.usesCAVolumes" -}}
{{- if .w.runsCA }}true{{ end -}}
{{- end -}}

{{/* volumeMounts of any Gatehouse container: the config directory and, for a CA, its data and plug-in root. */}}
{{- define "gatehouse.volumeMounts" -}}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- if include "gatehouse.usesConfigVolume" .root }}
  - name: config
    mountPath: /etc/gatehouse/config
    readOnly: true
{{- end }}
{{- if and .ca (include "gatehouse.usesCAVolumes" .) }}
  - name: data
    mountPath: /var/lib/gatehouse
{{- if .root.Values.pluginCA.secretName }}
  - name: cacerts
    mountPath: /etc/cacerts
    readOnly: true
{{- end }}
{{- end }}
{{- end -}}

{{- define "gatehouse.volumes" -}}
volumes:
  - name: tmp
    emptyDir: {}
{{- if include "gatehouse.usesConfigVolume" .root }}
  # One directory from the chart's ConfigMap and the user's own ConfigMap and Secret. Kubernetes
  # swaps the whole projection through the ..data symlink, which the watcher skips and follows.
  - name: config
    projected:
      sources:
        - configMap:
            name: {{ include "gatehouse.fullname" .root }}-config
{{- with .root.Values.config.existingConfigMap }}
        - configMap:
            name: {{ . }}
{{- end }}
{{- with .root.Values.config.existingSecret }}
        - secret:
            name: {{ . }}
{{- end }}
{{- end }}
{{- if include "gatehouse.usesCAVolumes" . }}
  # The CA's root (without a plug-in CA) and bootstrap-token ledger; ACME state with `run`.
  - name: data
    emptyDir: {}
{{- with .root.Values.pluginCA.secretName }}
  - name: cacerts
    secret:
      secretName: {{ . }}
{{- end }}
{{- end }}
{{- end -}}
