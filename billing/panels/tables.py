"""The tables of billing's dashboard panels as files (config/exports.py ``PanelTable``): the
rows each panel's template shows, in its words; amounts in the reporting currency as numbers
beside their currency, amounts in several currencies as the page writes them."""

from config.exports import MONEY, NUMBER, Column, PanelTable, money_list_text
from exceptions_queue.registry import exception_types

BUCKETS = ("0-30", "31-60", "61-90", "90+")  # billing/panels/unbilled.py's age buckets


def _unconverted(row: dict) -> str:
    return money_list_text((row.get("reporting") or {}).get("unconverted"))


def _unbilled_rows(data: dict, view: dict | None) -> list[dict]:
    currency = data["reporting_currency"]
    rows = [
        {**project, "buckets": dict(zip(BUCKETS, project["cells"], strict=False))}
        for project in (view or {}).get("projects", [])
    ]
    others = data["by_project"]["others"]
    if others["count"]:
        rows.append({**others, "name": f"{others['count']} more projects", "buckets": {}})
    return [{**row, "currency": currency} for row in rows]


UNBILLED_TABLE = PanelTable(
    columns=[
        Column("Project", "name"),
        Column("Client", "client"),
        Column("Reporting currency", "currency"),
        *(
            Column(f"{bucket} d", lambda row, b=bucket: row["buckets"].get(b), MONEY, "currency")
            for bucket in BUCKETS
        ),
        Column("Hours", "hours", NUMBER),
        Column("Total, reporting", "reporting.amount", MONEY, "currency"),
        Column("Not in the reporting total (no FX rate)", _unconverted),
        Column("Total", lambda row: money_list_text(row.get("amounts"))),
    ],
    rows=_unbilled_rows,
)


def _type_title(code: str) -> str:
    found = exception_types.get(code)
    return found.title if found is not None else code


def _risk_rows(data: dict, view: dict | None) -> list[dict]:
    rows = [{**row, "label": _type_title(row["type"])} for row in data["by_type"]]
    if rows:  # the table's foot: one subtotal per queue
        rows += [{**row, "label": f"{row['label']} queue", "queue": ""} for row in data["by_queue"]]
    return rows


RISK_TABLE = PanelTable(
    columns=[
        Column("Type", "label"),
        Column("Queue", "queue"),
        Column("Items", "items", NUMBER),
        Column("Amount", lambda row: money_list_text(row.get("amounts"))),
        Column("Reporting currency", "reporting.currency"),
        Column("Amount, reporting", "reporting.amount", MONEY, "reporting.currency"),
        Column("Not in the reporting amount (no FX rate)", _unconverted),
        Column("Hours, no amount", "unpriced_hours", NUMBER),
    ],
    rows=_risk_rows,
)


CYCLE_TIME_TABLE = PanelTable(
    columns=[
        Column("From the end of the billed month to", "label"),
        Column("Median days", "median", NUMBER),
        Column("p90 days", "p90", NUMBER),
        Column("Invoices", "count", NUMBER),
    ],
    rows=lambda data, view: [
        {"label": "approval", **data["to_approval"]},
        {"label": "posting in the ERP", **data["to_posting"]},
    ],
)


UTILIZATION_TABLE = PanelTable(
    columns=[
        Column("Role", "role"),
        Column("People", "people", NUMBER),
        Column("Billed h", "billed_hours", NUMBER),
        Column("Capacity h", "capacity_hours", NUMBER),
        Column("Util. %", "utilization", NUMBER),
    ],
    rows=lambda data, view: data["by_role"],
)


MARGIN_TABLE = PanelTable(
    columns=[
        Column("Project", "name"),
        Column("Client", "client"),
        Column("Model", "model_label"),
        Column("Currency", "billed.currency"),
        Column("Billed", "billed.amount", MONEY, "billed.currency"),
        Column("Cost", "cost.amount", MONEY, "cost.currency"),
        Column("Cost without an FX rate", lambda row: money_list_text(row["unconverted_cost"])),
        Column("Margin", "margin.amount", MONEY, "margin.currency"),
        Column("Margin %", "margin_percent", NUMBER),
    ],
    rows=lambda data, view: (view or {}).get("projects", []),
)


DEMO_TRAFFIC_TABLE = PanelTable(
    columns=[
        Column("When", "when"),
        Column("From", "system"),
        Column("What", "what"),
        Column("Answer", "answer"),
    ],
    rows=lambda data, view: (view or {}).get("recent", []),
)
