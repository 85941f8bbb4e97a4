from tracker.sources.edgar.client import EdgarClient
from tracker.sources.edgar.sync import organization_sync


def sync(organization):
    """One sync of ``organization`` through a fresh client, as the task does it."""
    client = EdgarClient()
    try:
        return organization_sync(organization=organization, client=client)
    finally:
        client.close()
