"""Jobs: the work on disk and on mail services that a data change needs (SPEC §4).

A job row is written in the same transaction as the change that needs it; it is the truth
about what has to happen, the broker only wakes a worker up.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

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
        MAILDIR_RESTORE = "maildir.restore", _("restore archived mail")
        MAILDIR_ARCHIVE_PURGE = "maildir.archive_purge", _("delete an archive")
        MAILDIR_ARCHIVE_SCAN = "maildir.archive_scan", _("measure and list archives")
        MAILDIR_USAGE = "maildir.usage", _("measure disk usage")
        POSTFIX_TABLES = "postfix.tables", _("write Postfix tables")
        SERVICE_ACTION = "service.action", _("mail service action")
        POSTFIX_QUEUE = "postfix.queue", _("Postfix queue action")

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
        # Only open jobs have key rows (runner._release deletes them): both stay small.
        indexes = [
            models.Index(fields=["key", "job"], name="mailadmin_job_key_key"),
            models.Index(fields=["key", "exclusive", "job"], name="mailadmin_job_key_excl"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({'exclusive' if self.exclusive else 'shared'})"


class OperationQuerySet(models.QuerySet):
    def visible_to(self, manager: Manager | None) -> OperationQuerySet:
        """All operations for a superadmin; for a domain admin those of their domains, and
        those without a single domain that they started themselves (a bulk action over
        several of their domains)."""
        from accounts.models import DomainManager

        if manager is None or not manager.is_authenticated:
            return self.none()
        if manager.is_superadmin:
            return self.all()
        return self.filter(
            models.Q(domain__in=DomainManager.objects.domain_names_of(manager))
            | models.Q(domain="", actor=manager.pk)
        )


class Operation(models.Model):
    """A bulk action or an import too large to finish within a web request (docs/jobs.md).

    The request records it and answers at once; a worker (or, without a broker, a thread of
    the web process) claims it, runs the same all-or-nothing service the request would have
    run, and records the outcome **in the service's own transaction**: an operation is either
    ``done`` with every change committed, or ``failed`` with none. Progress and a heartbeat
    are written while it runs (``provisioning.operations``).

    A kind registered *in steps* (a group mail) instead commits its work as it goes, batch by
    batch: it may be stopped between two batches (``stop_requested_at``, then ``stopped``),
    and a run whose worker died is resumed, skipping what was done.

    No plaintext secret is stored: the passwords of an import's lines are sealed
    (``mailadmin.lib.sealing``) in ``sealed_input`` until the operation ends, and the
    passwords a bulk reset generated in ``sealed_result`` until the manager who asked has seen
    them once.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")
        STOPPED = "stopped", _("stopped")

    class Kind(models.TextChoices):
        MAILBOX_BULK = "mailbox.bulk", _("bulk action on mailboxes")
        MAILBOX_IMPORT = "mailbox.import", _("mailbox import")
        SIGNUP_BULK = "signup.bulk", _("bulk decision on signup requests")
        GROUP_MAIL = "groupmail.send", _("group mail")

    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.QUEUED, db_index=True
    )
    actor = models.CharField(_("started by"), max_length=255)
    domain = models.CharField(_("domain"), max_length=255, blank=True, default="", db_index=True)
    # The starting request's language and client address: messages and audit records come out
    # as they would have in the request.
    language = models.CharField(max_length=16, blank=True, default="")
    client_ip = models.CharField(max_length=45, blank=True, default="")
    total = models.PositiveIntegerField(_("total"), default=0)
    done_count = models.PositiveIntegerField(_("done"), default=0)
    payload = models.JSONField(default=dict)
    sealed_input = models.TextField(blank=True, default="")
    result = models.JSONField(default=dict)
    sealed_result = models.TextField(blank=True, default="")
    errors = models.JSONField(default=list)
    # "<host>|<pid namespace>:<pid>" of the process that claimed it.
    runner = models.CharField(max_length=255, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # A kind run in steps stops after its current step once this is set (and who asked).
    stop_requested_at = models.DateTimeField(null=True, blank=True)
    stop_requested_by = models.CharField(max_length=255, blank=True, default="")
    # A kind run in steps: runs that ended with their process since the last start or resume
    # by hand (it is resumed up to provisioning.operations.STEP_RUNS times).
    lost_runs = models.PositiveIntegerField(default=0)

    objects = OperationQuerySet.as_manager()

    FINISHED_STATES = (State.DONE, State.FAILED, State.STOPPED)

    class Meta:
        db_table = "mailadmin_operation"
        ordering = ["-created_at", "-id"]
        verbose_name = _("operation")
        verbose_name_plural = _("operations")

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} ({self.state})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("provisioning:operation", args=[self.pk])

    @property
    def finished(self) -> bool:
        return self.state in self.FINISHED_STATES


