"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2), mounted at /open311/v2/.

The format is chosen by the suffix, as the specification does: `services.json` / `services.xml`.

    GET  services.{fmt}                  the active catalogue (service_code = category code)
    GET  services/{code}.{fmt}           the service definition (no extra attributes: metadata false)
    GET  requests.{fmt}                  public service requests (filters service_request_id,
                                         service_code, start_date, end_date, status, jurisdiction_id;
                                         `page` beyond the first 1,000)
    GET  requests/{ticket}.{fmt}         one request
    POST requests.{fmt}                  file a request (form-encoded; api_key required)
    GET  tokens/{token}.{fmt}            the request id for a token returned by POST

Errors follow the specification: `[{"code": 400, "description": "中文说明"}]` (or the same as
`<errors><error>…</error></errors>`) with that HTTP status. JSON and XML carry the same fields
(an empty value is `null`/`""` in JSON and an empty element in XML).

One public id: a request is known everywhere (POST answer, lists, single reads) by its ticket
(查询编号, e.g. "20260301-ABCD2345": a date and 8 random characters, so not enumerable); a numeric
database id is never accepted (404).

Public reads show a case only once staff have triaged it (accepted, tier 大事 or 小事: see
jiedao.cases.selectors.public_case_q); names, phone and ID numbers typed into its texts are masked
(jiedao.cases.masking). A case not yet triaged is shown only to whoever names its ticket (the
filer) and then only its status: no description, address or position; a 私事 not at all (404).

Filing: `api_key` (form body or query string) is one of our personal API tokens (staff clients,
e.g. the hotline system). The request is filed as source "hotline" by the token's owner, on a node
the owner may file cases on: the building `address_id` names, else the deepest community, village,
grid or microgrid whose GeoJSON boundary contains (lat, long), else the node whose code is
`jurisdiction_id`. first_name/last_name and phone become the case's reporter (the phone sealed);
email, device_id and account_id are kept sealed and media_url as a link (never fetched), see
jiedao.cases.open311.services. The services define no attributes, so `attribute[…]` is refused.
Reads need no api_key (one given on a GET is ignored: the data are public).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any

from django.core import signing
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from jiedao.cases import selectors, services
from jiedao.cases.catalogue import selectors as catalogue_selectors
from jiedao.cases.masking import mask_case_text
from jiedao.cases.models import Case, Category, Open311Extra, Source, State, Tier
from jiedao.cases.open311 import services as open311_services
from jiedao.core import scope, text
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.core.scope import subtree_range
from jiedao.core.services import token_authenticate
from jiedao.org.models import NodeKind, OrgNode

CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
CLOSED_STATES = (State.CLOSED, State.REJECTED)
# The specification's default window and its maximum range ("may not span more than 90 days").
DEFAULT_WINDOW = MAX_RANGE = timedelta(days=90)
PAGE_SIZE = 1000  # requests per page of a list; `page` (from 1) reaches the next ones
MAX_IDS = 100  # service_request_id values in one list query
LOCATABLE_KINDS = (NodeKind.COMMUNITY, NodeKind.VILLAGE, NodeKind.GRID, NodeKind.MICROGRID)
TOKEN_SALT = "jiedao.cases.open311.token"  # a signing salt: never rename
# Our service's field names → the Open311 parameter names, for error messages.
PARAM_NAMES = {"latitude": "lat", "longitude": "long", "address": "address_string", "reporter_phone": "phone",
               "reporter_name": "last_name", "node": "jurisdiction_id", "category": "service_code",
               "description": "description", "title": "description"}

# attribute[code] of a POST: refused, as no service defines attributes (metadata false).
_ATTRIBUTE = re.compile(r"^attribute(\[.*\])?$")


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


# --- rendering ----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return text.xml_text(str(value))  # rows stored before the text rule may hold what XML forbids


def render(fmt: str, rows: list[dict[str, Any]], *, root: str, item: str, status: int = 200) -> HttpResponse:
    """A list of flat objects as a JSON array, or as <root><item>…</item></root> in XML."""
    if fmt == "xml":
        element = ET.Element(root)
        for row in rows:
            child = ET.SubElement(element, item)
            for key, value in row.items():
                ET.SubElement(child, key).text = _text(value)
        body = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    else:
        body = json.dumps(rows, ensure_ascii=False).encode()
    return HttpResponse(body, status=status, content_type=CONTENT_TYPES.get(fmt, CONTENT_TYPES["json"]))


