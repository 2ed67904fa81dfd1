"""Job handlers of the Postfix/Dovecot side, registered with the provisioning runner.

Both are idempotent: the tables are rebuilt from the database as a whole, and reloads and
status checks can run any number of times.
"""

from __future__ import annotations

from mailstack import actions, tables
from provisioning.handlers import register as register_handler
from provisioning.models import Job


def postfix_tables(job: Job) -> str:
    missing = tables.postfix_missing()
    if missing:
        return missing
    written = tables.write_tables()
    reloaded = tables.postfix_reload()
    Job.objects.filter(pk=job.pk).update(payload={**job.payload, "written": written})
    return reloaded if reloaded == tables.POSTFIX_NOT_RUNNING else ""


def service_action(job: Job) -> None:
    output = actions.run_action(job.payload["action"])
    Job.objects.filter(pk=job.pk).update(payload={**job.payload, "output": output[-4000:]})


def register() -> None:
    register_handler(Job.Kind.POSTFIX_TABLES, postfix_tables)
    register_handler(Job.Kind.SERVICE_ACTION, service_action)
