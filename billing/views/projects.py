"""PMO pages: the project list and a project's page."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from billing.filters import ProjectFilter
from billing.models import Contract, Project
from billing.selectors.projects import (
    get_project,
    list_amendments,
    list_external_refs,
    list_project_traces,
    list_projects,
    project_financials,
    project_open_items,
)
from billing.views.exports import PROJECT_COLUMNS
from config.exports import export_response, requested_format
from config.policy import allows, require

PAGE_SIZE = 25  # rows per page: one screen of projects


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    require(request, "projects")
    filterset = ProjectFilter(request.GET, queryset=list_projects())
    if fmt := requested_format(request):
        return export_response(fmt, name="projects", columns=PROJECT_COLUMNS, rows=filterset.qs)
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "form": filterset.form,
        "statuses": Project.Status.choices,
        "billing_models": Contract.BillingModel.choices,
        "query": query.urlencode(),
        "filters_active": any(request.GET.get(k) for k in filterset.form.fields),
    }
    template = "billing/project_list.html"
    return render(request, f"{template}#project-table" if request.htmx else template, context)


@login_required
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    require(request, "projects")
    try:
        project = get_project(project_id=project_id)
    except Project.DoesNotExist as exc:
        raise Http404(f"no project #{project_id}") from exc
    contract = project.contract
    context = {
        "project": project,
        "contract": contract,
        "phases": project.phases.all(),
        "milestones": contract.milestones.all(),
        "amendments": list_amendments(contract),
        "refs": list_external_refs(project),
        "traces": list_project_traces(project),
        "deal": getattr(contract, "deal", None),
        "figures": project_financials(project),
        "open_items": project_open_items(project, request.user),
        "can_rerate": allows(request.user, "projects", "rerate"),
    }
    return render(request, "billing/project_detail.html", context)
