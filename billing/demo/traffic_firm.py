"""The firm as the traffic simulator sees it at the start of a tick (what the database holds now,
whatever firm is loaded; a few queries, ordered by primary key so that a tick's seeded random
picks the same things from the same rows), and the plan a tick fills with deliveries."""

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Sum

from billing.models import Contract, Invoice, Person, Project, ProjectTemplate, TimeEntry
from billing.services.rating import NOT_TO_EXCEED
from integrations.models import ExternalRef
from mdm.models import Customer, LegalEntity
from mdm.services import refs

# Time is booked on working days only; a day's capacity is a fifth of the weekly hours.
WORKING_DAYS_PER_WEEK = 5
# How far back late timesheets are approved once everyone is full for today: the working days
# of the current week (Monday up to today).
BACKFILL_DAYS = 6
# A handful of rows of each kind is all one tick needs; reading more only costs time.
SAMPLE_ROWS = 200


def working_days(today: date) -> list[date]:
    """The days time may be booked on this tick: today first when it is a working day (else the
    last working day), then the earlier working days of the same week, latest first."""
    day = today
    while day.weekday() >= WORKING_DAYS_PER_WEEK:
        day -= timedelta(days=1)
    days = []
    while len(days) < BACKFILL_DAYS and day.isocalendar()[:2] == today.isocalendar()[:2]:
        if day.weekday() < WORKING_DAYS_PER_WEEK:
            days.append(day)
        day -= timedelta(days=1)
    return days or [day]


@dataclass
class Firm:
    today: date
    days: list[date]
    projects: list[Project]
    unconfirmed: list[Project]
    people: list[Person]
    booked: dict[tuple[str, date], Decimal]
    customers: list[tuple[Customer, str]]  # (golden record, CRM account id)
    invoices: list[Invoice]
    entities: list[LegalEntity]
    templates: dict[str, list[ProjectTemplate]]
    recent_entries: list[TimeEntry]
    capped_contract_ids: set[int] = field(default_factory=set)

    def daily_capacity(self, person: Person) -> Decimal:
        return (person.weekly_capacity_hours / WORKING_DAYS_PER_WEEK).quantize(Decimal("0.25"))

    def free_hours(self, person: Person, day: date) -> Decimal:
        return self.daily_capacity(person) - self.booked.get((person.email, day), Decimal(0))

    def book(self, person: Person, day: date, hours: Decimal) -> None:
        key = (person.email, day)
        self.booked[key] = self.booked.get(key, Decimal(0)) + hours

    def open_projects(self, day: date) -> list[Project]:
        """Active projects whose contract holds ``day`` and that have an open phase."""
        return [
            p
            for p in self.projects
            if p.contract.start_date <= day <= p.contract.end_date
            and any(phase.status == phase.Status.OPEN for phase in p.phases.all())
        ]


def load_firm(today: date) -> Firm:
    days = working_days(today)
    projects = list(
        Project.objects.filter(status=Project.Status.ACTIVE, psa_project_id__isnull=False)
        .select_related("contract", "contract__legal_entity", "customer")
        .prefetch_related("phases", "contract__milestones")
        .order_by("pk")
    )
    held_for_cap = set(
        TimeEntry.objects.filter(status=TimeEntry.Status.ON_HOLD, hold_reason=NOT_TO_EXCEED)
        .values_list("project__contract_id", flat=True)
        .distinct()
    )
    return Firm(
        today=today,
        days=days,
        projects=projects,
        unconfirmed=_unconfirmed(projects),
        people=list(Person.objects.select_related("role", "legal_entity").order_by("pk")),
        booked=_booked(days),
        customers=_customers(),
        invoices=list(
            Invoice.objects.filter(
                status__in=[
                    Invoice.Status.POSTED,
                    Invoice.Status.SENT,
                    Invoice.Status.PARTIALLY_PAID,
                ]
            )
            .exclude(erp_invoice_id="")
            .order_by("pk")[:SAMPLE_ROWS]
        ),
        entities=list(LegalEntity.objects.order_by("pk")),
        templates=_templates(),
        recent_entries=list(
            TimeEntry.objects.filter(psa_time_entry_id__startswith="SIM-", work_date__in=days)
            .exclude(status=TimeEntry.Status.RETRACTED)
            .order_by("-pk")[:30]
        ),
        capped_contract_ids=held_for_cap,
    )


