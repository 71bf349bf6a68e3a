"""The service catalogue (items, frozen versions, bundles), applications, approvals and ratings."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


class OnlineDepth(models.IntegerChoices):
    INFO = 1, _("Information only")
    DOWNLOAD = 2, _("Forms to download")
    SUBMIT = 3, _("Apply online, collect in person")
    FULL = 4, _("Fully online")


class MaterialForm(models.TextChoices):
    ORIGINAL = "original", _("Original")
    COPY = "copy", _("Copy")
    ELECTRONIC = "electronic", _("Electronic")


class Necessity(models.TextChoices):
    REQUIRED = "required", _("Required")
    CONDITIONAL = "conditional", _("Depends on the situation")


class MaterialSource(models.TextChoices):
    APPLICANT = "applicant", _("The applicant")
    ELICENCE = "elicence", _("E-licence issued by the government")
    DATA_SHARING = "data_sharing", _("Data sharing between departments")
    COMMITMENT = "commitment", _("Written commitment (告知承诺)")


class ServiceItem(models.Model):
    """A government service (事项); what it asks for lives in its versions."""

    code = models.CharField(_("code"), max_length=40, unique=True)
    department = models.ForeignKey(
        "org.Department",
        on_delete=models.PROTECT,
        related_name="service_items",
        verbose_name=_("implementing department"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "services_item"
        ordering = ["code"]

    def __str__(self) -> str:
        current = self.current_version()
        return f"{self.code} {current.name if current else ''}".strip()

    def current_version(self) -> ItemVersion | None:
        return self.versions.filter(status=VersionStatus.PUBLISHED).order_by("-number").first()

    def draft(self) -> ItemVersion | None:
        return self.versions.filter(status=VersionStatus.DRAFT).first()


class ItemVersion(models.Model):
    """One definition of an item (实施清单). Published versions are frozen; editing makes a new draft."""

    item = models.ForeignKey(ServiceItem, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    legal_basis = models.TextField(_("legal basis"), blank=True)
    conditions = models.JSONField(_("acceptance conditions"), default=list)
    steps = models.JSONField(_("process steps"), default=list)
    legal_days = models.DecimalField(
        _("legal time limit (working days)"), max_digits=5, decimal_places=1, default=20
    )
    committed_days = models.DecimalField(
        _("committed time limit (working days)"), max_digits=5, decimal_places=1, default=5
    )
    fee = models.DecimalField(_("fee (yuan)"), max_digits=10, decimal_places=2, default=0)
    visits = models.PositiveSmallIntegerField(_("on-site visits"), default=0)
    online_depth = models.PositiveSmallIntegerField(
        _("online depth"), choices=OnlineDepth.choices, default=OnlineDepth.FULL
    )
    result_title = models.CharField(_("result document"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "services_item_version"
        ordering = ["item__code", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["item", "number"], name="services_version_number_unique"),
            models.UniqueConstraint(
                fields=["item"], condition=models.Q(status="draft"), name="services_one_draft_per_item"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item.code} v{self.number} {self.name}"

    @property
    def frozen(self) -> bool:
        return self.status != VersionStatus.DRAFT


class Situation(models.Model):
    """A question (情形) whose answer decides which conditional materials apply."""

    version = models.ForeignKey(ItemVersion, on_delete=models.CASCADE, related_name="situations")
    key = models.SlugField(max_length=40)
    question = models.CharField(max_length=300)
    question_en = models.CharField(max_length=300, blank=True)
    options = models.JSONField(default=list)  # [{"value": "yes", "label": "是", "label_en": "Yes"}]
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        db_table = "services_situation"
        ordering = ["order", "pk"]


class Material(models.Model):
    version = models.ForeignKey(ItemVersion, on_delete=models.CASCADE, related_name="materials")
    key = models.SlugField(max_length=40)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(max_length=200, blank=True)
    form = models.CharField(max_length=12, choices=MaterialForm.choices, default=MaterialForm.ELECTRONIC)
    copies = models.PositiveSmallIntegerField(default=1)
    necessity = models.CharField(max_length=12, choices=Necessity.choices, default=Necessity.REQUIRED)
    # {"situation key": ["option", ...]}: the material applies when every named answer is listed
    condition = models.JSONField(default=dict, blank=True)
    legal_basis = models.CharField(max_length=300, blank=True)
    template = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=14, choices=MaterialSource.choices, default=MaterialSource.APPLICANT)
    record_type = models.CharField(max_length=40, blank=True)  # the GovRecord type that holds it
    upload_required = models.BooleanField(default=True)
    proves = models.CharField(max_length=80, blank=True)  # the fact it proves; bundles merge on it
    is_certificate = models.BooleanField(default=False)  # a 证明 issued by some authority
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        db_table = "services_material"
        ordering = ["order", "pk"]


class Bundle(models.Model):
    """One thing (一件事): several items applied for on one form, approved in parallel."""

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        db_table = "services_bundle"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class BundleItem(models.Model):
    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE, related_name="members")
    item = models.ForeignKey(ServiceItem, on_delete=models.PROTECT, related_name="+")
    order = models.PositiveSmallIntegerField(default=0)
    depends_on = models.JSONField(default=list, blank=True)  # item codes that must be approved first

    class Meta:
        db_table = "services_bundle_item"
        ordering = ["order", "pk"]
        constraints = [models.UniqueConstraint(fields=["bundle", "item"], name="services_bundle_item_unique")]


class CatalogueSnapshot(models.Model):
    """The catalogue as it stood on a date (every published item, in the linter's dict shape).

    Taken by ``cityloop services snapshot``, automatically on every publish (label ``publish``),
    or loaded as history (label ``history``, e.g. the 2018 catalogue that was never published here).
    """

    taken_on = models.DateField(db_index=True)
    label = models.CharField(max_length=40, default="manual")
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "services_catalogue_snapshot"
        ordering = ["-taken_on", "-pk"]
        constraints = [models.UniqueConstraint(fields=["taken_on", "label"], name="services_snapshot_unique")]


class GovRecord(models.Model):
    """A record or e-licence the government already holds about someone (e.g. an ID card)."""

    holder_id = models.CharField(max_length=40, db_index=True)
    record_type = models.CharField(max_length=40)
    title = models.CharField(max_length=200)
    issuer = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict)
    issued_on = models.DateField(null=True, blank=True)

    class Meta:
        db_table = "services_gov_record"
        constraints = [
            models.UniqueConstraint(fields=["holder_id", "record_type"], name="services_record_unique")
        ]


class WindowDepartment(models.Model):
    """A department whose staff work the one window (综合受理窗口) and accept applications."""

    department = models.OneToOneField("org.Department", on_delete=models.CASCADE, related_name="+")

    class Meta:
        db_table = "services_window_department"


class AppStatus(models.TextChoices):
    DRAFT = "draft", _("Being filled in")
    SUBMITTED = "submitted", _("Waiting at the window")
    CORRECTION = "correction", _("Correction requested")
    ACCEPTED = "accepted", _("Being approved")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")
    DELIVERED = "delivered", _("Results delivered")


class Channel(models.TextChoices):
    ONLINE = "online", _("Online")
    WINDOW = "window", _("At the window")


class Application(models.Model):
    number = models.CharField(max_length=24, unique=True)
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="applications"
    )
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    holder_name = models.CharField(_("applicant name"), max_length=100)
    holder_id = models.CharField(_("ID number"), max_length=40)
    bundle = models.ForeignKey(
        Bundle, null=True, blank=True, on_delete=models.PROTECT, related_name="applications"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.ONLINE)
    status = models.CharField(max_length=12, choices=AppStatus.choices, default=AppStatus.DRAFT)
    answers = models.JSONField(default=dict)
    form_data = models.JSONField(default=dict)  # the one form: answers to the bundle's shared fields
    consent_at = models.DateTimeField(null=True, blank=True)
    fetched = models.JSONField(default=dict)  # need key -> {"record": id, "title": ..., "data": {...}}
    commitments = models.JSONField(default=list)  # need keys the applicant signed a commitment for
    visits = models.PositiveSmallIntegerField(default=0)
    resubmissions = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "services_application"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.number

    @property
    def title(self) -> str:
        if self.bundle_id:
            return self.bundle.name
        first = self.items.select_related("version").first()
        return first.version.name if first else self.number


class ApplicationItem(models.Model):
    """An item applied for, pinned to the version the application started under."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="items")
    version = models.ForeignKey(ItemVersion, on_delete=models.PROTECT, related_name="+")

    class Meta:
        db_table = "services_application_item"
        ordering = ["pk"]


class Upload(models.Model):
    """A file for one need of an application; bytes kept in the row so a failed write leaves nothing."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="uploads")
    need_key = models.CharField(max_length=120)
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    content = models.BinaryField()
    uploaded_at = models.DateTimeField()

    class Meta:
        db_table = "services_upload"
        constraints = [
            models.UniqueConstraint(fields=["application", "need_key"], name="services_upload_unique")
        ]


class CorrectionNotice(models.Model):
    """The single correction notice (一次告知); one per application, enforced by the table."""

    application = models.OneToOneField(Application, on_delete=models.CASCADE, related_name="correction")
    items = models.JSONField()  # [{"key": need key, "name": ..., "reason": ...}]
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    sent_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "services_correction_notice"


class TaskStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting for another task")
    PENDING = "pending", _("To approve")
    SUSPENDED = "suspended", _("Clock suspended")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")


class ApprovalTask(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="tasks")
    version = models.ForeignKey(ItemVersion, on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey("org.Department", on_delete=models.PROTECT, related_name="service_tasks")
    depends_on = models.ManyToManyField("self", symmetrical=False, related_name="dependents", blank=True)
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.WAITING)
    started_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_note = models.TextField(blank=True)
    escalation_level = models.PositiveSmallIntegerField(default=0)

    class Meta:
        db_table = "services_approval_task"
        ordering = ["pk"]


class SuspensionKind(models.TextChoices):
    CORRECTION = "correction", _("Correction (补正)")
    HEARING = "hearing", _("Hearing (听证)")
    INSPECTION = "inspection", _("Inspection or testing (检验检测)")
    EXPERT_REVIEW = "expert_review", _("Expert review (专家评审)")


class Suspension(models.Model):
    task = models.ForeignKey(ApprovalTask, on_delete=models.CASCADE, related_name="suspensions")
    kind = models.CharField(max_length=14, choices=SuspensionKind.choices)
    reason = models.TextField()
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    remaining_seconds = models.FloatField()  # working time left on the clock when it stopped

    class Meta:
        db_table = "services_suspension"
        ordering = ["started_at"]


class Escalation(models.Model):
    task = models.ForeignKey(ApprovalTask, on_delete=models.CASCADE, related_name="escalations")
    level = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    overdue_seconds = models.FloatField()

    class Meta:
        db_table = "services_escalation"
        ordering = ["at"]


class Result(models.Model):
    """One document of the result package; ``serial`` names its e-certificate once issued."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="results")
    task = models.OneToOneField(ApprovalTask, on_delete=models.PROTECT, related_name="result")
    title = models.CharField(max_length=200)
    serial = models.CharField(max_length=80, blank=True)
    url = models.CharField(max_length=300, blank=True)
    pdf_url = models.CharField(max_length=300, blank=True)
    issued_at = models.DateTimeField()

    class Meta:
        db_table = "services_result"
        ordering = ["pk"]


class Rating(models.Model):
    """好差评: the applicant's rating (1-5) after the result."""

    application = models.OneToOneField(Application, on_delete=models.CASCADE, related_name="rating")
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        db_table = "services_rating"


class Rectification(models.Model):
    """The task a bad rating opens for each department that handled the application."""

    rating = models.ForeignKey(Rating, on_delete=models.CASCADE, related_name="rectifications")
    department = models.ForeignKey("org.Department", on_delete=models.PROTECT, related_name="rectifications")
    due_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    response = models.TextField(blank=True)

    class Meta:
        db_table = "services_rectification"
        ordering = ["due_at"]
