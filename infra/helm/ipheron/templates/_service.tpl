{{/* One component's Service (component context). */}}
{{- define "ipheron.service" -}}
{{- $http := include "ipheron.isHttp" . -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "ipheron.componentFullname" . }}
  labels:
    {{- include "ipheron.componentLabels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "ipheron.selectorLabels" . | nindent 4 }}
  ports:
    - name: {{ ternary "http" "grpc" (eq $http "true") }}
      port: {{ .svc.port }}
      targetPort: {{ ternary "http" "grpc" (eq $http "true") }}
      protocol: TCP
      {{- if not $http }}
      appProtocol: grpc
      {{- end }}
    {{- if and .root.Values.metrics.enabled (not $http) }}
    - name: metrics
      port: {{ .svc.metricsPort }}
      targetPort: metrics
      protocol: TCP
    {{- end }}
{{- end -}}
