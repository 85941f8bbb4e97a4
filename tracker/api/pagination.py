"""Pages: numbered pages for the record, a cursor for the event feed."""

import functools

from django.conf import settings
from django.core.paginator import Paginator
from rest_framework.pagination import CursorPagination, PageNumberPagination


class PagePagination(PageNumberPagination):
    """``?page=N&page_size=M``; the body has ``count``, ``next``, ``previous`` and ``results``."""

    page_size_query_param = "page_size"

    def get_page_size(self, request):
        self.page_size = settings.API_PAGE_SIZE
        self.max_page_size = settings.API_MAX_PAGE_SIZE
        return super().get_page_size(request)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["maximum"] = settings.API_MAX_PAGE_SIZE
        return parameters


class EventCursorPagination(CursorPagination):
    """Oldest first, by the commit-ordered sequence; follow ``next`` until it is null, then
    poll the last ``next`` link (or ``?after=<last sequence>``) for what happened since."""

    ordering = "sequence"
    page_size_query_param = "page_size"

    def get_page_size(self, request):
        self.page_size = settings.API_PAGE_SIZE
        self.max_page_size = settings.API_MAX_PAGE_SIZE
        return super().get_page_size(request)


class _IdsFirstPaginator(Paginator):
    """Counts and finds a page's ids on the bare (filtered, ordered) queryset, then loads
    only those rows with their joins. OFFSET over joined rows makes PostgreSQL join every
    row it skips: deep pages of milestones cost several times the first one."""

    def __init__(self, object_list, per_page, *, load_rows, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.load_rows = load_rows

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        model = self.object_list.model
        rows = {row.pk: row for row in self.load_rows(model.objects.filter(pk__in=ids))}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)


class IdsFirstPagePagination(PagePagination):
    """PagePagination for views whose list queryset is bare and whose ``page_rows(queryset)``
    adds the joins (the milestone resources)."""

    def paginate_queryset(self, queryset, request, view=None):
        self.django_paginator_class = functools.partial(
            _IdsFirstPaginator, load_rows=view.page_rows
        )
        return super().paginate_queryset(queryset, request, view)
