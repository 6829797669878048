-- Seed 000 mv_task_operations_daily: DAO tasks per UTC creation day, domain and task type,
-- by their current status, rebuilt whole (tasks change status, so any day's row can
-- change). All history is kept: the seed's 180-day filter only bounded its view. A task
-- without a domain or task type is counted under NULL (one grain member, as the seed's
-- coalesce(domain, 'none') index treats it). Task velocity, the tasks completed on each
-- day whatever day they were posted, is added: a day × domain × type row exists when a
-- task was posted or completed in it. total_completion_hours and completions_timed keep
-- the mean's sum and count, so any period's average duration is exact.
with tasks as (
    select * from {{ ref('stg_cryptogift__tasks') }}
),

-- each task on its creation day, and each completed one again on its completion day
task_days as (
    select
        created_date as date,
        domain,
        task_type,
        true as is_posting,
        status,
        reward_cgc,
        -- null unless completed (as the seed's filter where completed_at is not null)
        extract(epoch from completed_at - claimed_at) / 3600 as completion_hours
    from tasks
    union all
    select
        completed_date as date,
        domain,
        task_type,
        false as is_posting,
        status,
        reward_cgc,
        null::numeric as completion_hours
    from tasks
    where status = 'completed' and completed_date is not null
),

daily as (
    select
        date,
        domain,
        task_type,
        count(*) filter (where is_posting) as total_tasks,
        count(*) filter (where is_posting and status = 'completed') as completed,
        count(*) filter (where is_posting and status = 'in_progress') as in_progress,
        count(*) filter (where is_posting and status = 'available') as available,
        count(*) filter (where is_posting and status = 'claimed') as claimed,
        coalesce(sum(reward_cgc) filter (where is_posting and status = 'completed'), 0)
            as total_rewards_paid,
        round(avg(completion_hours) filter (where is_posting), 2) as avg_completion_hours,
        -- unrounded, so a period's mean is exact: total hours / completions timed
        sum(completion_hours) filter (where is_posting) as total_completion_hours,
        count(completion_hours) filter (where is_posting) as completions_timed,
        count(*) filter (where not is_posting) as tasks_completed_that_day,
        coalesce(sum(reward_cgc) filter (where not is_posting), 0) as rewards_paid_that_day
    from task_days
    group by date, domain, task_type
),

final as (
    select
        date,
        domain,
        task_type,
        total_tasks,
        completed,
        in_progress,
        available,
        claimed,
        total_rewards_paid,
        avg_completion_hours,
        total_completion_hours,
        completions_timed,
        tasks_completed_that_day,
        rewards_paid_that_day,
        round(completed * 100.0 / nullif(claimed + in_progress + completed, 0), 2)
            as completion_rate
    from daily
)

select * from final
