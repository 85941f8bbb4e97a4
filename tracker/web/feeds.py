"""The Atom feed of events, built with Django's syndication framework."""

from dataclasses import dataclass

from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from .filters import EventFilters
from .history import EventView, describe_events
from .selectors import event_list

FEED_LENGTH = 50
# The namespace of the feed's own element, <tracker:sequence>.
SEQUENCE_NAMESPACE = "urn:milestone-tracker:feed"


class SequencedAtom1Feed(Atom1Feed):
    """Atom with each entry's feed sequence (the API's and the webhooks' ``sequence``) as
    ``<tracker:sequence>``, so a reader can resume from the API where the feed left off."""

    def root_attributes(self):
        return {**super().root_attributes(), "xmlns:tracker": SEQUENCE_NAMESPACE}

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, item)
        handler.addQuickElement("tracker:sequence", str(item["sequence"]))


@dataclass(frozen=True)
class FeedRequest:
    filters: EventFilters
    # The feed's own absolute URL, query string included: its Atom id and rel="self" link,
    # so each filtered feed is a feed of its own to a reader.
    url: str


class EventFeed(Feed):
    """The latest events, newest (highest sequence) first; entries keep the event's UUID as
    their id."""

    feed_type = SequencedAtom1Feed
    description_template = "web/feed_entry.html"

    def get_object(self, request, *, feed_request: FeedRequest):
        return feed_request

    def title(self, obj: FeedRequest) -> str:
        parts = []
        filters = obj.filters
        if filters.organization is not None:
            parts.append(filters.organization.name)
        if filters.process_id is not None:
            parts.append(f"process #{filters.process_id}")
        if filters.types:
            parts.append(", ".join(filters.types))
        return "Milestone Tracker: changes" + (f" ({'; '.join(parts)})" if parts else "")

    def subtitle(self, obj: FeedRequest) -> str:
        return "Changes to organizations' regulatory and corporate milestones."

    def link(self, obj: FeedRequest) -> str:
        filters = obj.filters
        if filters.process_id is not None:
            return reverse("web_process", args=[filters.process_id])
        if filters.organization is not None:
            return reverse("web_organization", args=[filters.organization.slug])
        return reverse("web_dashboard")

    def feed_url(self, obj: FeedRequest) -> str:
        return obj.url

    def feed_guid(self, obj: FeedRequest) -> str:
        return obj.url

    def items(self, obj: FeedRequest) -> list[EventView]:
        filters = obj.filters
        events = event_list(
            organization_id=filters.organization.pk if filters.organization else None,
            process_id=filters.process_id,
            types=filters.types,
            sequenced=True,
        )[:FEED_LENGTH]
        return describe_events(events)

    def item_title(self, item: EventView) -> str:
        return item.headline

    def item_link(self, item: EventView) -> str:
        return item.link

    def item_guid(self, item: EventView) -> str:
        return f"urn:uuid:{item.uuid}"

    item_guid_is_permalink = False

    def item_pubdate(self, item: EventView):
        return item.occurred_at

    def item_updateddate(self, item: EventView):
        return item.occurred_at

    def item_author_name(self, item: EventView) -> str:
        return item.actor_name

    def item_categories(self, item: EventView) -> list[str]:
        return [item.type]

    def item_extra_kwargs(self, item: EventView) -> dict:
        return {"sequence": item.sequence}
