"""Billing's exception types (docs/contract.md §3) with their forms and actions, registered in
``BillingConfig.ready``: the holds of time (actions in billing/services/rating_actions.py) and
``contract_invalid`` (a closed-won deal that failed validation)."""

from django import forms

from billing.models import ApprovalAction, Contract
from billing.selectors.projects import deal_choices, deal_values, open_phases_of_item
from billing.services import rating
from billing.services import rating_actions as actions
from billing.services.approval_actions import guarded
from billing.services.opportunity import CONTRACT_INVALID, rerun_deal
from billing.services.reconciliation import recheck_action
from config.roles import FINANCE, PMO
from exceptions_queue.registry import ExceptionType, ResolutionAction


class WriteOffForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="Why this time is not billed (leakage)")


class MovePhaseForm(forms.Form):
    """The open phases of the held time's project, offered as choices (a guided fix)."""

    takes_item = True
    phase_code = forms.ChoiceField(label="Open phase", help_text="An open phase of the project")

    def __init__(self, *args, item=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        phases = open_phases_of_item(item) if item is not None else []
        self.fields["phase_code"].choices = [(p.code, f"{p.name} ({p.code})") for p in phases]


RERUN = ResolutionAction(
    name="rerun", label="Re-run the held time", handler=actions.rerun_action, resolves=False
)
WRITE_OFF = ResolutionAction(
    name="write_off",
    label="Write off (leakage)",
    handler=guarded(ApprovalAction.WRITE_OFF),  # four eyes: billing/services/approvals.py
    roles=(FINANCE,),
    form_class=WriteOffForm,
    resolves=False,
)


def billing_exception_types() -> list[ExceptionType]:
    return [*_project_hold_types(), *_rate_hold_types()]


def _project_hold_types() -> list[ExceptionType]:
    """Time held for its project or phase (the PMO's queue)."""
    return [
        ExceptionType(
            code=rating.UNKNOWN_PROJECT,
            queue="pmo",
            severity="medium",
            title="Time for an unknown project",
            help_text=(
                "Approved time arrived for a PSA project Throughline does not know or has not "
                "activated (its deal may be invalid). The time is stored and held. Activate the "
                "project (fix the deal); the time is re-run by itself, or re-run it here."
            ),
            sla_hours=48,
            actions=(RERUN, WRITE_OFF),
        ),
        ExceptionType(
            code=rating.CLOSED_PHASE,
            queue="pmo",
            severity="medium",
            title="Time on a closed phase or outside the contract",
            help_text=(
                "Approved time on a closed or unlisted phase, a closed or on-hold project, or "
                "dated outside the contract. Reopen the phase in the PSA (the time re-runs by "
                "itself), move the time to an open phase, or write it off."
            ),
            sla_hours=48,
            actions=(
                RERUN,
                ResolutionAction(
                    name="move_phase",
                    label="Move to an open phase",
                    handler=actions.move_phase_action,
                    roles=(PMO, FINANCE),
                    form_class=MovePhaseForm,
                    resolves=False,
                ),
                WRITE_OFF,
            ),
        ),
    ]


def _rate_hold_types() -> list[ExceptionType]:
    """Time held for its rate or its contract's cap (finance's queue)."""
    return [
        ExceptionType(
            code=rating.RATE_MISSING,
            queue="finance",
            severity="high",
            title="No rate for the time",
            help_text=(
                "No rate for the role on the work date in the card that applies. Add the rate "
                "(admin or import): held time re-runs by itself, or re-run it here."
            ),
            sla_hours=24,
            actions=(RERUN, WRITE_OFF),
        ),
        ExceptionType(
            code=rating.RATE_MISMATCH,
            queue="finance",
            severity="high",
            title="Rate differs",
            help_text=(
                "The PSA's rate differs from the card's (or the ERP posted a different invoice "
                "total). Bill at the PSA's new rate, at the card's rate, or fix the card and "
                "re-run."
            ),
            sla_hours=24,
            actions=(
                ResolutionAction(
                    name="bill_at_psa_rate",
                    label="Bill at the new (PSA) rate",
                    handler=guarded(ApprovalAction.PSA_RATE),
                    roles=(FINANCE,),
                    resolves=False,
                ),
                ResolutionAction(
                    name="bill_at_card_rate",
                    label="Bill at the card's rate",
                    handler=actions.bill_at_card_rate_action,
                    roles=(FINANCE,),
                    resolves=False,
                ),
                RERUN,
                WRITE_OFF,
            ),
        ),
        ExceptionType(
            code=rating.NOT_TO_EXCEED,
            queue="finance",
            severity="high",
            title="Not-to-exceed cap reached",
            help_text=(
                "Billing this time would pass the contract's cap. Raise the cap (amended deal "
                "or contract edit: held time re-runs by itself in date order) or write it off."
            ),
            sla_hours=24,
            actions=(RERUN, WRITE_OFF),
        ),
    ]


class DealFixForm(forms.Form):
    """Fields finance may correct on a deal; an empty field keeps the deal's value. The
    reference data's values are offered as choices and the deal's own values pre-fill the
    form (a guided fix); only what finance changes becomes an override."""

    takes_item = True
    legal_entity = forms.ChoiceField(required=False)
    currency = forms.CharField(max_length=3, required=False)
    billing_model = forms.ChoiceField(
        choices=[("", "(keep)"), *Contract.BillingModel.choices], required=False
    )
    tax_jurisdiction = forms.ChoiceField(required=False)
    project_template = forms.ChoiceField(required=False)
    rate_card = forms.ChoiceField(required=False)
    start_date = forms.DateField(required=False)
    end_date = forms.DateField(required=False)
    not_to_exceed = forms.DecimalField(max_digits=20, decimal_places=3, required=False)

    def __init__(self, *args, item=None, **kwargs) -> None:
        current = deal_values(item) if item is not None else {}
        kwargs.setdefault("initial", {k: v for k, v in current.items() if v not in (None, "")})
        super().__init__(*args, **kwargs)
        for name, options in deal_choices().items():
            keep = f"(keep{': ' + str(current[name]) if current.get(name) else ''})"
            self.fields[name].choices = [("", keep), *options]


def deal_fixes(cleaned: dict) -> dict:
    """The filled fields of a DealFixForm's cleaned data as deal data (JSON: dates and decimals
    as strings)."""
    fixes = {}
    for name, value in cleaned.items():
        if value in (None, ""):
            continue
        if name == "rate_card" and value == "-":
            fixes[name] = None
        elif name == "currency":
            fixes[name] = value.upper()
        else:
            fixes[name] = value if isinstance(value, str) else str(value)
    return fixes


def _opportunity_id(item) -> str:
    return item.subject_key.split(":", 1)[1]


def fix_and_rerun_action(item, *, user, data: dict) -> str:
    current = deal_values(item)
    changed = {k: v for k, v in deal_fixes(data).items() if str(current.get(k) or "") != str(v)}
    return rerun_deal(opportunity_id=_opportunity_id(item), fixes=changed, user=user)


def rerun_deal_action(item, *, user, data: dict) -> str:
    return rerun_deal(opportunity_id=_opportunity_id(item), user=user)


def contract_invalid_type() -> ExceptionType:
    return ExceptionType(
        code=CONTRACT_INVALID,
        queue="finance",
        severity="high",
        title="Contract invalid",
        help_text=(
            "A closed-won deal failed validation, so no customer, contract or project was "
            "created (or, for an amendment, the contract was left as it was). Each failed rule "
            "is listed. Fix the deal's fields here, or fix the reference data (legal entities, "
            "rate cards, templates) or the deal in the CRM, then re-run: the project is "
            "provisioned and this item closes. A rule still failing refuses the re-run."
        ),
        sla_hours=24,
        actions=(
            ResolutionAction(
                name="fix_and_rerun",
                label="Fix fields and re-run",
                handler=fix_and_rerun_action,
                roles=(FINANCE,),
                form_class=DealFixForm,
            ),
            ResolutionAction(
                name="rerun",
                label="Re-run (reference data fixed)",
                handler=rerun_deal_action,
                roles=(FINANCE,),
            ),
        ),
    )


def reconciliation_mismatch_type() -> ExceptionType:
    """``reconciliation_mismatch`` (docs/finance-controls/reconciliation.md): raised and
    resolved by the reconciliation run (billing/services/reconciliation/)."""
    return ExceptionType(
        code="reconciliation_mismatch",
        queue="finance",
        severity="high",
        title="Reconciliation mismatch",
        help_text=(
            "Two systems disagree about the same money: time rated but on no invoice after the "
            "month was billed, an invoice the ERP does not have or totals differently, or an "
            "ERP or CRM status that differs from Throughline's. Both sides are listed. Fix the "
            "side that is wrong (the ERP, the CRM, or a billing re-run), then re-check: the "
            "item closes by itself once both sides agree. Dismiss it to accept a difference; "
            "it is raised again only if either side changes."
        ),
        sla_hours=48,
        actions=(
            ResolutionAction(
                name="recheck",
                label="Re-check now",
                handler=recheck_action,
                roles=(FINANCE,),
                resolves=False,
            ),
        ),
    )
