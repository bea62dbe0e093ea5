"""The /api/v1 root (django-ninja). Domain apps contribute routers.

Authentication: a personal API token (`Authorization: Bearer jd_…`) or the Django session
(CSRF enforced on unsafe methods). The browsable docs at /api/v1/docs load Swagger UI from
django-ninja's own static files (ninja is in INSTALLED_APPS) and never from a CDN.
"""

from django.http import Http404
from ninja import Router
from ninja.openapi.docs import Swagger

from jiedao.cases.api import routers as cases_routers
from jiedao.core.api import BoundaryAPI, SessionAuth, TextParser, TokenAuth, export_router, install_error_handlers
from jiedao.core.api import router as core_router
from jiedao.core.fastpath import UnicodeJSONRenderer
from jiedao.insight.api import router as insight_router
from jiedao.org.api import org_router, users_router
from jiedao.people.api import router as people_router
from jiedao.petitions.api import router as petitions_router
from jiedao.safety.api import router as safety_router
from jiedao.welfare.api import router as welfare_router

api = BoundaryAPI(
    title="街道网格化基层治理平台 API",
    version="1",
    description=(
        "认证：在请求头中携带个人 API 令牌 `Authorization: Bearer jd_…`（在“我的令牌”中创建），"
        "或使用已登录的浏览器会话（修改类请求需带 CSRF 令牌）。\n\n"
        "错误统一返回 JSON：`{\"detail\": 中文说明, \"field\": 出错字段或 null, \"code\": 错误代码}`；"
        "文本中的控制字符（换行、回车、制表符除外）和孤立的代理项返回 400（code 为 invalid_character，field 指出字段），"
        "双向文字控制符会被去掉，文本按 NFC 规范化后保存。"
        "超出本人管辖范围的对象与不存在的对象一样返回 404。列表接口用 limit/offset 分页，"
        "返回 `{\"count\", \"items\"}`。"
    ),
    urls_namespace="api",
    auth=[TokenAuth(), SessionAuth()],
    renderer=UnicodeJSONRenderer(),
    parser=TextParser(),
    # validatorUrl=None: Swagger UI would otherwise load a badge from validator.swagger.io,
    # sending the intranet address of the schema to the internet.
    docs=Swagger(settings={"validatorUrl": None}),
)
install_error_handlers(api)

# Django tries URL patterns in order: the cases router, where the busiest endpoints are (intake,
# actions), comes first. The prefixes are disjoint, so the order changes nothing else.
for cases_router in cases_routers:
    api.add_router("/cases", cases_router)
api.add_router("", core_router)
api.add_router("", export_router)
api.add_router("/org", org_router)
api.add_router("/users", users_router)
api.add_router("/people", people_router)
api.add_router("/insight", insight_router)
api.add_router("/safety", safety_router)
api.add_router("/welfare", welfare_router)
api.add_router("/petitions", petitions_router)

# Registered last: any other path under /api/v1/ answers the JSON 404, not Django's HTML page.
fallback = Router()


_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@fallback.api_operation(_METHODS, "/{path:rest}", include_in_schema=False)
def unknown_path(request, rest: str):
    raise Http404


@fallback.api_operation(_METHODS, "", include_in_schema=False)
def api_root(request):
    raise Http404


api.add_router("", fallback)
