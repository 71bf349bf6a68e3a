"""Run the three demo one-thing journeys on a fresh database with a simulated clock.

    .venv/bin/python bench/services_journeys.py [--start 2025-03-03T09:00]

A citizen applies online at the start time (answers, consents to fetching, uploads, submits);
the window clerk accepts ten minutes later; then each approval task is approved by its
department's demo approver once the task has run for the item's ``demo_hours`` of working time
(demo_catalogue.yaml), in time order, respecting dependencies. The clock is the services pillar's
simulated clock over the real Chinese working calendar (core.calendars). Prints a table and one
``RESULT`` line per bundle: working hours and calendar time from submission to the result package.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
ANSWERS = {"premises": "owned", "investor": "no", "invoice": "yes"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--start", default="2025-03-03T09:00", help="local Beijing time of the first submission"
    )
    args = parser.parse_args()
    os.environ["CITYLOOP_DATA_DIR"] = tempfile.mkdtemp(prefix="cityloop-journeys-")  # always a fresh database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cityloop.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from cityloop.core import rules as time_rules
    from cityloop.core.models import User
    from cityloop.org import demo
    from cityloop.services import actions, clock, queries
    from cityloop.services import demo as services_demo
    from cityloop.services.models import Bundle, TaskStatus

    wall = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    # only the services pillar's demo data is needed: the city, the personas and the catalogue
    demo.DEMO_EXTENSIONS[:] = [services_demo.load]
    demo.load("beijing")
    hours = {i["code"]: float(i["demo_hours"]) for i in services_demo.read()["items"]}
    citizen = User.objects.get(username="citizen_wang")
    clerk = User.objects.get(username="window_liu")
    start = dt.datetime.fromisoformat(args.start).replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    rows = []
    for code in ("START-BUSINESS", "UTILITIES", "LOW-RISK-BUILD"):
        bundle = Bundle.objects.get(code=code)
        clock.set_now(start)
        app = actions.start_application(
            applicant=citizen,
            holder_name="王小明",
            holder_id="110105199001011234",
            bundle=bundle,
            actor=citizen,
        )
        actions.answer_situations(
            app, {s.key: ANSWERS[s.key] for s in queries.situations_of(app)}, actor=citizen
        )
        actions.fetch_records(app, consent=True, actor=citizen)
        for need in queries.outstanding_of(app):
            if need.commitment:
                actions.sign_commitment(app, need.key, actor=citizen)
            else:
                actions.upload_material(app, need.key, filename=f"{need.key}.pdf", content=PDF, actor=citizen)
        actions.submit_application(app, actor=citizen)
        clock.set_now(start + dt.timedelta(minutes=10))
        actions.accept_application(app, actor=clerk)
        while True:
            pending = list(
                app.tasks.filter(status=TaskStatus.PENDING).select_related(
                    "version__item", "department__city__pack"
                )
            )
            if not pending:
                break
            done_at = {
                t: time_rules.add_working_hours(
                    t.started_at, hours[t.version.item.code], clock.calendar_for(t.department)
                )
                for t in pending
            }
            task = min(pending, key=lambda t: (done_at[t], t.pk))
            approver = (
                User.objects.filter(role="department", department=task.department).order_by("pk").first()
            )
            clock.set_now(done_at[task])
            actions.approve_task(task, actor=approver, note="同意")
        app.refresh_from_db()
        cal = clock.calendar_for(app.tasks.first().department)
        working = (
            time_rules.working_time_between(app.submitted_at, app.delivered_at, cal).total_seconds() / 3600
        )
        elapsed = app.delivered_at - app.submitted_at
        days = (
            time_rules.working_time_between(app.submitted_at, app.delivered_at, cal) / cal.office_time_per_day
        )
        rows.append(
            (
                code,
                bundle.name,
                app.tasks.count(),
                len(queries.needs_of(app)),
                sum(len(v.materials.all()) for v in queries.versions_of(app)),
                working,
                days,
                elapsed,
                app.delivered_at.astimezone(cal.tz),
                app.results.exclude(serial="").count(),
            )
        )
    clock.set_now(None)
    print(
        f"submitted {start:%Y-%m-%d %H:%M} Asia/Shanghai; office hours 09:00-12:00, 13:30-18:00; cn calendar"
    )
    print(
        f"{'bundle':<16}{'tasks':>6}{'needs':>6}{'materials':>10}{'working h':>11}{'working d':>10}"
        f"{'calendar':>18}  delivered         certificates"
    )
    for code, _name, tasks, needs, materials, working, days, elapsed, delivered, certs in rows:
        print(
            f"{code:<16}{tasks:>6}{needs:>6}{materials:>10}{working:>11.2f}{days:>10.2f}{str(elapsed):>18}  "
            f"{delivered:%Y-%m-%d %H:%M}  {certs}"
        )
    for code, _name, tasks, needs, materials, working, days, elapsed, _d, certs in rows:
        print(
            f"RESULT bundle={code} tasks={tasks} needs={needs} item_materials={materials} "
            f"working_hours={working:.2f} working_days={days:.2f} "
            f"calendar_hours={elapsed.total_seconds() / 3600:.2f} "
            f"certificates={certs}"
        )
    print(f"(wall time {time.perf_counter() - wall:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
