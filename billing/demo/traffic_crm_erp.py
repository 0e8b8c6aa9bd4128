"""What the CRM and the ERP would send about the firm: account and contact changes, deals closing
(with a new account first when the client is new), a near-duplicate account, a CRM value of a
field the ERP owns, and invoice status and payments from the ERP. Each builder adds deliveries
to a tick's plan, or returns False when it finds nothing to act on. Ids the simulator makes up
start with ``SIM`` (deals ``006SIM…``, accounts ``001SIM…``, contacts ``003SIM…``).
"""

from datetime import timedelta
from decimal import Decimal

from billing.demo.traffic_firm import Plan
from billing.models import Contract

COMPANY_WORDS = (
    ["Northwind", "Bluebird", "Harbor", "Summit", "Evergreen", "Ironbridge", "Lumen", "Copper"],
    ["Logistics", "Health", "Foods", "Energy", "Analytics", "Retail", "Mobility", "Insurance"],
)
DEAL_NAMES = ["ERP rollout", "Data platform", "Cloud migration", "Process redesign", "Advisory"]
INDUSTRIES = ["Manufacturing", "Retail", "Healthcare", "Financial services", "Energy"]
MILESTONES = ["Design", "Build", "Acceptance"]
# A legal entity no firm has set up (contract_invalid): the CRM's picklist is ahead of ours.
UNKNOWN_ENTITY = "CA01"
PILOT_CAP = Decimal("1200.00")  # a small pilot's cap: two long days of anyone pass it


# --- CRM --------------------------------------------------------------------------------


def _new_company(plan: Plan) -> str:
    first, second = COMPANY_WORDS
    return f"{plan.rng.choice(first)} {plan.rng.choice(second)}"


def _account_data(plan: Plan, account_id: str, name: str, **fields) -> dict:
    slug = "".join(ch for ch in name.lower() if ch.isalnum())[:20] or "example"
    return {
        "account_id": account_id,
        "name": name,
        "website": f"https://www.{slug}.example",
        "industry": plan.rng.choice(INDUSTRIES),
        "phone": f"+1 555 {plan.rng.randint(1000000, 9999999)}",
        "billing_country": fields.pop("billing_country", None),
        "updated_at": plan.stamp,
        **fields,
    }


def account_update(plan: Plan) -> bool:
    """``crm.account.upserted``: a new phone number or industry on an existing account."""
    if not plan.firm.customers:
        return False
    customer, account_id = plan.rng.choice(plan.firm.customers)
    data = {"account_id": account_id, "name": customer.name, "updated_at": plan.stamp}
    if plan.rng.random() < 0.5:
        data["phone"] = f"+1 555 {plan.rng.randint(1000000, 9999999)}"
    else:
        data["industry"] = plan.rng.choice(INDUSTRIES)
    plan.add("crm", "account", "crm.account.upserted", data)
    return True


def contact_update(plan: Plan) -> bool:
    """``crm.contact.upserted``: one of an account's two contacts, with a new title or phone."""
    if not plan.firm.customers:
        return False
    customer, account_id = plan.rng.choice(plan.firm.customers)
    n = plan.rng.randint(1, 2)
    first, last = [("Grace", "Hopper"), ("Alan", "Turing")][n - 1]
    domain = customer.website_domain or "example.com"
    plan.add(
        "crm",
        "contact",
        "crm.contact.upserted",
        {
            "contact_id": f"003SIM{customer.pk:06d}{n}",
            "account_id": account_id,
            "first_name": first,
            "last_name": last,
            "email": f"{first.lower()}.{last.lower()}@{domain}",
            "phone": f"+1 555 {plan.rng.randint(1000000, 9999999)}",
            "title": plan.rng.choice(["CFO", "Head of IT", "Finance manager", "COO"]),
            "is_billing_contact": n == 1,
            "updated_at": plan.stamp,
        },
    )
    return True


def duplicate_account(plan: Plan) -> bool:
    """A new CRM account that is an existing customer under a slightly different name."""
    if not plan.firm.customers:
        return False
    customer, _ = plan.rng.choice(plan.firm.customers)
    variant = f"{customer.name} Inc." if "inc" not in customer.name.lower() else customer.name[:-1]
    data = {
        "account_id": plan.new_id("001SIM"),
        "name": variant,
        "updated_at": plan.stamp,
    }
    if customer.website:
        data["website"] = customer.website
    if customer.country:
        data["billing_country"] = customer.country
    plan.add("crm", "duplicate_customer", "crm.account.upserted", data)
    return True


def ownership_conflict(plan: Plan) -> bool:
    """A CRM account carrying a legal name (the ERP owns it) that differs from ours."""
    if not plan.firm.customers:
        return False
    customer, account_id = plan.rng.choice(plan.firm.customers)
    data = {
        "account_id": account_id,
        "name": customer.name,
        "legal_name": f"{customer.name} Holdings {plan.number}",
        "updated_at": plan.stamp,
    }
    plan.add("crm", "ownership_conflict", "crm.account.upserted", data)
    return True


