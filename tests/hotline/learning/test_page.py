"""The classifier's page: admins see the model, its history and the recent decisions, and retrain it;
leaders read it; nobody else opens it."""

from __future__ import annotations

from django.test import Client

from cityloop.core.actors import COMMAND
from cityloop.core.models import AuditRecord
from cityloop.hotline import actions
from cityloop.hotline.intake import suggest
from cityloop.hotline.models import ClassifierRun
from cityloop.org.models import Category


def _client(user, language="zh-hans") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = language
    return client


def test_an_admin_sees_the_model_its_history_and_the_decisions_in_chinese(
    admin_zhang, city, submit, dispatcher_li, model_file
):
    request = submit(category="", description="楼里停水了，一整天没有水")
    actions.classify_request(request, Category.objects.get(city=city, code="01.01.01"), actor=dispatcher_li)
    ClassifierRun.objects.create(
        started_at=request.created_at,
        trigger="schedule",
        train_rows=40,
        examples=1,
        heldout_rows=10,
        candidate_accuracy=0.7,
        current_accuracy=0.9,
        current_macro_f1=0.88,
        reason="accuracy 0.7000 is not higher than the current model's 0.9000",
    )
    html = _client(admin_zhang).get("/hotline/classifier/").content.decode()
    assert "<h1>类别分类器</h1>" in html
    assert "T" not in html.split("训练时间</dt><dd>")[1][:16]  # local time, not an ISO stamp
    assert suggest.model_version() in html and 'data-metric="accuracy">0.9000<' in html
    assert 'data-promoted="0"' in html and "每周定时" in html and "0.7000 不高于当前模型的 0.9000" in html
    assert '<tr data-category="01.01.01">' in html and "乱堆乱放" in html
    assert 'id="retrain"' in html and "立即重新训练" in html
    assert 'href="/hotline/classifier/"' in html  # in the admin's menu


def test_the_page_in_english_without_a_model(admin_zhang, city):
    html = _client(admin_zhang, "en").get("/hotline/classifier/").content.decode()
    assert "<h1>The category classifier</h1>" in html
    assert "No model is in use" in html and "No retraining yet." in html


def test_retrain_now_runs_it_and_is_audited(admin_zhang, city):
    response = _client(admin_zhang).post("/hotline/classifier/")
    assert response.status_code == 302 and response["Location"] == "/hotline/classifier/"
    run = ClassifierRun.objects.get()
    assert run.trigger == "page" and run.requested_by == admin_zhang and not run.promoted
    assert AuditRecord.objects.filter(action="classifier.retrain", actor_id=admin_zhang.pk).count() == 1


def test_leaders_read_it_but_may_not_retrain(leader_sun, city):
    client = _client(leader_sun)
    html = client.get("/hotline/classifier/").content.decode()
    assert "<h1>类别分类器</h1>" in html and 'id="retrain"' not in html
    assert client.post("/hotline/classifier/").status_code == 403
    assert ClassifierRun.objects.count() == 0


def test_citizens_and_dispatchers_may_not_open_it(citizen_wang, dispatcher_li, city):
    for user in (citizen_wang, dispatcher_li):
        client = _client(user)
        assert client.get("/hotline/classifier/").status_code == 403
        assert client.post("/hotline/classifier/").status_code == 403
    assert ClassifierRun.objects.count() == 0


def test_a_run_from_the_command_line_is_listed(admin_zhang, city):
    from cityloop.hotline.intake import retrain

    retrain.retrain(actor=COMMAND, trigger="command")
    html = _client(admin_zhang, "en").get("/hotline/classifier/").content.decode()
    assert "the command line" in html and "at least 20 are needed" in html
