{{/* Names */}}
{{- define "canhgac.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "canhgac.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "canhgac.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "canhgac.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "canhgac.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "canhgac.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "canhgac.secretName" -}}
{{- .Values.credentials.existingSecret | default (printf "%s-credentials" (include "canhgac.fullname" .)) -}}
{{- end -}}

{{/* Which backends each component's principal uses (core/config.py Component). */}}
{{- define "canhgac.principals" -}}
kafka: [collectors, normalizer, indexer, detector, alert_indexer, source_health, notifier, api]
opensearch: [collectors, indexer, detector, alert_indexer, source_health, api, retention]
{{- end -}}

{{/* The secret keys a pod of these components mounts: {components: [...]} */}}
{{- define "canhgac.secretItems" -}}
{{- $principals := include "canhgac.principals" .root | fromYaml -}}
{{- range $backend := list "kafka" "opensearch" }}
{{- range $component := $.components }}
{{- if has $component (get $principals $backend) }}
- key: {{ $backend }}-{{ $component }}.password
  path: {{ $backend }}-{{ $component }}.password
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* canhgac.yml: the operator's settings plus what the pods need. */}}
{{- define "canhgac.settings" -}}
{{- $v := .Values -}}
{{- $principals := include "canhgac.principals" . | fromYaml -}}
{{- $listen := dict "host" "0.0.0.0" -}}
{{- $pods := dict
      "data_dir" "/var/lib/canhgac"
      "metrics_listener" (dict "host" "0.0.0.0" "port" $v.metricsPort)
      "api" (dict "host" "0.0.0.0" "port" $v.api.port)
      "collectors" (dict "syslog_tcp" $listen "syslog_tls" $listen "syslog_udp" $listen "http" $listen) -}}
{{- if $v.credentials.enabled }}
{{- $kafka := dict -}}
{{- range $c := get $principals "kafka" }}
{{- $_ := set $kafka $c (dict "username" (printf "%s%s" $v.credentials.usernamePrefix (replace "_" "-" $c)) "password_file" (printf "/etc/canhgac/secrets/kafka-%s.password" $c)) }}
{{- end }}
{{- $os := dict -}}
{{- range $c := get $principals "opensearch" }}
{{- $_ := set $os $c (dict "username" (printf "%s%s" $v.credentials.usernamePrefix (replace "_" "-" $c)) "password_file" (printf "/etc/canhgac/secrets/opensearch-%s.password" $c)) }}
{{- end }}
{{- $_ := set $pods "kafka" (dict "security" (dict "credentials" $kafka)) }}
{{- $_ := set $pods "opensearch" (dict "credentials" $os) }}
{{- end }}
{{- toYaml (mustMergeOverwrite (deepCopy $v.settings) $pods) }}
{{- end -}}

{{/* Volumes every Canhgac pod has: settings, its component's secrets, the CA, /tmp. */}}
{{- define "canhgac.volumes" -}}
- name: settings
  configMap:
    name: {{ include "canhgac.fullname" .root }}-settings
{{- if .root.Values.credentials.enabled }}
- name: secrets
  secret:
    secretName: {{ include "canhgac.secretName" .root }}
    defaultMode: 0400
    items:
{{- include "canhgac.secretItems" . | indent 6 }}
{{- end }}
{{- if .root.Values.caSecret }}
- name: ca
  secret:
    secretName: {{ .root.Values.caSecret }}
{{- end }}
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "canhgac.volumeMounts" -}}
- name: settings
  mountPath: /etc/canhgac/canhgac.yml
  subPath: canhgac.yml
  readOnly: true
{{- if .Values.credentials.enabled }}
- name: secrets
  mountPath: /etc/canhgac/secrets
  readOnly: true
{{- end }}
{{- if .Values.caSecret }}
- name: ca
  mountPath: /etc/canhgac/ca
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /var/lib/canhgac
{{- end -}}

{{- define "canhgac.podAnnotations" -}}
checksum/settings: {{ include "canhgac.settings" . | sha256sum }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Probes on a port: liveness /healthz, readiness /readyz. */}}
{{- define "canhgac.probes" -}}
livenessProbe:
  httpGet: {path: /healthz, port: {{ .port }}}
  {{- toYaml .root.Values.probes.liveness | nindent 2 }}
readinessProbe:
  httpGet: {path: /readyz, port: {{ .port }}}
  {{- toYaml .root.Values.probes.readiness | nindent 2 }}
{{- end -}}

{{- define "canhgac.scheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
