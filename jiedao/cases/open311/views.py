"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2), mounted at /open311/v2/.

The format is chosen by the suffix, as the specification does: `services.json` / `services.xml`.

    GET  services.{fmt}                  the active catalogue (service_code = category code)
    GET  services/{code}.{fmt}           the service definition (no extra attributes: metadata false)
    GET  requests.{fmt}                  public service requests (filters service_request_id,
                                         service_code, start_date, end_date, status, jurisdiction_id)
    GET  requests/{id}.{fmt}             one request, by ticket (or by public id)
    POST requests.{fmt}                  file a request (form-encoded; api_key required)
    GET  tokens/{token}.{fmt}            the request id for a token returned by POST

Errors follow the specification: `[{"code": 400, "description": "中文说明"}]` (or the same as
`<errors><error>…</error></errors>`) with that HTTP status.

Public data only. Nothing here reveals a reporter's name or phone number, and phone and ID numbers
typed into descriptions are masked. Private matters (私事) stay out of the public list.

The ticket (查询编号) is the resident's proof of being the reporter: with it a resident follows the
case and rates the result, and a rating of "unsatisfied" reopens the case. So the public list
must not hand tickets out. A request is therefore known publicly by its public id (digits, e.g.
"1234"); the ticket is returned only to whoever files the request (POST, GET tokens/{token}) or
already knows it (GET requests/{ticket}).

Filing: `api_key` is one of our personal API tokens (staff clients, e.g. the hotline system). The
request is filed as source "hotline" by the token's owner, on a node the owner may file cases on:
the deepest community, village, grid or microgrid whose GeoJSON boundary contains (lat, long), else
the node whose code is `jurisdiction_id`.
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
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from jiedao.cases import selectors, services
from jiedao.cases.catalogue import selectors as catalogue_selectors
from jiedao.cases.models import Case, Category, Source, State
from jiedao.core import crypto, scope, text
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.core.scope import subtree_range
from jiedao.core.services import token_authenticate
from jiedao.org.models import NodeKind, OrgNode

CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
CLOSED_STATES = (State.CLOSED, State.REJECTED)
DEFAULT_WINDOW = timedelta(days=90)
MAX_RESULTS = 1000
LOCATABLE_KINDS = (NodeKind.COMMUNITY, NodeKind.VILLAGE, NodeKind.GRID, NodeKind.MICROGRID)
TOKEN_SALT = "jiedao.cases.open311.token"  # a signing salt: never rename
# Our service's field names → the Open311 parameter names, for error messages.
PARAM_NAMES = {"latitude": "lat", "longitude": "long", "address": "address_string", "reporter_phone": "phone",
               "reporter_name": "last_name", "node": "jurisdiction_id", "category": "service_code",
               "description": "description", "title": "description"}

_MOBILE = re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)")
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_LANDLINE = re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")


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


def scrub(text: str) -> str:
    """Mask phone and ID numbers typed into free text before it is published."""
    text = _ID_NUMBER.sub(lambda m: crypto.mask(m.group(), "id_number"), text or "")
    text = _MOBILE.sub(lambda m: crypto.mask(m.group(), "phone"), text)
    return _LANDLINE.sub(lambda m: crypto.mask(m.group(), "phone"), text)


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


def public_id(case: Case) -> str:
    return str(case.pk)


def _status_notes(case: Case) -> str:
    label = str(case.get_state_display())
    if case.merged_into_id:
        return _("已与其他相同诉求合并办理。")
    if case.state in (State.RESOLVED, State.VERIFIED, State.CLOSED) and case.result:
        return _("%(state)s：%(result)s") % {"state": label, "result": scrub(case.result)}
    return label


