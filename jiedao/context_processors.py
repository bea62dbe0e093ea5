"""The page chrome's context: it names every app's pages, so it lives in the project package."""

from functools import cached_property

from django.conf import settings
from django.utils.translation import gettext as _

from jiedao.cases.cycles.selectors import COMMUNITY_KINDS, cycle_places, owns_decisions
from jiedao.cases.selectors import can_view_cases
from jiedao.core import caching, scope
from jiedao.core.permissions import Perm, Role


class Navigation:
    """What the page chrome needs to know about the signed-in user, computed only when a
    template asks (so partials and anonymous pages cost no queries). Everything but the 月议
    link comes from the user's role rows and the places they hold, kept per process and cache
    generation (jiedao.core.caching); the 月议 link from Django's cache until a meeting is held.
    So a page's chrome costs no query of its own."""

    def __init__(self, user):
        self.user = user

    def _anywhere(self, perm: str) -> bool:
        return bool(self.user.is_authenticated) and scope.has_perm_anywhere(self.user, perm)

    @cached_property
    def can_view_users(self) -> bool:
        return self._anywhere(Perm.VIEW_USERS)

    @cached_property
    def can_manage_users(self) -> bool:
        return self._anywhere(Perm.MANAGE_USERS)

    @cached_property
    def can_view_audit(self) -> bool:
        return self._anywhere(Perm.VIEW_AUDIT)

    @cached_property
    def can_view_people(self) -> bool:
        return self._anywhere(Perm.VIEW_PEOPLE)

    @cached_property
    def can_view_businesses(self) -> bool:
        return self._anywhere(Perm.VIEW_BUSINESSES)

    @cached_property
    def can_view_welfare(self) -> bool:
        return self._anywhere(Perm.VIEW_WELFARE)

    @cached_property
    def can_view_petitions(self) -> bool:
        return self._anywhere(Perm.VIEW_PETITIONS)

    @cached_property
    def can_import(self) -> bool:
        return self._anywhere(Perm.IMPORT_PEOPLE) or self._anywhere(Perm.MANAGE_BUSINESSES)

    @cached_property
    def can_view_cases(self) -> bool:
        return can_view_cases(self.user)

    @cached_property
    def can_view_dashboard(self) -> bool:
        # Places only: department handlers see dispatched cases, not a place's figures.
        return self._anywhere(Perm.VIEW_CASES)

    # 红色网格 (周集 · 月议 · 季度评估 · 季报告): everyone who sees a place's cases has the 周集 of
    # their grids and communities; meetings, reviews and reports are held by communities, so they
    # show for those who see a community (secretaries, staff, leaders, administrators); a grid
    # worker made responsible for a 月议 decision sees "我的月议事项".
    @cached_property
    def can_view_cycles(self) -> bool:
        return self._anywhere(Perm.VIEW_CASES)

    @cached_property
    def can_hold_meetings(self) -> bool:
        if not self.can_view_cycles:
            return False
        if self.user.is_superuser:
            return True
        roles = {role for role, _path, active, _d in scope.role_rows(self.user) if active}
        if roles & {Role.COMMUNITY_SECRETARY, Role.COMMUNITY_STAFF, Role.LEADER, Role.ADMIN}:
            return True
        if Role.GRID_LEADER in roles:  # bound to a grid or to a whole community
            user = self.user
            return caching.get(("nav-community-places", user.pk),
                               lambda: cycle_places(user, COMMUNITY_KINDS).exists())
        return False

    @cached_property
    def owns_decisions(self) -> bool:
        return owns_decisions(self.user)  # cached until a meeting is held (cycles.selectors)

    @cached_property
    def can_joint_meetings(self) -> bool:
        """街道领导 and 系统管理员 prepare, hold and decide the sub-district's 联席会议."""
        return self._anywhere(Perm.JOINT_MEETINGS)

    @cached_property
    def can_manage_catalogue(self) -> bool:
        return self._anywhere(Perm.MANAGE_CATALOGUE)

    @cached_property
    def can_view_insight(self) -> bool:
        return self._anywhere(Perm.VIEW_INSIGHT)

    @cached_property
    def role_label(self) -> str:
        """The user's roles for the top bar, e.g. "网格员" or "街道领导、系统管理员"."""
        if not self.user.is_authenticated:
            return ""
        if self.user.is_superuser:
            return _("超级管理员")
        # the role rows already cached per process and generation, in the assignments' order
        roles = [role for role, _path, _active, _dept in sorted(scope.role_rows(self.user), key=lambda r: (r[1], r[0]))]
        names = dict(Role.choices)
        labels: list[str] = []
        for role in roles:
            label = str(names.get(role, role))
            if label not in labels:
                labels.append(label)
        return "、".join(labels) or _("未分配角色")


def platform(request):
    return {"SITE_NAME": settings.JIEDAO_SITE_NAME, "nav": Navigation(request.user) if hasattr(request, "user") else None}
