//! The stack the suite runs on, as `tests/reliability.sh` sets it up: a database of its
//! own, queues and buckets of its own on moto, simulators of its own. Every setting is
//! read from the environment the functions read theirs from, with their own readers.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use lambda_runtime::{Context, LambdaEvent};
use sellerops::flows::fulfilment::labels::LabelOptions;
use sellerops::flows::ingest::{ImportOptions, OrderFileImporter};
use sellerops::flows::webhooks::WebhookService;
use sellerops::model::customer_email::EmailPepper;
use sellerops::ops::config::{
    AcceptOrdersSettings, AutoReplyMode, AutoReplySettings, FetchShippingLabelSettings,
    FromEnvironment, IngestOrdersFileSettings, MarketplaceWebhookSettings, QueueUrls,
};
use sellerops::ops::outbox::{OutboxPublisher, DEDUP_ATTRIBUTE};
use sellerops::systems::aws::AwsClients;
use sellerops::systems::canadapost::CanadaPostClient;
use sellerops::systems::freshdesk::FreshdeskClient;
use sellerops::systems::mirakl::MiraklClient;
use sellerops_event_router::event::sqs_event;
use sellerops_event_router::lambda::{batch_outcome, BatchOutcome, Invoke};
use sellerops_event_router::router::{Mapping, PollReport, Route, Router};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::ScenarioError;
use crate::marketplace;

/// How long an attempt holds an order file or an order's label. Production holds them
/// for minutes, longer than the function's timeout; the suite's redeliveries come after
/// seconds, so its leases are as short, keeping lease < redelivery as production does.
const SUITE_LEASE: Duration = Duration::from_secs(3);

/// When the router makes a message a function failed visible again (production: the
/// queue's visibility timeout).
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The functions, run in this process on the batches the router hands them.
pub const INGEST: &str = "ingest-orders-file";
/// See [`INGEST`].
pub const ACCEPT: &str = "accept-orders";
/// See [`INGEST`].
pub const LABEL: &str = "fetch-shipping-label";
/// See [`INGEST`].
pub const REPLY: &str = "conversation-auto-reply";

/// The queue-triggered functions, built as their `main`s build them, run in this process
/// so that a scenario can stop one in the middle of its work.
#[derive(Clone)]
pub struct Functions(Arc<FunctionParts>);

struct FunctionParts {
    pool: PgPool,
    aws: AwsClients,
    importer: OrderFileImporter,
    mirakl: MiraklClient,
    canadapost: CanadaPostClient,
    freshdesk: FreshdeskClient,
    accept: AcceptOrdersSettings,
    label: FetchShippingLabelSettings,
    reply: AutoReplySettings,
}

impl Functions {
    /// Runs `function` on `event` as Lambda would, returning its answer; `None` for a
    /// function the suite does not run.
    pub async fn invoke(&self, function: &str, event: Value) -> Option<Result<Value, String>> {
        let parts = &self.0;
        let sqs = |event: Value| {
            serde_json::from_value::<SqsEvent>(event)
                .map(|event| LambdaEvent::new(event, Context::default()))
                .map_err(|err| format!("not an SQS event: {err}"))
        };
        let answer = match function {
            INGEST => ingest_orders_file::handle(
                &parts.importer,
                LambdaEvent::new(event, Context::default()),
            )
            .await
            .map_err(|err| err.to_string()),
            ACCEPT => {
                let function = accept_orders::AcceptOrders::new(
                    &parts.accept,
                    &parts.pool,
                    &parts.mirakl,
                    &parts.aws.sqs,
                );
                match sqs(event) {
                    Ok(event) => accept_orders::handle(&function, event)
                        .await
                        .map_err(|err| err.to_string())
                        .and_then(|answer| to_json(&answer)),
                    Err(err) => Err(err),
                }
            }
            LABEL => {
                let flow = fetch_shipping_label::label_flow(
                    &parts.label,
                    &parts.pool,
                    &parts.mirakl,
                    &parts.canadapost,
                    &parts.aws.s3,
                );
                let options = LabelOptions {
                    lease: SUITE_LEASE,
                    ..fetch_shipping_label::label_options(&parts.label)
                };
                match sqs(event) {
                    Ok(event) => fetch_shipping_label::handle(&flow, options, event)
                        .await
                        .map_err(|err| err.to_string())
                        .and_then(|answer| to_json(&answer)),
                    Err(err) => Err(err),
                }
            }
            REPLY => {
                let function = conversation_auto_reply::ConversationAutoReply::new(
                    &parts.reply,
                    &parts.pool,
                    &parts.mirakl,
                    Some(&parts.freshdesk),
                );
                match sqs(event) {
                    Ok(event) => conversation_auto_reply::handle(&function, event)
                        .await
                        .map_err(|err| err.to_string())
                        .and_then(|answer| to_json(&answer)),
                    Err(err) => Err(err),
                }
            }
            _ => return None,
        };
        Some(answer)
    }
}

