//! The Lambda events the functions receive, as AWS delivers them: SQS batches from a
//! queue's event source mapping and S3 notifications of new objects.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sellerops::flows::ingest::ObjectRef;
use serde_json::{json, Value};

/// An SQS event as a queue's event source mapping delivers it: one record per
/// `(message id, body)`, each received for the first time.
pub fn sqs_event<Id: Into<String>>(messages: impl IntoIterator<Item = (Id, Value)>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .into_iter()
        .map(|(id, body)| {
            let id = id.into();
            let mut record = SqsMessage::default();
            record.receipt_handle = Some(format!("receipt-{id}"));
            record.message_id = Some(id);
            record.body = Some(body.to_string());
            record
                .attributes
                .insert("ApproximateReceiveCount".into(), "1".into());
            record.event_source = Some("aws:sqs".into());
            record.event_source_arn =
                Some("arn:aws:sqs:ca-central-1:123456789012:sellerops-test".into());
            record.aws_region = Some("ca-central-1".into());
            record
        })
        .collect();
    event
}

/// The ids of the messages a handler's SQS response asks to have delivered again.
pub fn failed_message_ids(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .map(|failures| {
            failures
                .iter()
                .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Characters S3 leaves as they are when it URL-encodes a key for a notification.
const KEY_ENCODING: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'*');

/// One S3 notification record for `object`, its key URL-encoded as S3 sends it.
fn s3_record(object: &ObjectRef) -> Value {
    let key = utf8_percent_encode(&object.key, KEY_ENCODING)
        .to_string()
        .replace("%20", "+");
    let mut s3_object =
        json!({ "key": key, "size": object.size, "sequencer": "0055AED6DCD90281E5" });
    if let Some(version) = &object.version_id {
        s3_object["versionId"] = json!(version);
    }
    if let Some(etag) = &object.etag {
        s3_object["eTag"] = json!(etag);
    }
    json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "ca-central-1",
        "eventTime": "2026-03-04T08:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "orders-object-created-to-ingest",
            "bucket": {"name": object.bucket, "arn": format!("arn:aws:s3:::{}", object.bucket)},
            "object": s3_object
        }
    })
}

/// The S3 event notifying `objects`: the payload of a direct invocation, or the body
/// of an ingest queue message.
pub fn s3_event(objects: &[&ObjectRef]) -> Value {
    json!({ "Records": objects.iter().map(|object| s3_record(object)).collect::<Vec<_>>() })
}

/// The S3 test event S3 sends when a notification is configured.
pub fn s3_test_event() -> Value {
    json!({
        "Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-03-04T08:00:00.000Z",
        "Bucket": "sellerops-orders", "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw"
    })
}
