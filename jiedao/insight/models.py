"""Models of the insight app: classifier versions, duplicate groups and hotspots.

The text engine itself (jiedao.insight.text) needs no database; these models keep what the
platform learns from its own cases."""
