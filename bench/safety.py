"""Benchmark: the safety figures and pages on the demo sub-district (a year: ~2,100 inspections,
~1,200 hazards, 600 businesses), CPU time of this process (SQLite runs inside it).

For the leader (the whole sub-district) and a community secretary: `selectors.figures` for the
year (from the rollups) and `selectors.figures_direct` (the same figures counted from the rows),
the dashboard's safety panel fragment (its cache cleared each time), `campaign_coverage` of the campaign under way, and the overview, campaign, hazard-list and
inspection-form pages through Django's test client; the floor is one plain `COUNT(*)` over the
hazard table. Prints median CPU milliseconds of --repeat runs and the ratio to the floor.

Usage:
  JIEDAO_DATA_DIR=/tmp/bench-safety .venv/bin/python bench/safety.py [--repeat 20]
  (seeds the demo sub-district into that data dir when it holds no org tree)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiedao.settings")


def cpu_ms(fn, repeat: int) -> float:
    values = []
    for _ in range(repeat):
        started = time.process_time()
        fn()
        values.append((time.process_time() - started) * 1000)
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from jiedao.org.models import OrgNode, RoleAssignment, User
    from jiedao.safety import selectors
    from jiedao.safety.models import Campaign, Hazard

    if not OrgNode.objects.exists():
        with open(os.devnull, "w") as quiet:
            call_command("seed", stdout=quiet)
    today = timezone.localdate()
    start = today.replace(month=1, day=1)
    campaign = Campaign.objects.order_by("-starts_on").first()
    secretary = RoleAssignment.objects.filter(role="community_secretary").order_by("pk").first().user
    leader = User.objects.get(username="leader")
    business = Hazard.objects.filter(node__path__startswith=secretary.assignments.first().node.path).first().business
    floor = cpu_ms(lambda: Hazard.objects.count(), args.repeat)
    print(f"hazards {Hazard.objects.count()}, floor COUNT(*) {floor:.2f} ms CPU (median of {args.repeat})")
    rows = []
    for label, user in (("leader (sub-district)", leader), ("secretary (community)", secretary)):
        rows.append((f"figures, year (rollups), {label}",
                     cpu_ms(lambda u=user: selectors.figures(u, start, today), args.repeat)))
        rows.append((f"figures, year (rows counted), {label}",
                     cpu_ms(lambda u=user: selectors.figures_direct(u, start, today), args.repeat)))
        rows.append((f"campaign coverage, {label}",
                     cpu_ms(lambda u=user: selectors.campaign_coverage(u, campaign), args.repeat)))
        client = Client()
        client.force_login(user)
        pages = [("overview", "/safety/"), ("campaign", f"/safety/campaigns/{campaign.pk}/"),
                 ("hazards (open)", "/safety/hazards/?state=open")]
        if user == secretary:  # a leader does not inspect (403)
            pages.append(("inspection form", f"/safety/businesses/{business.pk}/inspect/"))
        panel_url = f"/cases/dashboard/panels/safety/?node={user.assignments.first().node.pk}&months=12"

        def panel(client=client, url=panel_url):
            from django.core.cache import cache
            cache.clear()  # the fragment's own cache would hide what it reads
            assert client.get(url).status_code == 200, url
        panel()
        rows.append((f"dashboard panel fragment (uncached), {label}", cpu_ms(panel, args.repeat)))
        for page, url in pages:
            def get(url=url, client=client):
                assert client.get(url).status_code == 200
            get()
            rows.append((f"page {page}, {label}", cpu_ms(get, args.repeat)))
    for label, ms in rows:
        print(f"{label:<48} {ms:8.1f} ms CPU   ×{ms / floor if floor else float('nan'):8.0f} floor")


if __name__ == "__main__":
    main()
