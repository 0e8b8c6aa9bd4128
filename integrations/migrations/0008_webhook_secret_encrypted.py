"""Webhook signing secrets encrypted at rest: ``secret`` (clear) becomes ``secret_encrypted``
(a Fernet token under THROUGHLINE_CREDENTIALS_KEYS, integrations/models/encryption.py).

Forwards, every row is encrypted with the first configured key, then the clear column is
dropped. Backwards, the column comes back (empty) and is filled by decrypting each row; a row
no configured key decrypts stops the reversal with an error naming it (nothing changed).
Also a new reason of a refused delivery: ``secrets_unreadable`` (the receiver answers 503).
"""

from django.db import migrations, models

from integrations.models.encryption import InvalidToken, decrypt_text, encrypt_text


def encrypt_secrets(apps, schema_editor):
    WebhookSecret = apps.get_model("integrations", "WebhookSecret")
    for row in WebhookSecret.objects.using(schema_editor.connection.alias).only("pk", "secret"):
        WebhookSecret.objects.using(schema_editor.connection.alias).filter(pk=row.pk).update(
            secret_encrypted=encrypt_text(row.secret), secret=""
        )


def decrypt_secrets(apps, schema_editor):
    WebhookSecret = apps.get_model("integrations", "WebhookSecret")
    rows = WebhookSecret.objects.using(schema_editor.connection.alias)
    for row in rows.only("pk", "number", "system_id", "secret_encrypted"):
        try:
            clear = decrypt_text(row.secret_encrypted)
        except InvalidToken as exc:
            raise RuntimeError(
                f"webhook secret #{row.number} of system {row.system_id} does not decrypt with "
                "THROUGHLINE_CREDENTIALS_KEYS: put the key that encrypted it back, then reverse"
            ) from exc
        rows.filter(pk=row.pk).update(secret=clear)


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0007_api_token_systems"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhooksecret",
            name="secret_encrypted",
            field=models.TextField(default="", editable=False),
            preserve_default=False,
        ),
        # A default for the clear column first, so that reversing the removal below can add it
        # back to a table that has rows.
        migrations.AlterField(
            model_name="webhooksecret",
            name="secret",
            field=models.CharField(blank=True, default="", max_length=120),
        ),
        migrations.RunPython(encrypt_secrets, decrypt_secrets, elidable=False),
        migrations.RemoveField(
            model_name="webhooksecret",
            name="secret",
        ),
        migrations.AlterField(
            model_name="rejecteddelivery",
            name="reason",
            field=models.CharField(
                choices=[
                    ("unknown_system", "Unknown system"),
                    ("signature", "Missing or invalid signature"),
                    ("timestamp", "Timestamp outside tolerance"),
                    ("too_large", "Body over the size limit"),
                    ("rate_limited", "Rate limited"),
                    ("headers", "Malformed signature headers"),
                    ("secrets_unreadable", "Signing secrets unreadable (a key of this server)"),
                ],
                max_length=20,
            ),
        ),
    ]
