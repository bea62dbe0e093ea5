"""信访 pages."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from jiedao.core.permissions import Perm
from jiedao.core.views import require_perm_anywhere


@require_perm_anywhere(Perm.VIEW_PETITIONS)
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "petitions/index.html", {})
