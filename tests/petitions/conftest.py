"""Petition fixtures on top of the shared world: a community staff member (信访 handler) and
helpers to register petitions. The secretary manages 东门社区's petitions, the leader and admin
the sub-district's; grid workers and department handlers see none."""

import pytest

from jiedao.core.permissions import Role
from jiedao.org import services as org_services
from jiedao.petitions import services


@pytest.fixture
def staff(world):
    user = org_services.user_create(actor=world.admin, username="shequ", full_name="周干事", home_node=world.community,
                                    password="jiedao2026-test")
    org_services.role_assign(actor=world.admin, user=user, role=Role.COMMUNITY_STAFF, node=world.community)
    return user


def register(world, actor=None, *, node=None, name="陈信访", id_number="", phone="", content=None, **kw):
    defaults = dict(channel="visit", received_on=kw.pop("received_on", None) or __import__("django.utils.timezone",
                    fromlist=["x"]).localdate(), category="construction", title="地下车库渗水")
    defaults.update(kw)
    return services.petition_register(
        actor=actor or world.secretary, node=node or world.grid,
        content=content or "小区地下车库每逢下雨就渗水积水，物业多次维修未解决。",
        petitioners=[{"name": name, "id_number": id_number, "phone": phone}], **defaults)
