"""Reads: the querysets that pages, feeds and the API list and show, shaped so that a page of
any size costs the same number of queries."""
