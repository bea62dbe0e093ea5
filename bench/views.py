"""Reference endpoints for bench/intake.py, served only under the benchmark's settings
(bench.settings, URLconf bench.urls): the production package knows nothing of them.

`noop` answers at once; `bare_intake` is the floor the real intake is measured against: it
parses JSON, checks the two text fields and inserts one case row and one audit row, nothing else
(no authentication, scope, routing, rollups or transition row). The case row goes in through the
ORM's save(), as a plain Django endpoint would, or with `?cached` through the same cached
statement as the real intake (jiedao.core.fastpath.insert_one): the stricter floor."""

from __future__ import annotations

import json

from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from jiedao.cases.models import Case
from jiedao.cases.services import new_ticket
from jiedao.core import audit
from jiedao.core.fastpath import insert_one


def noop(request):
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def bare_intake(request):
    try:
        data = json.loads(request.body)
        title, description, node = str(data["title"]).strip(), str(data["description"]).strip(), int(data["node"])
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"detail": "请求格式不正确。"}, status=400)
    if not title or not description:
        return JsonResponse({"detail": "请填写标题和描述。"}, status=400)
    with transaction.atomic():
        case = Case(ticket=new_ticket(timezone.now()), source="hotline", node_id=node,
                    org_path=str(data.get("org_path", "")), title=title[:100], description=description[:4000])
        if "cached" in request.GET:
            insert_one(case)  # the statement the real intake uses (jiedao.core.fastpath)
        else:
            case.save()  # what a plain Django endpoint does
        if "noaudit" not in request.GET:
            audit.record(actor=None, action="bench.case.create", obj=case)
    return JsonResponse({"ticket": case.ticket}, status=201)
