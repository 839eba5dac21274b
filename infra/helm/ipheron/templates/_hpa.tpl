{{/* One component's HorizontalPodAutoscaler (component context), when autoscaling.enabled. */}}
{{- define "ipheron.hpa" -}}
{{- with .svc.autoscaling -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "ipheron.componentFullname" $ }}
  labels:
    {{- include "ipheron.componentLabels" $ | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "ipheron.componentFullname" $ }}
  minReplicas: {{ .minReplicas }}
  maxReplicas: {{ .maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .targetCPUUtilizationPercentage }}
{{- end -}}
{{- end -}}
