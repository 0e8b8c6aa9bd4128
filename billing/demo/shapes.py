"""The demo firm's shapes: how much of it to build, its projects, its time entries, the firm."""

from dataclasses import dataclass, field
from datetime import date

from billing.demo import catalogue as c


@dataclass(frozen=True)
class Scale:
    """How much of the firm to build (a test loads a slice)."""

    clients: int = len(c.CLIENTS) + len(c.NEAR_DUPLICATES)
    projects: int = len(c.PROJECT_KINDS)
    months: int = 6  # full months of history before the current one
    consultants: int = 60


FULL = Scale()


@dataclass(frozen=True)
class Project:
    """A closed-won deal and what its PSA project does."""

    kind: str  # a catalogue.PROJECT_KINDS value
    deal: dict  # crm.opportunity.closed_won data
    phases: tuple[dict, ...]  # as the PSA confirms them (psa.project.updated)
    closed_on: date | None = None  # the PSA closes the project then (after its time)
    completions: tuple[tuple[str, date], ...] = ()  # milestones completed: (name, day)

    @property
    def opportunity_id(self) -> str:
        return self.deal["opportunity_id"]


@dataclass
class Entry:
    """An approved PSA time entry; ``opportunity_id`` names its project (the PSA id is the
    sandbox PSA's, known once Throughline created the project), else ``psa_project_id``."""

    data: dict  # psa.time_entry.approved data without project_id
    opportunity_id: str | None
    psa_project_id: str | None = None
    late: bool = False  # approved after the month's billing run: stays unbilled

    @property
    def time_entry_id(self) -> str:
        return self.data["time_entry_id"]


@dataclass
class Firm:
    today: date
    months: list[date]  # first days of the billed months, oldest first
    reference: dict
    accounts: list[dict]
    contacts: list[dict]
    projects: list[Project]
    entries: list[Entry]
    retractions: list[dict] = field(default_factory=list)  # before the billing runs
    corrections: list[Entry] = field(default_factory=list)  # before the billing runs
    late_retractions: list[dict] = field(default_factory=list)  # of posted entries
    late_corrections: list[Entry] = field(default_factory=list)  # of posted entries

    @property
    def history_start(self) -> date:
        return self.months[0]
