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

{{/* The label matchers that keep the alert rules to this release's series. */}}
{{- define "jelou-producer.ruleSelector" -}}
job="{{ include "jelou-producer.fullname" . }}",namespace="{{ .Release.Namespace }}"
{{- end -}}
