"""Every write to domains, users, admins and inventory goes through these services.

They are keyword-only, validate with the models' own validators, write their
audit entry in the same transaction, and (from P2 on) publish callbacks there.
"""

from domains.services.hooks import hook_create, hook_delete
from domains.services.inventory import (
    camera_create,
    camera_delete,
    camera_update,
    device_create,
    device_delete,
    device_update,
    zone_create,
    zone_delete,
    zone_update,
)
from domains.services.invitations import (
    InvitationError,
    invitation_accept,
    invitation_check,
    invitation_send,
)
from domains.services.tenancy import (
    CoAdminAdded,
    co_admin_invite,
    domain_admin_add,
    domain_admin_remove,
    domain_register,
    domain_registration_check,
    domain_update,
    user_create,
    user_update,
)
from domains.services.tokens import token_find, token_issue, token_revoke

__all__ = [
    "CoAdminAdded",
    "InvitationError",
    "camera_create",
    "camera_delete",
    "camera_update",
    "co_admin_invite",
    "device_create",
    "device_delete",
    "device_update",
    "domain_admin_add",
    "domain_admin_remove",
    "domain_register",
    "domain_registration_check",
    "domain_update",
    "hook_create",
    "hook_delete",
    "invitation_accept",
    "invitation_check",
    "invitation_send",
    "token_find",
    "token_issue",
    "token_revoke",
    "user_create",
    "user_update",
    "zone_create",
    "zone_delete",
    "zone_update",
]
