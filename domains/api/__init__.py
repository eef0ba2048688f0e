"""The integrator REST API of domains: the signed-in user, domains, their Box inventory and
users' hooks (views, serializers, urls). Its plumbing is apikit; callbacks' routes live in
callbacks.api.
"""
