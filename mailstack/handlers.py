"""Job handlers of the Postfix/Dovecot side, registered with the provisioning runner.

Both are idempotent: the tables are rebuilt from the database as a whole, and reloads and
status checks can run any number of times.
"""

from __future__ import annotations

from mailstack import actions, tables
from provisioning.handlers import HANDLERS
from provisioning.models import Job


def postfix_tables(job: Job) -> None:
    written = tables.write_tables()
    tables.postfix_reload()
    Job.objects.filter(pk=job.pk).update(payload={**job.payload, "written": written})


def service_action(job: Job) -> None:
    output = actions.run_action(job.payload["action"])
    Job.objects.filter(pk=job.pk).update(payload={**job.payload, "output": output[-4000:]})


def register() -> None:
    HANDLERS[Job.Kind.POSTFIX_TABLES] = postfix_tables
    HANDLERS[Job.Kind.SERVICE_ACTION] = service_action
