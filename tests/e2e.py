#!/usr/bin/env python3
"""The end-to-end checks of tests/e2e.sh (run it, not this file, unless its services run).

Invokes each function under functions/ once through the local Lambda endpoint with
the event fixtures of tests/fixtures/events/ (message bodies pointed at the rows the
earlier steps created), then checks the database, the simulators and S3:

    marketplace-webhook   the Mirakl webhook fixture is recorded, its accept message
                          published; the same delivery again answers `duplicate`
    sync-marketplace      the scheduled event polls OR11: the simulator's orders exist;
                          and reconciles the Shopify store: an order placed there whose
                          webhook never came (infra/local/demo/shopify-orders.json) is
                          recorded by the poll
    accept-orders         one batch: the webhook's order accepted (OR21 on the
                          simulator, label message published), an out-of-stock order
                          refused, an unknown SKU left in ops.process_failures
    fetch-shipping-label  a Canada Post label bought, its PDF in the labels bucket,
                          OR23/OR24 sent: the shipment is `shipped` with a tracking PIN
    ingest-orders-file    (when present) the sample order file is imported
    conversation-auto-reply
                          two customers write (M11 threads polled by sync-marketplace,
                          reply messages published), the event router hands the reply
                          queue to the function as Lambda's event source mapping does:
                          "where is my order?" on the shipped order gets exactly one
                          reply in the simulator, with its tracking PIN; a complaint gets
                          a task on the board and no reply; the same messages delivered
                          again change nothing
    evaluate-pricing-rules
                          the demo's costs, rules and a rival's offer loaded
                          (infra/local/demo/pricing.sql), the scheduled event evaluates
                          every listing: the dock beats the rival's buy box by 1 %, the
                          keyboard without a cost is flagged, each with its explanation;
                          a "re-evaluate these listings" message with nothing changed
                          writes no new decision

Prints a closing line `N passed, M failed`; exits 1 when anything failed.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EVENTS = REPO / "tests" / "fixtures" / "events"
CATALOG_SQL = REPO / "infra" / "local" / "demo" / "catalog.sql"
PRICING_SQL = REPO / "infra" / "local" / "demo" / "pricing.sql"
DEMO_ORDERS = REPO / "infra" / "local" / "demo" / "mirakl-orders.json"
SHOPIFY_ORDERS = REPO / "infra" / "local" / "demo" / "shopify-orders.json"
ORDER_FILE = REPO / "tests" / "fixtures" / "order-files" / "sample-orders.csv"
# A function's first invocation may still link it; later ones take well under a second.
INVOKE_TIMEOUT_SECONDS = 600
WEBHOOK_ORDER = "BB-20001-A"  # the order in apigw-v2-mirakl-webhook.json
REFUSED_ORDER = "BB-DEMO-1004-A"  # SKU-005: in the catalogue, none in stock
UNKNOWN_SKU_ORDER = "BB-DEMO-1003-A"  # SKU-404: not in the catalogue
HELPDESK_TICKET = 7102
COMPLAINT_ORDER = "245923118-A"  # a demo order, recorded by the poll
ROUTINE_THREAD = "0b6f3a9e-2d41-4c7e-9a85-e2e000000001"
COMPLAINT_THREAD = "0b6f3a9e-2d41-4c7e-9a85-e2e000000002"

PSQL = os.environ.get("SELLEROPS_PSQL", "psql")
STARTED = time.monotonic() - int(os.environ.get("SELLEROPS_E2E_STARTED_SECONDS_AGO", "0"))

passed = 0
failed = 0


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(f"error: {name} is not set (run tests/e2e.sh)")
    return value


def check(description: str, ok: bool, detail: object = "") -> bool:
    global passed, failed
    if ok:
        passed += 1
        print(f"  ok    {description}")
    else:
        failed += 1
        print(f"  FAIL  {description}" + (f": {detail}" if detail != "" else ""))
    return ok


def has_function(name: str) -> bool:
    return (REPO / "functions" / name / "Cargo.toml").is_file()


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=INVOKE_TIMEOUT_SECONDS) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def invoke(function: str, event: dict) -> tuple[int, object]:
    """Invokes a function as Lambda would; returns the HTTP status and its JSON answer."""
    url = f"{env('SELLEROPS_LAMBDA_ENDPOINT')}/2015-03-31/functions/{function}/invocations"
    status, body = http("POST", url, json.dumps(event).encode(), {"Content-Type": "application/json"})
    try:
        return status, json.loads(body) if body else None
    except json.JSONDecodeError:
        return status, body.decode(errors="replace")


def sql(query: str) -> str:
    """One value (or rows joined by newlines) from the e2e database."""
    result = subprocess.run(
        [PSQL, env("DATABASE_URL"), "--no-psqlrc", "--quiet", "--tuples-only", "--no-align",
         "-v", "ON_ERROR_STOP=1", "-c", query],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"psql failed: {result.stderr.strip()}")
    return result.stdout.strip()


def simulator_order(order_id: str) -> dict:
    status, body = http(
        "GET",
        f"{env('MIRAKL_BASE_URL')}/api/orders?order_ids={order_id}",
        headers={"Authorization": env("MIRAKL_API_KEY"), "Accept": "application/json"},
    )
    orders = json.loads(body).get("orders", []) if status == 200 else []
    return orders[0] if orders else {}


def aws(service: str):
    import boto3
    import botocore.config

    return boto3.session.Session(region_name=env("AWS_REGION")).client(
        service,
        endpoint_url=env("AWS_ENDPOINT_URL"),
        config=botocore.config.Config(s3={"addressing_style": "path"}),
    )


def sqs_event(fixture: str, bodies: list[dict]) -> dict:
    """The fixture's SQS event with one record per body (fresh message ids)."""
    event = json.loads((EVENTS / fixture).read_text())
    template = event["Records"][0]
    event["Records"] = []
    for body in bodies:
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = json.dumps(body)
        event["Records"].append(record)
    return event


