"""Periodic Celery entry points of signup (thin: the work is in signup.services)."""

from __future__ import annotations

from celery import shared_task

from signup import services


@shared_task(name="signup.expire_signups")
def expire_signups() -> int:
    return services.expire_requests()


@shared_task(name="signup.signup_digest")
def signup_digest() -> int:
    return services.send_signup_digest()
