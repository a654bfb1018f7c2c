#!/usr/bin/env python3
"""Creates the local stack's S3 buckets and SQS queues in moto. Idempotent.

    provision.py                create what is missing, fix what differs
    provision.py --self-check   put an object into the orders bucket and check
                                that its S3 event reaches the ingest queue;
                                silent on success, exit status 1 on failure
    provision.py --secrets P    store each secret variable set in the
                                environment (LOCAL_SECRETS) in moto's Secrets
                                Manager under the name prefix P, and print one
                                <NAME>_SECRET_ARN=<ARN>[#key] line for each:
                                what the functions are given instead of <NAME>

Every name comes from the environment that infra/local/env.sh exports (bucket
names, queue URLs, AWS_ENDPOINT_URL), so env.sh stays the one place that
names them. Every queue setting (visibility timeout, receives before the
dead-letter queue, retention) comes from infra/template.yaml, so the local
queues behave as the deployed ones. Run with the project virtualenv's python
(it needs boto3 and PyYAML).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time
import urllib.parse
import uuid

import boto3
import botocore.config
import botocore.exceptions
import yaml

TEMPLATE = pathlib.Path(__file__).resolve().parents[1] / "template.yaml"
# Each queue's URL variable and its logical id in the template.
QUEUES = {
    "INGEST_QUEUE_URL": "IngestQueue",
    "ACCEPT_QUEUE_URL": "AcceptQueue",
    "LABEL_QUEUE_URL": "LabelQueue",
    "REPLY_QUEUE_URL": "ReplyQueue",
    "PRICING_QUEUE_URL": "PricingQueue",
}
ORDERS_NOTIFICATION_ID = "orders-object-created-to-ingest"
SELF_CHECK_PREFIX = "_local-stack-self-check/"
# Every secret a function may be given as <NAME>_SECRET_ARN (SECRET_VARIABLES in
# shared/src/ops/config/secrets.rs; tests/tests/template_secrets.rs checks the two
# agree), and how the local stack keeps it in moto: the secret's name under the prefix,
# and the JSON key when several variables share one secret, as the template's Canada
# Post credentials do.
LOCAL_SECRETS = {
    "DATABASE_URL": ("database-url", None),
    "DATABASE_PASSWORD": ("database-password", None),
    "EMAIL_HASH_PEPPER": ("email-hash-pepper", None),
    "MIRAKL_API_KEY": ("mirakl-api-key", None),
    "CANADAPOST_USERNAME": ("canadapost", "username"),
    "CANADAPOST_PASSWORD": ("canadapost", "password"),
    "MIRAKL_WEBHOOK_SECRET": ("mirakl-webhook-secret", None),
    "SHOPIFY_WEBHOOK_SECRET": ("shopify-webhook-secret", None),
    "FRESHDESK_WEBHOOK_SECRET": ("freshdesk-webhook-secret", None),
    "SHOPIFY_ADMIN_ACCESS_TOKEN": ("shopify-admin-access-token", None),
    "FRESHDESK_API_KEY": ("freshdesk-api-key", None),
    "AMAZON_LWA_CLIENT_SECRET": ("amazon-lwa", "client_secret"),
    "AMAZON_LWA_REFRESH_TOKEN": ("amazon-lwa", "refresh_token"),
}
SELF_CHECK_TIMEOUT_SECONDS = 15


class ProvisionError(Exception):
    """A resource could not be brought to the state the local stack needs."""


class TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !GetAtt, !Sub, ...) as the
    plain value they carry: only literal queue settings are used here."""


