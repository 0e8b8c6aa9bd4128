"""What the dashboard pages draw from a figure's JSON (charts); the JSON stays the API's."""

from datetime import date, timedelta
from decimal import Decimal

from django.urls import reverse

from billing.panels import drill
from config.charts import Row, Segment, bar_chart

AGING_CSS = {"0-30": "seg-age-0", "31-60": "seg-age-1", "61-90": "seg-age-2", "90+": "seg-age-3"}
CHART_PEOPLE, CHART_PROJECTS = 20, 15
MODEL_LABELS = {"time_and_materials": "T&M", "fixed_fee": "fixed fee", "retainer": "retainer"}


def whole(amount: str | Decimal) -> str:
    return f"{Decimal(amount):,.0f}"


def _unconverted_note(items: list[dict]) -> str:
    return " + ".join(f"{whole(i['amount'])} {i['currency']}" for i in items)


def present_unbilled(data: dict) -> dict:
    currency = data["reporting_currency"]
    rows = [
        Row(
            label=client["name"],
            segments=[
                Segment(
                    Decimal(age["reporting"]["amount"]),
                    AGING_CSS[age["bucket"]],
                    f"{age['bucket']} days: {whole(age['reporting']['amount'])} {currency}, "
                    f"{age['hours']} h",
                )
                for age in client["aging"]
            ],
            value_label=f"{whole(client['reporting']['amount'])} {currency}",
            note=(
                f"+ {_unconverted_note(client['reporting']['unconverted'])}"
                if client["reporting"]["unconverted"]
                else ""
            ),
            href=reverse("billing:project_list") + f"?customer={client['id']}",
        )
        for client in data["by_client"]["top"]
    ]
    filters = data["filters"]
    projects = [
        {
            **project,
            "url": reverse("billing:project_detail", args=[project["id"]]),
            "time_url": drill.time_url(
                {**filters, "project": project["psa_project_id"]}, status="rated"
            ),
            "cells": [age["reporting"]["amount"] for age in project["aging"]],
        }
        for project in data["by_project"]["top"]
    ]
    oldest = next(a for a in data["total"]["aging"] if a["bucket"] == "90+")
    as_of = date.fromisoformat(data["as_of"])
    return {
        "chart": bar_chart(rows, width=760) if rows else None,
        "legend": list(AGING_CSS.items()),
        "projects": projects,
        "oldest": oldest,
        "total_url": drill.time_url(filters, status="rated"),
        "oldest_url": drill.time_url(filters, before=as_of - timedelta(days=91), status="rated"),
        "trend": drill.unbilled_trend(data),
    }


def present_latency(data: dict) -> dict:
    return {
        "url": drill.invoice_url(data["filters"], status="posted"),
        "trend": drill.latency_trend(data),
    }


def present_cycle_time(data: dict) -> dict:
    return {
        "approved_url": drill.invoice_url(data["filters"], status="approved"),
        "posted_url": drill.invoice_url(data["filters"], status="posted"),
    }


def _utilization_css(value: str | None) -> str:
    if value is None:
        return "seg-muted"
    level = Decimal(value)
    return "seg-bad" if level > 100 else "seg-ok" if level >= 60 else "seg-warn"


def present_utilization(data: dict) -> dict:
    people = data["by_person"][:CHART_PEOPLE]
    rows = [
        Row(
            label=person["name"],
            segments=[
                Segment(
                    Decimal(person["utilization"] or 0),
                    _utilization_css(person["utilization"]),
                    f"{person['role']}: {person['billed_hours']} h billed of "
                    f"{person['capacity_hours']} h",
                )
            ],
            value_label=f"{person['utilization'] or '–'} %",
        )
        for person in people
    ]
    return {
        "chart": bar_chart(rows, width=760, marker=Decimal(100)) if rows else None,
        "more": max(len(data["by_person"]) - CHART_PEOPLE, 0),
        "trend": drill.utilization_trend(data),
        "time_url": drill.time_url(
            data["filters"], after=_day(data["start"]), before=_day(data["end"])
        ),
    }


def _day(text: str) -> date:
    return date.fromisoformat(text)


def _margin_share(project: dict) -> Decimal | None:
    """The margin % a bar shows. A project with cost and nothing billed has no percentage (its
    loss is the whole cost): it shows as -100 %, so a loss-maker is never left off the chart."""
    if project["margin_percent"] is not None:
        return Decimal(project["margin_percent"])
    margin = project["margin"]
    if margin is not None and Decimal(margin["amount"]) < 0:
        return Decimal(-100)
    return None


def present_margin(data: dict) -> dict:
    shown = [(share, p) for p in data["projects"] if (share := _margin_share(p)) is not None]
    ranked = sorted(shown, key=lambda pair: (pair[0], pair[1]["name"]))[:CHART_PROJECTS]
    rows = [
        Row(
            label=project["name"],
            segments=[
                Segment(
                    share,
                    "seg-ok" if share >= 0 else "seg-bad",
                    f"margin {project['margin']['amount']} {project['margin']['currency']} "
                    f"on {project['billed']['amount']} billed",
                )
            ],
            value_label=f"{project['margin_percent']} %"
            if project["margin_percent"] is not None
            else "loss, nothing billed",
            href=reverse("billing:project_detail", args=[project["id"]]),
        )
        for share, project in ranked
    ]
    return {
        "chart": bar_chart(rows, width=760) if rows else None,
        "trend": drill.margin_trend(data),
        "projects": [
            {
                **p,
                "url": reverse("billing:project_detail", args=[p["id"]]),
                "time_url": drill.time_url({**data["filters"], "project": p["psa_project_id"]}),
                "model_label": MODEL_LABELS.get(p["billing_model"], p["billing_model"]),
                "is_loss": p["margin"] is not None and Decimal(p["margin"]["amount"]) < 0,
            }
            for p in data["projects"]
        ],
    }
