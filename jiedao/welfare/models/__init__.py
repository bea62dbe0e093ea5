"""The welfare models, one module per part (each part's models are imported here so Django
finds them)."""
from jiedao.welfare.models import monitoring  # noqa: F401  (防止返贫动态监测)
from jiedao.welfare.models.benefits import Grant, GrantTransition, Payment, Programme  # noqa: F401  (benefits)
from jiedao.welfare.models.visits import *  # noqa: F403  (visits and veterans)
