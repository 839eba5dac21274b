{{/* One component's Deployment (component context). */}}
{{- define "ipheron.deployment" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $http := include "ipheron.isHttp" . -}}
{{- $tls := and $root.Values.tls.enabled (include "ipheron.tlsSecret" .) -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "ipheron.componentFullname" . }}
  labels:
    {{- include "ipheron.componentLabels" . | nindent 4 }}
spec:
  {{- if not $svc.autoscaling.enabled }}
  replicas: {{ $svc.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  {{- with $svc.strategy }}
  strategy:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "ipheron.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "ipheron.componentLabels" . | nindent 8 }}
      {{- with $svc.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "ipheron.serviceAccountName" $root }}
      automountServiceAccountToken: false
      {{- with $root.Values.global.imagePullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      terminationGracePeriodSeconds: {{ $svc.terminationGracePeriodSeconds }}
      securityContext:
        {{- toYaml $svc.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ include "ipheron.component" .key }}
          image: {{ include "ipheron.image" . | quote }}
          imagePullPolicy: {{ $svc.image.pullPolicy }}
          ports:
            - name: {{ ternary "http" "grpc" (eq $http "true") }}
              containerPort: {{ $svc.port }}
              protocol: TCP
            {{- if and $root.Values.metrics.enabled (not $http) }}
            - name: metrics
              containerPort: {{ $svc.metricsPort }}
              protocol: TCP
            {{- end }}
          env:
            {{- include "ipheron.env" . | nindent 12 }}
          {{- with $svc.probes.startup }}
          {{- if .enabled }}
          startupProbe:
            {{- if $http }}
            httpGet:
              path: /health/live
              port: http
            {{- else }}
            grpc:
              port: {{ if $tls }}{{ $root.Values.tls.healthPort }}{{ else }}{{ $svc.port }}{{ end }}
            {{- end }}
            initialDelaySeconds: {{ .initialDelaySeconds }}
            periodSeconds: {{ .periodSeconds }}
            timeoutSeconds: {{ .timeoutSeconds }}
            failureThreshold: {{ .failureThreshold }}
          {{- end }}
          {{- end }}
          {{- with $svc.probes.liveness }}
          {{- if .enabled }}
          livenessProbe:
            {{- if $http }}
            httpGet:
              path: /health/live
              port: http
            {{- else }}
            grpc:
              port: {{ if $tls }}{{ $root.Values.tls.healthPort }}{{ else }}{{ $svc.port }}{{ end }}
            {{- end }}
            initialDelaySeconds: {{ .initialDelaySeconds }}
            periodSeconds: {{ .periodSeconds }}
            timeoutSeconds: {{ .timeoutSeconds }}
            failureThreshold: {{ .failureThreshold }}
          {{- end }}
          {{- end }}
          {{- with $svc.probes.readiness }}
          {{- if .enabled }}
          readinessProbe:
            {{- if $http }}
            httpGet:
              path: /health/ready
              port: http
            {{- else }}
            grpc:
              port: {{ if $tls }}{{ $root.Values.tls.healthPort }}{{ else }}{{ $svc.port }}{{ end }}
            {{- end }}
            initialDelaySeconds: {{ .initialDelaySeconds }}
            periodSeconds: {{ .periodSeconds }}
            timeoutSeconds: {{ .timeoutSeconds }}
            failureThreshold: {{ .failureThreshold }}
          {{- end }}
          {{- end }}
          resources:
            {{- toYaml $svc.resources | nindent 12 }}
          securityContext:
            {{- toYaml $svc.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if and (eq .key "auth") $svc.jwt.existingSecret }}
            - name: jwt-keys
              mountPath: /etc/ipheron/jwt
              readOnly: true
            {{- end }}
            {{- if $tls }}
            - name: tls
              mountPath: {{ $root.Values.tls.mountPath }}
              readOnly: true
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $svc.tmpSizeLimit }}
        {{- if and (eq .key "auth") $svc.jwt.existingSecret }}
        - name: jwt-keys
          secret:
            secretName: {{ $svc.jwt.existingSecret }}
            defaultMode: 0440
            items:
              - key: {{ $svc.jwt.existingSecretKey }}
                path: {{ $svc.jwt.existingSecretKey }}
        {{- end }}
        {{- if $tls }}
        - name: tls
          secret:
            secretName: {{ include "ipheron.tlsSecret" . }}
            defaultMode: 0440
        {{- end }}
      {{- with $svc.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}
