"""Alerts: turning events into email and signed webhooks, reliably."""
