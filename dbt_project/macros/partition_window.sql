{#-
  The partition window [min_date, max_date) of a run: UTC days, half-open. Dagster passes
  one per partitioned run (dagster_project/dbt_vars.py); the defaults cover everything.
-#}

{% macro window_start() -%}
    '{{ var("min_date") }}'::date
{%- endmacro %}

{% macro window_end() -%}
    '{{ var("max_date") }}'::date
{%- endmacro %}

{#- A timestamptz column inside the window. The bounds are constants, so an index on the
    raw column serves the filter even through the staging views. -#}
{% macro in_window(column) -%}
    ({{ column }} >= {{ window_start() }}::timestamp at time zone 'utc'
    and {{ column }} < {{ window_end() }}::timestamp at time zone 'utc')
{%- endmacro %}

{#- A date column inside the window. -#}
{% macro in_date_window(column) -%}
    ({{ column }} >= {{ window_start() }} and {{ column }} < {{ window_end() }})
{%- endmacro %}

{#-
  incremental_strategy='window_replace': delete the window's rows from the mart, insert
  the fresh ones, in the one transaction dbt's incremental materialization runs — a
  re-run of a partition replaces it exactly (also a group that vanished from the window).
  The model names its date column in config(window_column=...), default `date`. A
  rolling mart (e.g. 30-day actives) whose later days depend on the window's days sets
  config(window_lookahead_days=N) and rebuilds [min_date, max_date + N) instead. A
  weekly or monthly mart sets config(window_grain='week'|'month'): its date column holds
  period starts, and every period the window touches is rebuilt. Rows of days before a
  raw retention horizon are kept as they are (macros/retention.sql).
-#}
{% macro get_incremental_window_replace_sql(arg_dict) %}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set column = config.get("window_column", "date") -%}
    {%- set lookahead = config.get("window_lookahead_days", 0) -%}
    {%- set grain = config.get("window_grain") -%}
    {%- set columns = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}
    {#- rows of days whose raw rows retention deleted stay as built (macros/retention.sql) -#}
    {%- set kept = retention_kept_rows(column) -%}
    {#- two builds of one window at once (a hand `dbt run` beside Dagster's) would deadlock
        on the deleted rows, or miss each other's inserts: the second waits for the first
        to commit (readers are not blocked; dbt's lock_timeout bounds the wait) -#}
    lock table {{ target }} in share row exclusive mode;

    delete from {{ target }}
    where
        {{ column }} >= {% if grain %}date_trunc('{{ grain }}', {{ window_start() }})::date
        {%- else %}{{ window_start() }}{% endif %}
        and {{ column }} < least({{ window_end() }} + {{ lookahead }}, '9999-12-31'::date)
        {%- if kept %}
        and not coalesce({{ kept }}, false){% endif %};

    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ arg_dict["temp_relation"] }}
    {%- if kept %}
    where not coalesce({{ kept }}, false){% endif %}
{% endmacro %}
