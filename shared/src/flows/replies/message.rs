//! The reply queue's message: which customer message to consider answering.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ops::errors::ProcessError;

/// The body the recording path writes to the reply queue for each new customer message
/// (`flows::recording::mirakl`, deduplicated as `reply:<Mirakl message id>`, and
/// `flows::recording::freshdesk`, as `reply:freshdesk:<conversation id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyMessage {
    /// `support.messages.id` of the customer's message.
    pub message_id: Uuid,
    /// `support.conversations.id` of its thread.
    pub conversation_id: Uuid,
    /// The thread's id on its channel (`support.conversations.external_id`): Mirakl's
    /// thread id, or the Freshdesk ticket id.
    pub thread_id: String,
}

impl ReplyMessage {
    /// Parses an SQS body; a body that is not this shape is permanent.
    pub fn parse(body: Option<&str>) -> Result<Self, ProcessError> {
        let body = body.ok_or_else(|| ProcessError::permanent("the message has no body"))?;
        let message: Self = serde_json::from_str(body).map_err(|err| {
            ProcessError::permanent(format!(
                "the message is not {{message_id, conversation_id, thread_id}}: {err}"
            ))
        })?;
        if message.thread_id.trim().is_empty() {
            return Err(ProcessError::permanent(format!(
                "message {} names no thread",
                message.message_id
            )));
        }
        Ok(message)
    }

    /// The body as JSON, as the recording path writes it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "message_id": self.message_id,
            "conversation_id": self.conversation_id,
            "thread_id": self.thread_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::errors::Disposition;

    #[test]
    fn the_recording_paths_body_is_read_back() {
        let message = ReplyMessage {
            message_id: Uuid::new_v4(),
            conversation_id: Uuid::new_v4(),
            thread_id: "4b8f0c2e-6f1a-4d7e-9a51-2f0b6d3c9e11".into(),
        };
        let body = message.to_json().to_string();
        assert_eq!(ReplyMessage::parse(Some(&body)).unwrap(), message);
    }

    #[test]
    fn another_shape_is_permanent_and_says_what_was_expected() {
        for body in [
            None,
            Some("{}"),
            Some(r#"{"message_id":"x","conversation_id":"y","thread_id":"t"}"#),
            Some(
                r#"{"message_id":"6f0c6c1e-1a53-4d55-9b57-3d3f4a8f7f10","conversation_id":"6f0c6c1e-1a53-4d55-9b57-3d3f4a8f7f11","thread_id":" "}"#,
            ),
        ] {
            let err = ReplyMessage::parse(body).unwrap_err();
            assert_eq!(err.disposition(), Disposition::GiveUp, "{body:?}");
        }
    }
}
