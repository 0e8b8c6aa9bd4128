"""The demo firm ``make run`` loads once (docs/demo.md): Kestrel Partners, six months of
history sent through the same doors a real firm's CRM, PSA and ERP use.

``firm.py`` builds it as data (deterministic, dates relative to today); ``loader.py`` sends it
(reference file, signed webhooks, billing runs, approvals); ``traffic.py`` keeps it alive.
"""
