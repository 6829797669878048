-- AI response quality per response day and model (seed 003's dashboard: like, dislike
-- and copy rates). Built on ml_response_samples, whose partition of the same days was
-- just rebuilt, so both agree on what a response's feedback is; rates are shares of
-- responses (a response liked twice counts once in like_rate, twice in likes).
with samples as (
    select * from {{ ref('ml_response_samples') }}
    where {{ in_date_window('date') }}
),

final as (
    select
        date,
        model,
        count(*) as responses,
        sum(liked_count) as likes,
        sum(disliked_count) as dislikes,
        sum(copied_count) as copies,
        count(*) filter (where liked_count > 0) as liked_responses,
        count(*) filter (where disliked_count > 0) as disliked_responses,
        count(*) filter (where was_copied) as copied_responses,
        round(100.0 * count(*) filter (where liked_count > 0) / count(*), 2) as like_rate,
        round(100.0 * count(*) filter (where disliked_count > 0) / count(*), 2) as dislike_rate,
        round(100.0 * count(*) filter (where was_copied) / count(*), 2) as copy_rate,
        round(avg(helpful_score), 4) as avg_helpful_score,
        round(avg(latency_ms), 2) as avg_latency_ms,
        percentile_cont(0.95) within group (order by latency_ms) as p95_latency_ms,
        sum(tokens_out) as tokens_out,
        round(avg(tokens_out), 2) as avg_tokens_out,
        sum(cost_usd) as cost_usd,
        round(avg(cost_usd), 6) as avg_cost_usd
    from samples
    group by date, model
)

select * from final
