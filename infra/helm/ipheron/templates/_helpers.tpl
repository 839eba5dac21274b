{{/*
Small named templates shared by every kind. Most take a "component context":
  (dict "root" $ "key" "aiAgents" "svc" <the merged defaults + services.aiAgents>)
built once per deployable by ipheron.components in components.yaml.
*/}}

{{- define "ipheron.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ipheron.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels every object of the release carries. */}}
{{- define "ipheron.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "ipheron.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ipheron
{{- end -}}

{{/* Selects every pod of the release (the deny-all policy). */}}
{{- define "ipheron.releaseSelector" -}}
app.kubernetes.io/name: {{ include "ipheron.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The component (Kubernetes) name of a services key: aiAgents -> ai-agents. */}}
{{- define "ipheron.component" -}}
{{- kebabcase . -}}
{{- end -}}

{{/* The settings prefix of a services key: aiAgents -> AI_AGENTS. */}}
{{- define "ipheron.envPrefix" -}}
{{- snakecase . | upper -}}
{{- end -}}

{{/* Name of a component's objects: (dict "root" $ "key" "aiAgents") -> <fullname>-ai-agents. */}}
{{- define "ipheron.componentFullname" -}}
{{- printf "%s-%s" (include "ipheron.fullname" .root) (include "ipheron.component" .key) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels of one component's pods. */}}
{{- define "ipheron.selectorLabels" -}}
{{ include "ipheron.releaseSelector" .root }}
app.kubernetes.io/component: {{ include "ipheron.component" .key }}
{{- end -}}

{{/* Labels of one component's objects. */}}
{{- define "ipheron.componentLabels" -}}
{{ include "ipheron.labels" .root }}
app.kubernetes.io/component: {{ include "ipheron.component" .key }}
{{- end -}}

{{- define "ipheron.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ipheron.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Whether a component serves HTTP (the gateway) rather than gRPC. */}}
{{- define "ipheron.isHttp" -}}
{{- if eq .key "gateway" -}}true{{- end -}}
{{- end -}}

{{/* registry/repository:tag, global.imageRegistry first. */}}
{{- define "ipheron.image" -}}
{{- $img := .svc.image -}}
{{- $registry := default $img.registry .root.Values.global.imageRegistry -}}
{{- $tag := default .root.Chart.AppVersion $img.tag -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" $registry) $img.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" $img.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding a component's DATABASE_URL ("" when none). */}}
{{- define "ipheron.databaseSecret" -}}
{{- default .root.Values.database.existingSecret .svc.database.existingSecret -}}
{{- end -}}

{{/* The Secret with a component's mTLS certificate. */}}
{{- define "ipheron.tlsSecret" -}}
{{- if .root.Values.tls.certManager.enabled -}}
{{- printf "%s-tls" (include "ipheron.componentFullname" .) -}}
{{- else -}}
{{- .svc.tls.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* A secretKeyRef env entry: (dict "name" "REDIS_URL" "secret" "s" "key" "k"). */}}
{{- define "ipheron.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
{{- end -}}

{{/*
Refuses values that cannot run: a production install without the Secret names it needs
(secrets only ever come from existingSecret references), or a pod grace not above the
server's own drain time.
*/}}
{{- define "ipheron.validate" -}}
{{- $prod := eq .root.Values.environment "production" -}}
{{- $key := .key -}}
{{- $svc := .svc -}}
{{- if le (int $svc.terminationGracePeriodSeconds) (int $svc.graceSeconds) -}}
{{- fail (printf "services.%s.terminationGracePeriodSeconds (%v) must be above its graceSeconds (%v)" $key $svc.terminationGracePeriodSeconds $svc.graceSeconds) -}}
{{- end -}}
{{- if $prod -}}
{{- $_ := required "redis.existingSecret is required when environment=production (the Secret with REDIS_URL)" .root.Values.redis.existingSecret -}}
{{- if ne $key "gateway" -}}
{{- $_ := required (printf "services.%s.database.existingSecret or database.existingSecret is required when environment=production (the Secret with its DATABASE_URL)" $key) (include "ipheron.databaseSecret" .) -}}
{{- end -}}
{{- if eq $key "auth" -}}
{{- $_ := required "services.auth.jwt.existingSecret is required when environment=production (the JWT signing keys)" $svc.jwt.existingSecret -}}
{{- $_ := required "services.auth.siwe.domain is required when environment=production (AUTH_SIWE_DOMAIN: the public host users sign in to)" $svc.siwe.domain -}}
{{- $_ := required "services.auth.siwe.uri is required when environment=production (AUTH_SIWE_URI: the public origin)" $svc.siwe.uri -}}
{{- $_ := required "services.auth.siwe.chainId is required when environment=production (AUTH_SIWE_CHAIN_ID)" $svc.siwe.chainId -}}
{{- end -}}
{{- if eq $key "staking" -}}
{{- $_ := required "services.staking.quoteSigner.existingSecret is required when environment=production (STAKING_QUOTE_SIGNER_KEY)" $svc.quoteSigner.existingSecret -}}
{{- end -}}
{{- if eq $key "chain" -}}
{{- $_ := required "services.chain.signer.existingSecret is required when environment=production (CHAIN_SIGNER_KEY)" $svc.signer.existingSecret -}}
{{- $_ := required "services.chain.vault.quoteSigner is required when environment=production (CHAIN_VAULT_QUOTE_SIGNER: the staking service's quote key's address)" $svc.vault.quoteSigner -}}
{{- if not (or $svc.rpc.url $svc.rpc.existingSecret) -}}
{{- fail "services.chain.rpc.url or services.chain.rpc.existingSecret is required when environment=production (the embedded EVM is for development)" -}}
{{- end -}}
{{- end -}}
{{- if not .root.Values.tls.enabled -}}
{{- fail "tls.enabled is required when environment=production (mutual TLS between the deployables; the services refuse to start without IPHERON_TLS_DIR)" -}}
{{- end -}}
{{- $_ := required (printf "services.%s.tls.existingSecret (or tls.certManager.enabled) is required when environment=production (its mutual-TLS certificate)" $key) (include "ipheron.tlsSecret" .) -}}
{{- end -}}
{{- end -}}

{{/* The environment of a component's container: plain settings, then Secret references. */}}
{{- define "ipheron.env" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $prefix := include "ipheron.envPrefix" .key -}}
{{- $http := include "ipheron.isHttp" . -}}
- name: IPHERON_ENV
  value: {{ $root.Values.environment | quote }}
- name: LOG_LEVEL
  value: {{ $root.Values.logLevel | quote }}
- name: DATA_DIR
  value: /tmp/ipheron
{{- if and $root.Values.tls.enabled (include "ipheron.tlsSecret" .) }}
- name: IPHERON_TLS_DIR
  value: {{ $root.Values.tls.mountPath | quote }}
{{- if not $http }}
- name: {{ $prefix }}_HEALTH_PORT
  value: {{ $root.Values.tls.healthPort | quote }}
{{- end }}
{{- end }}
{{- with $root.Values.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
- name: IPHERON_TRACE_SAMPLE_RATIO
  value: {{ $root.Values.otel.sampleRatio | quote }}
{{- end }}
{{- if $http }}
- name: GATEWAY_HOST
  value: "0.0.0.0"
- name: GATEWAY_PORT
  value: {{ $svc.port | quote }}
{{- with $svc.corsOrigins }}
- name: GATEWAY_CORS_ORIGINS
  value: {{ toJson . | quote }}
{{- end }}
{{- with $svc.trustedProxies }}
- name: GATEWAY_TRUSTED_PROXIES
  value: {{ toJson . | quote }}
{{- end }}
{{- else }}
- name: {{ $prefix }}_GRPC_HOST
  value: "0.0.0.0"
- name: {{ $prefix }}_GRPC_PORT
  value: {{ $svc.port | quote }}
- name: {{ $prefix }}_GRACE_SECONDS
  value: {{ $svc.graceSeconds | quote }}
{{- if $root.Values.metrics.enabled }}
- name: {{ $prefix }}_METRICS_HOST
  value: "0.0.0.0"
- name: {{ $prefix }}_METRICS_PORT
  value: {{ $svc.metricsPort | quote }}
{{- end }}
{{- end }}
{{- range $callee := $svc.calls }}
{{- $target := index $root.Values.services $callee }}
- name: {{ include "ipheron.envPrefix" $callee }}_ADDR
  value: {{ printf "%s:%v" (include "ipheron.componentFullname" (dict "root" $root "key" $callee)) $target.port | quote }}
{{- end }}
{{- if eq .key "auth" }}
{{- with $svc.siwe.domain }}
- name: AUTH_SIWE_DOMAIN
  value: {{ . | quote }}
{{- end }}
{{- with $svc.siwe.uri }}
- name: AUTH_SIWE_URI
  value: {{ . | quote }}
{{- end }}
{{- with $svc.siwe.chainId }}
- name: AUTH_SIWE_CHAIN_ID
  value: {{ . | int64 | quote }}
{{- end }}
{{- if $svc.jwt.existingSecret }}
- name: AUTH_JWT_PRIVATE_KEYS_FILE
  value: /etc/ipheron/jwt/{{ $svc.jwt.existingSecretKey }}
{{- end }}
{{- end }}
{{- if eq .key "chain" }}
{{- if and $svc.rpc.url (not $svc.rpc.existingSecret) }}
- name: WEB3_PROVIDER_URI
  value: {{ $svc.rpc.url | quote }}
{{- end }}
{{- with $svc.confirmations }}
- name: CHAIN_CONFIRMATIONS
  value: {{ . | quote }}
{{- end }}
{{- with $svc.contracts.token }}
- name: CHAIN_TOKEN_ADDRESS
  value: {{ . | quote }}
{{- end }}
{{- with $svc.contracts.marketplace }}
- name: CHAIN_MARKETPLACE_ADDRESS
  value: {{ . | quote }}
{{- end }}
{{- with $svc.contracts.timelock }}
- name: CHAIN_TIMELOCK_ADDRESS
  value: {{ . | quote }}
{{- end }}
{{- with $svc.contracts.vault }}
- name: CHAIN_VAULT_ADDRESS
  value: {{ . | quote }}
{{- end }}
{{- with $svc.vault.quoteSigner }}
- name: CHAIN_VAULT_QUOTE_SIGNER
  value: {{ . | quote }}
{{- end }}
{{- if ge (int64 $svc.vault.penaltyBps) 0 }}
- name: CHAIN_VAULT_PENALTY_BPS
  value: {{ $svc.vault.penaltyBps | int64 | quote }}
{{- end }}
{{- with $svc.vault.initialPoolWei }}
- name: CHAIN_VAULT_INITIAL_POOL_WEI
  value: {{ . | quote }}
{{- end }}
{{- with $svc.timelockDelaySeconds }}
- name: CHAIN_TIMELOCK_DELAY_S
  value: {{ . | int64 | quote }}
{{- end }}
{{- with $svc.withdrawCooldownSeconds }}
- name: CHAIN_WITHDRAW_COOLDOWN_S
  value: {{ . | int64 | quote }}
{{- end }}
{{- end }}
{{- range $name, $value := $svc.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- /* Secrets: only references, never a value from these values. */}}
{{- with $root.Values.redis.existingSecret }}
{{ include "ipheron.secretEnv" (dict "name" "REDIS_URL" "secret" . "key" $root.Values.redis.existingSecretKey) }}
{{- end }}
{{- if not $http }}
{{- with include "ipheron.databaseSecret" . }}
{{ include "ipheron.secretEnv" (dict "name" "DATABASE_URL" "secret" . "key" $svc.database.existingSecretKey) }}
{{- end }}
{{- end }}
{{- if eq .key "staking" }}
{{- with $svc.quoteSigner.existingSecret }}
{{ include "ipheron.secretEnv" (dict "name" "STAKING_QUOTE_SIGNER_KEY" "secret" . "key" $svc.quoteSigner.existingSecretKey) }}
{{- end }}
{{- end }}
{{- if eq .key "chain" }}
{{- with $svc.signer.existingSecret }}
{{ include "ipheron.secretEnv" (dict "name" "CHAIN_SIGNER_KEY" "secret" . "key" $svc.signer.existingSecretKey) }}
{{- end }}
{{- with $svc.rpc.existingSecret }}
{{ include "ipheron.secretEnv" (dict "name" "WEB3_PROVIDER_URI" "secret" . "key" $svc.rpc.existingSecretKey) }}
{{- end }}
{{- end }}
{{- end -}}
