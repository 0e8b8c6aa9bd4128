"""The exception types of the runtime, and why they are not declared here.

The runtime's failures that need a person (a message dead-lettered, an event dead or rejected
for its format or schema) become exception items of the types ``delivery_failed``,
``event_failed`` and ``event_rejected``. Those types are declared and registered by
``exceptions_queue`` (exceptions_queue/exception_types.py; the hooks that raise them are in
exceptions_queue/handlers.py), an app above this one: integrations never imports it. The
runtime only announces what happened through the hooks of integrations/registry.py
(``dead_letter_hooks``, ``rejection_hooks``, ``delivery_hooks``), which ``exceptions_queue``
fills in its AppConfig.ready().
"""
