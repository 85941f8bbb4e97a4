"""Server-rendered pages (dashboard, organization and process timelines, unsubscribe) and the
Atom and iCalendar feeds. Reads go through ``tracker.web.selectors``; the one write (the
unsubscribe) goes through ``tracker.services.alerts``."""
