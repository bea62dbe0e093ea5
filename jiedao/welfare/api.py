"""REST endpoints of welfare (mounted under /api/v1/welfare): each part adds its router here."""

from ninja import Router

router = Router(tags=["民政帮扶"])

from jiedao.welfare.monitoring.api import router as monitoring_router  # noqa: E402

router.add_router("/monitoring", monitoring_router)
router.add_router("/benefits", "jiedao.welfare.benefits.api.router")  # benefits and subsidies
from jiedao.welfare.visits.api import router as visits_router  # noqa: E402

router.add_router("", visits_router)  # /visits/... and /veterans/...
