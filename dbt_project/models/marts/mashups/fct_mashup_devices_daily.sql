-- Plays per device type (seed 004 dashboard demographics) and UTC day; percentage
-- is the share of the day's plays.
{{ plays_share_by('device', 'device') }}
