"""Thin Celery entry points of the customer master."""

from celery import shared_task


@shared_task(acks_late=True)
def sync_reference_data_task() -> dict:
    """Pull changed customers from every system flagged for reference sync (beat schedule)."""
    from mdm.services.sync import list_systems_to_sync, sync_reference_data

    runs = [sync_reference_data(system_id=system.pk) for system in list_systems_to_sync()]
    return {run.system.slug: run.status for run in runs}
