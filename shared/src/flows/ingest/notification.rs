//! S3 notifications of new order files, as they reach the function: in the bodies of
//! SQS messages (the production wiring, bucket → ingest queue → function) or as a
//! direct S3 event (an ad-hoc invoke). S3 test events are recognised and ignored.

use std::fmt;

use aws_lambda_events::event::sqs::SqsEvent;
use serde::Deserialize;

use crate::systems::aws::{decode_notification_key, InvalidObjectKey};

/// One version of one S3 object: what the importer imports exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    /// The object key, decoded (`incoming/2026 orders.csv`).
    pub key: String,
    /// The version, on a versioned bucket (the orders bucket is one).
    pub version_id: Option<String>,
    /// The entity tag S3 gave the content, without quotes.
    pub etag: Option<String>,
    /// Size in bytes, as notified.
    pub size: Option<i64>,
}

impl ObjectRef {
    /// An object with no version or entity tag known.
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            key: key.into(),
            version_id: None,
            etag: None,
            size: None,
        }
    }

    /// The last segment of the key: the file's own name.
    pub fn filename(&self) -> &str {
        self.key.rsplit('/').next().unwrap_or(&self.key)
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)?;
        if let Some(version) = &self.version_id {
            write!(f, " (version {version})")?;
        }
        Ok(())
    }
}

/// What one notification record asks of the importer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// A new object (or object version) to import.
    ObjectCreated(ObjectRef),
    /// S3's `s3:TestEvent`, sent when a notification is configured: acknowledged, ignored.
    TestEvent,
    /// A record the importer has nothing to do with (a deletion, a folder marker).
    Ignored {
        /// Why, for the log.
        reason: String,
    },
}

/// How the function was invoked.
#[derive(Debug, Clone)]
pub enum Invocation {
    /// By the ingest queue's event source mapping: S3 notifications in message bodies.
    Sqs(SqsEvent),
    /// Directly, with an S3 event (or S3 test event) as the payload.
    S3(Vec<Notification>),
}

