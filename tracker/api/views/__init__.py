"""Viewsets: they parse requests and call selectors (reads) and services (writes)."""