def request_row(case: Case, *, request_id: str) -> dict[str, Any]:
    """A case as an Open311 service request: public fields only (never the reporter)."""
    agency = ""
    if case.handling_department_id:
        agency = case.handling_department.name
    elif case.handling_node_id:
        agency = case.handling_node.name
    return {
        "service_request_id": request_id,
        "status": "closed" if case.state in CLOSED_STATES else "open",
        "status_notes": _status_notes(case),
        "service_name": case.category.name if case.category_id else "",
        "service_code": case.category.code if case.category_id else "",
        "description": scrub(case.description),
        "agency_responsible": agency,
        "service_notice": "",
        "requested_datetime": _iso(case.created_at),
        "updated_datetime": _iso(case.updated_at),
        "expected_datetime": _iso(case.deadline_at),
        "address": scrub(case.address),
        "lat": float(case.latitude) if case.latitude is not None else None,
        "long": float(case.longitude) if case.longitude is not None else None,
        "media_url": "",
    }


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


def _by_id(request_id: str) -> tuple[Case, str]:
    """A ticket shows the case (any case) under its ticket; a public id only a public case."""
    if request_id.isdigit():
        case = selectors.open311_public_cases().filter(pk=int(request_id[:18])).first()
        if case is None or len(request_id) > 18:
            raise Http404
        return case, public_id(case)
    case = selectors.case_by_ticket_unscoped(request_id)
    if case is None:
        raise Http404
    return case, case.ticket


def _list(request: HttpRequest, fmt: str) -> HttpResponse:
    params = request.GET
    if params.get("service_request_id"):
        rows = []
        for request_id in _csv(params["service_request_id"])[:MAX_RESULTS]:
            try:
                case, shown = _by_id(request_id)
            except Http404:
                continue
            rows.append(request_row(case, request_id=shown))
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
    start = _moment(params["start_date"], "start_date") if params.get("start_date") else None
    end = _moment(params["end_date"], "end_date") if params.get("end_date") else None
    if start is None and end is None:
        start = timezone.now() - DEFAULT_WINDOW  # the specification's default: the last 90 days
    elif start is None:
        start = end - DEFAULT_WINDOW
    if end is not None and start > end:
        raise Open311Error(400, _("start_date 不能晚于 end_date。"))
    cases = cases.filter(created_at__gte=start)
    if end is not None:
        cases = cases.filter(created_at__lte=end)
    rows = [request_row(case, request_id=public_id(case)) for case in cases.order_by("-created_at")[:MAX_RESULTS]]
    return _requests(fmt, rows)


@endpoint("GET")
def request_detail(request: HttpRequest, fmt: str, request_id: str) -> HttpResponse:
    case, shown = _by_id(request_id)
    return _requests(fmt, [request_row(case, request_id=shown)])


@endpoint("GET")
def token_detail(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    try:
        pk = int(signing.Signer(salt=TOKEN_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        raise Http404 from None
    case = Case.objects.filter(pk=pk).first()
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


def _create(request: HttpRequest, fmt: str) -> HttpResponse:
    data = request.POST
    api_key = (data.get("api_key") or "").strip()  # in the body only: a URL ends up in access logs
    user = token_authenticate(api_key) if api_key else None
    if user is None:
        raise Open311Error(403, _("api_key 缺失、无效、已过期或已吊销：请使用在平台“我的令牌”中创建的个人 API 令牌。"))
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
    if latitude is None and not address:
        raise Open311Error(400, _("需要提供位置：lat 和 long，或 address_string。"))
    description = (data.get("description") or "").strip()
    if not description:
        raise Open311Error(400, _("缺少 description（问题描述）。"))
    node = locate(user, latitude, longitude, (data.get("jurisdiction_id") or "").strip())
    name = ((data.get("last_name") or "").strip() + (data.get("first_name") or "").strip())
    case = services.case_create(
        actor=user, source=Source.HOTLINE, node=node, description=description,
        category=category, latitude=latitude, longitude=longitude, address=address, reporter_name=name,
        reporter_phone=(data.get("phone") or "").strip(),
    )
    token = signing.Signer(salt=TOKEN_SALT).sign(str(case.pk))
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
