"""Plumbing shared by the API's views: one URL served by several one-operation views, and
cursor pages of representation dicts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model, QuerySet
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import CursorPagination

# Attributes that one operation's view may set for itself only.
_PER_OPERATION = ("InputSerializer", "FilterSerializer", "OutputSerializer", "pagination_class", "ordering")
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def route(*views: type[APIView]) -> Callable[..., Any]:
    """One URL for several views of one operation each (`ContactListApi` for GET,
    `ContactCreateApi` for POST): a view class inheriting each one's handler.

    Refuses two views that handle the same method or set one per-operation attribute
    differently, so a handler always sees its own serializers.
    """
    for attribute in (*_PER_OPERATION, *HTTP_METHODS):
        owners = [view for view in views if attribute in vars(view)]
        values = {id(vars(view)[attribute]) for view in owners}
        if len(values) > 1:
            names = ", ".join(view.__name__ for view in owners)
            raise ImproperlyConfigured(f"{names} each define {attribute!r}; one URL cannot serve both.")
    combined = type("".join(view.__name__ for view in views), views, {"__doc__": views[0].__doc__})
    return combined.as_view()


def page_response(
    view: APIView, request: Request, queryset: QuerySet[Any], build: Callable[[Any], dict[str, Any]]
) -> Response:
    """A cursor page of `queryset` in the view's `ordering`, each row built by `build`."""
    paginator = CursorPagination()
    page: Iterable[Model] = paginator.paginate_queryset(queryset, request, view=view) or []
    return paginator.get_paginated_response([build(row) for row in page])
