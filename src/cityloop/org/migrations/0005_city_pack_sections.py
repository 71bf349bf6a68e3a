from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("org", "0004_city_targets"),
    ]

    operations = [
        migrations.AddField(
            model_name="citypack",
            name="sections",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