def order_message(external_id: str) -> dict:
    order_id = sql(f"select id from sales.orders where channel = 'bestbuy_ca' and external_id = '{external_id}'")
    return {"order_id": order_id, "channel": "bestbuy_ca", "external_id": external_id}


def batch_failures(answer: object) -> object:
    if isinstance(answer, dict):
        return answer.get("batchItemFailures", answer.get("errorMessage", answer))
    return answer


def set_up() -> None:
    """Queues, buckets, catalogue and simulator orders of this run."""
    sqs = aws("sqs")
    for variable in ("INGEST_QUEUE_URL", "ACCEPT_QUEUE_URL", "LABEL_QUEUE_URL",
                     "REPLY_QUEUE_URL", "PRICING_QUEUE_URL"):
        name = env(variable).rsplit("/", 1)[1]
        # Made anew each run, so nothing of an earlier run is left in it (moto lets a
        # queue be recreated at once; PurgeQueue may run once a minute).
        try:
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
        except sqs.exceptions.QueueDoesNotExist:
            pass
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        if url != env(variable):
            sys.exit(f"error: moto named the queue {url}, not {env(variable)}")
    s3 = aws("s3")
    for bucket in (env("ORDERS_BUCKET"), env("LABELS_BUCKET")):
        try:
            s3.create_bucket(Bucket=bucket,
                             CreateBucketConfiguration={"LocationConstraint": env("AWS_REGION")})
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
    subprocess.run([PSQL, env("DATABASE_URL"), "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1",
                    "-f", str(CATALOG_SQL)], check=True, stdout=subprocess.DEVNULL)

    webhook = json.loads((EVENTS / "apigw-v2-mirakl-webhook.json").read_text())
    orders = json.loads(webhook["body"]) + json.loads(DEMO_ORDERS.read_text())["orders"]
    status, body = http("POST", f"{env('MIRAKL_BASE_URL')}/_sim/orders?replace=true",
                        json.dumps({"orders": orders}).encode(), {"Content-Type": "application/json"})
    if status != 201:
        sys.exit(f"error: the Mirakl simulator refused the seed orders ({status}): {body.decode()}")
    status, body = http("POST", f"{env('SHOPIFY_ADMIN_BASE_URL')}/_sim/shopify/orders?replace=true",
                        SHOPIFY_ORDERS.read_bytes(), {"Content-Type": "application/json"})
    if status != 201:
        sys.exit(f"error: the Shopify simulator refused the seed orders ({status}): {body.decode()}")


