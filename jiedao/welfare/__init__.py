"""People who need follow-up: households under 防止返贫 / low-income monitoring (一户一策一干部,
monthly visits), benefits and subsidies with their payments, and the visit schedules of
veterans and every special group with a visit interval. API under /api/v1/welfare/.

Each part lives in its own subpackage (monitoring, benefits, visits) with its services,
selectors, views and API; their models are collected in jiedao.welfare.models.
"""
