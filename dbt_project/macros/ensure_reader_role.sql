{#- The Metabase role (METABASE_ROLE, default "metabase"): created without login when
    missing, given USAGE on marts and embed only. SELECT comes from the models' `grants`. -#}
{% macro reader_role() -%}
    {%- set role = env_var('METABASE_ROLE', 'metabase') -%}
    {%- if not modules.re.match('^[a-z_][a-z0-9_]{0,62}$', role) -%}
        {{ exceptions.raise_compiler_error(
            "METABASE_ROLE=" ~ role ~ " is not a plain lowercase role name ([a-z_][a-z0-9_]*)"
        ) }}
    {%- endif -%}
    {{ return(role) }}
{%- endmacro %}

{% macro ensure_reader_role() -%}
    {%- set role = reader_role() -%}
    do $$
    begin
        if not exists (select from pg_catalog.pg_roles where rolname = '{{ role }}') then
            create role {{ role }} nologin;
        end if;
    end
    $$;
    create schema if not exists marts;
    create schema if not exists embed;
    grant usage on schema marts, embed to {{ role }};
{%- endmacro %}
