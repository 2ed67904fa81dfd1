"""Job handlers of the Postfix/Dovecot side, registered with the provisioning runner.

All are idempotent: the tables are rebuilt from the database as a whole, reloads and status
checks can run any number of times, and a queue action finds its message (or says it is gone).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from mailstack import actions, services, status, tables
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


def queue_action(job: Job) -> None:
    """A Postfix queue action (mailstack.services.QUEUE_ACTIONS): ``postqueue -f`` or
    ``postsuper -h|-H|-r|-d <queue id>``; then this host's status is stored anew, so the pages
    show the queue as the action left it."""
    action = job.payload["action"]
    queue_id = job.payload.get("queue_id", "")
    option = services.QUEUE_ACTIONS[action]
    if option is None:
        args = [settings.MAILADMIN_POSTQUEUE, *tables._postfix_config_args(), "-f"]
    else:
        if not status.valid_queue_id(queue_id):
            raise ValueError(f"not a queue id: {queue_id!r}")
        args = [settings.MAILADMIN_POSTSUPER, *tables._postfix_config_args(), option, queue_id]
    if not Path(args[0]).exists():
        output = actions.NOT_INSTALLED.format(program=args[0])
    elif option is not None and (gone := _not_the_recorded_message(job.payload)):
        output = gone
    else:
        output = tables.run_command(args, what=f"postfix queue {action}") or "done"
    Job.objects.filter(pk=job.pk).update(payload={**job.payload, "output": output[-4000:]})
    services.store_host_status(status.local_status())


def _not_the_recorded_message(payload: dict) -> str:
    """Why a message action must not run: the message left the queue, or its id now names
    another message (Postfix reuses short ids) than the one the action was recorded for.
    Empty when it is the same message."""
    queue = status.postfix_queue()
    if "messages" not in queue:
        raise tables.CommandFailedError(f"postqueue -j: {queue.get('error', 'no answer')}")
    found = [m for m in queue["messages"] if m["queue_id"] == payload["queue_id"]]
    if not found and queue["total"] > len(queue["messages"]):
        return ""  # beyond the sample: postsuper finds it or says so
    if not found:
        return f"message {payload['queue_id']} is not in the queue any more: nothing was done"
    recorded = payload.get("arrival")
    if recorded and int(recorded) != found[0]["arrival"]:
        raise tables.CommandFailedError(
            f"queue id {payload['queue_id']} now names another message than the one this"
            " action was recorded for: nothing was done"
        )
    return ""


def register() -> None:
    register_handler(Job.Kind.POSTFIX_TABLES, postfix_tables)
    register_handler(Job.Kind.SERVICE_ACTION, service_action)
    register_handler(Job.Kind.POSTFIX_QUEUE, queue_action)
