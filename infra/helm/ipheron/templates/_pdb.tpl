{{/* One component's PodDisruptionBudget (component context), when pdb.enabled. */}}
{{- define "ipheron.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "ipheron.componentFullname" . }}
  labels:
    {{- include "ipheron.componentLabels" . | nindent 4 }}
spec:
  minAvailable: {{ .svc.pdb.minAvailable }}
  selector:
    matchLabels:
      {{- include "ipheron.selectorLabels" . | nindent 6 }}
{{- end -}}
