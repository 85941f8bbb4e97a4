"""The tracker's models: the record, the event log, alerts and API tokens."""

from .accounts import AccountProfile, Invitation
from .alerts import Delivery, DeliveryAttempt, Digest, Subscription, WebhookEndpoint
from .events import Event, EventType
from .milestones import (
    AgReview,
    Filing,
    IpoStep,
    Milestone,
    MilestoneDependency,
    MilestoneKind,
    MilestoneStatus,
)
from .operations import TaskRun
from .organizations import Organization
from .processes import Process, ProcessKind, ProcessStatus
from .sources import EdgarFeedState, EdgarSync, EdgarSyncStatus
from .tokens import ApiToken, TokenScope

__all__ = [
    "AccountProfile",
    "AgReview",
    "ApiToken",
    "Delivery",
    "DeliveryAttempt",
    "Digest",
    "EdgarFeedState",
    "EdgarSync",
    "EdgarSyncStatus",
    "Event",
    "EventType",
    "Filing",
    "Invitation",
    "IpoStep",
    "Milestone",
    "MilestoneDependency",
    "MilestoneKind",
    "MilestoneStatus",
    "Organization",
    "Process",
    "ProcessKind",
    "ProcessStatus",
    "Subscription",
    "TaskRun",
    "TokenScope",
    "WebhookEndpoint",
]
