"""The comparison of the reconciliation: pure (no database, no peers). Throughline's side of
one legal entity's month (``PeriodFigures``) against what its ERP and CRM answered
(``PeerAnswers``) gives the row's figures and its mismatches, each in words for both sides.

Checks, each with its own subject key (``<period>:<entity>:<check>[:invoice:<pk>]``):

- ``unbilled_time``: the month was billed, yet rated billable time of it is on no invoice
  (not in a closed month: there such time is late time awaiting finance's move to an open
  month, docs/finance-controls/period-close.md, and is shown, not raised);
- ``erp_missing``: a posted invoice the ERP does not have;
- ``erp_total``: the ERP's net, tax or gross total (or currency) differs from ours;
- ``erp_state``: the ERP's state of a posted invoice differs from ours (skipped when the ERP
  keeps no state; our ``sent`` is the ERP's ``posted``: sending is not an ERP state);
- ``crm_status``: the CRM shows another status than ours, or none (skipped while a status is
  still on its way to it).

A check is *checked* for a subject when both sides could be read; only then may an open item
of it resolve itself (an ERP that did not answer proves nothing).
"""

from dataclasses import dataclass, field
from decimal import Decimal

from billing.selectors.reconciliation import PeriodFigures, PostedInvoice
from config.money import Money, money_list
from integrations.connectors.readback import ReadInvoice

UNBILLED, ERP_MISSING, ERP_TOTAL, ERP_STATE, CRM_STATUS = (
    "unbilled_time",
    "erp_missing",
    "erp_total",
    "erp_state",
    "crm_status",
)
CHECK_LABELS = {
    UNBILLED: "Rated time on no invoice",
    ERP_MISSING: "Invoice missing in the ERP",
    ERP_TOTAL: "ERP total differs",
    ERP_STATE: "ERP state differs",
    CRM_STATUS: "CRM status differs",
}
# Our status → the ERP state that agrees with it, where the words differ.
SAME_STATE = {"sent": "posted"}


@dataclass(frozen=True)
class PeerAnswers:
    """What the peers answered for one month of one entity. ``erp_asked``: the ERP ids whose
    system answered (a missing one is then truly missing); ``crm`` None: the CRM was not read."""

    erp: dict[str, ReadInvoice] = field(default_factory=dict)
    erp_asked: frozenset[str] = frozenset()
    erp_systems: tuple[str, ...] = ()
    erp_errors: tuple[str, ...] = ()
    crm: dict[str, str] | None = None
    crm_system: str = ""
    crm_error: str = ""


@dataclass(frozen=True)
class Mismatch:
    """One disagreement: its subject, both sides in words, and the money it puts at risk."""

    check: str
    subject_key: str
    subject_ref: str
    summary: str
    ours: str
    theirs: str
    invoice_id: int | None = None
    differences: tuple[tuple[str, str, str], ...] = ()  # (field, ours, theirs)
    amounts: tuple[Money, ...] = ()

    @property
    def label(self) -> str:
        return CHECK_LABELS[self.check]


@dataclass(frozen=True)
class Comparison:
    figures: dict
    mismatches: tuple[Mismatch, ...]
    checked: frozenset[str]  # the subject keys both sides of which were read


def _key(figures: PeriodFigures, check: str, invoice: PostedInvoice | None = None) -> str:
    base = f"{figures.period}:{figures.entity}:{check}"
    return f"{base}:invoice:{invoice.pk}" if invoice else base


def _words(status: str) -> str:
    return status.replace("_", " ") if status else "no state"


def _money_text(amounts: dict[str, Money]) -> str:
    return " + ".join(amounts[c].rounded().format() for c in sorted(amounts)) or "nothing"


def _ref(figures: PeriodFigures, invoice: PostedInvoice) -> str:
    return f"{invoice.title} · {invoice.customer} · {figures.period} {figures.entity}"


def compare_unbilled(figures: PeriodFigures) -> Mismatch | None:
    if not figures.billed or figures.closed or not figures.unbilled:
        return None
    billed = {
        c: m - figures.unbilled.get(c, Money.zero(c)) for c, m in sorted(figures.rated.items())
    }
    entries = figures.unbilled_entries
    return Mismatch(
        check=UNBILLED,
        subject_key=_key(figures, UNBILLED),
        subject_ref=f"{figures.period} {figures.entity}",
        summary=(
            f"{entries} rated entr{'y' if entries == 1 else 'ies'} of {figures.period} "
            f"({_money_text(figures.unbilled)}) on no invoice after the month was billed"
        ),
        ours=f"Throughline rated {_money_text(figures.rated)} of time for {figures.period}",
        theirs=(
            f"the month's invoices bill {_money_text(billed)} of it; "
            f"{_money_text(figures.unbilled)} is on no invoice"
        ),
        differences=tuple(
            ("rated time, " + c, figures.rated[c].rounded().format(), billed[c].rounded().format())
            for c in sorted(figures.unbilled)
        ),
        amounts=tuple(figures.unbilled[c].rounded() for c in sorted(figures.unbilled)),
    )


