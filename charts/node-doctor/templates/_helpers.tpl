{{/* Chart name, overridable. */}}
{{- define "node-doctor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name of the objects: the release name when it already contains the chart name. */}}
{{- define "node-doctor.fullname" -}}
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

{{- define "node-doctor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "node-doctor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "node-doctor.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "node-doctor.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: node-doctor
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "node-doctor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "node-doctor.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "node-doctor.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The container security context: the hardened default, or privileged when opted in. */}}
{{- define "node-doctor.securityContext" -}}
{{- if .Values.privileged -}}
{{- $ctx := deepCopy .Values.securityContext -}}
{{- $_ := set $ctx "privileged" true -}}
{{- $_ := set $ctx "allowPrivilegeEscalation" true -}}
{{- toYaml $ctx -}}
{{- else -}}
{{- toYaml .Values.securityContext -}}
{{- end -}}
{{- end -}}

{{/*
Relabelings shared by the ServiceMonitor and the PodMonitor: the target's
node becomes the `node` label (so `up` carries it, as every node-doctor series
does), and the job is always "node-doctor" so the shipped alerts match.
*/}}
{{- define "node-doctor.relabelings" -}}
- action: replace
  sourceLabels: [__meta_kubernetes_pod_node_name]
  targetLabel: node
- action: replace
  targetLabel: job
  replacement: node-doctor
{{- with .relabelings }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
The node's files under /host, as YAML "mountPath: {name, path, type}";
ranging over it goes by mount path, so a parent is mounted before anything
under it.

hostRootFsMount.enabled (the default): the node's / at /host, and /proc, /sys and
/run again over it. Kubernetes makes only the top of a mount read-only, not
the filesystems mounted under it; these three are separate filesystems on
every Linux node (the kernel's interfaces, systemd's runtime directory with
the runtime's sockets), so each gets a read-only mount of its own. Every one
of these paths exists on every node: nothing is created, nothing can be
missing.

Otherwise the enabled hostPaths, each at /host/<path>. A path inside another
enabled one is left out: it is already visible there (kubelet's pki and
config.yaml under /var/lib/kubelet), and a File-typed mount of a file the
node lacks would keep the pod from starting.
*/}}
{{- define "node-doctor.hostMounts" -}}
{{- $out := dict -}}
{{- if .Values.hostRootFsMount.enabled -}}
{{- $_ := set $out "/host" (dict "name" "root" "path" "/" "type" "Directory") -}}
{{- range $path := list "/proc" "/sys" "/run" -}}
{{- $_ := set $out (printf "/host%s" $path) (dict "name" (trimPrefix "/" $path) "path" $path "type" "Directory") -}}
{{- end -}}
{{- else -}}
{{- $byPath := dict -}}
{{- range $name, $hp := .Values.hostPaths -}}
{{- if $hp.enabled -}}
{{- if hasKey $byPath $hp.path -}}
{{- fail (printf "hostPaths.%s.path and hostPaths.%s.path are both %s" (get $byPath $hp.path) $name $hp.path) -}}
{{- end -}}
{{- $_ := set $byPath $hp.path $name -}}
{{- end -}}
{{- end -}}
{{- range $path, $name := $byPath -}}
{{- $covered := false -}}
{{- range $other, $_ := $byPath -}}
{{- if hasPrefix (printf "%s/" $other) $path -}}
{{- $covered = true -}}
{{- end -}}
{{- end -}}
{{- if not $covered -}}
{{- $hp := get $.Values.hostPaths $name -}}
{{- $_ := set $out (printf "/host%s" $path) (dict "name" $name "path" $path "type" $hp.type) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The agent's configuration: `config`, with `customChecks` as its checks.custom. */}}
{{- define "node-doctor.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- if .Values.customChecks -}}
{{- $checks := deepCopy (default dict $config.checks) -}}
{{- if hasKey $checks "custom" -}}
{{- fail "customChecks and config.checks.custom are both set: put the custom checks in customChecks only" -}}
{{- end -}}
{{- $_ := set $checks "custom" .Values.customChecks -}}
{{- $_ := set $config "checks" $checks -}}
{{- end -}}
{{- if .Values.localRepair.enabled -}}
{{- $repair := deepCopy (default dict $config.repair) -}}
{{- $_ := set $repair "enabled" true -}}
{{- $_ := set $repair "dryRun" .Values.localRepair.dryRun -}}
{{- $budget := deepCopy (default dict $repair.budget) -}}
{{- $_ := set $budget "maxPercent" .Values.localRepair.maxPercent -}}
{{- $_ := set $repair "budget" $budget -}}
{{- $_ := set $config "repair" $repair -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/* Non-empty when a custom check runs an NPD plugin: the one case where the agent starts processes on an interval. */}}
{{- define "node-doctor.runsPlugins" -}}
{{- $custom := concat (.Values.customChecks | default list) ((.Values.config.checks | default dict).custom | default list) -}}
{{- range $custom }}{{ if eq ((.probe | default dict).kind | default "") "npd-plugin" }}true{{ end }}{{ end -}}
{{- end -}}

{{/*
How a host mount follows the node. The kernel's own filesystems (/proc,
/sys) gain no mounts the agent needs after it starts: recursively read-only
where the runtime can (Kubernetes 1.30+), so their submounts (cgroupfs,
securityfs, binfmt_misc) are read-only too. Every other mount follows the
node's mounts (HostToContainer: a disk mounted later is seen, a pod volume
kubelet unmounts is let go of, never held). recursiveReadOnly and
HostToContainer cannot be combined.
*/}}
{{- define "node-doctor.mountPropagation" -}}
{{- if has .path (list "/proc" "/sys") -}}
recursiveReadOnly: IfPossible
{{- else -}}
mountPropagation: HostToContainer
{{- end -}}
{{- end -}}
