{{/* The chart's name, or nameOverride. */}}
{{- define "jelou-producer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: the names of the objects, and the job label of the scraped series. */}}
{{- define "jelou-producer.fullname" -}}
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

{{- define "jelou-producer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jelou-producer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "jelou-producer.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "jelou-producer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "jelou-producer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "jelou-producer.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "jelou-producer.secretName" -}}
{{- default (include "jelou-producer.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/*
GOMEMLIMIT in bytes: goMemLimitPercent of resources.limits.memory, or empty
when there is no memory limit. Kubernetes quantities with a fraction or an
exponent are refused with a message rather than guessed.
*/}}
{{- define "jelou-producer.goMemLimit" -}}
{{- $limits := (.Values.resources | default dict).limits | default dict -}}
{{- with $limits.memory -}}
{{- $q := toString . -}}
{{- if not (regexMatch "^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$" $q) -}}
{{- fail (printf "resources.limits.memory %q: use an integer with an optional Ki, Mi, Gi, Ti, k, M, G or T suffix (GOMEMLIMIT is derived from it)" $q) -}}
{{- end -}}
{{- $num := regexFind "^[0-9]+" $q -}}
{{- $unit := trimPrefix $num $q -}}
{{- $mult := get (dict "" 1 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000) $unit -}}
{{- $pct := int $.Values.goMemLimitPercent -}}
{{- if or (lt $pct 1) (gt $pct 100) -}}
{{- fail (printf "goMemLimitPercent %d: must be between 1 and 100" $pct) -}}
{{- end -}}
{{- div (mul (int64 $num) $mult $pct) 100 -}}
{{- end -}}
{{- end -}}

{{/* The label matchers that keep the alert rules to this release's series: prometheusRule.selector, or the job and namespace a ServiceMonitor gives them. */}}
{{- define "jelou-producer.ruleSelector" -}}
{{- if .Values.prometheusRule.selector -}}
{{- .Values.prometheusRule.selector -}}
{{- else -}}
job="{{ include "jelou-producer.fullname" . }}",namespace="{{ .Release.Namespace }}"
{{- end -}}
{{- end -}}

{{/* GROUP_ID: group.id, or the release's full name. */}}
{{- define "jelou-producer.groupId" -}}
{{- .Values.group.id | default (include "jelou-producer.fullname" .) -}}
{{- end -}}

{{/* The prefix of a source's variables: SOURCE_, the id upper-cased with '-' as '_', and '_' (config.SourcePrefix). */}}
{{- define "jelou-producer.sourcePrefix" -}}
{{- printf "SOURCE_%s_" (. | upper | replace "-" "_") -}}
{{- end -}}

{{/* SOURCES: the ids of sources, comma-separated. */}}
{{- define "jelou-producer.sourceIds" -}}
{{- $ids := list -}}
{{- range .Values.sources -}}
{{- $ids = append $ids .id -}}
{{- end -}}
{{- join "," $ids -}}
{{- end -}}

{{/* "true" when the chart creates the Secret: no existingSecret, and something to put in it (the default source's credentials, a SASL password or a Schema Registry password). */}}
{{- define "jelou-producer.createSecret" -}}
{{- if and (not .Values.secrets.existingSecret) (or (not .Values.sources) .Values.secrets.kafkaSaslPassword .Values.secrets.schemaRegistryPassword) -}}
true
{{- end -}}
{{- end -}}

{{/*
SHUTDOWN_TIMEOUT (config, default 15s) in whole seconds, rounded up, for the
check of terminationGracePeriodSeconds. Durations of whole hours, minutes and
seconds ("20s", "1m30s") or milliseconds ("500ms") are understood; others are
refused with a message rather than guessed.
*/}}
{{- define "jelou-producer.shutdownSeconds" -}}
{{- $d := toString (.Values.config.SHUTDOWN_TIMEOUT | default "15s") -}}
{{- if regexMatch "^[0-9]+ms$" $d -}}
{{- div (add (trimSuffix "ms" $d | int64) 999) 1000 -}}
{{- else if and (ne $d "") (regexMatch "^([0-9]+h)?([0-9]+m)?([0-9]+s)?$" $d) -}}
{{- $h := regexFind "[0-9]+h" $d | trimSuffix "h" | default "0" | int64 -}}
{{- $m := regexFind "[0-9]+m" $d | trimSuffix "m" | default "0" | int64 -}}
{{- $s := regexFind "[0-9]+s" $d | trimSuffix "s" | default "0" | int64 -}}
{{- add (mul $h 3600) (mul $m 60) $s -}}
{{- else -}}
{{- fail (printf "config.SHUTDOWN_TIMEOUT %q: write it in whole h, m and s (\"20s\", \"1m30s\") or ms; the chart checks terminationGracePeriodSeconds against it" $d) -}}
{{- end -}}
{{- end -}}

{{/* How long leaving the consumer group may take after the final saves: kafka-go's coordinator request timeout. */}}
{{- define "jelou-producer.groupLeaveSeconds" -}}
10
{{- end -}}

{{/*
Checks of values that values.schema.json cannot express; each failure names
the value to change. Included by the Deployment.
*/}}
{{- define "jelou-producer.validate" -}}
{{- $reserved := dict
  "JELOU_CLIENT_ID" "secrets.jelouClientId or secrets.existingSecret"
  "JELOU_CLIENT_SECRET" "secrets.jelouClientSecret or secrets.existingSecret"
  "KAFKA_SASL_PASSWORD" "secrets.kafkaSaslPassword or secrets.existingSecret"
  "SCHEMA_REGISTRY_PASSWORD" "secrets.schemaRegistryPassword or secrets.existingSecret"
  "CHECKPOINT_BACKEND" "checkpointBackend"
  "CHECKPOINT_TOPIC" "checkpointTopic"
  "CHECKPOINT_PATH" "checkpointPath"
  "GROUP_ID" "group.id"
  "GROUP_SESSION_TIMEOUT" "group.sessionTimeout"
  "SOURCES" "sources"
  "HTTP_ADDR" "service.port"
  "GOMEMLIMIT" "resources.limits.memory and goMemLimitPercent" -}}
{{- range $name, $_ := .Values.config }}
{{- if hasKey $reserved $name }}
{{- fail (printf "config.%s: set by the chart; use %s instead" $name (get $reserved $name)) }}
{{- else if regexMatch "^SOURCE_.+_(CLIENT_ID|CLIENT_SECRET|CLIENT_ID_FILE|CLIENT_SECRET_FILE|BASE_URL|AUTH_SCHEME|TIMEZONE|PAGE_SIZE|RATE_LIMIT|RATE_BURST|TOPIC|STATE_TOPIC)$" $name }}
{{- fail (printf "config.%s: set by the chart; use sources instead" $name) }}
{{- end }}
{{- end }}
{{- range $i, $e := .Values.extraEnv }}
{{- if hasKey $reserved $e.name }}
{{- fail (printf "extraEnv[%d] %s: set by the chart; use %s instead" $i $e.name (get $reserved $e.name)) }}
{{- else if regexMatch "^SOURCE_.+_(CLIENT_ID|CLIENT_SECRET|CLIENT_ID_FILE|CLIENT_SECRET_FILE|BASE_URL|AUTH_SCHEME|TIMEZONE|PAGE_SIZE|RATE_LIMIT|RATE_BURST|TOPIC|STATE_TOPIC)$" $e.name }}
{{- fail (printf "extraEnv[%d] %s: set by the chart; use sources instead" $i $e.name) }}
{{- else if hasKey $.Values.config $e.name }}
{{- fail (printf "extraEnv[%d] %s: already set under config; set it in one place" $i $e.name) }}
{{- end }}
{{- end }}
{{- $replicas := int .Values.replicaCount }}
{{- if eq .Values.checkpointBackend "file" }}
{{- if gt $replicas 1 }}
{{- fail (printf "replicaCount %d: the file checkpoint backend runs exactly one replica (a second producer on the checkpoint file would be refused its lock, and the volume attaches to one pod); set replicaCount=1, or checkpointBackend=kafka to run replicas" $replicas) }}
{{- end }}
{{- end }}
{{- if not (hasPrefix "/data/" .Values.checkpointPath) }}
{{- fail (printf "checkpointPath %q: must be a file under /data/, where the checkpoint volume is mounted (file backend)" .Values.checkpointPath) }}
{{- end }}
{{- $shutdown := include "jelou-producer.shutdownSeconds" . | int }}
{{- $grace := int .Values.terminationGracePeriodSeconds }}
{{- if eq .Values.checkpointBackend "kafka" }}
{{- $leave := include "jelou-producer.groupLeaveSeconds" . | int }}
{{- if le $grace (add $shutdown $leave | int) }}
{{- fail (printf "terminationGracePeriodSeconds %d: must exceed SHUTDOWN_TIMEOUT (%ds) plus up to %ds to leave the consumer group (kafka backend), %ds in all; raise it" $grace $shutdown $leave (add $shutdown $leave)) }}
{{- end }}
{{- else if le $grace $shutdown }}
{{- fail (printf "terminationGracePeriodSeconds %d: must exceed SHUTDOWN_TIMEOUT (%ds); raise it" $grace $shutdown) }}
{{- end }}
{{- $ids := list }}
{{- range $i, $src := .Values.sources }}
{{- if has $src.id $ids }}
{{- fail (printf "sources[%d].id %q: listed twice" $i $src.id) }}
{{- end }}
{{- $ids = append $ids $src.id }}
{{- end }}
{{- if .Values.sources }}
{{- range $key := list "jelouClientId" "jelouClientSecret" }}
{{- if get $.Values.secrets $key }}
{{- fail (printf "secrets.%s: unused when sources is set (each source reads sources[].existingSecret); leave it empty" $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
The head of an alert rule: its name, for and labels (severity, alertLabels),
from prometheusRule.alerts.<name>. Called with (list $ "<name>").
*/}}
{{- define "jelou-producer.alertHead" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $a := get $root.Values.prometheusRule.alerts $name -}}
- alert: {{ $name }}
  for: {{ $a.for }}
  labels:
    severity: {{ $a.severity }}
    {{- with $root.Values.prometheusRule.alertLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/* The runbook of an alert: its section of docs/operations.md (the anchor GitHub gives the heading "### <name>"). Called with (list $ "<name>"). */}}
{{- define "jelou-producer.runbookURL" -}}
{{- $root := index . 0 -}}
{{- printf "%s#%s" (trimSuffix "/" $root.Values.prometheusRule.runbookBaseURL) (index . 1 | lower) -}}
{{- end -}}

{{/* Labels of the helm test Pod: the release's, without app.kubernetes.io/name, so that neither the Service nor the Deployment selects it. */}}
{{- define "jelou-producer.testLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: helm-test
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
