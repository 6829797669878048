{#- The Metabase role (METABASE_ROLE, default "metabase"): created without login when
    missing, given USAGE on marts and embed only. SELECT comes from the models' `grants`.
    Its sessions get a statement_timeout (METABASE_STATEMENT_TIMEOUT, default 2min) and
    an idle-in-transaction timeout, so a dashboard never holds a lock a build waits for
    longer than dbt's lock_timeout (dagster_project/dbt_session.py). -#}
{% macro reader_role() -%}
    {%- set role = env_var('METABASE_ROLE', 'metabase') -%}
    {%- if not modules.re.match('^[a-z_][a-z0-9_]{0,62}$', role) -%}
        {{ exceptions.raise_compiler_error(
            "METABASE_ROLE=" ~ role ~ " is not a plain lowercase role name ([a-z_][a-z0-9_]*)"
        ) }}
    {%- endif -%}
    {{ return(role) }}
{%- endmacro %}

{% macro reader_statement_timeout() -%}
    {%- set value = env_var('METABASE_STATEMENT_TIMEOUT', '2min') -%}
    {%- if not modules.re.match('^[0-9]+(us|ms|s|min|h|d)?$', value) -%}
        {{ exceptions.raise_compiler_error(
            "METABASE_STATEMENT_TIMEOUT=" ~ value ~ " is not a PostgreSQL duration"
            ~ " (a whole number with an optional unit us, ms, s, min, h or d), e.g. 2min"
        ) }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{% macro ensure_reader_role() -%}
    {%- set role = reader_role() -%}
    -- Two runs starting at once (two partitions, a sensor beside a backfill) would update
    -- the same catalog rows and one fail with "tuple concurrently updated": the hook's
    -- statements run as one transaction, so this lock holds them one run at a time.
    select pg_advisory_xact_lock(hashtext('product_analytics.ensure_reader_role'));
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
    -- Role settings apply at login. Temporary tables are a PUBLIC privilege, so denying
    -- them to the reader means revoking them from PUBLIC (the builder keeps its own: dbt's
    -- incremental models use them). Without the rights (not the database owner), warn.
    do $$
    begin
        alter role {{ role }} set statement_timeout = '{{ reader_statement_timeout() }}';
        alter role {{ role }} set idle_in_transaction_session_timeout = '1min';
        revoke temporary on database {{ target.database }} from public;
        grant temporary on database {{ target.database }} to current_user;
    exception when insufficient_privilege then
        raise warning 'could not set the timeouts of role % or deny it temporary tables: %',
            '{{ role }}', sqlerrm;
    end
    $$;
{%- endmacro %}