def _total_differences(invoice: PostedInvoice, read: ReadInvoice) -> list[tuple[str, str, str]]:
    if read.currency.upper() != invoice.gross.currency:
        return [("currency", invoice.gross.currency, read.currency or "none")]
    pairs = (
        ("net", invoice.net, read.net_total),
        ("tax", invoice.tax, read.tax_total),
        ("gross", invoice.gross, read.gross_total),
    )
    return [
        (name, ours.rounded().format(), Money(theirs, ours.currency).rounded().format())
        for name, ours, theirs in pairs
        if Money(theirs, ours.currency).rounded() != ours.rounded()
    ]


def _totals_text(net: Money, tax: Money, gross: Money) -> str:
    return f"net {net.rounded()}, tax {tax.rounded()}, gross {gross.rounded()}"


def compare_erp_invoice(
    figures: PeriodFigures, invoice: PostedInvoice, read: ReadInvoice | None, erp: str
) -> list[Mismatch]:
    """The ERP's side of one posted invoice (``read`` None: the ERP does not have it)."""
    ours = f"Throughline posted it to {erp} as {invoice.erp_invoice_id}"
    if read is None:
        return [
            Mismatch(
                check=ERP_MISSING,
                subject_key=_key(figures, ERP_MISSING, invoice),
                subject_ref=_ref(figures, invoice),
                summary=f"{invoice.title} ({invoice.gross.rounded()}) is not in {erp}",
                ours=f"{ours}: {_totals_text(invoice.net, invoice.tax, invoice.gross)}",
                theirs=f"{erp} has no invoice {invoice.erp_invoice_id}",
                invoice_id=invoice.pk,
                amounts=(invoice.gross.rounded(),),
            )
        ]
    found = []
    differences = _total_differences(invoice, read)
    if differences:
        found.append(_total_mismatch(figures, invoice, read, erp, differences))
    expected = SAME_STATE.get(invoice.status, invoice.status)
    if read.state and read.state not in (invoice.status, expected):
        found.append(
            Mismatch(
                check=ERP_STATE,
                subject_key=_key(figures, ERP_STATE, invoice),
                subject_ref=_ref(figures, invoice),
                summary=f"{invoice.title} is {_words(invoice.status)} here, "
                f"{_words(read.state)} in {erp}",
                ours=f"Throughline says {_words(invoice.status)}",
                theirs=f"{erp} says {_words(read.state)}",
                invoice_id=invoice.pk,
                differences=(("state", _words(invoice.status), _words(read.state)),),
                amounts=(invoice.gross.rounded(),),
            )
        )
    return found


def _total_mismatch(
    figures: PeriodFigures,
    invoice: PostedInvoice,
    read: ReadInvoice,
    erp: str,
    differences: list[tuple[str, str, str]],
) -> Mismatch:
    if read.currency.upper() == invoice.gross.currency:
        theirs = Money(read.gross_total, invoice.gross.currency)
        at_risk = abs(theirs - invoice.gross).rounded()
        theirs_text = _totals_text(
            Money(read.net_total, read.currency), Money(read.tax_total, read.currency), theirs
        )
    else:  # another currency: the whole invoice is in doubt
        at_risk = invoice.gross.rounded()
        theirs_text = f"gross {Money(read.gross_total, read.currency).rounded()}"
    return Mismatch(
        check=ERP_TOTAL,
        subject_key=_key(figures, ERP_TOTAL, invoice),
        subject_ref=_ref(figures, invoice),
        summary=f"{erp}'s total of {invoice.title} differs from ours by {at_risk}",
        ours=f"Throughline says {_totals_text(invoice.net, invoice.tax, invoice.gross)}",
        theirs=f"{erp} says {theirs_text}",
        invoice_id=invoice.pk,
        differences=tuple(differences),
        amounts=(at_risk,),
    )


