"""The welfare models, one module per part (each part's models are imported here so Django
finds them)."""
from jiedao.welfare.models.benefits import Grant, GrantTransition, Payment, Programme  # noqa: F401  (benefits)
