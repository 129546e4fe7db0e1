{# Named templates shared by the chart's templates. #}
{%- define "capstan.name" -%}
{{ Values.nameOverride | default(Chart.Name) | trunc(63) | trimSuffix("-") }}
{%- enddefine %}

{#
  The full name: the release name when it already contains the chart name, else
  "<release>-<chart>", cut so that "<fullname>-renderer" and "<fullname>-applier" fit a DNS label.
#}
{%- define "capstan.fullname" -%}
{% if Values.fullnameOverride %}
{{ Values.fullnameOverride | trunc(50) | trimSuffix("-") }}
{%- else %}
{% set name = Values.nameOverride | default(Chart.Name) %}
{% if name in Release.Name %}
{{ Release.Name | trunc(50) | trimSuffix("-") }}
{%- else %}
{{ printf("%s-%s", Release.Name, name) | trunc(50) | trimSuffix("-") }}
{%- endif %}
{% endif %}
{%- enddefine %}

{# Cluster-scoped objects carry the namespace too: one release per namespace never collides. #}
{%- define "capstan.clusterName" -%}
{{ printf("%s-%s", Release.Namespace, include("capstan.fullname", ctx)) | trunc(50) | trimSuffix("-") }}
{%- enddefine %}

{%- define "capstan.chart" -%}
{{ printf("%s-%s", Chart.Name, Chart.Version) | replace("+", "_") | trunc(63) }}
{%- enddefine %}

{%- define "capstan.labels" -%}
helm.sh/chart: {{ include("capstan.chart", ctx) }}
app.kubernetes.io/name: {{ include("capstan.name", ctx) }}
app.kubernetes.io/instance: {{ Release.Name }}
app.kubernetes.io/version: {{ Values.image.tag | default(Chart.AppVersion) | quote }}
app.kubernetes.io/managed-by: {{ Release.Service }}
app.kubernetes.io/part-of: capstan
{%- enddefine %}

{# Selector labels of one component: include("capstan.selectorLabels", dict("root", ctx, "component", "applier")). #}
{%- define "capstan.selectorLabels" -%}
app.kubernetes.io/name: {{ include("capstan.name", root) }}
app.kubernetes.io/instance: {{ root.Release.Name }}
app.kubernetes.io/component: {{ component }}
{%- enddefine %}

{%- define "capstan.applierServiceAccount" -%}
{% if Values.applier.serviceAccount.create %}
{{ Values.applier.serviceAccount.name | default(include("capstan.fullname", ctx) ~ "-applier") }}
{%- else %}
{{ Values.applier.serviceAccount.name | default("default") }}
{%- endif %}
{%- enddefine %}

{# The image of one component: include("capstan.image", dict("root", ctx, "component", Values.applier)). #}
{%- define "capstan.image" -%}
{% set repository = component.image.repository %}
{% if root.Values.image.registry %}
{% set repository = root.Values.image.registry ~ "/" ~ repository %}
{% endif %}
{{ repository }}:{{ root.Values.image.tag | default(root.Chart.AppVersion) }}
{%- enddefine %}

{# The flags both daemons share (TLS, tokens, metrics), one list item a line. #}
{%- define "capstan.securityArgs" -%}
{% if Values.tls.secretName %}
- --tls-cert=/etc/capstan/tls/tls.crt
- --tls-key=/etc/capstan/tls/tls.key
{% if Values.tls.clientAuth %}
- --tls-client-ca=/etc/capstan/tls/ca.crt
{% endif %}
{% endif %}
{% if Values.auth.tokenSecretName %}
- --token-file=/etc/capstan/tokens/{{ Values.auth.tokenSecretKey }}
{% endif %}
{% if Values.metrics.enabled %}
- --metrics-listen=0.0.0.0:{{ Values.metrics.port }}
{% endif %}
{%- enddefine %}

{# Environment both daemons share. #}
{%- define "capstan.env" -%}
- name: RUST_LOG
  value: {{ Values.log.level | quote }}
- name: CAPSTAN_LOG_FORMAT
  value: {{ Values.log.format | quote }}
{%- enddefine %}

{# The mounts for TLS and tokens (a read-only root file system needs nothing else). #}
{%- define "capstan.volumeMounts" -%}
{% if Values.tls.secretName %}
- name: tls
  mountPath: /etc/capstan/tls
  readOnly: true
{% endif %}
{% if Values.auth.tokenSecretName %}
- name: tokens
  mountPath: /etc/capstan/tokens
  readOnly: true
{% endif %}
{%- enddefine %}

{%- define "capstan.volumes" -%}
{% if Values.tls.secretName %}
- name: tls
  secret:
    secretName: {{ Values.tls.secretName }}
{% endif %}
{% if Values.auth.tokenSecretName %}
- name: tokens
  secret:
    secretName: {{ Values.auth.tokenSecretName }}
{% endif %}
{%- enddefine %}

{#
  Liveness and readiness probes on a component's gRPC port: Kubernetes' native gRPC probe asking
  grpc.health.v1 about the component's service; with TLS on (which the kubelet's gRPC probe does
  not speak), a TCP probe. include("capstan.probes", dict("root", ctx, "port", 50051, "service", "...")).
#}
{%- define "capstan.probes" -%}
{% for probe in ["readinessProbe", "livenessProbe"] %}
{{ probe }}:
{% if root.Values.tls.secretName %}
  tcpSocket:
    port: {{ port }}
{% else %}
  grpc:
    port: {{ port }}
    service: {{ service }}
{% endif %}
{% if probe == "readinessProbe" %}
  initialDelaySeconds: 1
  periodSeconds: 5
  failureThreshold: 3
{% else %}
  initialDelaySeconds: 5
  periodSeconds: 10
  failureThreshold: 6
{% endif %}
  timeoutSeconds: 2
{% endfor %}
{%- enddefine %}