def render_error(fmt: str, status: int, description: str) -> HttpResponse:
    return render(fmt, [{"code": status, "description": description}], root="errors", item="error", status=status)


def endpoint(*methods: str) -> Callable:
    """Method check, CSRF exemption (clients authenticate with api_key, not a session) and the
    Open311 error format for every failure a view or a service raises."""
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())

    def decorate(view: Callable) -> Callable:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, fmt: str = "json", **kwargs: Any) -> HttpResponse:
            if request.method not in allowed:
                response = render_error(
                    fmt, 405,
                    _("不支持 %(method)s 请求，应为 %(allowed)s。") % {"method": request.method, "allowed": _("、").join(methods)},
                )
                response["Allow"] = ", ".join(sorted(allowed))
                return response
            try:
                return view(request, fmt, **kwargs)
            except Open311Error as exc:
                return render_error(fmt, exc.status, exc.description)
            except DomainError as exc:
                param = PARAM_NAMES.get(exc.field or "", exc.field)
                detail = _("%(param)s：%(problem)s") % {"param": param, "problem": exc.message} if param else exc.message
                return render_error(fmt, exc.status_code, detail)
            except Http404:
                return render_error(fmt, 404, _("未找到该服务请求。"))

        return wrapper

    return decorate


# --- representations ----------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else None


def service_row(category: Category) -> dict[str, Any]:
    limit = f"{Decimal(category.time_limit).normalize():f} {category.get_time_limit_unit_display()}"
    description = _("；").join(part for part in (category.accept_conditions, _("办理时限 %(limit)s") % {"limit": limit}) if part)
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": description,
        "metadata": False,
        "type": "realtime",
        "keywords": ",".join(category.keywords.split()),
        "group": category.parent.name if category.parent_id else "",
    }


def _status_notes(case: Case) -> str:
    label = str(case.get_state_display())
    if case.merged_into_id:
        return _("已与其他相同诉求合并办理。")
    if case.state in (State.RESOLVED, State.VERIFIED, State.CLOSED) and case.result:
        return _("%(state)s：%(result)s") % {"state": label, "result": mask_case_text(case, case.result)}
    return label


def _media_url(case: Case) -> str:
    try:
        return case.open311_extra.media_url
    except Open311Extra.DoesNotExist:
        return ""


def request_row(case: Case, *, public: bool = True) -> dict[str, Any]:
    """A case as an Open311 service request: public fields only (never the reporter), free text
    masked. `public` False (a case not public, named by its ticket): the status alone."""
    agency = ""
    if case.handling_department_id:
        agency = case.handling_department.name
    elif case.handling_node_id:
        agency = case.handling_node.name
    row = {
        "service_request_id": case.ticket,
        "status": "closed" if case.state in CLOSED_STATES else "open",
        "status_notes": _status_notes(case),
        "service_name": case.category.name if case.category_id else "",
        "service_code": case.category.code if case.category_id else "",
        "description": mask_case_text(case, case.description),
        "agency_responsible": agency,
        "service_notice": "",
        "requested_datetime": _iso(case.created_at),
        "updated_datetime": _iso(case.updated_at),
        "expected_datetime": _iso(case.deadline_at),
        "address": mask_case_text(case, case.address),
        "address_id": "",
        "zipcode": "",
        "lat": float(case.latitude) if case.latitude is not None else None,
        "long": float(case.longitude) if case.longitude is not None else None,
        "media_url": _media_url(case),
    }
    if case.building_id and case.building.code:
        row["address_id"] = case.building.code
    if not public:
        # Only its ticket's holder names a case not public: its status, nothing typed or located.
        row.update(status_notes=str(case.get_state_display()), description="", address="", address_id="",
                   lat=None, long=None, media_url="", agency_responsible="")
    return row


def _requests(fmt: str, rows: list[dict[str, Any]], status: int = 200) -> HttpResponse:
    return render(fmt, rows, root="service_requests", item="request", status=status)


# --- services ------------------------------------------------------------------------------------


def _service(code: str) -> Category:
    """An active leaf category by code: what `services` lists."""
    category = next((c for c in catalogue_selectors.leaf_categories() if c.code == code), None)
    if category is None:
        raise Open311Error(404, _("服务代码“%(code)s”不存在或已停用。") % {"code": code})
    return category


