"""When the cause of a hold goes away, the held time is re-run (docs/contract.md §3, §5).

The opportunity-to-project services send signals (billing.services.contracts); the rating
services re-run the entries those changes can release. Connected in BillingConfig.ready();
each runs inside the transaction that made the change, so the change and the re-run commit
together.
"""

from billing.services import rating


def on_contract_amended(sender, *, contract, changed, **_kwargs) -> None:
    # Dates, cap, rate card: any of them can release entries held for closed_phase (dates),
    # not_to_exceed (cap) or rate_missing / rate_mismatch (card).
    rating.rerun_for_contract(
        contract=contract, note=f"contract amended: {', '.join(sorted(changed))}"
    )


def on_project_activated(sender, *, project, **_kwargs) -> None:
    rating.rerun_for_project(project=project, note="the project was activated in the PSA")


def on_project_reopened(sender, *, project, **_kwargs) -> None:
    rating.rerun_for_project(project=project, note="the project was reopened")


def on_phase_changed(sender, *, phase, **_kwargs) -> None:
    rating.rerun_for_project(project=phase.project, note=f"phase {phase.code} is open")


def on_rate_card_changed(sender, *, card, **_kwargs) -> None:
    rating.rerun_for_rate_card(card=card, note=f"rates of {card.code} changed")


def connect() -> None:
    from billing.services import contracts

    contracts.contract_amended.connect(on_contract_amended, dispatch_uid="billing.rerun.contract")
    contracts.project_activated.connect(
        on_project_activated, dispatch_uid="billing.rerun.activated"
    )
    contracts.project_reopened.connect(on_project_reopened, dispatch_uid="billing.rerun.reopened")
    contracts.phase_reopened.connect(on_phase_changed, dispatch_uid="billing.rerun.phase_reopened")
    contracts.phase_added.connect(on_phase_changed, dispatch_uid="billing.rerun.phase_added")
    contracts.rate_card_changed.connect(
        on_rate_card_changed, dispatch_uid="billing.rerun.rate_card"
    )
