#!/usr/bin/env python3
"""A small Open311 GeoReport v2 client (standard library only): file a request, read its status.

    python scripts/open311_client.py --base http://127.0.0.1:8000/open311/v2 --api-key jd_… \\
        --service exposed_garbage --lat 29.405 --long 121.605 --description "1幢楼下垃圾堆放三天"

Prints the ticket (service_request_id), then the request's status as the server reports it.
The api_key is a personal API token created under “我的令牌” on the platform. Exit status: 0 on
success, 1 when the server refuses (its Open311 error is printed), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

TIMEOUT = 30


class Open311Failure(Exception):
    pass


def _call(url: str, data: dict[str, str] | None = None) -> Any:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Accept": "application/json"})
    if body is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raw = exc.read().decode("utf-8", "replace")
        try:
            errors = json.loads(raw)
            message = "；".join(f"{e.get('code')} {e.get('description')}" for e in errors)
        except (ValueError, AttributeError, TypeError):
            message = raw[:300]
        raise Open311Failure(f"HTTP {exc.code}: {message}") from None
    except urllib.error.URLError as exc:
        raise Open311Failure(f"无法连接 {url}：{exc.reason}") from None


def file_request(base: str, fields: dict[str, str]) -> dict[str, Any]:
    """POST requests.json; returns the first (only) element of the answer."""
    answer = _call(f"{base.rstrip('/')}/requests.json", {k: v for k, v in fields.items() if v})
    if not answer:
        raise Open311Failure("服务器没有返回服务请求编号。")
    return answer[0]


def request_status(base: str, request_id: str) -> dict[str, Any]:
    """GET requests/{id}.json; returns the request."""
    quoted = urllib.parse.quote(request_id, safe="")
    answer = _call(f"{base.rstrip('/')}/requests/{quoted}.json")
    if not answer:
        raise Open311Failure(f"服务器上没有服务请求 {request_id}。")
    return answer[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="提交一条 Open311 服务请求并查询其状态")
    parser.add_argument("--base", required=True, help="Open311 根地址，如 http://127.0.0.1:8000/open311/v2")
    parser.add_argument("--api-key", required=True, help="个人 API 令牌（jd_…）")
    parser.add_argument("--service", required=True, help="服务代码（事项类别代码），如 exposed_garbage")
    parser.add_argument("--description", required=True, help="问题描述")
    parser.add_argument("--lat", help="纬度（WGS-84）")
    parser.add_argument("--long", dest="long", help="经度（WGS-84）")
    parser.add_argument("--address", default="", help="地址（没有经纬度时必填）")
    parser.add_argument("--jurisdiction", default="", help="社区、村或网格编码（位置不在任何网格边界内时必填）")
    parser.add_argument("--first-name", default="", help="反映人名")
    parser.add_argument("--last-name", default="", help="反映人姓")
    parser.add_argument("--phone", default="", help="反映人电话")
    args = parser.parse_args(argv)
    if (args.lat is None) != (args.long is None):
        parser.error("--lat 和 --long 需同时提供")
    if args.lat is None and not args.address:
        parser.error("需要 --lat/--long 或 --address")

    fields = {
        "api_key": args.api_key, "service_code": args.service, "description": args.description,
        "lat": args.lat or "", "long": args.long or "", "address_string": args.address,
        "jurisdiction_id": args.jurisdiction, "first_name": args.first_name, "last_name": args.last_name,
        "phone": args.phone,
    }
    try:
        created = file_request(args.base, fields)
        ticket = created.get("service_request_id")
        if not ticket:
            raise Open311Failure("服务器没有返回服务请求编号。")
        print(f"service_request_id: {ticket}")
        if created.get("service_notice"):
            print(f"service_notice: {created['service_notice']}")
        current = request_status(args.base, ticket)
    except Open311Failure as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    for key in ("status", "status_notes", "service_name", "agency_responsible", "requested_datetime",
                "expected_datetime"):
        print(f"{key}: {current.get(key) if current.get(key) is not None else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