fn to_json(answer: &impl serde::Serialize) -> Result<Value, String> {
    serde_json::to_value(answer).map_err(|err| err.to_string())
}

impl Invoke for Functions {
    fn invoke_batch(
        &self,
        function: &str,
        event: &Value,
        message_ids: &HashSet<String>,
    ) -> impl std::future::Future<Output = BatchOutcome> + Send {
        let (functions, function, event) = (self.clone(), function.to_owned(), event.clone());
        let message_ids = message_ids.clone();
        async move {
            match functions.invoke(&function, event).await {
                None => BatchOutcome::MissingFunction,
                Some(Ok(answer)) => batch_outcome(&answer.to_string(), &message_ids),
                Some(Err(reason)) => BatchOutcome::Failed { reason },
            }
        }
    }
}

/// One of the suite's queues, with the function its messages go to.
#[derive(Debug, Clone)]
pub struct Queue {
    /// Its URL.
    pub url: String,
    /// Its consumer.
    pub function: &'static str,
}

/// The suite's stack.
pub struct Stack {
    /// The suite's database.
    pub pool: PgPool,
    /// S3 and SQS on moto.
    pub aws: AwsClients,
    /// `ORDERS_BUCKET`, whose new objects notify the ingest queue.
    pub orders_bucket: String,
    /// The ingest queue.
    pub ingest: Queue,
    /// The accept queue.
    pub accept: Queue,
    /// The label queue.
    pub label: Queue,
    /// The reply queue.
    pub reply: Queue,
    /// The queue-triggered functions.
    pub functions: Functions,
    /// The local event router, invoking [`Stack::functions`].
    pub router: Router<Functions>,
    /// `marketplace-webhook`'s service, publishing its follow-ups to the suite's queues.
    pub webhooks: WebhookService,
    /// The queues the recording path's follow-ups go to.
    pub recording_queues: QueueUrls,
    /// The Mirakl simulator.
    pub mirakl: SimulatorControl,
    /// The Canada Post simulator.
    pub canadapost: SimulatorControl,
    /// The Freshdesk simulator.
    pub freshdesk: SimulatorControl,
    /// The key customers' addresses are hashed with, as the functions have it.
    pub pepper: EmailPepper,
    repo_root: PathBuf,
}

