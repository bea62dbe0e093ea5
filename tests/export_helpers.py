"""Exports through the pages: the list's POST makes a job (run at once: tests run tasks eagerly),
then 我的导出 hands out the file."""

from __future__ import annotations

import io
from urllib.parse import urlencode

import openpyxl
from django.urls import reverse

from jiedao.core.models import ExportJob


def page_export(client, name: str, query: dict | None = None, data: dict | None = None):
    """POST the list's export (filters in the query, reveal/reason in the body); the response."""
    url = reverse(name) + (f"?{urlencode(query)}" if query else "")
    return client.post(url, data or {})


def page_download(client, name: str, query: dict | None = None, data: dict | None = None):
    """Export through the page and download the file from 我的导出 (the download's response)."""
    before = ExportJob.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = page_export(client, name, query, data)
    assert response.status_code == 302 and response["Location"] == reverse("exports:list"), response
    job = ExportJob.objects.filter(pk__gt=before).get()
    assert job.status == ExportJob.Status.DONE, job.message
    return client.get(reverse("exports:download", args=[job.pk]))


def sheet(response) -> list[tuple]:
    assert response.status_code == 200, response
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "no-store" in response["Cache-Control"]
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return list(workbook.active.values)
