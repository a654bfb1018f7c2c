//! How many messages each function gets per invocation, read from `infra/template.yaml`:
//! the `BatchSize` of its SQS event source mapping. The local stack then invokes a
//! function with batches as large as Lambda would, the size its time budget is worked
//! out for (`shared/src/ops/time_budget.rs`), and a change to the template reaches the
//! router without a second copy to keep in step.

use std::collections::BTreeMap;
use std::path::Path;

use serde_norway::Value;

/// Lambda's `BatchSize` for an SQS event source mapping that does not name one.
pub const SQS_DEFAULT_BATCH_SIZE: i32 = 10;

/// Each queue-consuming function's batch size, by its binary's name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchSizes(BTreeMap<String, i32>);

impl BatchSizes {
    /// Reads the template at `path`.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| format!("reading {}: {err}", path.display()))?;
        Self::parse(&text).map_err(|err| format!("{}: {err}", path.display()))
    }

    /// Reads a SAM template's text: every `AWS::Serverless::Function` with a binary
    /// (`Metadata.BuildProperties.Binary`) and an event of type `SQS`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let template: Value = serde_norway::from_str(text).map_err(|err| err.to_string())?;
        let resources = template
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or("no Resources")?;
        let mut sizes = BTreeMap::new();
        for (name, resource) in resources {
            if resource.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
                continue;
            }
            let name = name.as_str().unwrap_or("a function");
            let binary = ["Metadata", "BuildProperties", "Binary"]
                .iter()
                .try_fold(resource, |value, key| value.get(*key))
                .and_then(Value::as_str);
            let events = ["Properties", "Events"]
                .iter()
                .try_fold(resource, |value, key| value.get(*key))
                .and_then(Value::as_mapping);
            let queue_events = events
                .into_iter()
                .flat_map(|events| events.values())
                .filter(|event| event.get("Type").and_then(Value::as_str) == Some("SQS"));
            for event in queue_events {
                let binary = binary.ok_or_else(|| format!("{name} names no binary"))?;
                let size = match event.get("Properties").and_then(|p| p.get("BatchSize")) {
                    None => SQS_DEFAULT_BATCH_SIZE,
                    Some(size) => size
                        .as_i64()
                        .or_else(|| size.as_str().and_then(|s| s.parse().ok()))
                        .and_then(|size| i32::try_from(size).ok())
                        .ok_or_else(|| format!("{name}: BatchSize {size:?} is not a number"))?,
                };
                if sizes.insert(binary.to_owned(), size).is_some() {
                    return Err(format!("{name} consumes more than one queue"));
                }
            }
        }
        Ok(Self(sizes))
    }

    /// The batch size of `function`'s queue, `None` when the template gives the function
    /// no queue.
    pub fn of(&self, function: &str) -> Option<i32> {
        self.0.get(function).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "
Resources:
  AcceptQueue:
    Type: AWS::SQS::Queue
  AcceptOrdersFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: accept-orders
    Properties:
      Events:
        AcceptQueue:
          Type: SQS
          Properties:
            Queue: !GetAtt AcceptQueue.Arn
            BatchSize: 2
  ReplyFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: conversation-auto-reply
    Properties:
      Events:
        ReplyQueue:
          Type: SQS
          Properties:
            Queue: !GetAtt ReplyQueue.Arn
  SyncFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: sync-marketplace
    Properties:
      Events:
        Every5Minutes:
          Type: ScheduleV2
";

    #[test]
    fn each_function_gets_its_event_source_mappings_batch_size() {
        let sizes = BatchSizes::parse(TEMPLATE).unwrap();
        assert_eq!(sizes.of("accept-orders"), Some(2));
        assert_eq!(
            sizes.of("conversation-auto-reply"),
            Some(SQS_DEFAULT_BATCH_SIZE)
        );
        assert_eq!(sizes.of("sync-marketplace"), None);
    }

    #[test]
    fn the_projects_template_gives_the_budgeted_batch_sizes() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
        let sizes = BatchSizes::read(&path).unwrap();
        assert_eq!(sizes.of("ingest-orders-file"), Some(1));
        assert_eq!(sizes.of("accept-orders"), Some(2));
        assert_eq!(sizes.of("fetch-shipping-label"), Some(2));
        assert_eq!(sizes.of("conversation-auto-reply"), Some(2));
    }
}
