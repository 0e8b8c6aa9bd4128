"""The PSA port on Tryton (its project and timesheet modules).

- ``psa.project.create``: the project as a ``project.work`` of type project for the customer's
  party, each phase a task under it, all available on timesheets, in one ``create``. Checked
  first by our reference in the work's comment (``TL-OPP-<opportunity id>``; a phase's is
  ``TL-PHASE-<code>``), so a retry after a lost answer finds the first one.
- Approved time is pulled (Tryton sends no webhooks and has no approval step: a timesheet line
  on one of our projects is approved time once it is entered; firms using Tryton as their PSA
  enter or unlock time after approval). A line edited later is sent again as a correction.
"""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from integrations.connectors.base import DeliveryResult
from integrations.connectors.pull import Changes, PulledEvent
from integrations.connectors.tryton import mapping, setup
from integrations.connectors.tryton.client import TrytonClient

PHASE_PREFIX = mapping.PHASE_PREFIX
PAGE = 1000


def create_project(client: TrytonClient, lookups: setup.Lookups, payload: dict) -> DeliveryResult:
    works = client.model("project.work")
    marker = mapping.project_marker(lookups.options, payload["opportunity_id"])
    found = works.search([("type", "=", "project"), ("comment", "=", marker)], limit=1)
    created = not found
    if found:
        project_id = found[0]
    else:
        party = _party(
            client,
            mapping.party_code(lookups.options, payload["customer"]["throughline_id"]),
            payload["customer"],
        )
        phases = [
            {
                "name": phase.get("name") or phase["code"],
                "type": "task",
                "company": lookups.company,
                "comment": PHASE_PREFIX + phase["code"],
                "timesheet_available": True,
            }
            for phase in payload.get("phases", [])
        ]
        values = {
            "name": payload["name"],
            "type": "project",
            "company": lookups.company,
            "party": party,
            "comment": marker,
            "timesheet_available": True,
            "children": [["create", phases]] if phases else [],
        }
        project_id = works.create([values])[0]
    children = works.search_read([("parent", "=", project_id)], ["id", "comment"])
    phase_ids = {
        row["comment"][len(PHASE_PREFIX) :]: row["id"]
        for row in children
        if (row.get("comment") or "").startswith(PHASE_PREFIX)
    }
    return DeliveryResult(
        external_id=str(project_id), data={"phases": phase_ids, "created": created}
    )


def _party(client: TrytonClient, code: str, customer: dict) -> int:
    """The customer's party (by our code); created when the PSA is asked first (the ERP's
    upsert then finds it by the same code and completes it)."""
    parties = client.model("party.party")
    found = parties.search([("code", "=", code)], limit=1)
    if found:
        return found[0]
    return parties.create(
        [{"name": customer["name"], "code": code, "addresses": [["create", [{}]]]}]
    )[0]


def time_changes(client: TrytonClient, lookups: setup.Lookups, since: str | None) -> Changes:
    """Timesheet lines written at or after ``since`` on our projects, as approved time."""
    domain: list = [("company", "=", lookups.company)]
    if since:
        domain.append(("write_date", ">=", mapping.parse_datetime(since)))
    lines = client.model("timesheet.line").search_read(
        domain,
        [
            "id",
            "uuid",
            "date",
            "duration",
            "description",
            "employee",
            "work.origin",
            "write_date",
            "create_date",
        ],
        limit=PAGE,
        order=[("write_date", "ASC"), ("id", "ASC")],
    )
    phases = _phases_of(client, mapping.project_marker(lookups.options, ""), lines)
    emails = _employee_emails(client, {line["employee"] for line in lines if line["employee"]})
    events, cursor, problems = [], since or "", []
    for line in lines:
        changed_at = mapping.aware(line["write_date"] or line["create_date"]).isoformat()
        cursor = max(cursor, changed_at)
        phase = phases.get(_origin_id(line))
        if phase is None:
            continue  # not on a project Throughline provisioned
        email = emails.get(line["employee"], "")
        if not email:
            problems.append(f"timesheet line {line['id']}: its employee has no e-mail address")
            continue
        data = _time_entry(lookups.options, line, phase, email)
        data["approved_at"] = changed_at
        events.append(
            PulledEvent(
                key=f"tryton-time:{line['id']}:{changed_at}",
                event_type="psa.time_entry.approved",
                data=data,
                occurred_at=changed_at,
            )
        )
    return Changes(events=events, cursor=cursor, read=len(lines), problems=problems)


def _origin_id(line: dict) -> int | None:
    origin = (line.get("work.") or {}).get("origin") or ""
    model, _, record = str(origin).partition(",")
    return int(record) if model == "project.work" and record.isdigit() else None


def _phases_of(client: TrytonClient, ours: str, lines: list[dict]) -> dict[int, tuple[str, str]]:
    """project.work id → (our project id, phase code), for works under our projects."""
    ids = sorted({i for i in (_origin_id(line) for line in lines) if i is not None})
    if not ids:
        return {}
    works = client.model("project.work").read(ids, ["id", "type", "comment", "parent"])
    parents = sorted({w["parent"] for w in works if w["parent"]})
    projects = (
        {
            p["id"]: p.get("comment") or ""
            for p in client.model("project.work").read(parents, ["id", "comment"])
        }
        if parents
        else {}
    )
    found = {}
    for work in works:
        comment = work.get("comment") or ""
        if work["type"] == "project" and comment.startswith(ours):
            found[work["id"]] = (str(work["id"]), "GENERAL")
        elif comment.startswith(PHASE_PREFIX) and projects.get(work["parent"], "").startswith(ours):
            found[work["id"]] = (str(work["parent"]), comment[len(PHASE_PREFIX) :])
    return found


def _employee_emails(client: TrytonClient, employee_ids: set[int]) -> dict[int, str]:
    if not employee_ids:
        return {}
    rows = client.model("company.employee").read(sorted(employee_ids), ["id", "party.email"])
    return {row["id"]: ((row.get("party.") or {}).get("email") or "") for row in rows}


def _time_entry(options: dict, line: dict, phase: tuple[str, str], email: str) -> dict:
    duration = line["duration"] or timedelta(0)
    hours = (Decimal(int(duration.total_seconds())) / 3600).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    roles = options.get("employee_roles") or {}
    return {
        "time_entry_id": f"tryton-{line.get('uuid') or line['id']}",
        "project_id": phase[0],
        "phase_code": phase[1],
        "person_email": email,
        "role": roles.get(email, options.get("default_role", "consultant")),
        "work_date": line["date"].isoformat(),
        "hours": str(hours),
        "billable": True,
        "category": options.get("time_category", "delivery"),
        "notes": line.get("description") or None,
    }
