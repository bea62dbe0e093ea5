"""Reading residents' words: suggestion, similar cases, hotspots (the Django app comes next)."""
