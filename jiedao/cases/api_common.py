"""What the REST modules of cases share: id and month parameters, references resolved in the
caller's scope (404 naming the field), file responses, error-response maps and tags."""

import io
import re
from datetime import date, datetime
from typing import Annotated, Any

from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from jiedao.cases.catalogue import selectors
from jiedao.cases.models import (
    Category,
)
from jiedao.core.api import READ_ERRORS, ErrorOut, ref_or_404
from jiedao.core.permissions import Perm
from jiedao.org import selectors as org_selectors
from jiedao.org.models import OrgNode

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FILE_ERRORS: dict[int, Any] = {**READ_ERRORS, 403: ErrorOut}
STATS_ERRORS: dict[int, Any] = {**READ_ERRORS, 400: ErrorOut, 403: ErrorOut}
MAX_STATS_MONTHS = 120

T_CASES = ["诉求事件"]
T_REFERENCE = ["事项目录与流程"]
T_CYCLES = ["周集、月议与季度评估"]
T_STATS = ["统计"]



# --- helpers ----------------------------------------------------------------------------------



def scoped_node(request: Any, pk: int | None, field: str = "node") -> OrgNode | None:
    """A node the caller can see (org scope): filters and intake places (from the per-process
    node cache; the scope check is the same)."""
    return ref_or_404(org_selectors.node_get_cached, request.auth, pk, field)


def case_node(request: Any, pk: int | None, field: str = "node") -> OrgNode | None:
    """A node inside the caller's case scope (VIEW_CASES): statistics and cycles."""
    return ref_or_404(lambda user, key: org_selectors.node_get(user, key, Perm.VIEW_CASES), request.auth, pk, field)


def category_ref(code: str | None, field: str = "category") -> Category | None:
    return ref_or_404(lambda _user, key: selectors.category_by_code(key), None, code, field)





def aware(moment: datetime) -> datetime:
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def check_month(value: str) -> str:
    match = re.fullmatch(r"(\d{4})-(\d{2})", value.strip())
    if not match or not (1 <= int(match[2]) <= 12) or not (2000 <= int(match[1]) <= 2100):
        raise PydanticCustomError("month", _("应为年月，如 2026-03"))
    return value.strip()


Month = Annotated[str, AfterValidator(check_month)]


def month_start(value: str) -> date:
    year, month = value.split("-")
    return date(int(year), int(month), 1)


def next_month(day: date) -> date:
    return date(day.year + (day.month == 12), 1 if day.month == 12 else day.month + 1, 1)


def file_response(content: bytes, filename: str, content_type: str) -> FileResponse:
    response = FileResponse(io.BytesIO(content), as_attachment=True, filename=filename, content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response
