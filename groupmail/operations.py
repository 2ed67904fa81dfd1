"""The group mail as a background operation in steps (provisioning.operations): committed
batch by batch, stoppable between batches, resumed without mailing anyone twice."""

from __future__ import annotations

from groupmail import services
from groupmail.models import GroupMail
from provisioning import operations
from provisioning.models import Operation
from provisioning.operations import OperationRun, Outcome


def run_send(run: OperationRun) -> Outcome:
    group_mail = GroupMail.objects.get(operation=run.operation)
    try:
        result = services.groupmail_send(
            group_mail=group_mail,
            actor=run.actor,
            run=run.operation.attempts,
            progress=run.progress,
            should_stop=run.should_stop,
            set_total=run.set_total,
        )
    except Exception:
        services.groupmail_audit_end(
            group_mail, actor=run.actor, outcome="failed", request=run.request
        )
        raise
    services.groupmail_audit_end(
        group_mail,
        actor=run.actor,
        outcome="stopped" if result.stopped else "finished",
        request=run.request,
    )
    return Outcome(
        result={"group_mail": group_mail.pk, **result.counts},
        stopped=result.stopped,
        done=result.done,
    )


def register() -> None:
    """Called from ``GroupMailConfig.ready``."""
    operations.register(
        Operation.Kind.GROUP_MAIL,
        run_send,
        result_template="groupmail/_operation_result.html",
        in_steps=True,
    )
