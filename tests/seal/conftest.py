"""Every seal test gets its own empty key folder, so keys never leak between tests."""

from __future__ import annotations

import pytest

from cityloop.core.actors import SYSTEM


@pytest.fixture(autouse=True)
def key_dir(tmp_path, monkeypatch):
    folder = tmp_path / "keys"
    monkeypatch.setenv("CITYLOOP_KEY_DIR", str(folder))
    return folder


@pytest.fixture
def water(city):
    from cityloop.org.models import Department

    return Department.objects.get(city=city, code="WATER")


@pytest.fixture
def issue(db):
    """``issue(**overrides)``: a business licence issued by the system under the city seal."""
    from cityloop.seal import actions

    def make(**overrides):
        values = {
            "issuer_department": None,
            "holder_name": "王小明",
            "holder_id": "110101199001011234",
            "title": "营业执照",
            "fields": {"名称": "小明餐饮有限公司", "经营范围": "餐饮服务"},
            "source_ref": "services.application:1",
            "actor": SYSTEM,
        }
        values.update(overrides)
        return actions.issue_certificate(**values)

    return make