def free_hours_this_week(today: date) -> Decimal:
    """Hours the simulator may still book this week (capacity of everyone, less their time)."""
    days = working_days(today)
    booked = _booked(days)
    free = Decimal(0)
    for email, weekly in Person.objects.values_list("email", "weekly_capacity_hours"):
        daily = (weekly / WORKING_DAYS_PER_WEEK).quantize(Decimal("0.25"))
        free += sum(max(Decimal(0), daily - booked.get((email, day), Decimal(0))) for day in days)
    return free


def _unconfirmed(projects: list[Project]) -> list[Project]:
    """Projects the PSA created that it has not yet sent a ``psa.project.updated`` for."""
    from integrations.models import InboundEvent

    keys = {f"project:{p.psa_project_id}": p for p in projects[-SAMPLE_ROWS:]}
    seen = set(
        InboundEvent.objects.filter(
            event_type="psa.project.updated", object_key__in=list(keys)
        ).values_list("object_key", flat=True)
    )
    return [project for key, project in keys.items() if key not in seen]


def _booked(days: list[date]) -> dict[tuple[str, date], Decimal]:
    rows = (
        TimeEntry.objects.filter(work_date__in=days)
        .exclude(status=TimeEntry.Status.RETRACTED)
        .values_list("person_email", "work_date")
        .annotate(hours=Sum("hours"))
    )
    # SQLite sums decimals as floats: back to hundredths.
    return {(email, day): Decimal(str(round(hours or 0, 2))) for email, day, hours in rows}


def _customers() -> list[tuple[Customer, str]]:
    account_ids = dict(
        ExternalRef.objects.filter(
            object_type=refs.CRM_ACCOUNT, system__kind="crm", content_type__model="customer"
        )
        .order_by("pk")
        .values_list("object_id", "external_id")[:SAMPLE_ROWS]
    )
    customers = Customer.objects.filter(
        pk__in=[int(pk) for pk in account_ids], status=Customer.Status.ACTIVE
    ).order_by("pk")
    return [(customer, account_ids[str(customer.pk)]) for customer in customers]


def _templates() -> dict[str, list[ProjectTemplate]]:
    by_model: dict[str, list[ProjectTemplate]] = defaultdict(list)
    for template in ProjectTemplate.objects.prefetch_related("phases").order_by("pk"):
        for model in template.billing_models or []:
            by_model[model].append(template)
    return dict(by_model)


def is_time_and_materials(project: Project) -> bool:
    return project.contract.billing_model == Contract.BillingModel.TIME_AND_MATERIALS


@dataclass
class Planned:
    system: str  # the kind of peer that sends it: crm, psa, erp
    scenario: str  # what the delivery is for (part of its webhook id)
    event: dict
    raw_body: bytes | None = None


@dataclass
class Plan:
    number: int
    now: datetime
    rng: random.Random
    firm: Firm
    deliveries: list[Planned] = field(default_factory=list)
    fault: dict | None = None  # a sandbox ERP fault to switch on for a while
    notes: list[str] = field(default_factory=list)
    _count: int = 0

    def add(self, system: str, scenario: str, event_type: str, data: dict, **extra) -> None:
        event = {"type": event_type, "timestamp": self.now.isoformat(), "data": data}
        self.deliveries.append(Planned(system, scenario, event, **extra))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def new_id(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self.number:06d}{self._count:02d}"

    @property
    def stamp(self) -> str:
        return self.now.isoformat()
