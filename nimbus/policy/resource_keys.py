"""The condition keys a resource brings to a request (``aws:ResourceTag/*``, S3's
``s3:ExistingObjectTag/*``), added to the request's own keys. They are read (from the service that
owns the resource) only when a policy's condition asks for one of them, so a request whose policies
never test a resource tag costs no lookup."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from nimbus.policy.patterns import Context

Value = str | tuple[str, ...]

# the key families a resource's tags fill: aws:ResourceTag/, sagemaker:ResourceTag/, s3:BucketTag/,
# s3:ExistingObjectTag/
_RESOURCE_FAMILIES = ("resourcetag", "buckettag", "existingobjecttag")


class WithResourceKeys(Mapping[str, Value]):
    def __init__(self, request: Context, load: Callable[[], Context]) -> None:
        self._request = request
        self._load = load
        self._loaded: Context | None = None

    def _resource(self) -> Context:
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded

    def __getitem__(self, key: str) -> Value:
        if key not in self._request and key.partition("/")[0].endswith(_RESOURCE_FAMILIES):
            return self._resource()[key]
        return self._request[key]

    def __iter__(self) -> Iterator[str]:
        yield from self._request
        yield from (key for key in self._resource() if key not in self._request)

    def __len__(self) -> int:
        return len(set(self._request) | set(self._resource()))
