"""Request authentication: AWS Signature Version 4 (header and presigned), S3's SigV2, and S3
browser-form POST policies. ``read_scope`` says who claims to have signed; ``verify`` checks it."""

from nimbus.gateway.auth.post_policy import check_post_policy_conditions, verify_post_policy
from nimbus.gateway.auth.scope import SigningScope, read_scope
from nimbus.gateway.auth.verify import verify

__all__ = ["SigningScope", "check_post_policy_conditions", "read_scope", "verify", "verify_post_policy"]
