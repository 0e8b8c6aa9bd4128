"""``invoices/<id>/lines/<line>/lineage/`` and ``events/<id>/lineage/`` (finance and operations,
read only; docs/finance-controls/lineage.md): an invoice line back to its rating, entry versions
and deliveries and the ERP call that posted it; a delivery forward to what it led to. What the
viewer may not see (a posting, the raw evidence) is left out, as on the pages."""

from dataclasses import fields

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.serializers.lineage import (
    DeliveryLineageOutputSerializer,
    LineLineageOutputSerializer,
)
from billing.selectors.lineage import (
    billed_this_delivery,
    seen_delivery_lineage,
    seen_line_lineage,
)
from config.policy import api_permission


class LineLineageView(APIView):
    permission_classes = [api_permission("lineage")]

    @extend_schema(responses=LineLineageOutputSerializer)
    def get(self, request: Request, pk: int, line_id: int) -> Response:
        seen = seen_line_lineage(request, invoice_id=pk, line_id=line_id)
        if seen is None:
            raise Http404(f"no line {line_id} on invoice {pk}")
        line, lineage, visible = seen
        answer = {
            "invoice": line.invoice,
            "line": line,
            "entries": lineage.entries if visible.entries else (),
            "posting": lineage.posting if line.invoice_id in visible.postings else None,
        }
        context = {"evidence": visible.evidence}
        return Response(LineLineageOutputSerializer(answer, context=context).data)


class EventLineageView(APIView):
    permission_classes = [api_permission("lineage")]

    @extend_schema(responses=DeliveryLineageOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        seen = seen_delivery_lineage(request, event_id=pk)
        if seen is None:
            raise Http404(f"no inbound event {pk}")
        event, lineage, visible = seen
        entries = [
            {
                **asdict_shallow(delivered),
                "billings": [
                    {
                        **asdict_shallow(billing),
                        "billed_this_delivery": billed_this_delivery(billing, delivered),
                        "posting": lineage.postings.get(billing.invoice.pk)
                        if billing.invoice.pk in visible.postings
                        else None,
                    }
                    for billing in delivered.billings
                ],
            }
            for delivered in lineage.entries
        ]
        answer = {"delivery": lineage.delivery, "entries": entries if visible.entries else []}
        context = {"evidence": visible.evidence}
        return Response(DeliveryLineageOutputSerializer(answer, context=context).data)


def asdict_shallow(instance) -> dict:
    """A dataclass's fields as a dict, values as they are (``asdict`` would copy deeply)."""
    return {field.name: getattr(instance, field.name) for field in fields(instance)}
