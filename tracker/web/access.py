"""Who may read the pages and feeds."""

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login


def public_read(view):
    """Let anyone read when ``TRACKER_PUBLIC_READ`` is on; otherwise send visitors to log in.

    The setting is read on every request (not at import), so it can be changed per
    deployment and per test.
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not settings.TRACKER_PUBLIC_READ and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper
