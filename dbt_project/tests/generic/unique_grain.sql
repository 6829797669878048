{#- One row per combination of `columns`, with NULL counted as one value (GROUP BY
    puts NULLs together, unlike a unique index): "no campaign" is a real grain member. -#}
{% test unique_grain(model, columns) %}
    select
        {{ columns | join(', ') }},
        count(*) as n_rows
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
