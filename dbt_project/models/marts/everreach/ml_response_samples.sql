{{ config(full_refresh=false) }}
-- full_refresh=false: raw retention deletes old days; this model keeps their rows
-- (macros/retention.sql), which a --full-refresh would lose.
-- Seed 003's ml_response_samples: one row per AI response with its prompt and the
-- feedback it got (copies, likes, dislikes) and the labels derived from it (helpful_score,
-- was_copied, dwell_ms). Partitioned by the UTC day the response was created.
with responses as (
    select * from {{ ref('stg_everreach__responses') }}
    where {{ in_window('created_at') }}
),

-- Feedback comes after its response: seconds later, sometimes days later from the
-- history screen. So events are read from the window's start onward (nothing before a
-- response can be about it; the bound reaches the raw occurred_at index) with no upper
-- bound: a re-run of a past partition counts the feedback that has arrived since.
events as (
    select * from {{ ref('stg_everreach__app_events') }}
    where
        occurred_at >= {{ window_start() }}::timestamp at time zone 'utc'
        and event_name in (
            'response_rendered', 'response_copied', 'response_liked', 'response_disliked'
        )
),

-- only the prompts of these responses. A response follows its prompt within seconds, so
-- a prompt sent from a day before the window on is enough; the bound lets the planner
-- use raw's created_at index instead of scanning every prompt ever sent.
prompts as (
    select * from {{ ref('stg_everreach__prompts') }}
    where
        created_at >= ({{ window_start() }} - 1)::timestamp at time zone 'utc'
        and created_at < {{ window_end() }}::timestamp at time zone 'utc'
        and prompt_id in (select responses.prompt_id from responses)
),

feedback as (
    select
        response_id,
        count(*) filter (where event_name = 'response_copied') as copied_count,
        count(*) filter (where event_name = 'response_liked') as liked_count,
        count(*) filter (where event_name = 'response_disliked') as disliked_count,
        min(occurred_at) filter (where event_name = 'response_rendered') as rendered_at,
        min(occurred_at) filter (where event_name <> 'response_rendered') as first_feedback_at
    from events
    where response_id in (select responses.response_id from responses)
    group by response_id
),

final as (
    select
        responses.created_date as date,
        responses.response_id,
        responses.prompt_id,
        responses.user_id,
        responses.model,
        responses.created_at,
        prompts.prompt_text,
        responses.response_text,
        responses.tokens_out,
        responses.cost_usd,
        responses.latency_ms,
        responses.finish_reason,
        coalesce(feedback.copied_count, 0) as copied_count,
        coalesce(feedback.liked_count, 0) as liked_count,
        coalesce(feedback.disliked_count, 0) as disliked_count,
        coalesce(feedback.liked_count, 0) - coalesce(feedback.disliked_count, 0) as helpful_score,
        coalesce(feedback.copied_count, 0) > 0 as was_copied,
        -- seed 003's dwell_ms label: from render to the first interaction with it
        case
            when feedback.first_feedback_at >= feedback.rendered_at
                then
                    round(
                        extract(epoch from feedback.first_feedback_at - feedback.rendered_at)
                        * 1000
                    )::bigint
        end as dwell_ms
    from responses
    left join prompts on responses.prompt_id = prompts.prompt_id
    left join feedback on responses.response_id = feedback.response_id
)

select * from final
