from django.db import migrations


def causes_rekey(apps, schema_editor):
    """At-risk causes no longer carry dates ("after:<dependency>:<gap>", "passed"): rewrite the
    stored ones, or the next change along each chain would see a new cause and alert again."""
    Milestone = apps.get_model("tracker", "Milestone")
    rows = list(Milestone.objects.exclude(at_risk_cause="").only("at_risk_cause"))
    for milestone in rows:
        kind, *parts = milestone.at_risk_cause.split(":")
        if kind == "after" and len(parts) == 3:  # after:<dependency>:<its forecast>:<gap>
            milestone.at_risk_cause = f"after:{parts[0]}:{parts[2]}"
        elif kind == "passed":  # passed:<target date>
            milestone.at_risk_cause = "passed"
    Milestone.objects.bulk_update(rows, ["at_risk_cause"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0008_endpoint_breaker"),
    ]

    operations = [
        migrations.RunPython(causes_rekey, migrations.RunPython.noop, elidable=True),
    ]
