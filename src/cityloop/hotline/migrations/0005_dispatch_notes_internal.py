"""Dispatch notes were written into the public "dispatched" line, so the citizen's page showed them.

Each such note moves to an internal "dispatch_note" line beside it; the public line keeps where the
case went. Reversing puts the text back (for a rollback only).
"""

from django.db import migrations


def notes_internal(apps, schema_editor):
    Event = apps.get_model("hotline", "Event")
    moved = []
    for line in Event.objects.filter(kind="dispatched", public=True).exclude(text="").iterator():
        moved.append(
            Event(
                request_id=line.request_id,
                order_id=line.order_id,
                at=line.at,
                actor_id=line.actor_id,
                kind="dispatch_note",
                public=False,
                text=line.text,
                data={},
            )
        )
    Event.objects.bulk_create(moved, batch_size=1000)
    Event.objects.filter(kind="dispatched", public=True).exclude(text="").update(text="")


def notes_back(apps, schema_editor):
    Event = apps.get_model("hotline", "Event")
    for note in Event.objects.filter(kind="dispatch_note").iterator():
        Event.objects.filter(request_id=note.request_id, order_id=note.order_id, kind="dispatched").update(
            text=note.text
        )
    Event.objects.filter(kind="dispatch_note").delete()


class Migration(migrations.Migration):
    dependencies = [("hotline", "0004_tracking_access_codes")]

    operations = [migrations.RunPython(notes_internal, notes_back)]
