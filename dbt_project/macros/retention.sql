{#-
  Raw retention (dagster_project/ingest/retention.py) deletes raw rows of days before a
  horizon per raw table and records it in ops.retention_horizons *before* deleting.
  A mart built from those days must keep its rows: `window_replace` neither deletes nor
  inserts the rows that retention_kept_rows() names, so a partition re-run or a plain
  `dbt build` leaves the days whose raw rows are gone exactly as they were built.

  Which horizons apply to a model: those of the retained raw tables it reads, found by
  walking its upstream through views and ephemerals. The walk stops at incremental
  models: they keep their own rows of those days, so reading them stays exact. A model
  whose rows come from several systems with different horizons (one row per app) sets
  config(retention_groups={"<sql predicate on its rows>": ["<raw table>", ...]}); every
  retained raw table it reads must then be in a group.
-#}

{#- {raw table: 'yyyy-mm-dd'} from ops.retention_horizons; empty before any retention. -#}
{% macro retention_horizons() %}
    {%- set found = {} -%}
    {%- if not execute -%}{{ return(found) }}{%- endif -%}
    {%- set exists = run_query(
        "select to_regclass('ops.retention_horizons') is not null"
    ).columns[0].values()[0] -%}
    {%- if exists -%}
        {%- set rows = run_query(
            "select table_name, horizon::text from ops.retention_horizons"
        ) -%}
        {%- for row in rows -%}{%- do found.update({row[0]: row[1]}) -%}{%- endfor -%}
    {%- endif -%}
    {{ return(found) }}
{% endmacro %}

{#- Source tables read by `node_id`, through views and ephemerals (not past incremental
    models, which keep their own history); appended to `found`. -#}
{% macro retention_upstream_sources(node_id, found, seen) %}
    {%- for parent_id in graph.nodes[node_id].depends_on.nodes if parent_id not in seen -%}
        {%- do seen.append(parent_id) -%}
        {%- if parent_id in graph.sources -%}
            {%- do found.append(graph.sources[parent_id].name) -%}
        {%- elif parent_id in graph.nodes
            and graph.nodes[parent_id].resource_type == 'model'
            and graph.nodes[parent_id].config.materialized != 'incremental' -%}
            {%- do retention_upstream_sources(parent_id, found, seen) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{% endmacro %}

{#- A predicate on the mart's rows (its date column `column`) that is true for the rows
    to keep as built, or none when no raw table the model reads has a horizon. -#}
{% macro retention_kept_rows(column) %}
    {%- set horizons = retention_horizons() -%}
    {%- if not horizons -%}{{ return(none) }}{%- endif -%}
    {%- set read = retention_upstream_sources(model.unique_id, [], []) -%}
    {%- set retained = read | select("in", horizons) | list -%}
    {%- set groups = config.get("retention_groups") or {"true": retained} -%}
    {%- set grouped = groups.values() | sum(start=[]) -%}
    {%- for table in retained if table not in grouped -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ " reads raw." ~ table ~ ", which has a retention horizon, but "
            ~ "its retention_groups config does not name it: add it to the group of the "
            ~ "rows built from it"
        ) }}
    {%- endfor -%}
    {%- set kept = [] -%}
    {%- for predicate, tables in groups.items() -%}
        {%- set dates = [] -%}
        {%- for table in tables if table in horizons -%}
            {%- do dates.append(horizons[table]) -%}
        {%- endfor -%}
        {%- if dates -%}
            {%- do kept.append(
                "(" ~ predicate ~ " and " ~ column ~ " < '" ~ (dates | max) ~ "'::date)"
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(kept | join(" or ") if kept else none) }}
{% endmacro %}
