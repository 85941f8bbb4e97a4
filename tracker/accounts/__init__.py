"""Subscribers' accounts: what the invitation email says."""
