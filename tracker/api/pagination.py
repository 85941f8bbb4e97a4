"""Pages: numbered pages for the record, a cursor for the event feed."""

from django.conf import settings
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
    """Oldest first, by event id; follow ``next`` until it is null, then poll the last
    ``next`` link (or ``?after=<last sequence>``) for what happened since."""

    ordering = "id"
    page_size_query_param = "page_size"

    def get_page_size(self, request):
        self.page_size = settings.API_PAGE_SIZE
        self.max_page_size = settings.API_MAX_PAGE_SIZE
        return super().get_page_size(request)
