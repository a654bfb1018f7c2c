//! Logs and metrics: JSON logs through `tracing`, counts as CloudWatch Embedded Metric Format.

use std::time::{SystemTime, UNIX_EPOCH};

use tracing_subscriber::EnvFilter;

/// The CloudWatch namespace every sellerops metric is published under.
pub const METRIC_NAMESPACE: &str = "sellerops";

/// Installs the JSON log subscriber once per process. The level comes from `RUST_LOG`
/// (default `info`). Lambda's own request id is attached by the handler's span.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // `try_init` so that tests, which may call this many times, do not panic.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .try_init();
}

/// One count for CloudWatch, e.g. `("OrderRowsImported", 1200)` for function `ingest-orders-file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count<'a> {
    /// The metric name, in the seller's words.
    pub name: &'a str,
    /// How many.
    pub value: u64,
}

/// Renders counts as one Embedded Metric Format document, dimensioned by function.
/// CloudWatch Logs turns such a line into metrics without an API call.
pub fn metrics_document(function: &str, counts: &[Count<'_>]) -> serde_json::Value {
    metrics_document_by(&[("Function", function)], counts)
}

/// Renders counts as one Embedded Metric Format document under the given dimensions
/// (name, value), for counts that belong to something other than a function, such as
/// an outside service.
pub fn metrics_document_by(dimensions: &[(&str, &str)], counts: &[Count<'_>]) -> serde_json::Value {
    let timestamp_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or_default();
    let definitions: Vec<_> = counts
        .iter()
        .map(|count| serde_json::json!({ "Name": count.name, "Unit": "Count" }))
        .collect();
    let names: Vec<&str> = dimensions.iter().map(|(name, _)| *name).collect();
    let mut document = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRIC_NAMESPACE,
                "Dimensions": [names],
                "Metrics": definitions,
            }],
        },
    });
    for (name, value) in dimensions {
        document[*name] = (*value).into();
    }
    for count in counts {
        document[count.name] = count.value.into();
    }
    document
}

/// Prints counts to stdout as one EMF line (Lambda sends stdout to CloudWatch Logs).
pub fn emit_counts(function: &str, counts: &[Count<'_>]) {
    println!("{}", metrics_document(function, counts));
}

/// Prints counts under the given dimensions as one EMF line.
pub fn emit_counts_by(dimensions: &[(&str, &str)], counts: &[Count<'_>]) {
    println!("{}", metrics_document_by(dimensions, counts));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_become_an_embedded_metric_format_document() {
        let doc = metrics_document(
            "ingest-orders-file",
            &[
                Count {
                    name: "RowsImported",
                    value: 120,
                },
                Count {
                    name: "RowsRejected",
                    value: 3,
                },
            ],
        );
        let metrics = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(metrics["Namespace"], "sellerops");
        assert_eq!(metrics["Dimensions"][0][0], "Function");
        assert_eq!(metrics["Metrics"][1]["Name"], "RowsRejected");
        assert_eq!(doc["Function"], "ingest-orders-file");
        assert_eq!(doc["RowsImported"], 120);
        assert_eq!(doc["RowsRejected"], 3);
        assert!(doc["_aws"]["Timestamp"].as_u64().unwrap() > 1_600_000_000_000);
    }

    #[test]
    fn counts_can_be_dimensioned_by_something_else_than_the_function() {
        let doc = metrics_document_by(
            &[("Service", "canadapost")],
            &[Count {
                name: "CredentialsRejected",
                value: 1,
            }],
        );
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
            "Service"
        );
        assert_eq!(doc["Service"], "canadapost");
        assert_eq!(doc["CredentialsRejected"], 1);
        assert!(doc.get("Function").is_none());
    }
}
