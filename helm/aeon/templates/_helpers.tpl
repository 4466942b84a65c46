{{/* Chart name, truncated to the DNS label limit. */}}
{{- define "aeon.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified release name. */}}
{{- define "aeon.fullname" -}}
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

{{/* Name of one component's objects: <fullname>-<component>. */}}
{{- define "aeon.component" -}}
{{- printf "%s-%s" (include "aeon.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "aeon.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "aeon.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: aeon
{{- end -}}

{{/* Selector labels of one component. */}}
{{- define "aeon.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aeon.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Image reference of one component. */}}
{{- define "aeon.image" -}}
{{- $img := .root.Values.image -}}
{{- $repo := printf "%s%s" $img.repositoryPrefix .component -}}
{{- $tag := default .root.Chart.AppVersion $img.tag -}}
{{- if $img.registry -}}
{{- printf "%s/%s:%s" $img.registry $repo $tag -}}
{{- else -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}
{{- end -}}

{{/* Service account name. */}}
{{- define "aeon.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "aeon.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Name of the Secret holding objstore.yml. */}}
{{- define "aeon.objstoreSecret" -}}
{{- default (printf "%s-objstore" (include "aeon.fullname" .)) .Values.objstore.existingSecret -}}
{{- end -}}

{{/* Headless Service name of the store-gateway shard. */}}
{{- define "aeon.storeGatewayShard" -}}
{{- printf "%s-%d" (include "aeon.component" (dict "root" .root "component" "store-gateway")) (int .shard) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Common pod security context: non-root, read-only root filesystem. */}}
{{- define "aeon.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "aeon.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* The objstore volume and its mount. */}}
{{- define "aeon.objstoreVolume" -}}
- name: objstore
  secret:
    secretName: {{ include "aeon.objstoreSecret" . }}
{{- end -}}
{{- define "aeon.objstoreMount" -}}
- name: objstore
  mountPath: /etc/aeon/objstore
  readOnly: true
{{- end -}}

{{/* Readiness and liveness probes on the admin port. */}}
{{- define "aeon.probes" -}}
livenessProbe:
  httpGet:
    path: /-/healthy
    port: http
  periodSeconds: 30
  failureThreshold: 4
readinessProbe:
  httpGet:
    path: /-/ready
    port: http
  periodSeconds: 5
  failureThreshold: 3
{{- end -}}

{{/* Flags every component shares. */}}
{{- define "aeon.commonArgs" -}}
- --log.level={{ .Values.log.level }}
- --log.format={{ .Values.log.format }}
- --http-address=0.0.0.0:10902
{{- end -}}

{{/* gRPC TLS (values `grpcTls`): the Secret's files under /etc/aeon/grpc-tls. */}}
{{- define "aeon.grpcTlsSecret" -}}
{{- required "grpcTls.secretName is required when grpcTls.enabled is true" .Values.grpcTls.secretName -}}
{{- end -}}
{{- define "aeon.grpcTlsVolume" -}}
{{- if .Values.grpcTls.enabled }}
- name: grpc-tls
  secret:
    secretName: {{ include "aeon.grpcTlsSecret" . }}
{{- end }}
{{- end -}}
{{- define "aeon.grpcTlsMount" -}}
{{- if .Values.grpcTls.enabled }}
- name: grpc-tls
  mountPath: /etc/aeon/grpc-tls
  readOnly: true
{{- end }}
{{- end -}}
{{/* Serving the Store API over TLS (store-gateway, querier). */}}
{{- define "aeon.grpcTlsServerArgs" -}}
{{- if .Values.grpcTls.enabled }}
- --grpc-server-tls-cert=/etc/aeon/grpc-tls/{{ .Values.grpcTls.certKey }}
- --grpc-server-tls-key=/etc/aeon/grpc-tls/{{ .Values.grpcTls.keyKey }}
{{- if .Values.grpcTls.clientAuth }}
- --grpc-server-tls-client-ca=/etc/aeon/grpc-tls/{{ .Values.grpcTls.caKey }}
{{- end }}
{{- end }}
{{- end -}}
{{/* Dialling every Store API endpoint over TLS (querier). */}}
{{- define "aeon.grpcTlsClientArgs" -}}
{{- if .Values.grpcTls.enabled }}
- --grpc-client-tls-secure
- --grpc-client-tls-ca=/etc/aeon/grpc-tls/{{ .Values.grpcTls.caKey }}
- --grpc-client-tls-cert=/etc/aeon/grpc-tls/{{ .Values.grpcTls.certKey }}
- --grpc-client-tls-key=/etc/aeon/grpc-tls/{{ .Values.grpcTls.keyKey }}
{{- with .Values.grpcTls.serverName }}
- --grpc-client-server-name={{ . }}
{{- end }}
{{- if .Values.grpcTls.insecureSkipVerify }}
- --grpc-client-tls-skip-verify
{{- end }}
{{- end }}
{{- end -}}
