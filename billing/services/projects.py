"""Keeping projects in step with the PSA: project and phase status, milestone completion."""

from datetime import date

from django.db import transaction
from django.utils.dateparse import parse_date

from billing.models import Milestone, Phase, Project
from billing.services.contracts import (
    next_phase_position,
    phase_added,
    phase_reopened,
    project_activated,
    project_reopened,
    save_record,
)
from billing.services.project_messages import link_psa_project
from config.errors import DomainError
from integrations.models import ExternalSystem
from integrations.services.traces import record_trace_step


class ProjectNotFound(DomainError):
    code, http_status = "project_not_found", 404


class MilestoneNotFound(DomainError):
    code, http_status = "milestone_not_found", 404


def find_project(*, psa_project_id: str, opportunity_id: str | None = None) -> Project | None:
    """The project the PSA calls ``psa_project_id``; else, when the PSA id is not known yet,
    the project of ``opportunity_id``."""
    project = Project.objects.filter(psa_project_id=psa_project_id).first()
    if project is None and opportunity_id:
        project = Project.objects.filter(
            contract__crm_opportunity_id=opportunity_id, psa_project_id__isnull=True
        ).first()
    return project


@transaction.atomic
def sync_project_from_psa(*, data: dict, system: ExternalSystem) -> Project | None:
    """Apply ``psa.project.updated``: link the PSA id when the project was found by its
    opportunity, set the project status, and make the phases those the PSA lists (new ones
    added, listed ones closed or reopened; a phase the PSA no longer lists is closed here, kept
    for history). Sends ``phase_added``, ``phase_reopened``, ``project_reopened``, and
    ``project_activated`` when it links the PSA id. A project
    Throughline does not know is left alone (noted on the trace). Idempotent."""
    project = find_project(
        psa_project_id=data["project_id"], opportunity_id=data.get("opportunity_id")
    )
    if project is None:
        record_trace_step(
            kind="note",
            action="ignored",
            summary=f"PSA project {data['project_id']} is not a Throughline project",
        )
        return None
    project = Project.objects.select_for_update().get(pk=project.pk)
    changes, linked = [], False
    if not project.psa_project_id:
        project.psa_project_id, linked = data["project_id"], True
        changes.append(f"PSA id {data['project_id']}")
        link_psa_project(system=system, external_id=project.psa_project_id, project=project)
    old_status, new_status = project.status, data["status"]
    if old_status != new_status:
        project.status = new_status
        changes.append(f"status {old_status} → {new_status}")
    if changes:
        save_record(project, action="updated", reason=f"PSA: {'; '.join(changes)}")
    _sync_phases(project, data.get("phases") or [])
    if linked:
        project_activated.send(sender=Project, project=project)
    if old_status in (Project.Status.CLOSED, Project.Status.ON_HOLD) and new_status == "active":
        project_reopened.send(sender=Project, project=project)
    return project


def _sync_phases(project: Project, listed: list[dict]) -> None:
    stored = {phase.code: phase for phase in project.phases.select_for_update()}
    for item in listed:
        phase = stored.get(item["code"])
        if phase is None:
            phase = Phase(
                project=project,
                code=item["code"],
                name=item.get("name") or item["code"],
                status=item["status"],
                position=next_phase_position(project),
            )
            save_record(phase, action="created", reason="added in the PSA")
            if phase.status == Phase.Status.OPEN:
                phase_added.send(sender=Phase, phase=phase)
            continue
        _set_phase(phase, status=item["status"], name=item.get("name") or phase.name)
    codes = {item["code"] for item in listed}
    for code, phase in stored.items():
        if code not in codes:
            _set_phase(phase, status=Phase.Status.CLOSED, name=phase.name, why="no longer listed")


def _set_phase(phase: Phase, *, status: str, name: str, why: str = "") -> None:
    if phase.status == status and phase.name == name:
        return
    reopened = phase.status == Phase.Status.CLOSED and status == Phase.Status.OPEN
    old = phase.status
    phase.status, phase.name = status, name
    reason = f"PSA: {old} → {status}" if old != status else "PSA: renamed"
    save_record(phase, action="updated", reason=f"{reason} {why}".strip())
    if reopened:
        phase_reopened.send(sender=Phase, phase=phase)


@transaction.atomic
def complete_milestone(*, psa_project_id: str, milestone_name: str, completed_on: str) -> Milestone:
    """Apply ``psa.milestone.completed``: set the milestone's ``completed_on`` (a later
    completion date of a milestone already billed is refused). Raises ProjectNotFound or
    MilestoneNotFound, so the event is retried (the project may not be confirmed yet) and ends
    in the operations queue if it never matches. Idempotent."""
    project = (
        Project.objects.filter(psa_project_id=psa_project_id).select_related("contract").first()
    )
    if project is None:
        raise ProjectNotFound(f"no project has the PSA id {psa_project_id!r}")
    milestone = (
        Milestone.objects.select_for_update()
        .filter(contract=project.contract, name=milestone_name)
        .first()
    )
    if milestone is None:
        raise MilestoneNotFound(
            f"project {psa_project_id} has no milestone {milestone_name!r}",
            project=psa_project_id,
        )
    day: date | None = parse_date(completed_on)  # a bad date is None, as before
    if milestone.completed_on == day:
        return milestone
    if milestone.completed_on is not None and milestone.invoice_lines.exists():
        record_trace_step(
            kind="note",
            action="ignored",
            summary=f"milestone {milestone.name} is already billed as completed on "
            f"{milestone.completed_on}",
            subject=milestone,
        )
        return milestone
    milestone.completed_on = day
    save_record(milestone, action="completed", reason=f"completed on {day}")
    return milestone
