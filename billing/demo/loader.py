"""Loading the demo firm through the doors a real firm's systems use.

Reference data through ``load_reference``; CRM, PSA and ERP events as signed webhooks over
HTTP to the running server (``WebhookSender``), each with a fixed webhook id
(``demo_<kind>_<key>``) so a second load is all duplicates; billing runs through the service
``manage.py billing_run`` calls; approval through the service the invoice page uses, as the
finance user ``demo.finance``. Nothing here writes a domain table. Between steps the loader
waits until the worker has applied every event and sent every message, because each step
needs the last one's effects (the PSA ids of the projects, rated time, posted invoices).

The load is finished when the inbound event ``demo_loaded`` (sent last) has been applied:
``load_demo_firm`` checks for it first and returns at once.
"""

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as day_time
from io import StringIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from billing.demo import catalogue
from billing.demo.delivery import Courier, Delivery, DemoLoadFailed, envelope, settle, webhook_id
from billing.demo.ledger import erp_status_chains
from billing.demo.shapes import Entry, Firm
from billing.models import BillingRun, Invoice, Project, TimeEntry
from billing.services.invoice_posting import approve_invoices
from billing.services.invoice_run import create_billing_run, execute_billing_run
from config.roles import FINANCE, ensure_role_groups
from exceptions_queue.models import ExceptionItem
from integrations.models import InboundEvent

FINANCE_USER = "demo.finance"
DONE_WEBHOOK_ID = "demo_loaded"


@dataclass
class LoadReport:
    already_loaded: bool = False
    seconds: float = 0.0
    sent: Counter = field(default_factory=Counter)  # HTTP status → deliveries
    entries: dict = field(default_factory=dict)  # time entry status → count
    invoices: dict = field(default_factory=dict)  # invoice status → count
    exceptions: dict = field(default_factory=dict)  # open items per type


def is_loaded() -> bool:
    """True when a demo load finished here (its last event was applied)."""
    return InboundEvent.objects.filter(
        webhook_id=DONE_WEBHOOK_ID,
        status__in=(InboundEvent.Status.PROCESSED, InboundEvent.Status.SUPERSEDED),
    ).exists()


