"""The PSA port: the project a closed-won deal needs (billing/services/project_messages.py
``queue_psa_project``) and events."""

from typing import Literal, TypedDict, get_args

from integrations.connectors.operations.spec import TEXT, Operation, event_publish
from integrations.connectors.schemas import CURRENCY, DATE, ID, MONEY, nullable, obj

BillingModel = Literal["time_and_materials", "fixed_fee", "retainer"]
PhaseStatus = Literal["open", "closed"]


class ProjectCustomer(TypedDict):
    throughline_id: str
    name: str
    crm_account_id: str


class ProjectPhase(TypedDict):
    code: str
    name: str
    status: PhaseStatus


class ProjectMilestone(TypedDict):
    name: str
    amount: str
    due_date: str | None


class PsaProjectCreate(TypedDict):
    """Create (or match, by ``opportunity_id``) the delivery project with its phases."""

    opportunity_id: str
    name: str
    customer: ProjectCustomer
    legal_entity: str
    billing_model: BillingModel
    currency: str
    start_date: str
    end_date: str
    template: str
    phases: list[ProjectPhase]
    milestones: list[ProjectMilestone]


PROJECT_CREATE = obj(
    {
        "opportunity_id": ID,
        "name": TEXT,
        "customer": obj({"throughline_id": ID, "name": TEXT, "crm_account_id": TEXT}),
        "legal_entity": ID,
        "billing_model": {"enum": list(get_args(BillingModel))},
        "currency": CURRENCY,
        "start_date": DATE,
        "end_date": DATE,
        "template": ID,
        "phases": {
            "type": "array",
            "items": obj(
                {"code": ID, "name": TEXT, "status": {"enum": list(get_args(PhaseStatus))}}
            ),
        },
        "milestones": {
            "type": "array",
            "items": obj({"name": TEXT, "amount": MONEY, "due_date": nullable(DATE)}),
        },
    }
)

OPERATIONS = (
    Operation(
        name="psa.project.create",
        port="psa",
        description="create (or match) the project with its phases",
        payload=PsaProjectCreate,
        schema=PROJECT_CREATE,
        creates=True,
    ),
    event_publish("psa"),
)
