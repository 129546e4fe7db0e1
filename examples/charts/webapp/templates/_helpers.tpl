{# Named templates shared by every template of the chart. #}
{%- define "webapp.name" -%}
{{ Values.nameOverride | default(Chart.Name) | trunc(63) | trimSuffix("-") }}
{%- enddefine %}

{#
  The full name: the release name when it already contains the chart name, else
  "<release>-<chart>", cut to 63 characters (a DNS label).
#}
{%- define "webapp.fullname" -%}
{% if Values.fullnameOverride %}
{{ Values.fullnameOverride | trunc(63) | trimSuffix("-") }}
{%- else %}
{% set name = Values.nameOverride | default(Chart.Name) %}
{% if name in Release.Name %}
{{ Release.Name | trunc(63) | trimSuffix("-") }}
{%- else %}
{{ printf("%s-%s", Release.Name, name) | trunc(63) | trimSuffix("-") }}
{%- endif %}
{% endif %}
{%- enddefine %}

{%- define "webapp.chart" -%}
{{ printf("%s-%s", Chart.Name, Chart.Version) | replace("+", "_") | trunc(63) }}
{%- enddefine %}

{%- define "webapp.selectorLabels" -%}
app.kubernetes.io/name: {{ include("webapp.name", ctx) }}
app.kubernetes.io/instance: {{ Release.Name }}
{%- enddefine %}

{%- define "webapp.labels" -%}
helm.sh/chart: {{ include("webapp.chart", ctx) }}
{{ include("webapp.selectorLabels", ctx) }}
app.kubernetes.io/version: {{ Values.image.tag | default(Chart.AppVersion) | quote }}
app.kubernetes.io/managed-by: {{ Release.Service }}
{%- enddefine %}

{%- define "webapp.serviceAccountName" -%}
{% if Values.serviceAccount.create %}
{{ Values.serviceAccount.name | default(include("webapp.fullname", ctx)) }}
{%- else %}
{{ Values.serviceAccount.name | default("default") }}
{%- endif %}
{%- enddefine %}
