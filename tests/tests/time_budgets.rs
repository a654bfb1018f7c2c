//! The time budgets in `shared/src/ops/time_budget.rs` against `infra/template.yaml`:
//! every function started by a queue or a schedule has a budget, and every budget fits
//! the timeout, batch size, pool size and visibility timeout the template deploys.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use sellerops::flows::pricing::apply::STALLED_AFTER;
use sellerops::ops::config::{DatabaseSettings, FromEnvironment};
use sellerops::ops::time_budget::{self, Deployment, QueueDeployment, Trigger};
use serde_norway::Value;

/// SAM's and SQS's defaults, for properties the template leaves out.
const SAM_DEFAULT_TIMEOUT: u64 = 3;
const SQS_DEFAULT_BATCH_SIZE: u32 = 10;
const SQS_DEFAULT_VISIBILITY: u64 = 30;

/// One function of the template, as the budget check needs it.
#[derive(Debug)]
struct TemplateFunction {
    binary: String,
    trigger: Option<Trigger>,
    deployment: Deployment,
}

fn template() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
    let text = std::fs::read_to_string(&path).expect("infra/template.yaml is readable");
    serde_norway::from_str(&text).expect("infra/template.yaml is YAML")
}

fn get<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |value, key| value.get(*key))
}

fn whole(value: Option<&Value>) -> Option<u64> {
    value.and_then(|value| match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

/// Plain string variables; a variable the template computes (`!If`, `!Sub`, `!Ref`)
/// is left out, except the database URL, which the settings need to be valid.
fn variables(globals: &Value, function: &Value) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for source in [globals, function] {
        let Some(Value::Mapping(map)) = get(source, &["Environment", "Variables"]) else {
            continue;
        };
        for (name, value) in map {
            // `as_str` sees through tags, so a computed value is skipped by its tag.
            if matches!(value, Value::Tagged(_)) {
                continue;
            }
            let (Some(name), Some(value)) = (name.as_str(), value.as_str()) else {
                continue;
            };
            vars.insert(name.to_owned(), value.to_owned());
        }
    }
    vars.entry("DATABASE_URL".into())
        .or_insert_with(|| "postgres://sellerops@rds.example/sellerops".into());
    vars
}

/// The logical id a `!GetAtt Queue.Arn` (or `!Ref Queue`) names.
fn referenced_resource(value: &Value) -> Option<String> {
    let Value::Tagged(tagged) = value else {
        return None;
    };
    let target = tagged.value.as_str()?;
    Some(target.split('.').next().unwrap_or(target).to_owned())
}

fn functions(template: &Value) -> Vec<TemplateFunction> {
    let globals = get(template, &["Globals", "Function"]).expect("Globals.Function");
    let resources = get(template, &["Resources"])
        .and_then(Value::as_mapping)
        .expect("Resources");
    let mut found = Vec::new();
    for resource in resources.values() {
        if resource.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = get(resource, &["Metadata", "BuildProperties", "Binary"])
            .and_then(Value::as_str)
            .expect("every function names its binary")
            .to_owned();
        let properties = resource.get("Properties").expect("Properties");
        let timeout = whole(properties.get("Timeout"))
            .or_else(|| whole(globals.get("Timeout")))
            .unwrap_or(SAM_DEFAULT_TIMEOUT);
        let vars = variables(globals, properties);
        let database = DatabaseSettings::from_lookup(|name| vars.get(name).cloned())
            .unwrap_or_else(|err| panic!("{binary}'s database settings: {err}"));

        let mut trigger = None;
        let mut queue = None;
        if let Some(Value::Mapping(events)) = properties.get("Events") {
            for event in events.values() {
                match event.get("Type").and_then(Value::as_str) {
                    Some("SQS") => {
                        let event = event.get("Properties").expect("SQS event properties");
                        let logical_id = event
                            .get("Queue")
                            .and_then(referenced_resource)
                            .expect("an SQS event names its queue with !GetAtt");
                        let visibility = whole(get(
                            resources
                                .get(logical_id.as_str())
                                .expect("the event's queue"),
                            &["Properties", "VisibilityTimeout"],
                        ))
                        .unwrap_or(SQS_DEFAULT_VISIBILITY);
                        let batch_size = whole(event.get("BatchSize"))
                            .map_or(SQS_DEFAULT_BATCH_SIZE, |n| u32::try_from(n).unwrap());
                        trigger = Some(Trigger::Queue);
                        queue = Some(QueueDeployment {
                            batch_size,
                            visibility_timeout: Duration::from_secs(visibility),
                        });
                    }
                    // A function on a queue and a schedule is budgeted as the queue's
                    // consumer: its scheduled run pages within the same deadline.
                    Some("Schedule" | "ScheduleV2") => {
                        trigger.get_or_insert(Trigger::Schedule);
                    }
                    _ => {}
                }
            }
        }
        found.push(TemplateFunction {
            binary,
            trigger,
            deployment: Deployment {
                timeout: Duration::from_secs(timeout),
                database,
                queue,
            },
        });
    }
    found
}

#[test]
fn every_queue_and_scheduled_function_has_a_budget_that_fits_the_template() {
    let template = template();
    let deployed = functions(&template);
    let budgets = time_budget::all();

    let mut problems = Vec::new();
    let mut table = vec![
        "| function | timeout | batch | one record | worst case | visibility |".to_owned(),
        "|---|---|---|---|---|---|".to_owned(),
    ];
    for function in deployed.iter().filter(|f| f.trigger.is_some()) {
        let Some(budget) = budgets.iter().find(|b| b.function == function.binary) else {
            problems.push(format!(
                "{} runs from a queue or a schedule but has no time budget",
                function.binary
            ));
            continue;
        };
        assert_eq!(
            Some(budget.trigger),
            function.trigger,
            "{}'s trigger",
            function.binary
        );
        match budget.check(&function.deployment) {
            Ok(line) => table.push(line.to_string()),
            Err(mut broken) => problems.append(&mut broken),
        }
    }
    for budget in &budgets {
        if !deployed.iter().any(|f| f.binary == budget.function) {
            problems.push(format!(
                "{} has a time budget but is not in the template",
                budget.function
            ));
        }
    }
    println!("{}", table.join("\n"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_larger_batch_in_the_template_would_break_the_label_budget() {
    let template = template();
    let mut label = functions(&template)
        .into_iter()
        .find(|f| f.binary == "fetch-shipping-label")
        .expect("fetch-shipping-label is deployed");
    let budget = time_budget::fetch_shipping_label();
    assert!(budget.check(&label.deployment).is_ok());

    if let Some(queue) = label.deployment.queue.as_mut() {
        queue.batch_size = 10;
    }
    let problems = budget.check(&label.deployment).unwrap_err();
    assert!(problems[0].contains("fetch-shipping-label"), "{problems:?}");
}

#[test]
fn a_stalled_price_change_is_queued_again_only_after_the_pricing_queue_gave_up_its_message() {
    let template = template();
    let queue = get(&template, &["Resources", "PricingQueue", "Properties"]).expect("PricingQueue");
    let visibility = whole(queue.get("VisibilityTimeout")).unwrap_or(SQS_DEFAULT_VISIBILITY);
    let receives = whole(get(queue, &["RedrivePolicy", "maxReceiveCount"]))
        .expect("the pricing queue redrives to a dead-letter queue");

    let retried_for = Duration::from_secs(visibility * receives);

    assert!(
        STALLED_AFTER > retried_for,
        "a change untouched for {STALLED_AFTER:?} is queued again, but the queue still \
         redelivers its message for {retried_for:?}"
    );
}