@endpoint("GET")
def service_list(request: HttpRequest, fmt: str) -> HttpResponse:
    rows = [service_row(c) for c in catalogue_selectors.leaf_categories()]
    return render(fmt, rows, root="services", item="service")


@endpoint("GET")
def service_definition(request: HttpRequest, fmt: str, code: str) -> HttpResponse:
    category = _service(code)
    # metadata is false for every service: there are no extra attributes to define.
    if fmt == "xml":
        element = ET.Element("service_definition")
        ET.SubElement(element, "service_code").text = category.code
        ET.SubElement(element, "attributes")
        body = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    else:
        body = json.dumps({"service_code": category.code, "attributes": []}, ensure_ascii=False).encode()
    return HttpResponse(body, content_type=CONTENT_TYPES[fmt])


# --- requests: read -------------------------------------------------------------------------------


def _moment(value: str, param: str) -> datetime:
    value = value.strip().replace(" ", "+")  # an unencoded "+08:00" arrives as " 08:00"
    moment = None
    try:
        moment = parse_datetime(value)
        if moment is None and (day := parse_date(value)) is not None:
            moment = datetime.combine(day, datetime.min.time())
    except ValueError:
        moment = None
    if moment is None:
        raise Open311Error(400, _("%(param)s 应为 ISO 8601 日期时间，如 2026-03-01T00:00:00+08:00。") % {"param": param})
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _csv(value: str) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _by_id(request_id: str) -> tuple[Case, bool]:
    """The case a ticket names, and whether it is public. Only tickets: a numeric id is refused
    like an unknown ticket, so requests cannot be enumerated. A 私事 is never shown here, not even
    its status (its reporter follows it on the residents' progress page)."""
    case = selectors.case_by_ticket_unscoped(request_id) if not request_id.strip().isdigit() else None
    if case is None or case.tier == Tier.PRIVATE:
        raise Http404
    public = selectors.open311_public_cases().filter(pk=case.pk).exists()
    return case, public


def _page(params: Any) -> int:
    raw = (params.get("page") or "1").strip()
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 100_000:
        raise Open311Error(400, _("page 应为从 1 开始的页码。"))
    return int(raw)


def _window(params: Any) -> tuple[datetime, datetime]:
    """start_date/end_date as the specification has them: the last 90 days by default, one
    missing end counted 90 days from the other, at most 90 days in all (a longer range is a 400,
    not cut)."""
    start = _moment(params["start_date"], "start_date") if params.get("start_date") else None
    end = _moment(params["end_date"], "end_date") if params.get("end_date") else None
    if start is None and end is None:
        end = timezone.now()
    if start is None:
        start = end - DEFAULT_WINDOW
    elif end is None:
        end = start + DEFAULT_WINDOW
    if start > end:
        raise Open311Error(400, _("start_date 不能晚于 end_date。"))
    if end - start > MAX_RANGE:
        raise Open311Error(400, _("start_date 到 end_date 最长 %(days)s 天，请分段查询。") % {"days": MAX_RANGE.days})
    return start, end


def _list(request: HttpRequest, fmt: str) -> HttpResponse:
    params = request.GET
    if params.get("service_request_id"):
        ids = _csv(params["service_request_id"])
        if len(ids) > MAX_IDS:
            raise Open311Error(400, _("service_request_id 一次最多 %(max)s 个。") % {"max": MAX_IDS})
        rows = []
        for request_id in ids:
            try:
                case, public = _by_id(request_id)
            except Http404:
                continue
            rows.append(request_row(case, public=public))
        return _requests(fmt, rows)
    cases = selectors.open311_public_cases()
    if params.get("jurisdiction_id"):
        node = OrgNode.objects.filter(code=params["jurisdiction_id"].strip(), is_active=True).first()
        if node is None:
            raise Open311Error(404, _("jurisdiction_id“%(code)s”不存在。") % {"code": params["jurisdiction_id"]})
        cases = cases.filter(org_path__range=subtree_range(node.path))
    if params.get("service_code"):
        cases = cases.filter(category__code__in=_csv(params["service_code"]))
    statuses = set(_csv(params.get("status", "")))
    if statuses - {"open", "closed"}:
        raise Open311Error(400, _("status 应为 open 或 closed（可用逗号分隔）。"))
    if statuses == {"open"}:
        cases = cases.exclude(state__in=CLOSED_STATES)
    elif statuses == {"closed"}:
        cases = cases.filter(state__in=CLOSED_STATES)
    start, end = _window(params)
    page = _page(params)
    cases = cases.filter(created_at__gte=start, created_at__lte=end).order_by("-created_at", "-pk")
    window = list(cases[(page - 1) * PAGE_SIZE: page * PAGE_SIZE + 1])  # one more: is there a next page?
    response = _requests(fmt, [request_row(case) for case in window[:PAGE_SIZE]])
    if len(window) > PAGE_SIZE:
        query = params.copy()
        query["page"] = str(page + 1)
        response["Link"] = f'<{request.path}?{query.urlencode()}>; rel="next"'
    return response