class ArchiveQuerySet(models.QuerySet):
    def visible_to(self, manager: Manager | None) -> ArchiveQuerySet:
        """All archives for a superadmin; for a domain admin those of their domains, by the
        ``domain`` column and by the original address's own domain."""
        from accounts.models import DomainManager
        from mailadmin.lib.expressions import AddressDomain

        if manager is None or not manager.is_authenticated:
            return self.none()
        if manager.is_superadmin:
            return self.all()
        names = DomainManager.objects.domain_names_of(manager)
        return (
            self.filter(domain__in=names)
            .alias(address_domain=AddressDomain("address"))
            .filter(models.Q(address="") | models.Q(address_domain__in=names))
        )

    def listed(self) -> ArchiveQuerySet:
        """The archives still on disk (or being restored or deleted)."""
        return self.filter(state__in=Archive.LISTED_STATES)


class Archive(models.Model):
    """Mail moved aside on a storage host: the home of a deleted mailbox
    (``.archive/<homedir>.<YYYYmmddTHHMMSS>``) or mail found in the way of a new mailbox
    (``….leftover-<job>``). The web host may not see the storage hosts' disks: the jobs that
    archive record here what they moved, and each storage host's scan job
    (``maildir.archive_scan``) measures the archives and adds those made before this table
    existed (docs/jobs.md, "Archives"). Restore and purge act only on what a row names."""

    class Kind(models.TextChoices):
        ARCHIVE = "archive", _("deleted mailbox")
        LEFTOVER = "leftover", _("mail left on disk")

    class State(models.TextChoices):
        PRESENT = "present", _("archived")
        RESTORING = "restoring", _("being restored")
        PURGING = "purging", _("being deleted")
        RESTORED = "restored", _("restored")
        PURGED = "purged", _("deleted")
        MISSING = "missing", _("no longer on disk")

    # sha256 of "<mailhost>\0<path>": one row per directory of one host (a unique index on
    # both long columns would exceed MySQL's key length).
    key = models.CharField(max_length=64, unique=True, editable=False)
    mailhost = models.CharField(_("storage host"), max_length=255, blank=True, default="")
    path = models.CharField(_("path"), max_length=600)
    homedir = models.CharField(_("home directory"), max_length=255, blank=True, default="")
    # The Maildir relative to the home ("Maildir/"; "" when the home is the Maildir).
    maildir = models.CharField(max_length=255, blank=True, default="Maildir/")
    address = models.CharField(_("original address"), max_length=255, blank=True, default="")
    domain = models.CharField(_("domain"), max_length=255, blank=True, default="", db_index=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.ARCHIVE)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.PRESENT, db_index=True
    )
    size_bytes = models.BigIntegerField(_("size"), null=True, blank=True)
    uid = models.IntegerField(null=True, blank=True)
    gid = models.IntegerField(null=True, blank=True)
    archived_at = models.DateTimeField(_("archived"))
    measured_at = models.DateTimeField(null=True, blank=True)
    # The job that moved the mail aside (None: found by a scan).
    job = models.PositiveBigIntegerField(null=True, blank=True)
    restored_to = models.CharField(_("restored to"), max_length=255, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    objects = ArchiveQuerySet.as_manager()

    LISTED_STATES = (State.PRESENT, State.RESTORING, State.PURGING)

    class Meta:
        db_table = "mailadmin_archive"
        ordering = ["-archived_at", "-id"]
        indexes = [models.Index(fields=["state", "archived_at"], name="mailadmin_archive_state")]
        verbose_name = _("archive")
        verbose_name_plural = _("archives")

    def __str__(self) -> str:
        return f"{self.mailhost or 'default'}:{self.path}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.key = archive_key(self.mailhost, self.path)
        super().save(*args, **kwargs)


def archive_key(mailhost: str, path: str) -> str:
    """The unique key of the archive ``path`` on the storage host ``mailhost``."""
    return hashlib.sha256(f"{mailhost}\0{path}".encode()).hexdigest()
