from celery import shared_task


@shared_task(acks_late=True)
def send_exception_digests_task() -> int:
    """Daily digest per queue (beat: CELERY_BEAT_SCHEDULE "exception-digest")."""
    from exceptions_queue.services.notifications import send_exception_digests

    return send_exception_digests()