impl Stack {
    /// The stack `tests/reliability.sh` exported.
    pub async fn from_env() -> Result<Self, ScenarioError> {
        let ingest = IngestOrdersFileSettings::from_env()?;
        let accept = AcceptOrdersSettings::from_env()?;
        let label = FetchShippingLabelSettings::from_env()?;
        let webhook = MarketplaceWebhookSettings::from_env()?;
        // Answering, not only deciding: the suite counts replies sent.
        let mut reply = AutoReplySettings::from_env()?;
        reply.mode = AutoReplyMode::On;
        let freshdesk = reply
            .freshdesk
            .as_ref()
            .ok_or("FRESHDESK_API_KEY is not set")?;
        let pool = sellerops::systems::db::pool(&ingest.database, "reliability-suite")?;
        let aws = AwsClients::from_env(ingest.aws.endpoint_url.as_deref()).await;
        let importer = OrderFileImporter::new(
            pool.clone(),
            aws.s3.clone(),
            ingest.email_hash_pepper,
            ingest.default_currency,
        )
        .with_options(ImportOptions {
            batch_rows: 500,
            lease: SUITE_LEASE,
            limits: ingest.limits,
        });
        let mirakl = MiraklClient::from_settings(&accept.mirakl, pool.clone())?;
        let canadapost = fetch_shipping_label::canadapost_client(&label, pool.clone())?;
        let freshdesk = FreshdeskClient::from_settings(freshdesk, pool.clone())?;
        let pepper = webhook.email_hash_pepper.clone();
        let queue = |variable: &str, function| -> Result<Queue, ScenarioError> {
            let url = std::env::var(variable).map_err(|_| format!("{variable} is not set"))?;
            Ok(Queue { url, function })
        };
        let recording_queues = webhook.outbox_queues.clone();
        let webhooks = WebhookService::new(
            pool.clone(),
            marketplace::webhook_settings(),
            webhook.email_hash_pepper,
            Some(OutboxPublisher {
                sqs: aws.sqs.clone(),
                queues: webhook.outbox_queues,
            }),
        );
        let functions = Functions(Arc::new(FunctionParts {
            pool: pool.clone(),
            aws: aws.clone(),
            importer,
            mirakl,
            canadapost,
            freshdesk,
            accept,
            label,
            reply,
        }));
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "ca-central-1".to_owned());
        let router = Router::new(
            aws.sqs.clone(),
            functions.clone(),
            &region,
            Some(RETRY_AFTER),
        );
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let simulator = |variable: &str| -> Result<SimulatorControl, ScenarioError> {
            let base_url = std::env::var(variable).map_err(|_| format!("{variable} is not set"))?;
            Ok(SimulatorControl {
                http: http.clone(),
                base_url,
            })
        };
        Ok(Self {
            orders_bucket: std::env::var("ORDERS_BUCKET")
                .map_err(|_| "ORDERS_BUCKET is not set")?,
            ingest: queue("INGEST_QUEUE_URL", INGEST)?,
            accept: queue("ACCEPT_QUEUE_URL", ACCEPT)?,
            label: queue("LABEL_QUEUE_URL", LABEL)?,
            reply: queue("REPLY_QUEUE_URL", REPLY)?,
            mirakl: simulator("MIRAKL_BASE_URL")?,
            canadapost: simulator("CANADAPOST_BASE_URL")?,
            freshdesk: simulator("FRESHDESK_BASE_URL")?,
            pepper,
            repo_root: std::env::var("SELLEROPS_REPO_ROOT")
                .map(PathBuf::from)
                .map_err(|_| "SELLEROPS_REPO_ROOT is not set")?,
            pool,
            aws,
            functions,
            router,
            webhooks,
            recording_queues,
        })
    }

    /// A route of `queue` for the router, `batch_size` messages per invocation.
    pub async fn route(&self, queue: &Queue, batch_size: i32) -> Result<Route, ScenarioError> {
        let mapping = Mapping {
            queue_url: queue.url.clone(),
            function: queue.function.to_owned(),
        };
        Ok(self.router.route(mapping, batch_size).await?)
    }

    /// Routes `queue` until it is empty, failed messages included, by `pollers`
    /// concurrent pollers taking one message at a time (Lambda's concurrent instances);
    /// gives up after `deadline`. Returns the messages received (deliveries).
    pub async fn drain(
        &self,
        queue: &Queue,
        pollers: usize,
        deadline: Duration,
    ) -> Result<u64, ScenarioError> {
        let mut routes = Vec::with_capacity(pollers);
        for _ in 0..pollers {
            routes.push(vec![self.route(queue, 1).await?]);
        }
        let drains = routes.iter_mut().map(|routes| {
            sellerops_event_router::drain(&self.router, routes.as_mut_slice(), deadline)
        });
        let mut received = 0;
        for summary in futures::future::join_all(drains).await {
            let summary = summary?;
            if !summary.finished {
                return Err(format!(
                    "{} still had messages after {}s",
                    queue.function,
                    deadline.as_secs()
                )
                .into());
            }
            let report: PollReport = summary.routes.iter().map(|(_, report)| *report).fold(
                PollReport::default(),
                |mut total, report| {
                    total += report;
                    total
                },
            );
            received += report.received as u64;
        }
        Ok(received)
    }

    /// Receives one message of `queue` the way a consumer does, hiding it for
    /// `visibility`; `None` when none comes within five seconds.
    pub async fn receive_one(
        &self,
        queue: &Queue,
        visibility: Duration,
    ) -> Result<Option<Message>, ScenarioError> {
        let received = self
            .aws
            .sqs
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(1)
            .visibility_timeout(i32::try_from(visibility.as_secs()).unwrap_or(30))
            .wait_time_seconds(5)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await?;
        Ok(received.messages().first().cloned())
    }

    /// The SQS event Lambda would hand `queue`'s function for `messages`.
    pub async fn event_of(
        &self,
        queue: &Queue,
        messages: &[Message],
    ) -> Result<Value, ScenarioError> {
        let route = self.route(queue, 1).await?;
        Ok(serde_json::to_value(sqs_event(messages, &route.source))?)
    }

    /// Takes every message left in `queue` (receiving and deleting them), and counts
    /// them by their outbox deduplication id (or body, for messages without one).
    pub async fn take_all(&self, queue: &Queue) -> Result<BTreeMap<String, u64>, ScenarioError> {
        let mut taken = BTreeMap::new();
        loop {
            let received = self
                .aws
                .sqs
                .receive_message()
                .queue_url(&queue.url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .message_attribute_names("All")
                .send()
                .await?;
            let messages = received.messages();
            if messages.is_empty() {
                return Ok(taken);
            }
            for message in messages {
                let key = message
                    .message_attributes()
                    .and_then(|a| a.get(DEDUP_ATTRIBUTE))
                    .and_then(|v| v.string_value())
                    .or(message.body())
                    .unwrap_or_default()
                    .to_owned();
                *taken.entry(key).or_insert(0) += 1;
                if let Some(receipt) = message.receipt_handle() {
                    self.aws
                        .sqs
                        .delete_message()
                        .queue_url(&queue.url)
                        .receipt_handle(receipt)
                        .send()
                        .await?;
                }
            }
        }
    }

    /// Sends `body` to `queue`, as a producer does.
    pub async fn send(&self, queue: &Queue, body: &str) -> Result<(), ScenarioError> {
        self.aws
            .sqs
            .send_message()
            .queue_url(&queue.url)
            .message_body(body)
            .send()
            .await?;
        Ok(())
    }

    /// Runs `infra/local/restart.sh <what>`: `postgres`, `pause-moto` or `moto`.
    pub async fn restart(&self, what: &'static str) -> Result<(), ScenarioError> {
        let script = self.repo_root.join("infra/local/restart.sh");
        // The stack's own database URL, so that restart.sh knows the cluster as its own.
        let stack_database = std::env::var("SELLEROPS_STACK_DATABASE_URL").ok();
        let output = tokio::task::spawn_blocking(move || {
            let mut command = std::process::Command::new("bash");
            command.arg(script).arg(what);
            if let Some(url) = stack_database {
                command.env("DATABASE_URL", url);
            }
            command.stdin(std::process::Stdio::null()).output()
        })
        .await??;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "restart.sh {what} failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )
            .into())
        }
    }

    /// A number from the suite's database (a `count(*)`, a sum), never negative.
    pub async fn number(&self, query: &str, bind: &str) -> Result<u64, ScenarioError> {
        let value: Option<i64> = sqlx::query_scalar(query)
            .bind(bind)
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(value.unwrap_or(0)).unwrap_or(0))
    }
}

