"""Time entries: marking entries ``invoiced`` becomes a HOT update on PostgreSQL.

``status`` leaves every index (its own index and the (project, status, work_date) one), and
the table keeps half of each page free (fillfactor 50) for the new row versions, so the
billing run's status UPDATE writes no index entry. Held entries keep an index of their own
(partial, on ``hold_reason``, which invoicing never changes). The fillfactor applies to rows
written from now on; ``VACUUM FULL billing_timeentry`` repacks existing rows (it locks the
table). SQLite has no fillfactor: a no-op there.
"""

from django.db import migrations, models

FILLFACTOR = 50


def set_fillfactor(value):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE billing_timeentry SET (fillfactor = {value})")

    return apply


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0004_tax_rates_six_decimals"),
    ]

    operations = [
        migrations.RunPython(set_fillfactor(FILLFACTOR), set_fillfactor(100), elidable=False),
        migrations.RemoveIndex(
            model_name="timeentry",
            name="billing_tim_project_938e60_idx",
        ),
        migrations.AlterField(
            model_name="historicaltimeentry",
            name="status",
            field=models.CharField(
                choices=[
                    ("received", "Received"),
                    ("rated", "Rated"),
                    ("invoiced", "Invoiced"),
                    ("on_hold", "On hold"),
                    ("non_billable", "Non-billable"),
                    ("retracted", "Retracted"),
                ],
                default="received",
                max_length=15,
            ),
        ),
        migrations.AlterField(
            model_name="timeentry",
            name="status",
            field=models.CharField(
                choices=[
                    ("received", "Received"),
                    ("rated", "Rated"),
                    ("invoiced", "Invoiced"),
                    ("on_hold", "On hold"),
                    ("non_billable", "Non-billable"),
                    ("retracted", "Retracted"),
                ],
                default="received",
                max_length=15,
            ),
        ),
        migrations.AddIndex(
            model_name="timeentry",
            index=models.Index(
                condition=models.Q(("hold_reason", ""), _negated=True),
                fields=["hold_reason", "hold_key"],
                name="billing_te_held_idx",
            ),
        ),
    ]
