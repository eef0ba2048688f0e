"""The delivery engine, one package whose modules import only downward (an
import-linter layers contract holds the order):

policy (the types, the answer table, signing) → outbox (publish, enqueue) →
transport (the SSRF guard, sending) → claims → recording → sweeper, dispatcher;
the app's tasks and services sit on top.
"""
