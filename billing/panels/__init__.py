"""Billing's dashboard panels (docs/contract.md §6): unbilled time, revenue at risk, invoice latency,
billing cycle time (finance), utilization and project margin (PMO). Each figure is a selector
returning plain JSON (``/api/v1/metrics/``) and a template; ``register`` runs in
``BillingConfig.ready``. Definitions and decisions: docs/dashboards.md."""


def register() -> None:
    from config.registry import panels

    for panel in (*_finance_panels(), *_control_panels(), *_pmo_panels(), _today_panel()):
        panels.register(panel.key, panel)
    from billing.panels.scope import filter_fields
    from config.registry import DashboardFilters, dashboard_filters

    for name in ("finance", "pmo"):
        dashboard_filters.register(name, DashboardFilters(name, filter_fields))
    from billing.panels import demo_traffic

    demo_traffic.register()  # operations: the demo traffic switch (not in production)


def _control_panels() -> tuple:
    """The finance controls' figures (docs/finance-controls/)."""
    from billing.panels.late_time import get_late_time, get_pending_approvals
    from billing.panels.leakage import get_revenue_leakage
    from config.registry import Panel
    from config.roles import FINANCE

    return (
        Panel(
            key="billing:late-time",
            title="Late time (closed months)",
            dashboard="finance",
            compute=get_late_time,
            template="billing/panels/late_time.html",
            roles=(FINANCE,),
            order=32,
        ),
        Panel(
            key="billing:approvals",
            title="Waiting for a second approval",
            dashboard="finance",
            compute=get_pending_approvals,
            template="billing/panels/approvals.html",
            roles=(FINANCE,),
            order=33,
        ),
        Panel(
            key="billing:revenue-leakage",
            title="Revenue leakage",
            dashboard="finance",
            compute=get_revenue_leakage,
            template="billing/panels/revenue_leakage.html",
            roles=(FINANCE,),
            order=25,
            extra={"params": ("legal_entity", "customer")},
        ),
    )


def _finance_panels() -> tuple:
    from billing.panels.invoicing import get_billing_cycle_time, get_invoice_latency
    from billing.panels.present import present_cycle_time, present_latency, present_unbilled
    from billing.panels.risk import get_revenue_at_risk
    from billing.panels.scope import PARAMS
    from billing.panels.tables import CYCLE_TIME_TABLE, RISK_TABLE, UNBILLED_TABLE
    from billing.panels.unbilled import get_unbilled_time
    from config.registry import Panel
    from config.roles import FINANCE

    return (
        Panel(
            key="billing:unbilled-time",
            title="Unbilled time",
            dashboard="finance",
            compute=get_unbilled_time,
            template="billing/panels/unbilled_time.html",
            roles=(FINANCE,),
            order=10,
            extra={
                "present": present_unbilled,
                "wide": True,
                "table": UNBILLED_TABLE,
                "params": PARAMS,
            },
        ),
        Panel(
            key="billing:revenue-at-risk",
            title="Revenue at risk in open exceptions",
            dashboard="finance",
            compute=get_revenue_at_risk,
            template="billing/panels/revenue_at_risk.html",
            roles=(FINANCE,),
            order=20,
            extra={"columns": 2, "table": RISK_TABLE},
        ),
        Panel(
            key="billing:invoice-latency",
            title="Invoice latency",
            dashboard="finance",
            compute=get_invoice_latency,
            template="billing/panels/invoice_latency.html",
            roles=(FINANCE,),
            order=30,
            extra={"present": present_latency, "params": PARAMS},
        ),
        Panel(
            key="billing:billing-cycle-time",
            title="Billing cycle time",
            dashboard="finance",
            compute=get_billing_cycle_time,
            template="billing/panels/billing_cycle_time.html",
            roles=(FINANCE,),
            order=31,
            extra={"present": present_cycle_time, "table": CYCLE_TIME_TABLE, "params": PARAMS},
        ),
    )


def _pmo_panels() -> tuple:
    from billing.panels.delivery import get_project_margin, get_utilization
    from billing.panels.present import present_margin, present_utilization
    from billing.panels.scope import PARAMS
    from billing.panels.tables import MARGIN_TABLE, UTILIZATION_TABLE
    from config.registry import Panel
    from config.roles import FINANCE, PMO

    return (
        Panel(
            key="billing:utilization",
            title="Utilization",
            dashboard="pmo",
            compute=get_utilization,
            template="billing/panels/utilization.html",
            roles=(PMO, FINANCE),
            order=10,
            extra={
                "present": present_utilization,
                "wide": True,
                "params": ("weeks", *PARAMS),
                "table": UTILIZATION_TABLE,
            },
        ),
        Panel(
            key="billing:project-margin",
            title="Project margin",
            dashboard="pmo",
            compute=get_project_margin,
            template="billing/panels/project_margin.html",
            roles=(PMO, FINANCE),
            order=20,
            extra={
                "present": present_margin,
                "wide": True,
                "table": MARGIN_TABLE,
                "params": PARAMS,
            },
        ),
    )


def _today_panel():
    from billing.panels.today import get_today
    from config.registry import Panel
    from config.roles import FINANCE, PMO

    return Panel(
        key="billing:today",
        title="Today",
        dashboard="home",
        compute=get_today,
        template="billing/panels/today.html",
        roles=(FINANCE, PMO),
        order=5,
    )
