"""Importers: facts that arrive by themselves from outside sources (first: the SEC's EDGAR)."""