class DemoLoader:
    """Sends one ``Firm`` to the Throughline at ``base_url``; ``log`` gets progress lines."""

    def __init__(
        self,
        firm: Firm,
        *,
        base_url: str,
        log: Callable[[str], None] = print,
        secrets: dict[str, str] | None = None,
    ) -> None:
        self.firm = firm
        self.secrets = secrets or {}  # per system; default: var/demo-secrets.json (bootstrap)
        self.base_url = base_url.rstrip("/")
        self.log = log
        self.report = LoadReport()
        self._started = time.monotonic()
        self.courier = Courier(base_url=self.base_url, secrets=self.secrets, sent=self.report.sent)
        self.psa_ids: dict[str, str] = {}

    def send_chains(self, chains: Iterable[list[Delivery]]) -> None:
        """Send each chain in order, the chains in parallel; answers counted in the report."""
        self.courier.send_chains(chains)

    # -- the steps --------------------------------------------------------------------------

    def load(self) -> LoadReport:
        if is_loaded():
            self.report.already_loaded = True
            return self.report
        self._finance_user()
        self._reference()
        self._crm()
        self._psa_projects()
        self._time()
        self._billing()
        self._erp_and_late_time()
        self.send_chains([[self._done_marker()]])
        settle("the end marker")
        self.report.seconds = time.monotonic() - self._started
        self._summarise()
        return self.report

    def _step(self, text: str) -> None:
        self.log(f"demo: {text} ({time.monotonic() - self._started:.0f} s)")

    def _finance_user(self) -> None:
        ensure_role_groups()
        user, _created = get_user_model().objects.get_or_create(
            username=FINANCE_USER, defaults={"first_name": "Demo", "last_name": "Finance"}
        )
        if _created:
            user.set_unusable_password()
            user.save()
        user.groups.add(Group.objects.get(name=FINANCE))
        self.finance_user = user

    def _reference(self) -> None:
        path = settings.VAR_DIR / "demo" / "reference.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.firm.reference, indent=1), encoding="utf-8")
        out = StringIO()
        call_command("load_reference", str(path), stdout=out)
        reference = self.firm.reference
        self._step(
            f"reference data loaded: {len(reference['legal_entities'])} legal entities, "
            f"{len(reference['people'])} consultants, {len(reference['rate_cards'])} rate cards"
        )

    def _crm(self) -> None:
        firm = self.firm
        self.send_chains(
            [
                [
                    (
                        "crm",
                        envelope("crm.account.upserted", a["updated_at"], a),
                        webhook_id("crm_account", a["account_id"]),
                    )
                ]
                for a in firm.accounts
            ]
        )
        settle("the CRM accounts", outbox=False)
        self._step(f"{len(firm.accounts)} CRM accounts ({len(firm.contacts)} contacts next)")
        chains = [
            [
                (
                    "crm",
                    envelope("crm.contact.upserted", c["updated_at"], c),
                    webhook_id("crm_contact", c["contact_id"]),
                )
            ]
            for c in firm.contacts
        ]
        chains += [
            [
                (
                    "crm",
                    envelope("crm.opportunity.closed_won", _noon(p.deal["close_date"]), p.deal),
                    webhook_id("crm_deal", p.opportunity_id),
                )
            ]
            for p in firm.projects
        ]
        self.send_chains(chains)
        settle("the closed-won deals (customers, contracts, ERP customers, PSA projects)")
        self._step(f"{len(firm.projects)} deals closed, their projects created in the PSA")

    def _psa_projects(self) -> None:
        """Read the ids the PSA gave the projects, then send the PSA's confirmations."""
        wanted = [p.opportunity_id for p in self.firm.projects]
        found = dict(
            Project.objects.filter(
                contract__crm_opportunity_id__in=wanted, psa_project_id__isnull=False
            ).values_list("contract__crm_opportunity_id", "psa_project_id")
        )
        missing = sorted(set(wanted) - set(found))
        if missing:
            raise DemoLoadFailed(
                f"no PSA project for {len(missing)} deal(s): {', '.join(missing[:5])}"
            )
        self.psa_ids = found
        self.send_chains([[self._project_update(p, closed=False)] for p in self.firm.projects])
        settle("the PSA project confirmations")
        self._step(f"{len(found)} projects confirmed by the PSA")

    def _project_update(self, project, *, closed: bool) -> Delivery:
        psa_id = self.psa_ids[project.opportunity_id]
        day = project.closed_on if closed else date.fromisoformat(project.deal["close_date"])
        stamp = _noon(day.isoformat())
        data = {
            "project_id": psa_id,
            "opportunity_id": project.opportunity_id,
            "status": "closed" if closed else "active",
            "phases": [
                {**phase, "status": "closed" if closed else phase["status"]}
                for phase in project.phases
            ],
            "updated_at": stamp,
        }
        kind = "closed" if closed else "confirmed"
        return (
            "psa",
            envelope("psa.project.updated", stamp, data),
            webhook_id("psa_project", f"{project.opportunity_id}_{kind}"),
        )

    def _time(self) -> None:
        firm = self.firm
        on_time = [e for e in firm.entries if not e.late]
        chains = [[self.approval(e)] for e in on_time]
        for project in firm.projects:
            for name, day in project.completions:
                data = {
                    "project_id": self.psa_ids[project.opportunity_id],
                    "milestone_name": name,
                    "completed_on": day.isoformat(),
                }
                key = f"{project.opportunity_id}_{name.lower().replace(' ', '-')}"
                chains.append(
                    [
                        (
                            "psa",
                            envelope("psa.milestone.completed", _noon(day.isoformat()), data),
                            webhook_id("psa_milestone", key),
                        )
                    ]
                )
        self.send_chains(chains)
        settle("the approved time", outbox=False)
        milestones = sum(len(p.completions) for p in firm.projects)
        self._step(f"{len(on_time)} approved time entries and {milestones} milestones received")
        chains = [[self._retraction(r)] for r in firm.retractions]
        chains += [[self.approval(e, correction=True)] for e in firm.corrections]
        chains += [[self._project_update(p, closed=True)] for p in firm.projects if p.closed_on]
        self.send_chains(chains)
        settle("the retractions and corrections", outbox=False)
        self._step(
            f"{len(firm.retractions)} retractions, {len(firm.corrections)} corrections, "
            f"{sum(1 for p in firm.projects if p.closed_on)} projects closed"
        )

    def approval(self, entry: Entry, *, correction: bool = False) -> Delivery:
        """The PSA's ``psa.time_entry.approved`` of ``entry`` (needs ``psa_ids``)."""
        project_id = entry.psa_project_id or self.psa_ids[entry.opportunity_id]
        data = {**entry.data, "project_id": project_id}
        suffix = "_corrected" if correction else ""
        return (
            "psa",
            envelope("psa.time_entry.approved", data["approved_at"], data),
            webhook_id("psa_time", entry.time_entry_id + suffix),
        )

    def _retraction(self, data: dict) -> Delivery:
        return (
            "psa",
            envelope("psa.time_entry.retracted", data["retracted_at"], data),
            webhook_id("psa_retract", data["time_entry_id"]),
        )

    def _billing(self) -> None:
        entity_codes = [code for code, *_ in catalogue.ENTITIES]
        for period in self.firm.months:
            for code in entity_codes:
                run = create_billing_run(
                    period=period, legal_entity_code=code, customer_id=None, requested_by=None
                )
                run = execute_billing_run(run_id=run.pk)
                if run.status != BillingRun.Status.FINISHED:
                    raise DemoLoadFailed(
                        f"billing run {period:%Y-%m} {code} {run.status}: {run.error}"
                    )
        drafts = list(
            self._demo_invoices().filter(status=Invoice.Status.DRAFT).values_list("pk", flat=True)
        )
        self._step(
            f"{len(self.firm.months) * len(entity_codes)} billing runs: {len(drafts)} drafts"
        )
        done, errors = approve_invoices(invoice_ids=drafts, approved_by=self.finance_user)
        if errors:
            raise DemoLoadFailed(f"{len(errors)} draft(s) not approved: {'; '.join(errors[:3])}")
        settle("the invoices posting to the ERP")
        posted = self._demo_invoices().filter(status=Invoice.Status.POSTED).count()
        self._step(f"{done} invoices approved by {FINANCE_USER}, {posted} posted to the ERP")

    def _demo_invoices(self):
        return Invoice.objects.filter(
            legal_entity__code__in=[code for code, *_ in catalogue.ENTITIES],
            period__gte=self.firm.months[0],
            period__lte=self.firm.months[-1],
        )

    def _erp_and_late_time(self) -> None:
        """The ERP's statuses of the posted invoices, and (independent of them, so sent
        together) the late approvals and the corrections of time already posted."""
        firm = self.firm
        late = [[self.approval(e)] for e in firm.entries if e.late]
        late += [[self._retraction(r)] for r in firm.late_retractions]
        late += [[self.approval(e, correction=True)] for e in firm.late_corrections]
        self.send_chains(self._erp_chains() + late)
        settle("the ERP invoice statuses and the late time")
        counts = Counter(self._demo_invoices().values_list("status", flat=True))
        self._step("ERP statuses: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        self._step(
            f"{sum(e.late for e in firm.entries)} late approvals (unbilled), "
            f"{len(firm.late_retractions) + len(firm.late_corrections)} corrections of posted time"
        )

    def _erp_chains(self) -> list[list[Delivery]]:
        invoices = (
            self._demo_invoices()
            .exclude(erp_invoice_id="")
            .select_related("legal_entity", "customer")
        )
        return erp_status_chains(invoices, today=self.firm.today, now=timezone.now())

    def _done_marker(self) -> Delivery:
        """A repeat of the first project's PSA confirmation (it changes nothing), sent last."""
        system, event, _webhook_id = self._project_update(
            self.firm.projects[0], closed=bool(self.firm.projects[0].closed_on)
        )
        return system, event, DONE_WEBHOOK_ID

    def _summarise(self) -> None:
        entries = TimeEntry.objects.filter(psa_time_entry_id__startswith="TE-KP-")
        self.report.entries = dict(
            entries.values_list("status").annotate(n=Count("pk")).order_by("status")
        )
        self.report.invoices = dict(
            self._demo_invoices().values_list("status").annotate(n=Count("pk")).order_by("status")
        )
        self.report.exceptions = dict(
            ExceptionItem.objects.filter(status__in=ExceptionItem.OPEN_STATUSES)
            .values_list("type_code")
            .annotate(n=Count("pk"))
            .order_by("type_code")
        )


def _noon(day: str) -> str:
    return datetime.combine(date.fromisoformat(day), day_time(12), tzinfo=UTC).isoformat()


def load_demo_firm(
    *,
    firm: Firm,
    base_url: str,
    log: Callable[[str], None] = print,
    secrets: dict[str, str] | None = None,
) -> LoadReport:
    """Load ``firm`` into the Throughline at ``base_url`` unless a load already finished there.
    Idempotent: every delivery has a fixed webhook id. Raises DemoLoadFailed."""
    return DemoLoader(firm, base_url=base_url, log=log, secrets=secrets).load()
