-- Plays per listener country (seed 004 dashboard demographics) and UTC day;
-- percentage is the share of the day's plays.
{{ plays_share_by('country', 'country') }}
