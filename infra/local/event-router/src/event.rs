//! The SQS event Lambda hands a function: received messages in the shape of
//! `aws_lambda_events::sqs::SqsEvent`, the type the functions deserialize.

use std::collections::HashMap;

use aws_lambda_events::encodings::Base64Data;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{Message, MessageAttributeValue};

/// Where a batch comes from: the queue's ARN and region, as Lambda stamps on each record.
#[derive(Debug, Clone)]
pub struct EventSource {
    /// `arn:aws:sqs:<region>:<account>:<queue>`.
    pub queue_arn: String,
    /// The region, e.g. `ca-central-1`.
    pub region: String,
}

/// The Lambda event for a batch of received messages.
pub fn sqs_event(messages: &[Message], source: &EventSource) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages.iter().map(|m| sqs_record(m, source)).collect();
    event
}

fn sqs_record(message: &Message, source: &EventSource) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = message.message_id().map(str::to_owned);
    record.receipt_handle = message.receipt_handle().map(str::to_owned);
    record.body = message.body().map(str::to_owned);
    record.md5_of_body = message.md5_of_body().map(str::to_owned);
    record.md5_of_message_attributes = message.md5_of_message_attributes().map(str::to_owned);
    record.attributes = message
        .attributes()
        .map(|attributes| {
            attributes
                .iter()
                .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    record.message_attributes = message
        .message_attributes()
        .map(|attributes| {
            attributes
                .iter()
                .map(|(name, value)| (name.clone(), message_attribute(value)))
                .collect::<HashMap<_, _>>()
        })
        .unwrap_or_default();
    record.event_source_arn = Some(source.queue_arn.clone());
    record.event_source = Some("aws:sqs".to_owned());
    record.aws_region = Some(source.region.clone());
    record
}

fn message_attribute(value: &MessageAttributeValue) -> SqsMessageAttribute {
    let mut attribute = SqsMessageAttribute::default();
    attribute.data_type = Some(value.data_type().to_owned());
    attribute.string_value = value.string_value().map(str::to_owned);
    attribute.binary_value = value.binary_value().map(|blob| base64_data(blob.as_ref()));
    attribute.string_list_values = value.string_list_values().to_vec();
    attribute.binary_list_values = value
        .binary_list_values()
        .iter()
        .map(|blob| base64_data(blob.as_ref()))
        .collect();
    attribute
}

/// `Base64Data` is non-exhaustive: filled through its `Vec`.
fn base64_data(bytes: &[u8]) -> Base64Data {
    let mut data = Base64Data::default();
    data.extend_from_slice(bytes);
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::primitives::Blob;
    use aws_sdk_sqs::types::MessageSystemAttributeName;
    use serde_json::{json, Value};

    fn source() -> EventSource {
        EventSource {
            queue_arn: "arn:aws:sqs:ca-central-1:123456789012:sellerops-accept".to_owned(),
            region: "ca-central-1".to_owned(),
        }
    }

    #[test]
    fn a_message_becomes_a_record_shaped_like_lambdas() {
        let message = Message::builder()
            .message_id("m-1")
            .receipt_handle("rh-1")
            .body(r#"{"order_id":"x"}"#)
            .md5_of_body("abc")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "2")
            .attributes(MessageSystemAttributeName::SentTimestamp, "1700000000000")
            .message_attributes(
                "channel",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("bestbuy_ca")
                    .build()
                    .unwrap(),
            )
            .message_attributes(
                "raw",
                MessageAttributeValue::builder()
                    .data_type("Binary")
                    .binary_value(Blob::new(b"hi".to_vec()))
                    .build()
                    .unwrap(),
            )
            .build();

        let event: Value = serde_json::to_value(sqs_event(&[message], &source())).unwrap();

        let record = &event["Records"][0];
        assert_eq!(record["messageId"], json!("m-1"));
        assert_eq!(record["receiptHandle"], json!("rh-1"));
        assert_eq!(record["body"], json!(r#"{"order_id":"x"}"#));
        assert_eq!(record["attributes"]["ApproximateReceiveCount"], json!("2"));
        assert_eq!(
            record["attributes"]["SentTimestamp"],
            json!("1700000000000")
        );
        assert_eq!(
            record["messageAttributes"]["channel"]["stringValue"],
            json!("bestbuy_ca")
        );
        assert_eq!(
            record["messageAttributes"]["channel"]["dataType"],
            json!("String")
        );
        assert_eq!(
            record["messageAttributes"]["raw"]["binaryValue"],
            json!("aGk=")
        );
        assert_eq!(
            record["eventSourceARN"],
            json!("arn:aws:sqs:ca-central-1:123456789012:sellerops-accept")
        );
        assert_eq!(record["eventSource"], json!("aws:sqs"));
        assert_eq!(record["awsRegion"], json!("ca-central-1"));
    }

    #[test]
    fn the_event_round_trips_through_the_functions_type() {
        let message = Message::builder().message_id("m-2").body("b").build();
        let json = serde_json::to_string(&sqs_event(&[message], &source())).unwrap();
        let parsed: SqsEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed.records[0].message_id.as_deref(), Some("m-2"));
    }
}
