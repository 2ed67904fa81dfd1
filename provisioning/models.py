"""Jobs: the work on disk and on mail services that a data change needs (SPEC §4).

A job row is written in the same transaction as the change that needs it; it is the truth
about what has to happen, the broker only wakes a worker up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from accounts.models import Manager


class JobQuerySet(models.QuerySet):
    def visible_to(self, manager: Manager | None) -> JobQuerySet:
        """All jobs for a superadmin; those of their domains for a domain admin."""
        from accounts.models import DomainManager

        if manager is None or not manager.is_authenticated:
            return self.none()
        if manager.is_superadmin:
            return self.all()
        return self.filter(domain__in=DomainManager.objects.domain_names_of(manager))

    def open(self) -> JobQuerySet:
        """Jobs that still have to happen: they hold back later jobs of the same object."""
        return self.filter(state__in=Job.OPEN_STATES)


class Job(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    class Kind(models.TextChoices):
        MAILDIR_CREATE = "maildir.create", _("create Maildir")
        MAILDIR_CREATE_BATCH = "maildir.create_batch", _("create Maildirs (import)")
        MAILDIR_QUOTA = "maildir.quota", _("update Maildir quota")
        MAILDIR_MOVE = "maildir.move", _("move Maildir")
        MAILDIR_ARCHIVE = "maildir.archive", _("archive mailbox data")
        MAILDIR_PURGE = "maildir.purge", _("delete mailbox data")
        DOMAIN_MOVE = "domain.move", _("move domain directory")
        DOMAIN_ARCHIVE = "domain.archive", _("archive domain directory")
        POSTFIX_TABLES = "postfix.tables", _("write Postfix tables")
        SERVICE_ACTION = "service.action", _("mail service action")

    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.PENDING, db_index=True
    )
    queue = models.CharField(_("queue"), max_length=100)
    payload = models.JSONField(default=dict)
    domain = models.CharField(_("domain"), max_length=255, blank=True, default="", db_index=True)
    object_id = models.CharField(_("object"), max_length=255, blank=True, default="")
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True, default="")
    created_by = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    run_after = models.DateTimeField(null=True, blank=True)
    # While a worker runs the job it renews this lease; a job whose lease ran out belonged
    # to a worker that died (runner.reclaim_stale).
    lease_until = models.DateTimeField(null=True, blank=True)
    # The earlier job of the same object this one waits for (shown on the jobs page).
    waiting_for = models.PositiveBigIntegerField(_("waiting for"), null=True, blank=True)
    # What the job found and did that an admin should know (e.g. leftover mail moved aside).
    note = models.TextField(_("note"), blank=True, default="")

    objects = JobQuerySet.as_manager()

    OPEN_STATES = (State.PENDING, State.RUNNING, State.FAILED)

    class Meta:
        db_table = "mailadmin_job"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["object_id", "state"], name="mailadmin_job_object"),
            models.Index(fields=["state", "updated_at"], name="mailadmin_job_state"),
        ]
        verbose_name = _("job")
        verbose_name_plural = _("jobs")

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.object_id} ({self.state})"


class JobKey(models.Model):
    """What a job works on, for the order of jobs (runner.blocker): a job starts only when no
    earlier open job holds one of its keys in a conflicting mode. A mailbox job holds its
    address exclusively and its domain shared; a domain job holds its domain exclusively, so
    it waits for every earlier job of the domain and every later one waits for it."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="keys")
    key = models.CharField(max_length=300)
    exclusive = models.BooleanField(default=True)

    class Meta:
        db_table = "mailadmin_job_key"
        indexes = [models.Index(fields=["key", "job"], name="mailadmin_job_key_key")]

    def __str__(self) -> str:
        return f"{self.key} ({'exclusive' if self.exclusive else 'shared'})"
