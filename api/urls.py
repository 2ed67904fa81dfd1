"""/api/v1/: the REST API (docs/api.md). Objects are named by their stored keys through the
panel's path converters, so a legacy key with a slash or no valid name has a URL too."""

from django.urls import path

from api.views import aliases, docs, domains, jobs, mailboxes, managers, signups

app_name = "api"
urlpatterns = [
    path("schema/", docs.SchemaView.as_view(), name="schema"),
    path("docs/", docs.docs, name="docs"),
    path("domains/", domains.DomainList.as_view(), name="domain-list"),
    path("domains/<domain:domain>/", domains.DomainDetail.as_view(), name="domain-detail"),
    path("domains/<domain:domain>/rename/", domains.DomainRename.as_view(), name="domain-rename"),
    path("mailboxes/", mailboxes.MailboxList.as_view(), name="mailbox-list"),
    path("mailboxes/bulk/", mailboxes.MailboxBulk.as_view(), name="mailbox-bulk"),
    path("mailboxes/import/", mailboxes.MailboxImport.as_view(), name="mailbox-import"),
    path("mailboxes/<address:address>/", mailboxes.MailboxDetail.as_view(), name="mailbox-detail"),
    path(
        "mailboxes/<address:address>/rename/",
        mailboxes.MailboxRename.as_view(),
        name="mailbox-rename",
    ),
    path("aliases/", aliases.AliasList.as_view(), name="alias-list"),
    path("aliases/<address:address>/", aliases.AliasDetail.as_view(), name="alias-detail"),
    path("managers/", managers.ManagerList.as_view(), name="manager-list"),
    path("managers/<address:username>/", managers.ManagerDetail.as_view(), name="manager-detail"),
    path("signups/", signups.SignupList.as_view(), name="signup-list"),
    path("signups/bulk/", signups.SignupBulk.as_view(), name="signup-bulk"),
    path("signups/<int:pk>/", signups.SignupDetail.as_view(), name="signup-detail"),
    path("signups/<int:pk>/approve/", signups.SignupApprove.as_view(), name="signup-approve"),
    path("signups/<int:pk>/reject/", signups.SignupReject.as_view(), name="signup-reject"),
    path("jobs/", jobs.JobList.as_view(), name="job-list"),
    path("jobs/<int:pk>/", jobs.JobDetail.as_view(), name="job-detail"),
    path("jobs/<int:pk>/retry/", jobs.JobRetry.as_view(), name="job-retry"),
    path("jobs/<int:pk>/cancel/", jobs.JobCancel.as_view(), name="job-cancel"),
    path("operations/<int:pk>/", jobs.OperationDetail.as_view(), name="operation-detail"),
    path("audit/", jobs.AuditList.as_view(), name="audit-list"),
    path("audit/<int:pk>/", jobs.AuditDetail.as_view(), name="audit-detail"),
]