def queue_depth(variable: str) -> int:
    attributes = aws("sqs").get_queue_attributes(
        QueueUrl=env(variable), AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_marketplace_webhook() -> None:
    print("marketplace-webhook (apigw-v2-mirakl-webhook.json)")
    event = json.loads((EVENTS / "apigw-v2-mirakl-webhook.json").read_text())
    status, answer = invoke("marketplace-webhook", event)
    recorded = isinstance(answer, dict) and answer.get("statusCode") == 200
    check("answers 200", status == 200 and recorded, answer)
    check("the order is recorded, waiting for acceptance",
          sql(f"select status from sales.orders where channel = 'bestbuy_ca' "
              f"and external_id = '{WEBHOOK_ORDER}'") == "WAITING_ACCEPTANCE")
    check("its accept message is published after commit",
          sql(f"select published_at is not null from ops.outbox "
              f"where dedup_id = 'accept:bestbuy_ca:{WEBHOOK_ORDER}'") == "t")
    check("the accept queue holds it", queue_depth("ACCEPT_QUEUE_URL") >= 1)
    status, answer = invoke("marketplace-webhook", event)
    body = answer.get("body", "") if isinstance(answer, dict) else ""
    check("the same delivery again answers duplicate", status == 200 and "duplicate" in str(body), answer)
    check("and records nothing twice",
          sql(f"select count(*) from sales.orders where external_id = '{WEBHOOK_ORDER}'") == "1")


def test_shopify_and_freshdesk_webhooks() -> None:
    print("marketplace-webhook (apigw-v2-shopify-webhook.json, apigw-v2-freshdesk-webhook.json)")
    status, answer = invoke("marketplace-webhook",
                            json.loads((EVENTS / "apigw-v2-shopify-webhook.json").read_text()))
    check("the signed Shopify order answers 200",
          status == 200 and isinstance(answer, dict) and answer.get("statusCode") == 200, answer)
    check("the Shopify order is recorded",
          sql("select count(*) from sales.orders where channel = 'shopify' "
              "and external_id = '5820417390766'") == "1")
    status, answer = invoke("marketplace-webhook",
                            json.loads((EVENTS / "apigw-v2-freshdesk-webhook.json").read_text()))
    check("the Freshdesk ticket answers 200",
          status == 200 and isinstance(answer, dict) and answer.get("statusCode") == 200, answer)
    check("the ticket is stored without the requester's address",
          sql("select count(*) from etl.freshdesk_tickets where freshdesk_ticket_id = '311' "
              "and requester_email_hash is not null and data::text not like '%@%'") == "1")


def test_sync_marketplace() -> None:
    print("sync-marketplace (eventbridge-scheduled.json)")
    status, answer = invoke("sync-marketplace", json.loads((EVENTS / "eventbridge-scheduled.json").read_text()))
    check("answers without error", status == 200 and not (isinstance(answer, dict) and "errorType" in answer), answer)
    demo_orders = [o["order_id"] for o in json.loads(DEMO_ORDERS.read_text())["orders"]]
    found = sql("select count(*) from sales.orders where channel = 'bestbuy_ca' and external_id in ("
                + ",".join(f"'{o}'" for o in demo_orders) + ")")
    check(f"the simulator's {len(demo_orders)} orders are recorded", found == str(len(demo_orders)), found)
    check("the orders watermark moved (etl.sync_metadata success)",
          sql("select sync_status from etl.sync_metadata where source = 'mirakl' and entity = 'orders'")
          == "success")
    shopify_order = json.loads(SHOPIFY_ORDERS.read_text())["orders"][0]["legacyResourceId"]
    recorded = sql("select o.status || ' ' || o.total_amount || ' ' || string_agg(distinct h.source, ',') "
                   "from sales.orders o join sales.order_status_history h on h.order_id = o.id "
                   f"where o.channel = 'shopify' and o.external_id = '{shopify_order}' "
                   "group by o.status, o.total_amount")
    check("the Shopify order whose webhook never came is recorded by the reconciliation",
          recorded == "paid 750.32 shopify_poll", recorded)
    check("the Shopify watermark moved (etl.sync_metadata success)",
          sql("select sync_status from etl.sync_metadata where source = 'shopify' and entity = 'orders'")
          == "success")


def test_accept_orders() -> None:
    print("accept-orders (sqs-accept-order.json, three records)")
    event = sqs_event("sqs-accept-order.json",
                      [order_message(o) for o in (WEBHOOK_ORDER, REFUSED_ORDER, UNKNOWN_SKU_ORDER)])
    status, answer = invoke("accept-orders", event)
    check("answers with no batch item failures", status == 200 and batch_failures(answer) == [], answer)
    check(f"{WEBHOOK_ORDER} is accepted and OR21 sent",
          sql(f"select a.state from sales.order_acceptances a join sales.orders o on o.id = a.order_id "
              f"where o.external_id = '{WEBHOOK_ORDER}'") == "sent")
    check(f"the simulator shows {WEBHOOK_ORDER} SHIPPING",
          simulator_order(WEBHOOK_ORDER).get("order_state") == "SHIPPING",
          simulator_order(WEBHOOK_ORDER).get("order_state"))
    check("its label message is published",
          sql(f"select count(*) from ops.outbox where dedup_id like 'label:bestbuy_ca:{WEBHOOK_ORDER}:%' "
              f"and published_at is not null") == "1")
    check(f"{REFUSED_ORDER} (no stock) is refused",
          simulator_order(REFUSED_ORDER).get("order_state") == "REFUSED"
          and sql(f"select status from sales.orders where external_id = '{REFUSED_ORDER}'") == "REFUSED",
          simulator_order(REFUSED_ORDER).get("order_state"))
    check(f"{UNKNOWN_SKU_ORDER} (unknown SKU) waits for a person in ops.process_failures",
          sql(f"select count(*) from ops.process_failures where process_name = 'OrderAcceptance' "
              f"and resolved_at is null and (entity_ref like '%{UNKNOWN_SKU_ORDER}%' "
              f"or reason like '%SKU-404%')") != "0")


def test_fetch_shipping_label() -> None:
    print("fetch-shipping-label (sqs-label-order.json)")
    status, answer = invoke("fetch-shipping-label",
                            sqs_event("sqs-label-order.json", [order_message(WEBHOOK_ORDER)]))
    check("answers with no batch item failures", status == 200 and batch_failures(answer) == [], answer)
    row = sql("select s.state || '|' || coalesce(s.tracking_pin, '') || '|' || coalesce(s.label_s3_key, '') "
              "from sales.shipments s join sales.orders o on o.id = s.order_id "
              f"where o.external_id = '{WEBHOOK_ORDER}'")
    state, pin, key = (row.split("|") + ["", "", ""])[:3]
    check("the shipment is shipped with a tracking PIN", state == "shipped" and pin != "", row)
    try:
        pdf = aws("s3").get_object(Bucket=env("LABELS_BUCKET"), Key=key)["Body"].read() if key else b""
    except Exception as error:  # noqa: BLE001 - reported as a failed check
        pdf = str(error).encode()
    check("the label PDF is in the labels bucket", pdf.startswith(b"%PDF"), key or "no label_s3_key")
    order = simulator_order(WEBHOOK_ORDER)
    check("the simulator has the tracking number (OR23) and SHIPPED (OR24)",
          order.get("order_state") == "SHIPPED" and order.get("shipping_tracking") == pin,
          {k: order.get(k) for k in ("order_state", "shipping_tracking")})


def test_ingest_orders_file() -> None:
    print("ingest-orders-file (sqs-s3-notification.json)")
    if not ORDER_FILE.is_file():
        check(f"{ORDER_FILE.relative_to(REPO)} exists", False)
        return
    key = f"incoming/e2e/{ORDER_FILE.name}"
    aws("s3").put_object(Bucket=env("ORDERS_BUCKET"), Key=key, Body=ORDER_FILE.read_bytes())
    notification = json.loads(json.loads((EVENTS / "sqs-s3-notification.json").read_text())["Records"][0]["body"])
    s3_record = notification["Records"][0]["s3"]
    s3_record["bucket"]["name"] = env("ORDERS_BUCKET")
    s3_record["bucket"]["arn"] = f"arn:aws:s3:::{env('ORDERS_BUCKET')}"
    s3_record["object"]["key"] = key
    s3_record["object"]["size"] = ORDER_FILE.stat().st_size
    s3_record["object"].pop("eTag", None)
    status, answer = invoke("ingest-orders-file", sqs_event("sqs-s3-notification.json", [notification]))
    check("answers with no batch item failures", status == 200 and batch_failures(answer) == [], answer)
    row = sql(f"select status || '|' || coalesce(processed_rows, 0) from ingest.ingestion_files "
              f"where object_key = '{key}'")
    check("the file is imported", row.startswith("completed|") and not row.endswith("|0"), row or "no row")


def simulator_thread(thread_id: str) -> dict:
    """The thread as Mirakl's M10 shows it."""
    status, body = http(
        "GET",
        f"{env('MIRAKL_BASE_URL')}/api/inbox/threads/{thread_id}",
        headers={"Authorization": env("MIRAKL_API_KEY"), "Accept": "application/json"},
    )
    return json.loads(body) if status == 200 else {}


def shop_replies(thread_id: str) -> list[str]:
    """The bodies of the shop's messages in a simulator thread."""
    messages = simulator_thread(thread_id).get("messages", [])
    return [m["body"] for m in messages if m.get("from", {}).get("type") == "SHOP_USER"]


def ticket_replies(ticket_id: str) -> list[str]:
    """The shop's public replies in a Freshdesk simulator ticket."""
    credentials = base64.b64encode(f"{env('FRESHDESK_API_KEY')}:X".encode()).decode()
    status, body = http("GET", f"{env('FRESHDESK_BASE_URL')}/api/v2/tickets/{ticket_id}/conversations",
                        None, {"Authorization": f"Basic {credentials}"})
    if status != 200:
        return [f"HTTP {status}: {body!r}"]
    return [entry.get("body_text", "") for entry in json.loads(body)
            if not entry.get("incoming") and not entry.get("private")]


def customer_message(thread_id: str) -> str:
    return sql(f"select m.id from support.messages m join support.conversations c "
               f"on c.id = m.conversation_id where c.channel = 'bestbuy_ca' "
               f"and c.external_id = '{thread_id}' and m.sender_type = 'customer'")


def test_conversation_auto_reply() -> None:
    print("conversation-auto-reply (M11 threads polled, the reply queue routed by the event router)")
    if not has_function("sync-marketplace"):
        check("sync-marketplace is in the workspace (it records the threads)", False)
        return
    routine_body = "Hi, has my order shipped yet? Where is it now?\n\nThanks,\nJane"
    complaint_body = (f"I was charged twice for order {COMPLAINT_ORDER} and nobody answers my emails. "
                      "If this is not fixed today I am filing a chargeback with my bank.")
    threads = {"threads": [
        {"id": ROUTINE_THREAD, "order_id": WEBHOOK_ORDER, "topic": "Where is my order?",
         "customer": {"id": "BB-CUST-20001", "display_name": "Jane D."},
         "messages": [{"body": routine_body}]},
        {"id": COMPLAINT_THREAD, "order_id": COMPLAINT_ORDER, "topic": "Charged twice",
         "customer": {"id": "BB-CUST-245923118", "display_name": "Daniel K."},
         "messages": [{"body": complaint_body}]},
    ]}
    status, body = http("POST", f"{env('MIRAKL_BASE_URL')}/_sim/threads?replace=true",
                        json.dumps(threads).encode(), {"Content-Type": "application/json"})
    if not check("the simulator takes the two threads", status == 201, body):
        return
    # And a helpdesk ticket from the customer of a demo order (the address its OR11
    # carries), asking for its tracking number; no webhook: the poll brings it.
    ticket = {"tickets": [{
        "id": HELPDESK_TICKET, "subject": f"Tracking number for order {COMPLAINT_ORDER}",
        "type": "Question", "status": 2, "priority": 2, "source": 1,
        "description_text": f"Hi, could you send me the tracking number for my order {COMPLAINT_ORDER}?",
        "requester": {"id": 880002, "email": "daniel.demo@example.ca", "name": "Daniel K."},
        "conversations": []}]}
    status, body = http("POST", f"{env('FRESHDESK_BASE_URL')}/_sim/tickets?replace=true",
                        json.dumps(ticket).encode(), {"Content-Type": "application/json"})
    if not check("the Freshdesk simulator takes the ticket", status == 201, body):
        return
    status, answer = invoke("sync-marketplace", json.loads((EVENTS / "eventbridge-scheduled.json").read_text()))
    check("sync-marketplace polls them", status == 200 and not (isinstance(answer, dict) and "errorType" in answer),
          answer)
    routine_message, complaint_message = customer_message(ROUTINE_THREAD), customer_message(COMPLAINT_THREAD)
    check("both customer messages are recorded", routine_message != "" and complaint_message != "",
          (routine_message, complaint_message))
    bodies = sql("select coalesce(json_agg(message_body), '[]') from ops.outbox "
                 "where queue_name = 'reply' and published_at is not null and message_body->>'thread_id' in "
                 f"('{ROUTINE_THREAD}', '{COMPLAINT_THREAD}')")
    replies_queued = json.loads(bodies or "[]")
    check("their two reply messages are published to the reply queue", len(replies_queued) == 2, replies_queued)

    router = subprocess.run(
        ["bash", str(REPO / "infra" / "local" / "router.sh"), "once", "--timeout", "300",
         "--map", f"{env('REPLY_QUEUE_URL')}=conversation-auto-reply"],
        capture_output=True, text=True, check=False,
    )
    check("the event router drains the reply queue into the function", router.returncode == 0,
          (router.stdout + router.stderr)[-2000:])
    check("the reply queue is empty", queue_depth("REPLY_QUEUE_URL") == 0)

    pin = sql("select s.tracking_pin from sales.shipments s join sales.orders o on o.id = s.order_id "
              f"where o.external_id = '{WEBHOOK_ORDER}' and s.tracking_pin is not null")
    replies = shop_replies(ROUTINE_THREAD)
    check("the routine thread gets exactly one reply in the simulator", len(replies) == 1, replies)
    check("the reply carries the order's Canada Post tracking PIN",
          len(replies) == 1 and pin != "" and pin in replies[0], {"pin": pin, "replies": replies})
    check("the reply is recorded as sent (auto_reply, Mirakl's message id kept)",
          sql("select count(*) from support.messages where message_type = 'auto_reply' "
              f"and in_reply_to_message_id = '{routine_message}' and send_state = 'sent' "
              "and external_id is not null") == "1")
    decision = sql("select replied || '|' || language || '|' || intent from support.reply_decisions "
                   f"where message_id = '{routine_message}'")
    check("its decision is recorded: replied, in English", decision.startswith("true|en|"), decision)

    check("the complaint gets no reply", shop_replies(COMPLAINT_THREAD) == [], shop_replies(COMPLAINT_THREAD))
    task = sql("select t.title || '|' || coalesce(d.guard, '') from support.reply_decisions d "
               f"join workflow.tasks t on t.id = d.task_id where d.message_id = '{complaint_message}' "
               "and not d.replied and t.message_id = d.message_id")
    check("the complaint is handed to a person: a task on the board, linked to the message",
          task != "", task or "no task")
    print(f"        task: {task}")
    check("the complaint's conversation stays unread",
          sql(f"select status from support.conversations where external_id = '{COMPLAINT_THREAD}'") == "unread")

    status, answer = invoke("conversation-auto-reply", sqs_event("sqs-reply-message.json", replies_queued))
    check("the same two messages delivered again answer with no batch item failures",
          status == 200 and batch_failures(answer) == [], answer)
    check("and change nothing: still one reply, one task",
          len(shop_replies(ROUTINE_THREAD)) == 1
          and sql(f"select count(*) from workflow.tasks where message_id = '{complaint_message}'") == "1",
          shop_replies(ROUTINE_THREAD))

    ticket_message = sql("select m.id from support.messages m join support.conversations c "
                         f"on c.id = m.conversation_id where c.channel = 'freshdesk' "
                         f"and c.external_id = '{HELPDESK_TICKET}' and m.sender_type = 'customer'")
    check("the helpdesk ticket is polled into the inbox with its customer message", ticket_message != "",
          ticket_message)
    decided = sql("select d.replied || '|' || coalesce(d.guard, '') || '|' || (c.order_id is not null) "
                  "from support.reply_decisions d join support.conversations c on c.id = d.conversation_id "
                  f"where d.message_id = '{ticket_message or uuid.UUID(int=0)}'")
    check("its message is queued by the poll and decided once by conversation-auto-reply",
          decided.count("|") == 2, decided or "no decision")
    print(f"        ticket {HELPDESK_TICKET}: replied|guard|order linked = {decided}")
    replies = ticket_replies(HELPDESK_TICKET)
    check("the ticket has a reply in Freshdesk exactly when the decision says so, and at most one",
          len(replies) == (1 if decided.startswith("true|") else 0), replies)
    if decided.startswith("true|"):
        check("the reply is recorded as sent with Freshdesk's conversation id",
              sql("select count(*) from support.messages where message_type = 'auto_reply' "
                  f"and in_reply_to_message_id = '{ticket_message}' and channel = 'freshdesk' "
                  "and send_state = 'sent' and external_id is not null") == "1")


def listing_summary(shop_sku: str) -> str:
    return sql("select coalesce(p.optimal_price::text, '') || '|' || coalesce(p.price_flag, '')"
               " || '|' || coalesce(d.explanation, '')"
               " from pricing.current_prices p join catalog.shop_sku_map m on m.id = p.listing_id"
               " left join pricing.price_decisions d on d.id = p.decision_id"
               f" where m.channel = 'bestbuy_ca' and m.shop_sku = '{shop_sku}'")


def test_evaluate_pricing_rules() -> None:
    print("evaluate-pricing-rules (eventbridge-scheduled.json: a full evaluation; then one re-evaluation message)")
    subprocess.run([PSQL, env("DATABASE_URL"), "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1",
                    "-f", str(PRICING_SQL)], check=True, stdout=subprocess.DEVNULL)
    status, answer = invoke("evaluate-pricing-rules", json.loads((EVENTS / "eventbridge-scheduled.json").read_text()))
    check("the scheduled evaluation answers", status == 200 and isinstance(answer, dict), answer)
    dock = listing_summary("SKU-002").split("|", 2)
    # 84.99 less 1 % is 84.1401, rounded down; the floor (42.87 landed, 12 % fees, 20 %) is 63.04.
    check("the dock's suggested price beats the rival's buy box by 1 %: 84.14",
          dock[0] == "84.14", dock)
    check("and its explanation names the rule and the margin floor",
          len(dock) == 3 and "d4000000-0000-4000-8000-000000000002" in dock[2] and "margin floor" in dock[2], dock)
    keyboard = listing_summary("SKU-005").split("|", 2)
    check("the keyboard, without a landed cost, is flagged and keeps its price",
          len(keyboard) == 3 and keyboard[1] == "no_landed_cost" and keyboard[0] == "129.00", keyboard)
    decisions = sql("select count(*) from pricing.price_decisions")
    dock_id = sql("select id from catalog.shop_sku_map where channel = 'bestbuy_ca' and shop_sku = 'SKU-002'")
    message = {"kind": "reevaluate_listings", "listing_ids": [dock_id], "reason": "e2e"}
    status, answer = invoke("evaluate-pricing-rules", sqs_event("sqs-reply-message.json", [message]))
    check("a re-evaluation message answers with no batch item failures",
          status == 200 and batch_failures(answer) == [], answer)
    check("and with nothing changed writes no decision",
          sql("select count(*) from pricing.price_decisions") == decisions, decisions)


def main() -> int:
    set_up()
    steps = [
        ("marketplace-webhook", test_marketplace_webhook),
        ("marketplace-webhook", test_shopify_and_freshdesk_webhooks),
        ("sync-marketplace", test_sync_marketplace),
        ("accept-orders", test_accept_orders),
        ("fetch-shipping-label", test_fetch_shipping_label),
        ("ingest-orders-file", test_ingest_orders_file),
        ("conversation-auto-reply", test_conversation_auto_reply),
        ("evaluate-pricing-rules", test_evaluate_pricing_rules),
    ]
    for function, step in steps:
        if not has_function(function):
            print(f"{function}: not in the workspace, skipped")
            continue
        try:
            step()
        except Exception as error:  # noqa: BLE001 - one broken step must not hide the others
            check(f"{function}: the step ran to the end", False, repr(error))
    print(f"e2e: {time.monotonic() - STARTED:.0f}s including the start of its services")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