/// A payload or message body that is not what the importer expects. Permanent: the
/// same payload never parses.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// Not JSON, or JSON of another shape.
    #[error("not an S3 event notification: {0}")]
    NotAnS3Event(String),
    /// A record without a bucket name or object key.
    #[error("S3 event record has no {0}")]
    MissingField(&'static str),
    /// A key that does not decode.
    #[error(transparent)]
    InvalidKey(#[from] InvalidObjectKey),
}

impl Invocation {
    /// Tells an SQS event from a direct S3 event by the records' `eventSource`
    /// (`aws:sqs` or `aws:s3`); an S3 test event has no records.
    pub fn from_payload(payload: serde_json::Value) -> Result<Self, NotificationError> {
        let source = payload
            .get("Records")
            .and_then(|records| records.get(0))
            .and_then(|record| record.get("eventSource"))
            .and_then(serde_json::Value::as_str);
        match source {
            Some("aws:sqs") => serde_json::from_value(payload)
                .map(Invocation::Sqs)
                .map_err(|err| NotificationError::NotAnS3Event(err.to_string())),
            _ => notifications_in(payload).map(Invocation::S3),
        }
    }
}

/// The notifications in one SQS message body (one S3 event, or an S3 test event).
pub fn notifications_in_message_body(body: &str) -> Result<Vec<Notification>, NotificationError> {
    let payload: serde_json::Value = serde_json::from_str(body)
        .map_err(|err| NotificationError::NotAnS3Event(format!("body is not JSON ({err})")))?;
    notifications_in(payload)
}

/// The notifications in an S3 event document.
fn notifications_in(payload: serde_json::Value) -> Result<Vec<Notification>, NotificationError> {
    if payload.get("Event").and_then(serde_json::Value::as_str) == Some("s3:TestEvent") {
        return Ok(vec![Notification::TestEvent]);
    }
    let event: S3Event = serde_json::from_value(payload)
        .map_err(|err| NotificationError::NotAnS3Event(err.to_string()))?;
    event
        .records
        .into_iter()
        .map(Notification::try_from)
        .collect()
}

/// The parts of an S3 event the importer reads. Parsed leniently, by hand rather than
/// with `aws_lambda_events`' type, which insists on fields the importer never uses.
#[derive(Debug, Deserialize)]
struct S3Event {
    #[serde(rename = "Records")]
    records: Vec<S3Record>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Record {
    #[serde(default)]
    event_source: Option<String>,
    #[serde(default)]
    event_name: Option<String>,
    s3: S3Entity,
}

#[derive(Debug, Deserialize)]
struct S3Entity {
    bucket: S3Bucket,
    object: S3Object,
}

#[derive(Debug, Deserialize)]
struct S3Bucket {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Object {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    size: Option<i64>,
    #[serde(default)]
    version_id: Option<String>,
    #[serde(default, rename = "eTag")]
    e_tag: Option<String>,
}

impl TryFrom<S3Record> for Notification {
    type Error = NotificationError;

    fn try_from(record: S3Record) -> Result<Self, Self::Error> {
        if record
            .event_source
            .as_deref()
            .is_some_and(|source| source != "aws:s3")
        {
            return Err(NotificationError::NotAnS3Event(format!(
                "record from {:?}",
                record.event_source.unwrap_or_default()
            )));
        }
        let event_name = record.event_name.unwrap_or_default();
        if !event_name.starts_with("ObjectCreated") {
            return Ok(Notification::Ignored {
                reason: format!("event {event_name:?} is not an object creation"),
            });
        }
        let bucket = record
            .s3
            .bucket
            .name
            .filter(|name| !name.is_empty())
            .ok_or(NotificationError::MissingField("bucket name"))?;
        let raw_key = record
            .s3
            .object
            .key
            .filter(|key| !key.is_empty())
            .ok_or(NotificationError::MissingField("object key"))?;
        let key = decode_notification_key(&raw_key)?;
        if key.ends_with('/') {
            return Ok(Notification::Ignored {
                reason: format!("{key:?} is a folder marker, not a file"),
            });
        }
        Ok(Notification::ObjectCreated(ObjectRef {
            bucket,
            key,
            version_id: record.s3.object.version_id.filter(|v| !v.is_empty()),
            etag: record
                .s3
                .object
                .e_tag
                .map(|tag| tag.trim_matches('"').to_owned())
                .filter(|tag| !tag.is_empty()),
            size: record.s3.object.size,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s3_record(event_name: &str, key: &str) -> serde_json::Value {
        json!({
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "ca-central-1",
            "eventTime": "2026-03-02T11:05:00.000Z",
            "eventName": event_name,
            "s3": {
                "bucket": {"name": "sellerops-orders", "arn": "arn:aws:s3:::sellerops-orders"},
                "object": {"key": key, "size": 1024, "eTag": "\"0123abcd\"", "versionId": "v-42"}
            }
        })
    }

    #[test]
    fn a_direct_s3_event_names_the_object_with_its_key_decoded() {
        let payload = json!({"Records": [s3_record("ObjectCreated:Put", "incoming/March+2026%2C+Nairobi.csv")]});
        let Invocation::S3(notifications) = Invocation::from_payload(payload).unwrap() else {
            panic!("expected a direct S3 event");
        };
        let expected = ObjectRef {
            bucket: "sellerops-orders".into(),
            key: "incoming/March 2026, Nairobi.csv".into(),
            version_id: Some("v-42".into()),
            etag: Some("0123abcd".into()),
            size: Some(1024),
        };
        assert_eq!(
            notifications,
            [Notification::ObjectCreated(expected.clone())]
        );
        assert_eq!(expected.filename(), "March 2026, Nairobi.csv");
    }

    #[test]
    fn an_sqs_event_is_recognised_by_its_event_source() {
        let body = json!({"Records": [s3_record("ObjectCreated:Put", "a.csv")]}).to_string();
        let payload = json!({"Records": [{
            "messageId": "m-1", "receiptHandle": "r", "body": body, "attributes": {},
            "messageAttributes": {}, "md5OfBody": "x", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:ca-central-1:123456789012:sellerops-ingest",
            "awsRegion": "ca-central-1"
        }]});
        let Invocation::Sqs(event) = Invocation::from_payload(payload).unwrap() else {
            panic!("expected an SQS event");
        };
        let body = event.records[0].body.as_deref().unwrap();
        let notifications = notifications_in_message_body(body).unwrap();
        assert!(matches!(&notifications[0], Notification::ObjectCreated(o) if o.key == "a.csv"));
    }

    #[test]
    fn an_s3_test_event_is_recognised_directly_and_in_a_message() {
        let test_event = json!({
            "Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-03-02T11:05:00.000Z",
            "Bucket": "sellerops-orders", "RequestId": "R", "HostId": "H"
        });
        assert!(matches!(
            Invocation::from_payload(test_event.clone()).unwrap(),
            Invocation::S3(n) if n == [Notification::TestEvent]
        ));
        assert_eq!(
            notifications_in_message_body(&test_event.to_string()).unwrap(),
            [Notification::TestEvent]
        );
    }

    #[test]
    fn deletions_and_folder_markers_are_ignored() {
        let payload = json!({"Records": [
            s3_record("ObjectRemoved:Delete", "a.csv"),
            s3_record("ObjectCreated:Put", "incoming/"),
        ]});
        let Invocation::S3(notifications) = Invocation::from_payload(payload).unwrap() else {
            panic!("expected a direct S3 event");
        };
        assert!(notifications
            .iter()
            .all(|n| matches!(n, Notification::Ignored { .. })));
    }

    #[test]
    fn a_body_that_is_not_an_s3_event_is_an_error() {
        for body in [
            "not json",
            "{\"order\": 1}",
            "{\"Records\": [{\"s3\": {}}]}",
        ] {
            assert!(notifications_in_message_body(body).is_err(), "{body}");
        }
    }

    #[test]
    fn an_unversioned_object_has_no_version() {
        let mut record = s3_record("ObjectCreated:Put", "a.csv");
        record["s3"]["object"]
            .as_object_mut()
            .unwrap()
            .remove("versionId");
        let notifications =
            notifications_in_message_body(&json!({"Records": [record]}).to_string()).unwrap();
        assert!(
            matches!(&notifications[0], Notification::ObjectCreated(o) if o.version_id.is_none())
        );
    }
}
