"""REST endpoints of welfare (mounted under /api/v1/welfare): each part adds its router here."""

from ninja import Router

router = Router(tags=["民政帮扶"])
router.add_router("/benefits", "jiedao.welfare.benefits.api.router")  # benefits and subsidies