def _any_tag(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


TemplateLoader.add_multi_constructor("!", _any_tag)


def template_queues(path: pathlib.Path = TEMPLATE) -> dict[str, dict]:
    """Queue URL variable -> its settings in the template: visibility timeout,
    max receives and retention of the queue, retention of its dead-letter queue."""
    with path.open(encoding="utf-8") as file:
        resources = yaml.load(file, Loader=TemplateLoader)["Resources"]
    settings = {}
    for variable, logical_id in QUEUES.items():
        queue = resources[logical_id]["Properties"]
        redrive = queue["RedrivePolicy"]
        # !GetAtt IngestDeadLetterQueue.Arn reads as "IngestDeadLetterQueue.Arn".
        dlq_id = str(redrive["deadLetterTargetArn"]).split(".")[0]
        settings[variable] = {
            "VisibilityTimeout": int(queue["VisibilityTimeout"]),
            "MessageRetentionPeriod": int(queue["MessageRetentionPeriod"]),
            "maxReceiveCount": int(redrive["maxReceiveCount"]),
            "DeadLetterRetention": int(resources[dlq_id]["Properties"]["MessageRetentionPeriod"]),
        }
    return settings


def env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ProvisionError(f"{name} is not set: source infra/local/env.sh first")
    return value


def client(service: str):
    # Path-style addressing: bucket names are not resolvable host names locally.
    config = botocore.config.Config(
        s3={"addressing_style": "path"},
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
    )
    session = boto3.session.Session(region_name=env("AWS_REGION"))
    return session.client(service, endpoint_url=env("AWS_ENDPOINT_URL"), config=config)


def clients():
    return client("s3"), client("sqs")


def queue_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def queue_arn(sqs, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


def ensure_queue(sqs, name: str, attributes: dict[str, str], expected_url: str | None) -> str:
    """Creates the queue or updates its attributes; returns its URL."""
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        print(f"    queue {name}: created")
    else:
        current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        if any(not same_attribute(key, current.get(key), value) for key, value in attributes.items()):
            sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
            print(f"    queue {name}: attributes updated")
    if expected_url is not None and url != expected_url:
        raise ProvisionError(
            f"moto returned {url} for queue {name}, but the environment says "
            f"{expected_url}: fix the queue URLs in infra/local/env.sh"
        )
    return url


def same_attribute(key: str, current: str | None, wanted: str) -> bool:
    if current is None:
        return False
    if key == "RedrivePolicy":
        # The service may echo maxReceiveCount as a number or as a string.
        def normalise(policy: str) -> dict[str, str]:
            return {k: str(v) for k, v in json.loads(policy).items()}

        return normalise(current) == normalise(wanted)
    return str(current) == str(wanted)


def ensure_queues(sqs) -> dict[str, str]:
    """Creates every queue with its DLQ; returns queue URL variable -> URL."""
    urls = {}
    for variable, settings in template_queues().items():
        expected_url = env(variable)
        name = queue_name(expected_url)
        dlq_url = ensure_queue(
            sqs,
            f"{name}-dlq",
            {"MessageRetentionPeriod": str(settings["DeadLetterRetention"])},
            expected_url=None,
        )
        redrive = json.dumps(
            {
                "deadLetterTargetArn": queue_arn(sqs, dlq_url),
                "maxReceiveCount": str(settings["maxReceiveCount"]),
            }
        )
        urls[variable] = ensure_queue(
            sqs,
            name,
            {
                "VisibilityTimeout": str(settings["VisibilityTimeout"]),
                "MessageRetentionPeriod": str(settings["MessageRetentionPeriod"]),
                "RedrivePolicy": redrive,
            },
            expected_url=expected_url,
        )
    return urls


def ensure_bucket(s3, name: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=name)
        return
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    arguments = {"Bucket": name}
    if region != "us-east-1":
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**arguments)
    print(f"    bucket {name}: created")


def ensure_orders_notification(s3, sqs, bucket: str, ingest_url: str) -> None:
    """Sends the orders bucket's s3:ObjectCreated:* events to the ingest queue."""
    wanted = [
        {
            "Id": ORDERS_NOTIFICATION_ID,
            "QueueArn": queue_arn(sqs, ingest_url),
            "Events": ["s3:ObjectCreated:*"],
        }
    ]
    current = s3.get_bucket_notification_configuration(Bucket=bucket).get("QueueConfigurations", [])
    if current == wanted:
        return
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": wanted}
    )
    print(f"    bucket {bucket}: s3:ObjectCreated:* -> {queue_name(ingest_url)}")
    # Like S3 itself, moto answers a new configuration with an s3:TestEvent
    # message in the queue; drop it so the ingest queue starts out empty.
    drain_test_events(sqs, ingest_url, bucket)


def drain_test_events(sqs, queue_url: str, bucket: str) -> None:
    for _ in range(3):
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=5
        ).get("Messages", [])
        if not messages:
            return
        for message in messages:
            body = parse_json(message["Body"])
            if body.get("Event") == "s3:TestEvent" and body.get("Bucket") == bucket:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                release(sqs, queue_url, message)


def release(sqs, queue_url: str, message: dict) -> None:
    """Makes a message that is not ours visible again at once."""
    sqs.change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )


