"""`cityloop demo` never adds its published logins to a database it did not make."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from cityloop.core import audit
from cityloop.core.actors import SYSTEM
from cityloop.core.models import User
from cityloop.org import demo
from cityloop.org.models import CityPack


def test_the_demo_refuses_a_database_with_accounts_it_did_not_create(dispatcher_li):
    with pytest.raises(CommandError, match="already holds accounts that the demo did not create.*--force"):
        call_command("demo", "--load-only")
    assert not CityPack.objects.exists()
    assert not User.objects.filter(username="admin_zhang").exists()


def test_an_empty_database_or_one_the_demo_made_is_welcome(db):
    assert demo.is_demo_or_empty()
    User.objects.create(username="someone")
    assert not demo.is_demo_or_empty()
    audit.record(SYSTEM, demo.DEMO_MARK, None, after={"pack": "beijing"})
    assert demo.is_demo_or_empty()


def test_the_demo_city_looks_lived_in(db, settings, tmp_path):
    """A new user meets every desk with work on it: an e-certificate, the window, approvers, a whistle."""
    from cityloop.hotline.models import Request, Summons, Whistle
    from cityloop.seal.models import Certificate
    from cityloop.seal.verify import verify_text
    from cityloop.services.models import Application, AppStatus, TaskStatus

    settings.DATA_DIR = tmp_path  # the demo's Open311 key file goes here
    demo.load("beijing")
    certificate = Certificate.objects.get()
    assert verify_text(certificate.payload).ok
    statuses = set(Application.objects.values_list("status", flat=True))
    assert AppStatus.SUBMITTED in statuses  # waiting at the window
    assert Application.objects.filter(tasks__status=TaskStatus.PENDING).exists()  # with an approver
    whistle = Whistle.objects.get()
    assert Summons.objects.filter(whistle=whistle, late=True).count() == 1
    assert Summons.objects.filter(whistle=whistle, status="summoned").count() == 1
    assert Request.objects.values("status").distinct().count() >= 5
    assert Request.objects.filter(community__level="community").exists()  # 双井's communities
    key, path = demo.open311_key()
    assert key.startswith("clk_") and path.stat().st_mode & 0o077 == 0 and demo.open311_key()[0] == key
