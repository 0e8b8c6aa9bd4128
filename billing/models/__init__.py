from billing.models.time import TimeEntry

__all__ = ["TimeEntry"]
