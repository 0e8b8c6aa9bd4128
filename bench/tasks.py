"""The bare baseline of task processing: one INSERT per task, same Celery settings as the product
(acks late, prefetch 1, CELERY_DB_REUSE_MAX)."""

from celery import shared_task
from django.db import connection


@shared_task(acks_late=True)
def bare_insert_task(number: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_bare_tasks (number) VALUES (%s)", [number])
