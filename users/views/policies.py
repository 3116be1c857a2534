"""The Policies pages: the managed policies list and a policy's details."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from users.forms.policies import PolicySearchForm
from users.forms.policy_picker import PickerSearchForm
from users.iam.errors import IamError, InvalidInput, NoSuchEntity
from users.iam.gateway import IamGateway
from users.iam.types import Policy
from users.validators import POLICY_ARN_RE
from users.views.shortcuts import bad_request, gateway_for


def _description(gateway: IamGateway, arn: str) -> str:
    try:
        return gateway.policy_description(arn)
    except NoSuchEntity:  # deleted since the index was read
        return ""


def _descriptions(gateway: IamGateway, policies: list[Policy]) -> list[str]:
    """The descriptions of one page of policies (ListPolicies has none), side by side: at
    most a GetPolicy per row, once a day."""
    if not policies:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(policies))) as pool:
        return list(pool.map(lambda policy: _description(gateway, policy.arn), policies))


def policy_list(request: HttpRequest) -> HttpResponse:
    """The "Policies (N)" list: the policy index (cached), filtered by type and name, paged here."""
    form = PolicySearchForm(request.GET)
    query, kind, per_page = "", "", 25
    if form.is_valid():
        query, kind, per_page = form.cleaned_data["q"], form.cleaned_data["type"], form.cleaned_data["per_page"]
    gateway = gateway_for(request)
    policies = gateway.policy_index(fresh="refresh" in request.GET)
    needle = query.casefold()
    matches = sorted(
        (p for p in policies if needle in p.name.casefold() and (not kind or p.policy_type == kind)),
        key=lambda policy: policy.name.casefold(),
    )
    page = Paginator(matches, per_page).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    context = {
        "form": form,
        "query": query,
        "kind": kind,
        "per_page": per_page,
        "count": len(matches),
        "page": page,
        "rows": list(zip(rows, _descriptions(gateway, rows), strict=True)),
        "pager_query": urlencode({"q": query, "type": kind, "per_page": per_page}) + "&",
    }
    return render(request, "policies/list.html", context)


def policy_detail(request: HttpRequest) -> HttpResponse:
    """A managed policy by ARN (`?arn=`: ARNs hold slashes): GetPolicy, GetPolicyVersion and
    ListEntitiesForPolicy."""
    arn = request.GET.get("arn", "")
    if not POLICY_ARN_RE.fullmatch(arn):
        return bad_request(request, "That is not the ARN of a managed policy (arn:aws:iam::…:policy/…).")
    gateway = gateway_for(request)
    try:
        policy = gateway.get_policy(arn)
        document = gateway.get_policy_document(arn, version_id=policy.default_version_id)
        entities = gateway.list_entities_for_policy(arn)
    except (NoSuchEntity, InvalidInput):
        raise Http404("No managed policy has this ARN.") from None
    rows = (
        [(name, "User") for name in entities.users]
        + [(name, "Group") for name in entities.groups]
        + [(name, "Role") for name in entities.roles]
    )
    context = {"policy": policy, "document": json.dumps(document, indent=2), "entities": rows}
    return render(request, "policies/detail.html", context)


def policy_document(request: HttpRequest) -> JsonResponse:
    """The JSON document of a managed policy, for the expandable rows of policy tables."""
    arn = request.GET.get("arn", "")
    if not POLICY_ARN_RE.fullmatch(arn):
        return JsonResponse({"error": "That is not a managed policy ARN."}, status=400)
    try:
        document = gateway_for(request).get_policy_document(arn)
    except NoSuchEntity:
        return JsonResponse({"error": "No such policy."}, status=404)
    except IamError as error:
        return JsonResponse({"error": f"IAM answered {error.code}."}, status=502)
    return JsonResponse({"document": document})


def policy_search(request: HttpRequest) -> HttpResponse:
    """One page of the attachable managed policies, by name (`q`) and Type (`type`), but those
    in `exclude`: what the policy pickers fetch (users/forms/policy_picker.py). It reads the
    cached policy index, so it is as fresh as the page that holds the picker."""
    form = PickerSearchForm(request.GET)
    if not form.is_valid():
        return bad_request(request, "That is not a search of managed policies.", form.errors)
    return JsonResponse(form.search(gateway_for(request).attachable_policy_index()).as_json())
