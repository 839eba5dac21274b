{{/*
One component's allow policy (component context): ingress only from its callers (the
services whose `calls` name it; the ingress controller for the gateway), egress only to
its callees and to the external servers it uses. The deny-all policy covers the rest.
*/}}
{{- define "ipheron.networkPolicy" -}}
{{- $root := .root -}}
{{- $key := .key -}}
{{- $svc := .svc -}}
{{- $np := $root.Values.networkPolicy -}}
{{- $http := include "ipheron.isHttp" . -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "ipheron.componentFullname" . }}
  labels:
    {{- include "ipheron.componentLabels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "ipheron.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    {{- if $http }}
    {{- with $np.ingressController.from }}
    - from:
        {{- toYaml . | nindent 8 }}
      ports:
        - port: {{ $svc.port }}
          protocol: TCP
    {{- end }}
    {{- end }}
    {{- range $caller, $c := $root.Values.services }}
    {{- if and $c.enabled (has $key $c.calls) }}
    - from:
        - podSelector:
            matchLabels:
              {{- include "ipheron.selectorLabels" (dict "root" $root "key" $caller) | nindent 14 }}
      ports:
        - port: {{ $svc.port }}
          protocol: TCP
    {{- end }}
    {{- end }}
    {{- if $root.Values.metrics.enabled }}
    {{- with $np.metrics.from }}
    - from:
        {{- toYaml . | nindent 8 }}
      ports:
        - port: {{ ternary $svc.port $svc.metricsPort (eq $http "true") }}
          protocol: TCP
    {{- end }}
    {{- end }}
  egress:
    {{- range $callee := $svc.calls }}
    - to:
        - podSelector:
            matchLabels:
              {{- include "ipheron.selectorLabels" (dict "root" $root "key" $callee) | nindent 14 }}
      ports:
        - port: {{ (index $root.Values.services $callee).port }}
          protocol: TCP
    {{- end }}
    {{- if not $http }}
    {{- with $np.postgresql.to }}
    - to:
        {{- toYaml . | nindent 8 }}
      ports:
        - port: {{ $np.postgresql.port }}
          protocol: TCP
    {{- end }}
    {{- end }}
    {{- with $np.redis.to }}
    - to:
        {{- toYaml . | nindent 8 }}
      ports:
        - port: {{ $np.redis.port }}
          protocol: TCP
    {{- end }}
    {{- if eq $key "chain" }}
    {{- with $np.chainRpc.to }}
    - to:
        {{- toYaml . | nindent 8 }}
      ports:
        - port: {{ $np.chainRpc.port }}
          protocol: TCP
    {{- end }}
    {{- end }}
    {{- if $root.Values.otel.endpoint }}
    {{- with $np.otelCollector.to }}
    - to:
        {{- toYaml . | nindent 8 }}
      ports:
        - port: {{ $np.otelCollector.port }}
          protocol: TCP
    {{- end }}
    {{- end }}
{{- end -}}
