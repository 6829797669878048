-- Plays per traffic source (seed 004 dashboard "sources") and UTC day; percentage
-- is the share of the day's plays.
{{ plays_share_by('traffic_source', 'source') }}
