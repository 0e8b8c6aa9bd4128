"""The house rules hold for the project, and the checker really catches what it says it does."""

import textwrap

from config import house


def write(root, files):
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))


def test_the_project_keeps_the_house_rules():
    breaches = house.check()
    assert not breaches, "\n".join(str(b) for b in breaches)


def test_a_circle_between_two_modules_of_an_app_is_caught(tmp_path):
    write(tmp_path, {
        "shop/__init__.py": "",
        "shop/services/__init__.py": "",
        "shop/services/orders.py": "from shop import tasks\n",
        "shop/tasks.py": "def publish():\n    from shop.services.orders import place\n",
        "shop/selectors.py": "from shop.services import orders\n",
    })
    breaches = house.check(tmp_path, ["shop"])
    assert [str(b) for b in breaches] == [
        "shop: import circle: shop.services.orders <-> shop.tasks"
    ]


def test_a_circle_through_a_third_module_and_a_relative_import_is_caught(tmp_path):
    write(tmp_path, {
        "shop/__init__.py": "",
        "shop/a.py": "from . import b\n",
        "shop/b.py": "from .c import thing\n",
        "shop/c.py": "import shop.a\n",
        "shop/migrations/0001_initial.py": "from shop import a\n" + "x = 1\n" * 500,
    })
    (breach,) = house.check(tmp_path, ["shop"])
    assert str(breach) == "shop: import circle: shop.a <-> shop.b <-> shop.c"


def test_a_package_re_exporting_its_modules_is_no_circle(tmp_path):
    write(tmp_path, {
        "shop/__init__.py": "",
        "shop/models/__init__.py": "from .orders import Order\n",
        "shop/models/orders.py": "from shop.models import base\n",
        "shop/models/base.py": "",
    })
    assert house.check(tmp_path, ["shop"]) == []


def test_long_modules_and_long_functions_are_caught(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    write(tmp_path, {
        "shop/__init__.py": "",
        "shop/long.py": "y = 0\n" * 401,
        "shop/fn.py": f"@decorator\ndef long_one():\n{body}\n\n\ndef short_one():\n    return 1\n",
    })
    assert sorted(str(b) for b in house.check(tmp_path, ["shop"])) == [
        "shop/fn.py:2: function long_one() is 61 lines (at most 60)",
        "shop/long.py: 401 lines (at most 400)",
    ]
