"""The left navigation, by area; apps add their pages with ``register_nav_item``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

# Areas in the order the navigation shows them; an area with no items is left out.
AREAS: tuple[str, ...] = (
    "Sales",
    "Marketing",
    "Service",
    "Contact centre",
    "Partners",
    "Analytics",
    "Workspace",
    "Admin",
)


@dataclass(frozen=True)
class NavItem:
    area: str
    label: str
    url_name: str
    # Shown only to users whose role may read this object type ("" = everyone signed in).
    object_type: str = ""
    # URL of the page that creates one, offered as a quick action on the home page.
    create_url_name: str = ""
    admin_only: bool = False
    order: int = 100


_items: dict[str, NavItem] = {}


def register_nav_item(item: NavItem) -> None:
    """Add (or replace) a navigation entry; apps call this from ``AppConfig.ready``."""
    if item.area not in AREAS:
        raise ValueError(f"Unknown navigation area {item.area!r}; use one of {AREAS}.")
    _items[item.url_name] = item


register_nav_item(NavItem(area="Workspace", label="Recycle bin", url_name="ui:recycle_bin"))
register_nav_item(
    NavItem(area="Workspace", label="UI components", url_name="ui:components", order=200)
)


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str
    current: bool
    create_url: str


def _reverse(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        # A page whose URLs are not wired (yet) is simply not offered.
        return None


def nav_areas(user: Any, path: str) -> list[tuple[str, list[NavLink]]]:
    if not getattr(user, "is_authenticated", False):
        return []
    profile = user.access_profile()
    is_admin = bool(getattr(user, "is_admin", False))
    entries: list[tuple[str, str, str, str]] = []
    for area in AREAS:
        items = sorted(
            (i for i in _items.values() if i.area == area), key=lambda i: (i.order, i.label)
        )
        for item in items:
            if item.admin_only and not is_admin:
                continue
            if item.object_type and not profile.may(item.object_type, "read"):
                continue
            url = _reverse(item.url_name)
            if url is None:
                continue
            create_url = ""
            if item.create_url_name and profile.may(item.object_type, "create"):
                create_url = _reverse(item.create_url_name) or ""
            entries.append((area, item.label, url, create_url))
        if area == "Admin" and is_admin:
            entries.append((area, "Administration", "/admin-area/", ""))
    # One current link: the longest address the path starts with, so the board under
    # /opportunities/board/ marks "Pipeline board", not "Opportunities" as well.
    matches = [url for _area, _label, url, _create in entries if path.startswith(url)]
    current = max(matches, key=len, default=None)
    areas: list[tuple[str, list[NavLink]]] = []
    for area in AREAS:
        links = [
            NavLink(label, url, url == current, create_url)
            for entry_area, label, url, create_url in entries
            if entry_area == area
        ]
        if links:
            areas.append((area, links))
    return areas


def navigation(request: HttpRequest) -> dict[str, Any]:
    return {"nav_areas": nav_areas(request.user, request.path)}
