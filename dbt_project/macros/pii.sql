{#- PII never leaves staging (DESIGN.md §5). In a flat JSON object: keys that name an
    email are kept as `sha256:` hashes of the value, keys naming phones, passwords,
    SSNs or cards are dropped, and emails or phone numbers inside other text values are
    replaced by [email] / [phone]. Nested objects are not descended into. -#}

{% macro pii_drop_key_pattern() -%}
    '(phone|password|passwd|ssn|credit_?card|card_?number|iban)'
{%- endmacro %}

{% macro redact_pii_text(expression) -%}
    regexp_replace(
        regexp_replace(
            {{ expression }}, '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}', '[email]', 'g'
        ),
        '\+?[0-9][0-9 ().-]{7,}[0-9]', '[phone]', 'g'
    )
{%- endmacro %}

{% macro sha256_email(expression) -%}
    'sha256:' || encode(sha256(convert_to(lower(trim({{ expression }})), 'UTF8')), 'hex')
{%- endmacro %}

{#- A text truncated to `max_length` characters after its PII is redacted (redacting
    first: a cut could leave half an email the patterns no longer recognise). -#}
{% macro redact_and_truncate(expression, max_length=5000) -%}
    left({{ redact_pii_text(expression) }}, {{ max_length }})
{%- endmacro %}

{#- `max_text_length` (optional) also truncates every text value. -#}
{% macro scrub_pii_json(column, max_text_length=none) -%}
    (
        select coalesce(
            jsonb_object_agg(
                kv.key,
                case
                    when kv.key ~* 'e_?mail' and jsonb_typeof(kv.value) = 'string'
                        then to_jsonb({{ sha256_email("kv.value #>> '{}'") }})
                    when jsonb_typeof(kv.value) = 'string'
                        {%- if max_text_length %}
                        then to_jsonb({{ redact_and_truncate("kv.value #>> '{}'", max_text_length) }})
                        {%- else %}
                        then to_jsonb({{ redact_pii_text("kv.value #>> '{}'") }})
                        {%- endif %}
                    else kv.value
                end
            ),
            '{}'::jsonb
        )
        from jsonb_each(
            case when jsonb_typeof({{ column }}) = 'object' then {{ column }} end
        ) as kv
        where kv.key !~* {{ pii_drop_key_pattern() }}
    )
{%- endmacro %}
