# Subscription filters move to link tables whose rows outlive the organization or process
# they name. Django cannot add a through model to an existing many-to-many field, so the
# links are copied into the new tables, the old fields dropped and the new ones added.

import django.db.models.deletion
from django.db import migrations, models


def copy_links(apps, schema_editor):
    Subscription = apps.get_model("tracker", "Subscription")
    SubscriptionOrganization = apps.get_model("tracker", "SubscriptionOrganization")
    SubscriptionProcess = apps.get_model("tracker", "SubscriptionProcess")
    SubscriptionOrganization.objects.bulk_create(
        SubscriptionOrganization(
            subscription_id=row.subscription_id, organization_id=row.organization_id
        )
        for row in Subscription.organizations.through.objects.all()
    )
    SubscriptionProcess.objects.bulk_create(
        SubscriptionProcess(subscription_id=row.subscription_id, process_id=row.process_id)
        for row in Subscription.processes.through.objects.all()
    )


def copy_links_back(apps, schema_editor):
    Subscription = apps.get_model("tracker", "Subscription")
    SubscriptionOrganization = apps.get_model("tracker", "SubscriptionOrganization")
    SubscriptionProcess = apps.get_model("tracker", "SubscriptionProcess")
    Organization = apps.get_model("tracker", "Organization")
    Process = apps.get_model("tracker", "Process")
    # The old tables have foreign keys: links to deleted rows cannot go back.
    Subscription.organizations.through.objects.bulk_create(
        Subscription.organizations.through(
            subscription_id=link.subscription_id, organization_id=link.organization_id
        )
        for link in SubscriptionOrganization.objects.filter(
            organization_id__in=Organization.objects.values("pk")
        )
    )
    Subscription.processes.through.objects.bulk_create(
        Subscription.processes.through(
            subscription_id=link.subscription_id, process_id=link.process_id
        )
        for link in SubscriptionProcess.objects.filter(process_id__in=Process.objects.values("pk"))
    )


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0003_milestone_date_bounds"),
    ]

    operations = [
        migrations.CreateModel(
            name="SubscriptionOrganization",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="tracker.organization",
                    ),
                ),
                (
                    "subscription",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="organization_links",
                        to="tracker.subscription",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("subscription", "organization"),
                        name="subscription_organization_unique",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="SubscriptionProcess",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "process",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="tracker.process",
                    ),
                ),
                (
                    "subscription",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="process_links",
                        to="tracker.subscription",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("subscription", "process"), name="subscription_process_unique"
                    )
                ],
            },
        ),
        migrations.RunPython(copy_links, copy_links_back),
        migrations.RemoveField(model_name="subscription", name="organizations"),
        migrations.RemoveField(model_name="subscription", name="processes"),
        migrations.AddField(
            model_name="subscription",
            name="organizations",
            field=models.ManyToManyField(
                blank=True,
                related_name="subscriptions",
                through="tracker.SubscriptionOrganization",
                to="tracker.organization",
            ),
        ),
        migrations.AddField(
            model_name="subscription",
            name="processes",
            field=models.ManyToManyField(
                blank=True,
                related_name="subscriptions",
                through="tracker.SubscriptionProcess",
                to="tracker.process",
            ),
        ),
    ]
