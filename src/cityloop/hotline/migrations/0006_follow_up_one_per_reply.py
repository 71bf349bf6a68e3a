"""One answer per reply: each follow-up names the reply it answers, and the database refuses a second.

Answers stored before keep an empty ``replied_at`` (which reply they answered was not recorded), so every
existing row stays valid: empty values never collide in a unique constraint.
"""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("hotline", "0005_dispatch_notes_internal"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="followup",
            name="replied_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name="followup",
            constraint=models.UniqueConstraint(
                fields=("request", "replied_at"), name="hotline_follow_up_one_per_reply"
            ),
        ),
    ]
