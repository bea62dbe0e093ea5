"""The welfare overview page: the entry to its parts."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from jiedao.core.permissions import Perm
from jiedao.core.views import require_perm_anywhere


@require_perm_anywhere(Perm.VIEW_WELFARE)
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "welfare/index.html", {})
