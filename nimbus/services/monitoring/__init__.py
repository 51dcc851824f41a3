"""Amazon CloudWatch metrics and metric alarms: data points stored in the metadata database in
time buckets (rolled up as they age, so storage stays bounded), statistics over any period, and
alarms evaluated in the background whose actions reach Application Auto Scaling's policies. Served
in JSON (current SDKs and the AWS CLI) and query (older SDKs), the same operations behind each."""

from __future__ import annotations

from nimbus.services.monitoring.wire_models import cloudwatch_json_model, cloudwatch_query_model
from nimbus.services.registry import Service

cloudwatch = Service("cloudwatch", validation_error="InvalidParameterValue", load_model=cloudwatch_json_model)
cloudwatch_query = Service(
    "cloudwatch-query", validation_error="InvalidParameterValue", load_model=cloudwatch_query_model
)
cloudwatch_query.operations = cloudwatch.operations  # one function per operation, whichever protocol called

# the operation modules register themselves on import
from nimbus.services.monitoring import alarms, metric_data, notifications  # noqa: E402, F401
from nimbus.services.monitoring.evaluation import start_evaluator  # noqa: E402

cloudwatch.on_startup(start_evaluator)
