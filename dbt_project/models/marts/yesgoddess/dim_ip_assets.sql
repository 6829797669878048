{{ config(materialized="view") }}
-- a view over the upload mart: it holds no rows of its own, so it keeps every upload
-- retention left there.
-- One row per IP asset with an upload: its creator (the owner), project and media type
-- from the first upload, and when that was. An asset without an asset_uploaded event
-- (or whose upload was quarantined) has no row: no owner is known.
with uploads as (
    select * from {{ ref('fct_asset_uploads') }}
),

first_uploads as (
    select distinct on (ip_asset_id) *
    from uploads
    order by ip_asset_id asc, uploaded_at asc, event_id asc
),

final as (
    select
        ip_asset_id,
        creator_id,
        project_id,
        media_type,
        uploaded_at,
        date as uploaded_date
    from first_uploads
)

select * from final
