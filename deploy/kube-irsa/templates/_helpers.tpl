{{- define "kube-irsa.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 50 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "kube-irsa.webhook" -}}{{ include "kube-irsa.fullname" . }}-webhook{{- end -}}
{{- define "kube-irsa.agent" -}}{{ include "kube-irsa.fullname" . }}-agent{{- end -}}

{{- define "kube-irsa.labels" -}}
app.kubernetes.io/name: kube-irsa
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kube-irsa.selector" -}}
app.kubernetes.io/name: kube-irsa
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "kube-irsa.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Every container: non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp. */}}
{{- define "kube-irsa.restrictedContainer" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "kube-irsa.webhookServiceName" -}}{{ include "kube-irsa.webhook" . }}{{- end -}}
{{- define "kube-irsa.webhookSecretName" -}}
{{- if eq .Values.tls.mode "existingSecret" -}}{{ .Values.tls.existingSecret.name }}{{- else -}}{{ include "kube-irsa.webhook" . }}-tls{{- end -}}
{{- end -}}

{{/* Identity flags shared by both components. */}}
{{- define "kube-irsa.identityArgs" -}}
- --annotation-prefix={{ .Values.identity.annotationPrefix }}
- --token-audience={{ .Values.identity.tokenAudience }}
- --token-expiration={{ int .Values.identity.tokenExpiration }}
- --sts-regional-endpoint={{ .Values.identity.stsRegionalEndpoint }}
{{- if .Values.identity.mappings }}
- --watch-config-map=true
- --namespace={{ .Release.Namespace }}
{{- end }}
{{- end -}}

{{- define "kube-irsa.extraArgs" -}}
{{- range $k, $v := . }}
- --{{ $k }}={{ $v }}
{{- end }}
{{- end -}}

{{/* One entry of the MutatingWebhookConfiguration: Ignore for most pods, Fail for the opt-in label. */}}
{{- define "kube-irsa.webhookEntry" }}
  - name: {{ .name }}
    admissionReviewVersions: [v1, v1beta1]
    sideEffects: None
    reinvocationPolicy: IfNeeded
    matchPolicy: Equivalent
    timeoutSeconds: {{ .root.Values.webhook.timeoutSeconds }}
    failurePolicy: {{ .failurePolicy }}
    clientConfig:
      service: {name: {{ include "kube-irsa.webhookServiceName" .root }}, namespace: {{ .root.Release.Namespace }}, path: /mutate, port: 443}
      {{- if .caBundle }}
      caBundle: {{ .caBundle }}
      {{- end }}
    rules:
      - {operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods], scope: Namespaced}
    namespaceSelector:
      matchExpressions:
        - key: kubernetes.io/metadata.name
          operator: NotIn
          values: {{- toYaml (concat .root.Values.webhook.namespaceSelector.excludeNamespaces (list .root.Release.Namespace) | uniq) | nindent 12 }}
    objectSelector:
      matchExpressions:
        - {key: eks.amazonaws.com/skip-pod-identity-webhook, operator: DoesNotExist}
        {{- if .root.Values.webhook.failurePolicy.failForLabelledPods }}
        - {key: {{ .root.Values.webhook.failurePolicy.requireLabel }}, operator: {{ .labelOperator }}, values: ["true"]}
        {{- end }}
{{- end }}

{{/* The token guard (node restriction of the agent's TokenRequests) runs where both run and the agent mints tokens. */}}
{{- define "kube-irsa.tokenGuard" -}}
{{- if and .Values.webhook.enabled .Values.agent.enabled (eq .Values.agent.tokenSource "token-request") }}true{{ end }}
{{- end -}}
