-- Seed 004 dashboard summary.followers / summary.following: who follows which creator,
-- from every landed user_followed event (trackFollow), since when. The seed tracks no
-- unfollow, so a follow lasts: a creator's followers at a date are the pairs first
-- followed on or before it. Lifetime firsts over every event, hence a whole rebuild
-- from staging, like dim_mashups. A follower is a signed-in user: the app emits
-- user_followed only for one (the simulator never for an anonymous session), and an
-- anonymous follow, should one arrive, is no account to count and is left out.
with follows as (
    select
        user_id,
        followed_creator_id,
        occurred_at,
        event_date
    from {{ ref('stg_mashups__analytics_events') }}
    where
        event_type = 'user_followed'
        and user_id is not null
        and followed_creator_id is not null
),

final as (
    select
        user_id as follower_id,
        followed_creator_id as creator_id,
        min(occurred_at) as first_followed_at,
        min(event_date) as first_followed_date
    from follows
    group by user_id, followed_creator_id
)

select * from final
