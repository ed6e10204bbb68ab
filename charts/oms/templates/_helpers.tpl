{{- define "oms.fullname" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "oms.selectorLabels" -}}
app.kubernetes.io/name: oms
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .service }}
{{- end -}}

{{- define "oms.labels" -}}
{{ include "oms.selectorLabels" . }}
app.kubernetes.io/part-of: oms
app.kubernetes.io/version: {{ .root.Values.image.tag | default .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "oms.seeded" -}}
{{- if or .Values.menu.existingConfigMap .Values.menu.items -}}true{{- end -}}
{{- end -}}

{{/* The environment every service reads (oms.platform.settings), as the operator sets it. */}}
{{- define "oms.platformEnv" -}}
{{- $v := .Values -}}
- name: AMQP_USERNAME
  valueFrom: {secretKeyRef: {name: {{ $v.rabbitmq.credentialsSecret.name }}, key: {{ $v.rabbitmq.credentialsSecret.usernameKey }}}}
- name: AMQP_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ $v.rabbitmq.credentialsSecret.name }}, key: {{ $v.rabbitmq.credentialsSecret.passwordKey }}}}
- name: RABBITMQ_URL
  value: {{ printf "%s://$(AMQP_USERNAME):$(AMQP_PASSWORD)@%s/%s" (regexReplaceAll "://.*$" $v.rabbitmq.url "") (regexReplaceAll "/$" (regexReplaceAll "^[a-z]+://" $v.rabbitmq.url "") "") $v.rabbitmq.vhost | quote }}
- name: RABBITMQ_RETRY_DELAYS_MS
  value: {{ $v.rabbitmq.retryDelaysMs | toJson | quote }}
- name: MONGODB_URL
  value: {{ $v.mongodb.url | quote }}
- name: MONGODB_DATABASE
  value: {{ $v.mongodb.database | quote }}
- name: CONSUL_HTTP_ADDR
  value: {{ $v.consul.address | quote }}
# Consul may be shared: this release's services register and resolve under their own names.
- name: CONSUL_SERVICE_PREFIX
  value: {{ printf "%s-%s-" .Release.Namespace (include "oms.fullname" .) | quote }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $v.tracing.otlpEndpoint | quote }}
- name: OTEL_SDK_DISABLED
  value: {{ ternary "false" "true" $v.tracing.enabled | quote }}
- name: LOG_LEVEL
  value: {{ $v.logging.level | quote }}
- name: LOG_FORMAT
  value: {{ $v.logging.format | quote }}
{{- end -}}
