"""`cityloop demo` never adds its published logins to a database it did not make."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from cityloop.core import audit, demo
from cityloop.core.models import User
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
    audit.record(None, demo.DEMO_MARK, None, after={"pack": "beijing"})
    assert demo.is_demo_or_empty()
