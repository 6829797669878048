"""`make bench`: speed figures for the gift sync and the gift marts, with their baselines
(the seed's naive loop, the Redis/COPY floors, hand-written SQL) measured in the same run."""