def compare_crm_status(
    figures: PeriodFigures, invoice: PostedInvoice, shown: str | None, crm: str
) -> Mismatch | None:
    """The CRM's status of one posted invoice (``shown`` None: the CRM has no record of it).
    No amount at risk: a stale status misleads the account team, it bills nothing."""
    if shown == invoice.status:
        return None
    theirs = f"{crm} says {_words(shown)}" if shown else f"{crm} has no status for it"
    return Mismatch(
        check=CRM_STATUS,
        subject_key=_key(figures, CRM_STATUS, invoice),
        subject_ref=_ref(figures, invoice),
        summary=f"{invoice.title} is {_words(invoice.status)} here, "
        + (f"{_words(shown)} in {crm}" if shown else f"unknown to {crm}"),
        ours=f"Throughline says {_words(invoice.status)}",
        theirs=theirs,
        invoice_id=invoice.pk,
        differences=(("status", _words(invoice.status), _words(shown or "")),),
    )


def compare(figures: PeriodFigures, answers: PeerAnswers) -> Comparison:
    """Both sides of one entity's month: the row's figures and every mismatch."""
    mismatches: list[Mismatch] = []
    checked = {_key(figures, UNBILLED)}
    unbilled = compare_unbilled(figures)
    if unbilled:
        mismatches.append(unbilled)
    erp = " / ".join(answers.erp_systems) or "the ERP"
    for invoice in figures.invoices:
        if invoice.erp_invoice_id in answers.erp_asked:
            checked |= {_key(figures, c, invoice) for c in (ERP_MISSING, ERP_TOTAL, ERP_STATE)}
            read = answers.erp.get(invoice.erp_invoice_id)
            mismatches += compare_erp_invoice(figures, invoice, read, erp)
        if answers.crm is not None and not invoice.crm_in_flight:
            checked.add(_key(figures, CRM_STATUS, invoice))
            shown = answers.crm.get(str(invoice.pk))
            crm_mismatch = compare_crm_status(figures, invoice, shown, answers.crm_system)
            if crm_mismatch:
                mismatches.append(crm_mismatch)
    return Comparison(
        figures=row_figures(figures, answers, mismatches),
        mismatches=tuple(mismatches),
        checked=frozenset(checked),
    )


def _gross(invoices: list[PostedInvoice]) -> list[dict[str, str]]:
    totals: dict[str, Decimal] = {}
    for invoice in invoices:
        totals[invoice.gross.currency] = totals.get(invoice.gross.currency, Decimal(0)) + (
            invoice.gross.amount
        )
    return money_list(totals)


def row_figures(figures: PeriodFigures, answers: PeerAnswers, mismatches: list[Mismatch]) -> dict:
    """The row the page, the export and the API show (JSON: amounts as strings)."""
    by_check: dict[str, int] = {}
    for mismatch in mismatches:
        by_check[mismatch.check] = by_check.get(mismatch.check, 0) + 1
    asked = [i for i in figures.invoices if i.erp_invoice_id in answers.erp_asked]
    found = [answers.erp[i.erp_invoice_id] for i in asked if i.erp_invoice_id in answers.erp]
    erp_totals: dict[str, Decimal] = {}
    for read in found:
        currency = read.currency.upper()
        erp_totals[currency] = erp_totals.get(currency, Decimal(0)) + read.gross_total
    crm_checked = [i for i in figures.invoices if answers.crm is not None and not i.crm_in_flight]
    return {
        "period": figures.period,
        "legal_entity": figures.entity,
        "time": {
            "approved_hours": str(figures.approved_hours),
            "held_hours": str(figures.held_hours),
            "rated": money_list(figures.rated),
            "unbilled": money_list(figures.unbilled),
            "unbilled_entries": figures.unbilled_entries,
            "billed": figures.billed,
            "closed": figures.closed,
        },
        "invoiced": {"net": money_list(figures.invoiced), "invoices": figures.invoice_count},
        "erp": {
            "systems": list(answers.erp_systems),
            "errors": list(answers.erp_errors),
            "posted": len(figures.invoices),
            "checked": len(asked),
            "ours": _gross(asked),
            "theirs": money_list(erp_totals),
            "missing": by_check.get(ERP_MISSING, 0),
            "differing": by_check.get(ERP_TOTAL, 0) + by_check.get(ERP_STATE, 0),
        },
        "crm": {
            "system": answers.crm_system,
            "error": answers.crm_error,
            "invoices": len(figures.invoices),
            "checked": len(crm_checked),
            "in_flight": sum(1 for i in figures.invoices if i.crm_in_flight),
            "stale": by_check.get(CRM_STATUS, 0),
        },
        "mismatches": [],  # filled with each mismatch and its item by the run
    }
