"""REST endpoints of 信访 petitions (mounted under /api/v1/petitions)."""

from ninja import Router

router = Router(tags=["信访"])
