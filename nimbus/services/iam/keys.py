"""``nimbus keys create``: an IAM user's access key made from the command line, the user created
(and the policies attached) if need be, in the same stores the IAM API uses."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nimbus.errors import AwsError
from nimbus.services.iam.access_keys import MAX_KEYS_PER_USER
from nimbus.services.iam.holders import attach
from nimbus.services.iam.records import arn
from nimbus.services.iam.users import ensure_user
from nimbus.storage import Storage
from nimbus.storage.credentials import Credential


def create_user_key(
    data_dir: Path, database_url: str, user_name: str, policy_arns: Sequence[str]
) -> Credential:
    storage = Storage.open(data_dir, database_url)
    try:
        user = ensure_user(storage, user_name)
        with storage.database.engine.begin() as connection:
            for policy_arn in policy_arns:
                try:
                    attach(connection, user["account_id"], "user", user["name_key"], policy_arn)
                except AwsError as error:
                    raise ValueError(error.message) from None
        user_arn = arn(user["account_id"], "user", user["path"], user["name"])
        return storage.credentials.create(user["name"], user["user_id"], user_arn, limit=MAX_KEYS_PER_USER)
    finally:
        storage.close()
