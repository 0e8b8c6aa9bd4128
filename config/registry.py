"""Registries that higher apps fill in ``AppConfig.ready()`` so lower layers never import them."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Registry(Generic[K, V]):
    """A named mapping that refuses to register the same key twice (a typo would shadow silently)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._items: dict[K, V] = {}

    def register(self, key: K, value: V) -> V:
        if key in self._items:
            raise KeyError(f"{self.name}: {key!r} is already registered")
        self._items[key] = value
        return value

    def get(self, key: K, default: Any = None) -> V | Any:
        return self._items.get(key, default)

    def __getitem__(self, key: K) -> V:
        return self._items[key]

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

    def items(self):
        return self._items.items()

    def values(self):
        return self._items.values()

    def keys(self):
        return self._items.keys()


@dataclass(frozen=True)
class NavItem:
    """One entry of the top navigation; ``badge`` returns a count for the user (or None)."""

    key: str
    label: str
    url_name: str
    roles: tuple[str, ...] = ()
    order: int = 100
    url_args: tuple = ()
    badge: Callable[[Any], int | None] | None = None


@dataclass(frozen=True)
class Panel:
    """A dashboard panel: a selector computing a JSON-able dict, and the template that shows it."""

    key: str
    title: str
    dashboard: str  # "home", "finance", "pmo", "operations"
    compute: Callable[..., dict]
    template: str
    roles: tuple[str, ...] = ()
    order: int = 100
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DashboardFilters:
    """The filter form of a dashboard: ``fields(query)`` returns the fields to draw, each
    ``{"name", "label", "kind": "select" | "month", "value", "options": [(value, label)]}``;
    the values reach the panels that declare them in ``extra["params"]``."""

    dashboard: str
    fields: Callable[[Any], list[dict]]


navigation: Registry[str, NavItem] = Registry("navigation")
dashboard_filters: Registry[str, DashboardFilters] = Registry("dashboard filters")
panels: Registry[str, Panel] = Registry("dashboard panels")
