"""The house rules a reviewer would otherwise check by eye, run by `make lint`.

`python -m config.house` fails (exit 1, one line per breach) when:

- a module outside migrations (the apps' and the tests') is longer than MAX_MODULE_LINES;
- a function or method is longer than MAX_FUNCTION_LINES (from its ``def`` line to the end of
  its body, decorators not counted);
- two or more modules of one app import each other in a circle, directly or through others,
  at module level or inside a function (a lazy import that only dodges a circle is still one).

Import-linter keeps the arrows between layers; this keeps the sizes and catches a circle inside
a layer, which a layers contract cannot see. It reads source with ``ast`` and imports nothing
from the apps, so it runs before Django is configured.
"""

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "integrations", "billing", "mdm", "exceptions_queue")
SIZE_ONLY = ("tests",)  # held to the sizes; test modules import their fixtures back and forth
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


@dataclass(frozen=True)
class Breach:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def app_modules(root: Path, app: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``app`` outside migrations."""
    modules = {}
    for path in sorted((root / app).rglob("*.py")):
        relative = path.relative_to(root)
        if "migrations" in relative.parts:
            continue
        parts = list(relative.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def size_breaches(root: Path, modules: dict[str, Path]) -> Iterator[Breach]:
    for path in modules.values():
        source = path.read_text()
        shown = str(path.relative_to(root))
        lines = source.count("\n") + (0 if source.endswith("\n") or not source else 1)
        if lines > MAX_MODULE_LINES:
            yield Breach(shown, f"{lines} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(source, filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    yield Breach(
                        f"{shown}:{node.lineno}",
                        f"function {node.name}() is {length} lines (at most {MAX_FUNCTION_LINES})",
                    )


def _imported_names(module: str, path: Path) -> Iterator[str]:
    """Every module name ``module`` imports, wherever the import statement stands."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            for alias in node.names:
                yield f"{base}.{alias.name}"


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Edges between the app's own modules. Importing ``a.b`` from ``a.b.c`` counts as importing
    the package ``a.b`` only when that is a module of the app; a parent package's __init__ that
    merely re-exports is an edge like any other."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for imported in _imported_names(name, path):
            target = imported
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(f"{target}."):
                graph[name].add(target)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def circle_breaches(app: str, graph: dict[str, set[str]]) -> Iterator[Breach]:
    for component in circles(graph):
        yield Breach(app, "import circle: " + " <-> ".join(component))


def check(
    root: Path = ROOT, apps: Iterable[str] = APPS, size_only: Iterable[str] = SIZE_ONLY
) -> list[Breach]:
    breaches: list[Breach] = []
    for app in apps:
        modules = app_modules(root, app)
        breaches.extend(size_breaches(root, modules))
        breaches.extend(circle_breaches(app, import_graph(modules)))
    for folder in size_only:
        if (root / folder).is_dir():
            breaches.extend(size_breaches(root, app_modules(root, folder)))
    return breaches


def main() -> int:
    breaches = check()
    for breach in breaches:
        print(breach)  # noqa: T201
    if breaches:
        print(f"{len(breaches)} house rule(s) broken", file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
