from django.core.management.base import BaseCommand

from tracker.demo import demo_load


class Command(BaseCommand):
    help = "Load the demo record (idempotent: a second run changes nothing)."

    def handle(self, *args, **options):
        created = demo_load()
        if any(created.values()):
            summary = ", ".join(f"{count} {name}" for name, count in created.items())
            self.stdout.write(self.style.SUCCESS(f"Demo data loaded: created {summary}."))
        else:
            self.stdout.write("Demo data already loaded; nothing changed.")
