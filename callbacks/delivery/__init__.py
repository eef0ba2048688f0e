"""The delivery engine, one package whose modules import only downward (an
import-linter layers contract holds the order):

policy (the types and the answer table) → outbox (publish, enqueue) →
signing, ssrf → transport → claims → recording → sweeper, dispatcher; the
app's tasks and services sit on top.
"""