/// The `/_sim/` control API of a simulator.
#[derive(Debug, Clone)]
pub struct SimulatorControl {
    http: reqwest::Client,
    base_url: String,
}

impl SimulatorControl {
    async fn post(&self, path: &str, body: &Value) -> Result<(), ScenarioError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .json(body)
            .send()
            .await?;
        if response.status().is_success() {
            Ok(())
        } else {
            let status = response.status();
            Err(format!(
                "{path}: {status} {}",
                response.text().await.unwrap_or_default()
            )
            .into())
        }
    }

    /// Adds Freshdesk tickets (documents as the API lists them, each with its
    /// `conversations`).
    pub async fn add_tickets(&self, tickets: &[Value]) -> Result<(), ScenarioError> {
        self.post("/_sim/tickets", &json!({ "tickets": tickets }))
            .await
    }

    /// Adds Mirakl orders (documents as OR11 returns them).
    pub async fn add_orders(&self, orders: &[Value]) -> Result<(), ScenarioError> {
        self.post("/_sim/orders", &json!({ "orders": orders }))
            .await
    }

    /// Injects a fault (see the simulators' `faults` module).
    pub async fn fault(&self, fault: Value) -> Result<(), ScenarioError> {
        self.post("/_sim/faults", &fault).await
    }

    /// Clears every fault.
    pub async fn clear_faults(&self) -> Result<(), ScenarioError> {
        self.http
            .delete(format!("{}/_sim/faults", self.base_url))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// The simulators' state: orders, shipments, faults, recent calls.
    pub async fn state(&self) -> Result<Value, ScenarioError> {
        Ok(self
            .http
            .get(format!("{}/_sim/state", self.base_url))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// What the simulators counted (`/_sim/counters`): requests per route, and Canada
    /// Post shipments and refunds in all and per `customer-ref-1`.
    pub async fn counters(&self) -> Result<Value, ScenarioError> {
        Ok(self
            .http
            .get(format!("{}/_sim/counters", self.base_url))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// How many calls to `route` answered with a 2xx and named `needle` in their target.
    pub async fn successful_calls(&self, route: &str, needle: &str) -> Result<u64, ScenarioError> {
        let state = self.state().await?;
        let calls = state["calls"].as_array().cloned().unwrap_or_default();
        Ok(calls
            .iter()
            .filter(|call| {
                call["route"] == route
                    && call["status"]
                        .as_u64()
                        .is_some_and(|s| (200..300).contains(&s))
                    && call["target"].as_str().is_some_and(|t| t.contains(needle))
            })
            .count() as u64)
    }
}
