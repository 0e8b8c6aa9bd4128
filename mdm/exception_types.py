"""The customer master's exception types (docs/contract.md §3), registered in MdmConfig.ready()."""

from django import forms

from exceptions_queue.errors import ActionRefused
from exceptions_queue.registry import ExceptionType, ResolutionAction
from integrations.models import ExternalSystem
from mdm.errors import MergeRefused
from mdm.models import BillingProfile, Contact, Customer

ENTITY_MODELS = {"customer": Customer, "billing_profile": BillingProfile, "contact": Contact}


def accept_incoming_once(item, *, user, data: dict) -> str:
    """Take the non-owner's value this once and send it to every other system (the owner
    included, so it agrees); the ownership rule itself is unchanged."""
    from mdm.services.customers import save_record
    from mdm.services.ownership import _set_value, propagate

    details = item.details
    model = ENTITY_MODELS[details["entity"]]
    record = model.objects.select_for_update().filter(pk=details["record_id"]).first()
    if record is None:
        raise ActionRefused("the record no longer exists")
    customer = record if isinstance(record, Customer) else record.customer
    _set_value(record, details["field"], details["incoming_value"])
    save_record(
        record,
        action="updated",
        reason=f"{details['field']} from {details['source_system']} accepted once by {user}",
    )
    source = ExternalSystem.objects.filter(slug=details["source_system"]).first()
    propagate(
        customer=customer,
        record=record,
        values={details["field"]: details["incoming_value"]},
        source=source,
        profile=record if isinstance(record, BillingProfile) else None,
    )
    return f"{details['field']} is now {details['incoming']!r} (was {details['ours']!r}); sent on"


def keep_ours(item, *, user, data: dict) -> str:
    details = item.details
    return (
        f"kept {details['field']} {details['ours']!r}; {details['source_system']} still shows "
        f"{details['incoming']!r} until its owner's value reaches it"
    )


class MergeForm(forms.Form):
    survivor = forms.ChoiceField(
        label="Which record survives",
        choices=[
            ("first", "Merge into the first record (left)"),
            ("second", "Merge into the second record (right)"),
        ],
    )
    note = forms.CharField(required=False, max_length=300)


def merge_pair(item, *, user, data: dict) -> str:
    from mdm.services.merge import merge_customers

    first, second = item.details["pair"]
    survivor, absorbed = (first, second) if data.get("survivor") == "first" else (second, first)
    try:
        kept = merge_customers(
            survivor_id=survivor, absorbed_id=absorbed, user=user, note=data.get("note", "")
        )
    except MergeRefused as exc:
        raise ActionRefused(str(exc)) from exc
    return f"merged TL-{absorbed:06d} into {kept}"


def not_a_duplicate(item, *, user, data: dict) -> str:
    from mdm.services.duplicates import record_not_duplicate

    first, second = item.details["pair"]
    record_not_duplicate(first_id=first, second_id=second, user=user, note="from the finance queue")
    return "not a duplicate: this pair will not be raised again"


OWNERSHIP_CONFLICT = ExceptionType(
    code="ownership_conflict",
    queue="operations",
    severity="medium",
    title="Ownership conflict",
    help_text=(
        "A system changed a field it does not own. Nothing changed in Throughline. Accept the "
        "incoming value once (it is sent to the owner too), or keep ours."
    ),
    sla_hours=48,
    actions=(
        ResolutionAction(
            name="accept_incoming",
            label="Accept the incoming value once",
            handler=accept_incoming_once,
            roles=("operations",),
        ),
        ResolutionAction(
            name="keep_ours", label="Keep ours", handler=keep_ours, roles=("operations",)
        ),
    ),
)
DUPLICATE_CUSTOMER = ExceptionType(
    code="duplicate_customer",
    queue="finance",
    severity="medium",
    title="Possible duplicate customer",
    help_text=(
        "Two golden records look like the same client (score and reasons in the details). "
        "Merge them, choosing which survives, or mark them as distinct for good."
    ),
    sla_hours=72,
    actions=(
        ResolutionAction(
            name="merge",
            label="Merge into …",
            handler=merge_pair,
            roles=("finance",),
            form_class=MergeForm,
        ),
        ResolutionAction(
            name="not_duplicate",
            label="Not a duplicate",
            handler=not_a_duplicate,
            roles=("finance",),
        ),
    ),
)
EXCEPTION_TYPES = (OWNERSHIP_CONFLICT, DUPLICATE_CUSTOMER)
