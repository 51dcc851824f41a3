"""A job's record handling, read once from its request: how one input object becomes requests to
the model, and how the responses become its ``.out`` object. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nimbus.services.sagemaker.transform.assembly import assemble
from nimbus.services.sagemaker.transform.batching import Batch, line_batches, mini_batches, separator
from nimbus.services.sagemaker.transform.filters import JsonPath, parse_path
from nimbus.services.sagemaker.transform.formats import CsvRecords, RecordFormat, record_format
from nimbus.services.sagemaker.transform.joining import join_record, json_value, response_records
from nimbus.services.sagemaker.transform.splitting import split_records

DEFAULT_MAX_PAYLOAD_MB = 6
MAX_PAYLOAD_MB = 100
DEFAULT_MAX_CONCURRENT = 1
# what the built-in containers' /execution-parameters answer when the request names no strategy
DEFAULT_BATCH_STRATEGY = "MultiRecord"


class RecordError(ValueError):
    """A record the job's filters cannot read (not CSV or JSON as its content type says)."""


@dataclass(frozen=True)
class Response:
    body: bytes
    content_type: str


@dataclass(frozen=True)
class Plan:
    split_type: str
    strategy: str
    max_payload_mb: int
    assemble_with: str
    input_format: RecordFormat | None
    input_filter: JsonPath | None
    output_filter: JsonPath | None
    join: bool

    @classmethod
    def of(cls, request: dict[str, Any]) -> Plan:
        """The plan of a CreateTransformJob request; ValueError (the ValidationException's message)
        for a combination SageMaker refuses."""
        source = request["TransformInput"]
        processing = request.get("DataProcessing") or {}
        input_filter, output_filter = (
            _filter(processing.get(member)) for member in ("InputFilter", "OutputFilter")
        )
        join = processing.get("JoinSource", "None") == "Input"
        input_format = record_format(source.get("ContentType"))
        split_type = source.get("SplitType") or "None"
        if (input_filter or join) and input_format is None:
            raise ValueError(
                "InputFilter and JoinSource need a ContentType of text/csv, application/json or "
                f"application/jsonlines; the input's is {source.get('ContentType')!r}."
            )
        if (input_filter or output_filter or join) and split_type in ("RecordIO", "TFRecord"):
            raise ValueError(f"DataProcessing cannot be used with SplitType {split_type}.")
        return cls(
            split_type=split_type,
            strategy=request.get("BatchStrategy") or DEFAULT_BATCH_STRATEGY,
            max_payload_mb=request.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB),
            assemble_with=(request["TransformOutput"].get("AssembleWith") or "None"),
            input_format=input_format,
            input_filter=input_filter,
            output_filter=output_filter,
            join=join,
        )

    @property
    def per_record_output(self) -> bool:
        """Whether responses are cut into one output per record (to join or filter them)."""
        return self.join or self.output_filter is not None

    def batches(self, data: bytes) -> tuple[list[bytes], list[Batch]]:
        """The object's records and its requests, in order. PayloadTooLarge for a record over the
        limit, SplitError for framing that does not parse, RecordError for a record the filter
        cannot read. Lines sent as they are come back as requests only (no records): the object
        is cut at newlines in place, as splitting a million lines one by one would cost more than
        the model."""
        if self.split_type == "Line" and self.strategy == "MultiRecord" and not self._record_by_record:
            return [], line_batches(data, self.max_payload_mb)
        records = split_records(data, self.split_type)
        sent = [self._filtered(record) for record in records] if self.input_filter else records
        gap = separator(self.split_type)
        ranges = mini_batches([len(record) for record in sent], self.strategy, self.max_payload_mb, len(gap))
        return records, [Batch(gap.join(sent[index] for index in span), span) for span in ranges]

    @property
    def _record_by_record(self) -> bool:
        return self.input_filter is not None or self.per_record_output

    def output(self, records: list[bytes], batches: list[Batch], responses: list[Response]) -> bytes:
        """The ``.out`` object of one input object from its responses, in the records' order."""
        if not self.per_record_output:
            return assemble([response.body for response in responses], self.assemble_with)
        outputs = [
            self._output(records[index], piece, response.content_type)
            for batch, response in zip(batches, responses, strict=True)
            for index, piece in zip(
                batch.records, response_records(response.body, len(batch.records)), strict=True
            )
        ]
        return assemble(outputs, self.assemble_with)

    def _filtered(self, record: bytes) -> bytes:
        assert self.input_format is not None and self.input_filter is not None
        return self.input_format.dump(self.input_filter.select(_parse(self.input_format, record)))

    def _output(self, record: bytes, output: bytes, content_type: str) -> bytes:
        output_format = record_format(content_type)
        value: Any = _parse(output_format, output) if output_format else output.decode("utf-8", "replace")
        result_format = output_format or CsvRecords()
        if self.join:
            assert self.input_format is not None
            csv_input = isinstance(self.input_format, CsvRecords)
            if not csv_input and isinstance(output_format, CsvRecords):
                value = json_value(value)  # a CSV prediction joins a JSON record as a number, not a row
            value = join_record(_parse(self.input_format, record), value, csv_input)
            result_format = self.input_format
        if self.output_filter is not None:
            value = self.output_filter.select(value)
        return result_format.dump(value)


def _filter(path: str | None) -> JsonPath | None:
    """The parsed path; None for no filter or ``$`` (every record as it is)."""
    if not path:
        return None
    parsed = parse_path(path)
    return None if parsed.is_root else parsed


def _parse(record_format: RecordFormat, record: bytes) -> Any:
    try:
        return record_format.parse(record)
    except (ValueError, UnicodeDecodeError) as error:
        raise RecordError(f"The record cannot be read as its content type says: {error}") from None
