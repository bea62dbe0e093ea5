"""The top bar (jiedao.context_processors.Navigation): roles and menu from the role rows kept
per process and cache generation, so a role given or taken away shows on the very next page."""

from __future__ import annotations

from django.urls import reverse


def test_the_top_bar_names_the_roles_and_follows_a_new_one_at_once(client, world):
    from jiedao.core.permissions import Role
    from jiedao.org import services

    client.force_login(world.worker)
    before = client.get(reverse("home")).content.decode()
    assert '<span class="who-role">网格员</span>' in before and 'href="/cycles/meetings/"' not in before
    services.role_assign(actor=world.admin, user=world.worker, role=Role.GRID_LEADER, node=world.community)
    page = client.get(reverse("home")).content.decode()
    assert '<span class="who-role">网格员、网格长</span>' in page or '<span class="who-role">网格长、网格员</span>' in page
    assert 'href="/cycles/meetings/"' in page  # a 网格长 of a whole community holds 月议
