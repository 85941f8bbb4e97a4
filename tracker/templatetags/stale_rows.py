"""``{% stale_row_field obj %}``: the hidden input that carries a row's fingerprint on an
admin delete confirmation page (tracker/admin/stale.py)."""

from django import template
from django.utils.html import format_html

from tracker.admin.stale import loaded_field_name, row_fingerprint

register = template.Library()


@register.simple_tag
def stale_row_field(obj):
    return format_html(
        '<input type="hidden" name="{}" value="{}">', loaded_field_name(obj), row_fingerprint(obj)
    )
