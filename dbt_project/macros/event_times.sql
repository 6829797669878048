{#-
  The rules every event time obeys, as `when … then <reason>` branches of a model's
  reject_reason case: present, finite, not before var('earliest_event_time') (a year-1
  or -infinity time is a client's zero value, not an event), and not more than a day after
  it arrived (clock skew allowed; infinity is caught here). `label` names the column in
  the reason when `column` is qualified (source.occurred_at).
-#}
{% macro event_time_rejects(column, arrived, label=none) -%}
    {%- set label = label or column.split('.')[-1] -%}
    when {{ column }} is null then '{{ label }} is missing'
    when {{ column }} < '{{ var("earliest_event_time") }}'::timestamptz
        then
            '{{ label }} ' || {{ column }}
            || ' is before {{ var("earliest_event_time") }}, earlier than any app event'
    when {{ column }} > {{ arrived }} + interval '1 day'
        then
            '{{ label }} ' || {{ column }} || ' is in the future (arrived '
            || {{ arrived }} || ')'
{%- endmacro %}