def deal(plan: Plan, *, pilot: bool = False, invalid: bool = False, scenario: str = "") -> bool:
    """``crm.opportunity.closed_won`` (after the ``crm.account.upserted`` of a new account):
    repeat business of an existing customer, or a new one. The PSA's confirmation follows in a
    later tick, once the PSA created the project (``confirmations``)."""
    rng, firm = plan.rng, plan.firm
    if not firm.entities:
        return False
    scenario = scenario or ("not_to_exceed" if pilot else "contract_invalid" if invalid else "deal")
    if firm.customers and rng.random() < 0.5:
        customer, account_id = rng.choice(firm.customers)
        name = customer.name
    else:
        account_id, name = plan.new_id("001SIM"), _new_company(plan)
        entity = rng.choice(firm.entities)
        data = _account_data(plan, account_id, name, billing_country=entity.country)
        plan.add("crm", scenario, "crm.account.upserted", data)
    entity = rng.choice(firm.entities)
    model = (
        "time_and_materials"
        if pilot or invalid
        else rng.choices(["time_and_materials", "fixed_fee", "retainer"], [6, 2, 2])[0]
    )
    if not firm.templates.get(model):
        model = "time_and_materials"
    templates = firm.templates.get(model)
    if not templates:
        return False
    data = _deal_terms(plan, model, pilot=pilot)
    data.update(
        opportunity_id=plan.new_id("006SIM"),
        account_id=account_id,
        account_name=name,
        name=f"{name} {'discovery pilot' if pilot else rng.choice(DEAL_NAMES)}",
        currency=entity.currency,
        legal_entity=UNKNOWN_ENTITY if invalid else entity.code,
        tax_jurisdiction=rng.choice(entity.tax_jurisdictions or [entity.country]),
        project_template=rng.choice(templates).code,
        rate_card=None,
        po_number=f"PO-{rng.randint(1000, 9999)}",
        payment_terms="NET30",
    )
    plan.add("crm", scenario, "crm.opportunity.closed_won", data)
    return True


def _deal_terms(plan: Plan, model: str, *, pilot: bool) -> dict:
    today, rng = plan.firm.today, plan.rng
    start = today.replace(day=1)
    end = (start + timedelta(days=190)).replace(day=1) - timedelta(days=1)
    amount = PILOT_CAP if pilot else Decimal(rng.choice([60, 90, 120, 180, 250]) * 1000)
    terms = {
        "close_date": today.isoformat(),
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "amount": str(amount),
        "billing_model": model,
        "not_to_exceed": str(amount) if pilot else None,
        "milestones": [],
        "retainer": None,
    }
    if model == Contract.BillingModel.FIXED_FEE:
        shares = [Decimal("0.3"), Decimal("0.4")]
        amounts = [(amount * s).quantize(Decimal("0.01")) for s in shares]
        amounts.append(amount - sum(amounts))
        terms["milestones"] = [
            {
                "name": name,
                "amount": str(value),
                "due_date": (start + timedelta(days=d)).isoformat(),
            }
            for name, value, d in zip(MILESTONES, amounts, [30, 90, 170], strict=True)
        ]
    elif model == Contract.BillingModel.RETAINER:
        monthly = (amount / 6).quantize(Decimal("1"))
        terms["amount"] = str(monthly * 6)
        terms["retainer"] = {"monthly_amount": str(monthly), "included_hours": "40"}
    return terms


# --- ERP ----------------------------------------------------------------------------------

NEXT_INVOICE_STATUS = {
    "posted": ["sent"],
    "sent": ["partially_paid", "paid"],
    "partially_paid": ["paid"],
}


def invoice_status(plan: Plan) -> bool:
    """``erp.invoice.status_changed``: a posted invoice is sent, then paid (in part, then all)."""
    if not plan.firm.invoices:
        return False
    invoice = plan.rng.choice(plan.firm.invoices)
    plan.firm.invoices.remove(invoice)
    status = plan.rng.choice(NEXT_INVOICE_STATUS[invoice.status])
    total = invoice.gross_total
    due = {"sent": total, "partially_paid": (total / 2).quantize(Decimal("0.01")), "paid": 0}
    plan.add(
        "erp",
        "invoice",
        "erp.invoice.status_changed",
        {
            "invoice_id": invoice.erp_invoice_id,
            "number": invoice.number or f"INV-{invoice.pk:06d}",
            "status": status,
            "total": str(total),
            "amount_due": str(Decimal(due[status]).quantize(Decimal("0.01"))),
            "currency": invoice.currency,
            "changed_at": plan.stamp,
        },
    )
    return True