@endpoint("GET")
def request_detail(request: HttpRequest, fmt: str, request_id: str) -> HttpResponse:
    case, public = _by_id(request_id)
    return _requests(fmt, [request_row(case, public=public)])


@endpoint("GET")
def token_detail(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    try:
        value = signing.Signer(salt=TOKEN_SALT).unsign(token)
    except signing.BadSignature:
        raise Http404 from None
    # A token signs the ticket; one issued before tickets were the only public id signs the pk.
    case = Case.objects.filter(pk=int(value)).first() if value.isdigit() else selectors.case_by_ticket_unscoped(value)
    if case is None:
        raise Http404
    return _requests(fmt, [{"service_request_id": case.ticket, "token": token}])


# --- requests: file -------------------------------------------------------------------------------


def _coordinate(value: str, param: str, limit: int) -> Decimal:
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise Open311Error(400, _("%(param)s 应为数字。") % {"param": param}) from None
    if not number.is_finite() or not (-limit <= number <= limit):
        raise Open311Error(400, _("%(param)s 应在 -%(limit)s 到 %(limit)s 之间。") % {"param": param, "limit": limit})
    return number.quantize(Decimal("0.000001"))


def _in_ring(x: float, y: float, ring: list) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def boundary_contains(boundary: Any, longitude: float, latitude: float) -> bool:
    """Whether a GeoJSON Polygon/MultiPolygon (or a Feature of one) contains the point (holes
    excluded). Coordinates are [longitude, latitude], as GeoJSON has them."""
    if not isinstance(boundary, dict):
        return False
    geometry = boundary.get("geometry") if boundary.get("type") == "Feature" else boundary
    if not isinstance(geometry, dict):
        return False
    polygons = geometry.get("coordinates") or []
    if geometry.get("type") == "Polygon":
        polygons = [polygons]
    elif geometry.get("type") != "MultiPolygon":
        return False
    return any(
        polygon and _in_ring(longitude, latitude, polygon[0])
        and not any(_in_ring(longitude, latitude, hole) for hole in polygon[1:])
        for polygon in polygons
    )


def locate(user: Any, latitude: Decimal | None, longitude: Decimal | None, jurisdiction_id: str) -> OrgNode:
    """The node to file on: the deepest node the user may file on whose boundary contains the
    point (within `jurisdiction_id` if given); else the node `jurisdiction_id` names."""
    within = None
    if jurisdiction_id:
        within = scope.restrict(OrgNode.objects.filter(code=jurisdiction_id, is_active=True), user,
                                Perm.REPORT_CASES).first()
        if within is None:
            raise Open311Error(
                404,
                _("jurisdiction_id“%(code)s”不存在，或不在该 api_key 持有人的管辖范围内。") % {"code": jurisdiction_id},
            )
    if latitude is not None and longitude is not None:
        candidates = scope.restrict(
            OrgNode.objects.filter(is_active=True, kind__in=LOCATABLE_KINDS, boundary__isnull=False), user,
            Perm.REPORT_CASES,
        )
        if within is not None:
            candidates = candidates.filter(path__range=subtree_range(within.path))
        for node in candidates.order_by("-depth", "path"):
            if boundary_contains(node.boundary, float(longitude), float(latitude)):
                return node
    if within is None:
        raise Open311Error(400, _("所给位置不在您可登记事项的任何社区、村或网格的边界内：请提供 jurisdiction_id"
                                  "（社区、村或网格编码）。"))
    return within


def _api_user(request: HttpRequest) -> Any:
    """The owner of the api_key, from the form body or (as many clients send it) the query string."""
    api_key = (request.POST.get("api_key") or request.GET.get("api_key") or "").strip()
    user = token_authenticate(api_key) if api_key else None
    if user is None:
        raise Open311Error(403, _("api_key 缺失、无效、已过期或已吊销：请使用在平台“我的令牌”中创建的个人 API 令牌。"))
    return user


def _building(user: Any, address_id: str, within: OrgNode | None) -> OrgNode:
    """The building `address_id` names (its register code, or its number): one the user may file
    cases on, inside `jurisdiction_id` when given."""
    buildings = scope.restrict(OrgNode.objects.filter(kind=NodeKind.BUILDING, is_active=True), user,
                               Perm.REPORT_CASES)
    if within is not None:
        buildings = buildings.filter(path__range=subtree_range(within.path))
    building = buildings.filter(code=address_id).first() if address_id else None
    if building is None and address_id.isascii() and address_id.isdigit() and len(address_id) <= 18:
        building = buildings.filter(pk=int(address_id)).first()
    if building is None:
        raise Open311Error(400, _("address_id“%(id)s”不是该 api_key 持有人可登记范围内的楼栋编码。") % {"id": address_id})
    return building


def _create(request: HttpRequest, fmt: str) -> HttpResponse:
    data = request.POST
    user = _api_user(request)
    attributes = sorted(key for key in data if _ATTRIBUTE.match(key))
    if attributes:
        raise Open311Error(400, _("%(param)s：事项类别没有定义附加属性（services 中 metadata 为 false），请勿提交 attribute。")
                           % {"param": attributes[0]})
    code = (data.get("service_code") or "").strip()
    if not code:
        raise Open311Error(400, _("缺少 service_code（事项类别代码，见 services 列表）。"))
    category = _service(code)
    lat, lon = (data.get("lat") or "").strip(), (data.get("long") or "").strip()
    if bool(lat) != bool(lon):
        raise Open311Error(400, _("lat 和 long 需同时提供。"))
    latitude = _coordinate(lat, "lat", 90) if lat else None
    longitude = _coordinate(lon, "long", 180) if lon else None
    address = (data.get("address_string") or "").strip()
    address_id = (data.get("address_id") or "").strip()
    if latitude is None and not address and not address_id:
        raise Open311Error(400, _("需要提供位置：lat 和 long、address_string 或 address_id。"))
    description = (data.get("description") or "").strip()
    if not description:
        raise Open311Error(400, _("缺少 description（问题描述）。"))
    extra = {"media_url": (data.get("media_url") or "").strip(), "email": (data.get("email") or "").strip(),
             "device_id": (data.get("device_id") or "").strip(), "account_id": (data.get("account_id") or "").strip()}
    open311_services.open311_extra_check(**extra)  # before anything is written
    jurisdiction_id = (data.get("jurisdiction_id") or "").strip()
    building = node = None
    if address_id:
        within = locate(user, None, None, jurisdiction_id) if jurisdiction_id else None
        building = _building(user, address_id, within)
    else:
        node = locate(user, latitude, longitude, jurisdiction_id)
    name = ((data.get("last_name") or "").strip() + (data.get("first_name") or "").strip())
    with transaction.atomic():
        case = services.case_create(
            actor=user, source=Source.HOTLINE, node=node, building=building, description=description,
            category=category, latitude=latitude, longitude=longitude, address=address, reporter_name=name,
            reporter_phone=(data.get("phone") or "").strip(),
        )
        open311_services.open311_extra_create(actor=user, case=case, **extra)
    token = signing.Signer(salt=TOKEN_SALT).sign(case.ticket)
    notice = _("已登记（待受理）；请凭编号 %(ticket)s 查询办理进度。") % {"ticket": case.ticket}
    return _requests(fmt, [{"service_request_id": case.ticket, "token": token, "service_notice": notice,
                            "account_id": None}], status=201)


@endpoint("GET", "POST")
def requests_endpoint(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        return _create(request, fmt)
    return _list(request, fmt)


@csrf_exempt
def unknown(request: HttpRequest, path: str = "") -> HttpResponse:
    fmt = "xml" if path.endswith(".xml") else "json"
    return render_error(fmt, 404, _("没有这个 Open311 接口：应为 services、requests 或 tokens，后缀 .json 或 .xml。"))
