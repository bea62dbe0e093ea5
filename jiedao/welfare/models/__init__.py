"""The welfare models, one module per part (each part's models are imported here so Django
finds them)."""
from jiedao.welfare.models.visits import *  # noqa: F403  (visits and veterans)
