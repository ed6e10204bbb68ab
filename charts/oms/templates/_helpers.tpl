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

{{/* The services refuse their placeholder secrets in production: say so at install time. */}}
{{- define "oms.validate" -}}
{{- $v := .Values -}}
{{- if eq $v.mode "production" -}}
{{- if not (and $v.gateway.adminTokenSecret.name $v.gateway.sessionSecret.name $v.gateway.publicUrl $v.stripe.secret.name) -}}
{{- fail "mode production (the default) needs gateway.adminTokenSecret.name, gateway.sessionSecret.name, gateway.publicUrl and stripe.secret.name: the services refuse their placeholders (mode=development accepts them)" -}}
{{- end -}}
{{- if not (or $v.grpcTLS.secretName $v.grpcTLS.insecure) -}}
{{- fail "mode production (the default) needs grpcTLS.secretName (a Secret with the services' mutual TLS certificates) or grpcTLS.insecure=true (plaintext gRPC between the services, on purpose)" -}}
{{- end -}}
{{- else if ne $v.mode "development" -}}
{{- fail "mode must be production or development" -}}
{{- end -}}
{{- if and $v.grpcTLS.secretName $v.grpcTLS.insecure -}}
{{- fail "set exactly one of grpcTLS.secretName (mutual TLS) and grpcTLS.insecure=true (plaintext gRPC on purpose)" -}}
{{- end -}}
{{- end -}}

{{/* Where customers reach the gateway; in development without one, its Service. */}}
{{- define "oms.publicUrl" -}}
{{- if .Values.gateway.publicUrl -}}
{{- trimSuffix "/" .Values.gateway.publicUrl -}}
{{- else -}}
{{- printf "http://%s-gateway.%s.svc:8080" (include "oms.fullname" .) .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/* terminationGracePeriodSeconds: preStop pause (5) + the longest stop + margin (15). The
kitchen's longest stop is its longest cook (or drain); the others' consumers give 30 s. */}}
{{- define "oms.graceSeconds" -}}
{{- $k := .root.Values.kitchen -}}
{{- if eq .service "kitchen" -}}
{{- add 5 (max (int (ceil $k.longestCookSeconds)) (int (ceil $k.drainSeconds))) 15 -}}
{{- else -}}
{{- add 5 30 15 -}}
{{- end -}}
{{- end -}}

{{/* The environment every service reads (oms.platform.settings), as the operator sets it. */}}
{{- define "oms.platformEnv" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
- {name: OMS_MODE, value: {{ $v.mode | quote }}}
- name: AMQP_USERNAME
  valueFrom: {secretKeyRef: {name: {{ $v.rabbitmq.credentialsSecret.name }}, key: {{ $v.rabbitmq.credentialsSecret.usernameKey }}}}
- name: AMQP_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ $v.rabbitmq.credentialsSecret.name }}, key: {{ $v.rabbitmq.credentialsSecret.passwordKey }}}}
- name: RABBITMQ_URL
  value: {{ printf "%s://$(AMQP_USERNAME):$(AMQP_PASSWORD)@%s/%s" (regexReplaceAll "://.*$" $v.rabbitmq.url "") (regexReplaceAll "/$" (regexReplaceAll "^[a-z]+://" $v.rabbitmq.url "") "") $v.rabbitmq.vhost | quote }}
- name: RABBITMQ_RETRY_DELAYS_MS
  value: {{ $v.rabbitmq.retryDelaysMs | toJson | quote }}
{{- if ne .service "gateway" }}
- name: MONGODB_URL
  value: {{ $v.mongodb.url | quote }}
- name: MONGODB_DATABASE
  value: {{ $v.mongodb.database | quote }}
{{- end }}
- name: CONSUL_HTTP_ADDR
  value: {{ $v.consul.address | quote }}
# Consul may be shared: this release's services register and resolve under their own names.
- name: CONSUL_SERVICE_PREFIX
  value: {{ printf "%s-%s-" $root.Release.Namespace (include "oms.fullname" $root) | quote }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $v.tracing.otlpEndpoint | quote }}
- name: OTEL_SDK_DISABLED
  value: {{ ternary "false" "true" $v.tracing.enabled | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $v.tracing.sampler | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $v.tracing.samplerArg | quote }}
- name: LOG_LEVEL
  value: {{ $v.logging.level | quote }}
- name: LOG_FORMAT
  value: {{ $v.logging.format | quote }}
# Probes, Prometheus and Consul's checks reach the ops server on the pod's IP.
- {name: OPS_HOST, value: "0.0.0.0"}
- {name: OPS_PORT, value: "9464"}
{{- if $v.grpcTLS.secretName }}
- {name: GRPC_TLS_CERT_FILE, value: /etc/oms/tls/tls.crt}
- {name: GRPC_TLS_KEY_FILE, value: /etc/oms/tls/tls.key}
- {name: GRPC_TLS_CA_FILE, value: /etc/oms/tls/ca.crt}
{{- else if $v.grpcTLS.insecure }}
# Plaintext gRPC on purpose, as grpcTLS.insecure says (the services refuse it otherwise).
- {name: GRPC_TLS_INSECURE, value: "true"}
{{- end }}
{{- end -}}

{{/* The port a URL (or host:port) names: its own, else the scheme's, else .default. */}}
{{- define "oms.urlPort" -}}
{{- $rest := regexReplaceAll "^[a-z+]+://" .url "" -}}
{{- $rest = regexReplaceAll "[/?#].*$" $rest "" -}}
{{- $rest = regexReplaceAll "^.*@" $rest "" -}}
{{- if regexMatch ":[0-9]+$" $rest -}}
{{- regexFind "[0-9]+$" $rest -}}
{{- else if hasPrefix "https://" .url -}}443
{{- else if hasPrefix "http://" .url -}}80
{{- else -}}{{ .default }}
{{- end -}}
{{- end -}}

{{/* The ports of a (possibly multi-host) MongoDB URL, comma-separated; SRV: 27017. */}}
{{- define "oms.mongodbPorts" -}}
{{- if hasPrefix "mongodb+srv://" .url -}}27017
{{- else -}}
{{- $hosts := regexReplaceAll "^.*@" (regexReplaceAll "/.*$" (regexReplaceAll "^[a-z+]+://" .url "") "") "" -}}
{{- $ports := list -}}
{{- range $host := splitList "," $hosts -}}
{{- $ports = append $ports (include "oms.urlPort" (dict "url" $host "default" 27017)) -}}
{{- end -}}
{{- $ports | uniq | sortAlpha | join "," -}}
{{- end -}}
{{- end -}}
