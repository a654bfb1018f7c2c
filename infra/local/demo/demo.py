#!/usr/bin/env python3
"""Steps of the local demo that talk HTTP or S3 (run with the project virtualenv).

    demo.py seed FILE                 add the orders in FILE to the Mirakl simulator
    demo.py threads FILE              add the message threads in FILE to the Mirakl simulator
    demo.py tickets FILE              add the helpdesk tickets in FILE to the Freshdesk simulator
    demo.py shopify FILE              place the orders in FILE on the Shopify simulator's store
                                      (no webhook is sent: only the reconciliation finds them)
    demo.py webhook FUNCTION ORDER_ID deliver the simulator's order by Mirakl webhook
    demo.py invoke FUNCTION FILE      invoke a function with an event file
    demo.py upload FILE KEY           put an order file into the orders bucket
    demo.py labels                    list the label PDFs in the labels bucket

Settings come from infra/local/env.sh and services-env.sh.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 900  # a first invocation may compile the function


def env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        sys.exit(f"error: {name} is not set: source infra/local/env.sh and services-env.sh")
    return value


def call(method: str, url: str, body: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def known_orders() -> set[str]:
    """Orders the database already has (DEMO_KNOWN_ORDERS, comma-separated)."""
    return {id for id in os.environ.get("DEMO_KNOWN_ORDERS", "").split(",") if id}


def seed(path: str) -> None:
    with open(path, "rb") as file:
        orders = json.load(file)["orders"]
    known = known_orders()
    fresh = [order for order in orders if order["order_id"] not in known]
    if len(fresh) < len(orders):
        print(f"    already recorded, not seeded again: {', '.join(sorted(known))}")
    if not fresh:
        return
    status, body = call(
        "POST",
        f"{env('MIRAKL_BASE_URL')}/_sim/orders",
        json.dumps({"orders": fresh}).encode(),
        {"Content-Type": "application/json"},
    )
    if status != 201:
        sys.exit(f"error: the simulator refused the orders ({status}): {body.decode()}")
    outcome = json.loads(body)
    print(f"    added {len(outcome['added'])}, already there {len(outcome['kept'])}")


def threads(path: str) -> None:
    """Customer threads: a thread already in the simulator is kept as it is (with any
    reply it got), so a second run asks nothing new."""
    with open(path, "rb") as file:
        seed = json.load(file)
    status, body = call(
        "POST",
        f"{env('MIRAKL_BASE_URL')}/_sim/threads",
        json.dumps(seed).encode(),
        {"Content-Type": "application/json"},
    )
    if status != 201:
        sys.exit(f"error: the simulator refused the threads ({status}): {body.decode()}")
    outcome = json.loads(body)
    orders = {thread["id"]: thread.get("order_id", "?") for thread in seed["threads"]}
    for thread_id in outcome["added"]:
        print(f"    new thread on {orders.get(thread_id, '?')}: {thread_id}")
    if outcome["kept"]:
        print(f"    already there (asked in an earlier run): {len(outcome['kept'])}")


def tickets(path: str) -> None:
    """Helpdesk tickets, each with its conversation: a ticket already in the simulator
    is kept as it is (with any reply it got)."""
    with open(path, "rb") as file:
        seed = json.load(file)
    status, body = call(
        "POST",
        f"{env('FRESHDESK_BASE_URL')}/_sim/tickets",
        json.dumps(seed).encode(),
        {"Content-Type": "application/json"},
    )
    if status != 201:
        sys.exit(f"error: the simulator refused the tickets ({status}): {body.decode()}")
    outcome = json.loads(body)
    subjects = {str(ticket["id"]): ticket.get("subject", "") for ticket in seed["tickets"]}
    for ticket_id in outcome["added"]:
        print(f"    new ticket {ticket_id}: {subjects.get(ticket_id, '')}")
    if outcome["kept"]:
        print(f"    already there (filed in an earlier run): {len(outcome['kept'])}")


def shopify(path: str) -> None:
    """Orders placed on the store whose webhooks never came. One the database already
    has (DEMO_KNOWN_SHOPIFY_ORDERS) is not placed again; any other is placed now, its
    `updatedAt` now, so that the next poll reads it whatever an earlier run left."""
    with open(path, "rb") as file:
        orders = json.load(file)["orders"]
    known = {id for id in os.environ.get("DEMO_KNOWN_SHOPIFY_ORDERS", "").split(",") if id}
    fresh = [order for order in orders if order["legacyResourceId"] not in known]
    for order in orders:
        if order["legacyResourceId"] in known:
            print(f"    {order['name']} (Shopify order {order['legacyResourceId']}) is already recorded")
    if not fresh:
        return
    status, body = call(
        "POST",
        f"{env('SHOPIFY_ADMIN_BASE_URL')}/_sim/shopify/orders?replace=true",
        json.dumps({"orders": fresh}).encode(),
        {"Content-Type": "application/json"},
    )
    if status != 201:
        sys.exit(f"error: the Shopify simulator refused the orders ({status}): {body.decode()}")
    for order in fresh:
        print(f"    placed on the store, no webhook sent: {order['name']} "
              f"(Shopify order {order['legacyResourceId']})")


def webhook(function: str, order_id: str) -> None:
    status, body = call(
        "GET",
        f"{env('MIRAKL_BASE_URL')}/api/orders?order_ids={order_id}",
        headers={"Authorization": env("MIRAKL_API_KEY"), "Accept": "application/json"},
    )
    orders = json.loads(body).get("orders", []) if status == 200 else []
    if not orders and order_id in known_orders():
        print(f"    {order_id} is already recorded and the simulator no longer has it: nothing to deliver")
        return
    if not orders:
        sys.exit(f"error: the simulator has no order {order_id} ({status})")
    url = f"{env('SELLEROPS_LAMBDA_ENDPOINT')}/lambda-url/{function}/webhooks/mirakl"
    status, body = call(
        "POST",
        url,
        json.dumps(orders).encode(),
        {
            "Content-Type": "application/json",
            "x-webhook-secret": env("MIRAKL_WEBHOOK_SECRET"),
        },
    )
    print(f"    POST {url} -> {status} {body.decode(errors='replace')[:200]}")
    if status >= 300:
        sys.exit(1)


def invoke(function: str, path: str) -> None:
    url = f"{env('SELLEROPS_LAMBDA_ENDPOINT')}/2015-03-31/functions/{function}/invocations"
    with open(path, "rb") as file:
        status, body = call("POST", url, file.read(), {"Content-Type": "application/json"})
    print(f"    {function} -> {status} {body.decode(errors='replace')[:300]}")
    if status >= 300:
        sys.exit(1)


def s3_client():
    import boto3
    import botocore.config

    return boto3.session.Session(region_name=env("AWS_REGION")).client(
        "s3",
        endpoint_url=env("AWS_ENDPOINT_URL"),
        config=botocore.config.Config(s3={"addressing_style": "path"}),
    )


def upload(path: str, key: str) -> None:
    bucket = env("ORDERS_BUCKET")
    with open(path, "rb") as file:
        s3_client().put_object(Bucket=bucket, Key=key, Body=file.read())
    print(f"    s3://{bucket}/{key}")


def labels() -> None:
    bucket = env("LABELS_BUCKET")
    pages = s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    found = False
    for page in pages:
        for item in page.get("Contents", []):
            found = True
            print(f"    s3://{bucket}/{item['Key']}  ({item['Size']} bytes)")
    if not found:
        print(f"    (none in s3://{bucket})")


def main(arguments: list[str]) -> None:
    commands = {"seed": (seed, 1), "threads": (threads, 1), "tickets": (tickets, 1), "shopify": (shopify, 1),
                "webhook": (webhook, 2), "invoke": (invoke, 2), "upload": (upload, 2), "labels": (labels, 0)}
    if not arguments or arguments[0] not in commands or len(arguments) - 1 != commands[arguments[0]][1]:
        sys.exit(__doc__)
    function, _ = commands[arguments[0]]
    function(*arguments[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