def parse_json(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def ensure_secret(secrets, name: str, value: str) -> str:
    """Creates the secret or stores a new value in it; returns its ARN."""
    try:
        return secrets.put_secret_value(SecretId=name, SecretString=value)["ARN"]
    except secrets.exceptions.ResourceNotFoundException:
        return secrets.create_secret(Name=name, SecretString=value)["ARN"]


def ensure_secrets(prefix: str) -> dict[str, str]:
    """Stores every secret variable set in the environment in Secrets Manager under
    prefix; returns <NAME>_SECRET_ARN -> the reference a function is given."""
    values: dict[str, str | dict[str, str]] = {}
    references: dict[str, tuple[str, str | None]] = {}
    for variable, (suffix, key) in LOCAL_SECRETS.items():
        value = os.environ.get(variable, "")
        if not value.strip():
            continue
        name = f"{prefix.rstrip('/')}/{suffix}"
        if key is None:
            values[name] = value
        else:
            fields = values.setdefault(name, {})
            assert isinstance(fields, dict)
            fields[key] = value
        references[variable] = (name, key)
    secrets = client("secretsmanager")
    arns = {
        name: ensure_secret(secrets, name, value if isinstance(value, str) else json.dumps(value))
        for name, value in values.items()
    }
    return {
        f"{variable}_SECRET_ARN": arns[name] + (f"#{key}" if key else "")
        for variable, (name, key) in references.items()
    }


def provision() -> None:
    s3, sqs = clients()
    region = env("AWS_REGION")
    urls = ensure_queues(sqs)
    for bucket in (env("ORDERS_BUCKET"), env("LABELS_BUCKET")):
        ensure_bucket(s3, bucket, region)
    ensure_orders_notification(s3, sqs, env("ORDERS_BUCKET"), urls["INGEST_QUEUE_URL"])


def self_check() -> None:
    """Puts an object into the orders bucket and waits for its S3 event record
    in the ingest queue; removes both again."""
    s3, sqs = clients()
    bucket = env("ORDERS_BUCKET")
    ingest_url = env("INGEST_QUEUE_URL")
    # A space and a slash, because S3 event keys arrive URL-encoded.
    key = f"{SELF_CHECK_PREFIX}{uuid.uuid4()} check.json"
    s3.put_object(Bucket=bucket, Key=key, Body=b"{}", ContentType="application/json")
    try:
        deadline = time.monotonic() + SELF_CHECK_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            messages = sqs.receive_message(
                QueueUrl=ingest_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=5
            ).get("Messages", [])
            for message in messages:
                record = self_check_record(message["Body"], bucket, key)
                if record is None:
                    release(sqs, ingest_url, message)
                    continue
                sqs.delete_message(QueueUrl=ingest_url, ReceiptHandle=message["ReceiptHandle"])
                check_record(record, bucket, key)
                return
        raise ProvisionError(
            f"no S3 event for s3://{bucket}/{key} reached {ingest_url} "
            f"within {SELF_CHECK_TIMEOUT_SECONDS}s (is another consumer polling the ingest queue?)"
        )
    finally:
        s3.delete_object(Bucket=bucket, Key=key)


def self_check_record(body: str, bucket: str, key: str) -> dict | None:
    """The S3 event record of the self-check object in a message, if any."""
    for record in parse_json(body).get("Records", []):
        s3 = record.get("s3", {})
        if s3.get("bucket", {}).get("name") != bucket:
            continue
        # S3 (and moto) URL-encode the key in events, a space as '+'.
        if urllib.parse.unquote_plus(s3.get("object", {}).get("key", "")) == key:
            return record
    return None


def check_record(record: dict, bucket: str, key: str) -> None:
    problems = []
    if record.get("eventSource") != "aws:s3":
        problems.append(f"eventSource is {record.get('eventSource')!r}")
    if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
        problems.append(f"eventName is {record.get('eventName')!r}")
    if record.get("s3", {}).get("configurationId") != ORDERS_NOTIFICATION_ID:
        problems.append(f"configurationId is {record.get('s3', {}).get('configurationId')!r}")
    if problems:
        raise ProvisionError(
            f"the S3 event for s3://{bucket}/{key} is not the expected record: " + "; ".join(problems)
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--self-check",
        action="store_true",
        help="check the S3 -> SQS notification round trip instead of provisioning",
    )
    parser.add_argument(
        "--secrets",
        metavar="PREFIX",
        help="store the secret variables set in the environment in Secrets Manager "
        "under PREFIX and print <NAME>_SECRET_ARN=<reference> lines, instead of provisioning",
    )
    arguments = parser.parse_args()
    try:
        if arguments.secrets:
            for variable, reference in ensure_secrets(arguments.secrets).items():
                print(f"{variable}={reference}")
        elif arguments.self_check:
            self_check()
        else:
            provision()
    except ProvisionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except botocore.exceptions.EndpointConnectionError as error:
        print(f"error: {error}: is moto running? (bash infra/local/up.sh)", file=sys.stderr)
        return 1
    except botocore.exceptions.ClientError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
