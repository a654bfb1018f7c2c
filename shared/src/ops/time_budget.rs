//! Time budgets: the longest each function can take, added up from the timeouts and
//! retry policies its code uses, and checked against what the deployment gives it.
//!
//! A function's worst case is its records run in rounds (a batch's records side by
//! side, as many at once as the database pool has connections), each record making its
//! outbound calls one after the other with every attempt timing out and every wait
//! between attempts at its cap, plus one slow database statement, and then the work
//! after the batch (publishing the outbox). [`TimeBudget::check`] holds that worst case
//! against the Lambda timeout with a fifth of it to spare, and the queue's visibility
//! timeout against six times the Lambda timeout, as AWS advises for queues Lambda
//! consumes: a message is never delivered again while an invocation may still be
//! working on it. Leases held per record must outlast the invocation and run out before
//! the message is delivered again.
//!
//! The numbers are the code's own: the clients' request timeouts, the retry policies
//! the functions pass to them, the SDK's operation timeout, the pool's acquire timeout
//! and the database settings. The deployment's numbers (Lambda timeout, batch size,
//! visibility timeout, pool size) come from `infra/template.yaml`, which a test reads
//! and checks here, so that changing either side cannot silently break the other.
//!
//! At run time the same per-record worst case tells a batch when to stop starting
//! records ([`crate::ops::sqs_batch`]): when less than that is left before the
//! invocation's deadline, the records not started go back to the queue.

use std::fmt;
use std::time::Duration;

use crate::flows::fulfilment::{acceptance, labels};
use crate::flows::ingest::import::IMPORT_LEASE;
use crate::flows::marketplace_sync::freshdesk_tickets::FRESHDESK_POLL_RETRY;
use crate::flows::marketplace_sync::shopify_orders::SHOPIFY_POLL_RETRY;
use crate::flows::marketplace_sync::POLL_RETRY;
use crate::flows::pricing::apply;
use crate::flows::replies;
use crate::ops::config::DatabaseSettings;
use crate::ops::retry::RetryPolicy;
use crate::ops::sqs_batch::BatchPlan;
use crate::systems::freshdesk::client as freshdesk;
use crate::systems::shopify::admin as shopify_admin;
use crate::systems::{aws, canadapost, db, mirakl};

/// One call to an outside system, as a record or run makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundCall {
    /// What is called, for the budget table (`Mirakl OR21`).
    pub what: &'static str,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// How it is retried within the invocation.
    pub retry: RetryPolicy,
}

impl OutboundCall {
    /// The longest the call can take, its retries included.
    pub fn worst_case(&self) -> Duration {
        self.retry.worst_case(self.timeout)
    }

    fn mirakl(what: &'static str, retry: RetryPolicy) -> Self {
        Self {
            what,
            timeout: mirakl::REQUEST_TIMEOUT,
            retry,
        }
    }

    fn shopify(what: &'static str, retry: RetryPolicy) -> Self {
        Self {
            what,
            timeout: shopify_admin::REQUEST_TIMEOUT,
            retry,
        }
    }

    fn freshdesk(what: &'static str, retry: RetryPolicy) -> Self {
        Self {
            what,
            timeout: freshdesk::REQUEST_TIMEOUT,
            retry,
        }
    }

    fn canadapost(what: &'static str, retry: RetryPolicy) -> Self {
        Self {
            what,
            timeout: canadapost::REQUEST_TIMEOUT,
            retry,
        }
    }

    /// An S3 or SQS operation: the SDK's operation timeout covers its own retries.
    fn aws(what: &'static str) -> Self {
        Self {
            what,
            timeout: aws::OPERATION_TIMEOUT,
            retry: RetryPolicy::ONCE,
        }
    }
}

/// What handling one record (or one scheduled run) involves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordWork {
    /// These calls one after the other, the longest path through the flow, plus one
    /// slow database statement.
    Calls(Vec<OutboundCall>),
    /// Works until done or until the invocation ends, and resumes after its last
    /// committed step when the message is delivered again (an order-file import): its
    /// worst case is the whole invocation, so a batch holds one record.
    UntilDone,
}

/// How a function is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// By an SQS event source mapping, a batch at a time.
    Queue,
    /// By a schedule, one run at a time.
    Schedule,
}

/// One function's time budget, as its code determines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeBudget {
    /// The function's name (its binary).
    pub function: &'static str,
    /// How it is started.
    pub trigger: Trigger,
    /// One record's work, or one run's for a scheduled function.
    pub record: RecordWork,
    /// Whether a batch's records run side by side (as many as the pool has
    /// connections); when false they run one after the other.
    pub concurrent_records: bool,
    /// What follows the batch or run: the outbox publish stops starting sends when time
    /// runs short, so one send counts.
    pub after_batch: Vec<OutboundCall>,
    /// A lease each record holds while it is worked on.
    pub lease: Option<Duration>,
}

/// What the deployment gives a function: `infra/template.yaml`'s numbers.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The Lambda timeout.
    pub timeout: Duration,
    /// The function's database settings, read from its environment.
    pub database: DatabaseSettings,
    /// For a queue consumer, its event source mapping and queue.
    pub queue: Option<QueueDeployment>,
}

/// A queue consumer's event source mapping and queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueDeployment {
    /// Records per invocation at most (`BatchSize`).
    pub batch_size: u32,
    /// The queue's `VisibilityTimeout`.
    pub visibility_timeout: Duration,
}

/// A budget that fits: the line of the budget table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetLine {
    /// The function.
    pub function: &'static str,
    /// Its Lambda timeout.
    pub timeout: Duration,
    /// Records per batch (none for a schedule).
    pub batch_size: Option<u32>,
    /// Rounds a full batch takes.
    pub rounds: u32,
    /// The worst case of one record (or one run's fixed part).
    pub record_worst_case: Duration,
    /// The worst case of the whole invocation.
    pub worst_case: Duration,
    /// The queue's visibility timeout.
    pub visibility_timeout: Option<Duration>,
}

impl fmt::Display for BudgetLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = |d: Duration| format!("{} s", d.as_secs());
        write!(
            f,
            "| {} | {} | {} | {} | {} | {} |",
            self.function,
            secs(self.timeout),
            self.batch_size
                .map_or_else(|| "schedule".to_owned(), |n| n.to_string()),
            secs(self.record_worst_case),
            secs(self.worst_case),
            self.visibility_timeout.map_or_else(|| "-".to_owned(), secs),
        )
    }
}

/// The share of the Lambda timeout the worst case may use: the rest is the margin for
/// a cold start, a slow network and the runtime's own work.
const USABLE_FIFTHS: u32 = 4;

/// A queue's visibility timeout is at least this many times its function's timeout.
pub const VISIBILITY_FACTOR: u32 = 6;

/// The database time one record is allowed: waiting for a connection, and one statement
/// running to its timeout (the others are short; a lock held elsewhere fails after the
/// lock timeout, well within the statement timeout).
pub fn database_allowance(database: &DatabaseSettings) -> Duration {
    db::ACQUIRE_TIMEOUT.saturating_add(database.statement_timeout)
}

impl TimeBudget {
    /// The longest one record (or one run's fixed part) can take.
    pub fn record_worst_case(&self, database: &DatabaseSettings) -> Option<Duration> {
        match &self.record {
            RecordWork::Calls(calls) => Some(
                calls
                    .iter()
                    .map(OutboundCall::worst_case)
                    .fold(database_allowance(database), Duration::saturating_add),
            ),
            RecordWork::UntilDone => None,
        }
    }

    /// How many records of a batch run side by side.
    pub fn concurrency(&self, database: &DatabaseSettings) -> u32 {
        if self.concurrent_records {
            database.max_connections.max(1)
        } else {
            1
        }
    }

    /// How a batch of this function is worked through: a record starts only while its
    /// worst case and the work after the batch still fit before the deadline, and as
    /// many run at once as [`TimeBudget::concurrency`] allows. The deadline is the
    /// invocation's ([`BatchPlan::until`]).
    pub fn batch_plan(&self, database: &DatabaseSettings) -> BatchPlan {
        let record_time = self
            .record_worst_case(database)
            .unwrap_or(Duration::ZERO)
            .saturating_add(self.after_batch_worst_case(database));
        BatchPlan {
            deadline: None,
            record_time,
            concurrency: usize::try_from(self.concurrency(database)).unwrap_or(1),
        }
    }

    /// The longest the work after the batch can take.
    fn after_batch_worst_case(&self, database: &DatabaseSettings) -> Duration {
        if self.after_batch.is_empty() {
            return Duration::ZERO;
        }
        self.after_batch
            .iter()
            .map(OutboundCall::worst_case)
            .fold(database_allowance(database), Duration::saturating_add)
    }

    /// Checks the budget against `deployment`: the line of the budget table when it fits,
    /// otherwise every rule it breaks.
    pub fn check(&self, deployment: &Deployment) -> Result<BudgetLine, Vec<String>> {
        let mut problems = Vec::new();
        let name = self.function;
        let timeout = deployment.timeout;
        let usable = timeout.saturating_mul(USABLE_FIFTHS) / 5;

        let queue = match (self.trigger, deployment.queue) {
            (Trigger::Queue, Some(queue)) => Some(queue),
            (Trigger::Schedule, None) => None,
            (Trigger::Queue, None) => {
                return Err(vec![format!(
                    "{name} consumes a queue, but none is deployed"
                )])
            }
            (Trigger::Schedule, Some(_)) => {
                return Err(vec![format!(
                    "{name} runs on a schedule, but is deployed on a queue"
                )])
            }
        };
        let batch_size = queue.map_or(1, |queue| queue.batch_size.max(1));
        let concurrency = self.concurrency(&deployment.database);
        let rounds = batch_size.div_ceil(concurrency);

        let (record_worst_case, worst_case) = match self.record_worst_case(&deployment.database) {
            Some(record) => {
                let worst = record
                    .saturating_mul(rounds)
                    .saturating_add(self.after_batch_worst_case(&deployment.database));
                if worst > usable {
                    problems.push(format!(
                        "{name}: {rounds} round(s) of {} s a record, plus {} s after the batch, \
                         is {} s, more than {} s ({USABLE_FIFTHS}/5 of its {} s timeout)",
                        record.as_secs(),
                        self.after_batch_worst_case(&deployment.database).as_secs(),
                        worst.as_secs(),
                        usable.as_secs(),
                        timeout.as_secs(),
                    ));
                }
                (record, worst)
            }
            None => {
                if batch_size != 1 {
                    problems.push(format!(
                        "{name} works on a record until the invocation ends, so its batch \
                         size must be 1, not {batch_size}"
                    ));
                }
                (timeout, timeout)
            }
        };

        if let Some(queue) = queue {
            let needed = timeout.saturating_mul(VISIBILITY_FACTOR);
            if queue.visibility_timeout < needed {
                problems.push(format!(
                    "{name}: its queue's visibility timeout {} s is less than \
                     {VISIBILITY_FACTOR} x its {} s timeout",
                    queue.visibility_timeout.as_secs(),
                    timeout.as_secs(),
                ));
            }
            if let Some(lease) = self.lease {
                if lease >= queue.visibility_timeout {
                    problems.push(format!(
                        "{name}: its {} s lease outlasts the queue's {} s visibility timeout, \
                         so a message delivered again after a crash finds it still held",
                        lease.as_secs(),
                        queue.visibility_timeout.as_secs(),
                    ));
                }
            }
        }
        if let Some(lease) = self.lease {
            if lease < timeout {
                problems.push(format!(
                    "{name}: its {} s lease is shorter than its {} s timeout, so a live \
                     attempt could be overtaken",
                    lease.as_secs(),
                    timeout.as_secs(),
                ));
            }
        }

        if problems.is_empty() {
            Ok(BudgetLine {
                function: name,
                timeout,
                batch_size: queue.map(|queue| queue.batch_size),
                rounds,
                record_worst_case,
                worst_case,
                visibility_timeout: queue.map(|queue| queue.visibility_timeout),
            })
        } else {
            Err(problems)
        }
    }
}

/// `accept-orders`: per order, OR21 and, when Mirakl says the order moved on, OR11 to
/// read where it is; after the batch, the label messages are published.
pub fn accept_orders() -> TimeBudget {
    let retry = acceptance::RETRY;
    TimeBudget {
        function: "accept-orders",
        trigger: Trigger::Queue,
        record: RecordWork::Calls(vec![
            OutboundCall::mirakl("Mirakl OR21", retry),
            OutboundCall::mirakl("Mirakl OR11", retry),
        ]),
        concurrent_records: true,
        after_batch: vec![OutboundCall::aws("SQS SendMessageBatch")],
        lease: None,
    }
}

/// `fetch-shipping-label`: per order, the longest path through the label flow: a
/// purchase whose outcome was unknown is settled first (the shipments created around
/// it listed, then each one's details and, when it is the order's, the shipment read,
/// [`canadapost::SHIPMENT_READS_AT_ONCE`] at a time, at most
/// [`canadapost::MAX_SHIPMENTS_READ`]); none found, OR11 (is the order debited?), the
/// purchase and the PDF from Canada Post, the PDF into S3, OR23 and OR24, and OR11
/// again when Mirakl refuses OR24 as the order moved on. A settlement that finds the
/// label instead requests refunds of any bought twice ([`labels::REFUNDS_AT_ONCE`] at
/// a time, one round) in place of OR11 and the purchase, which is shorter.
pub fn fetch_shipping_label() -> TimeBudget {
    let retry = labels::RETRY;
    let search_read = |what| OutboundCall {
        what,
        timeout: canadapost::SEARCH_READ_TIMEOUT,
        retry,
    };
    let rounds = canadapost::MAX_SHIPMENTS_READ.div_ceil(canadapost::SHIPMENT_READS_AT_ONCE);
    let mut calls = vec![search_read("Canada Post GetNonContractShipments")];
    for _ in 0..rounds {
        calls.push(search_read("Canada Post GetNonContractShipmentDetails"));
        calls.push(search_read("Canada Post GetNonContractShipment"));
    }
    calls.extend([
        OutboundCall::mirakl("Mirakl OR11", retry),
        OutboundCall::canadapost("Canada Post CreateNonContractShipment", retry),
        OutboundCall::canadapost("Canada Post GetArtifact", retry),
        OutboundCall::aws("S3 PutObject"),
        OutboundCall::mirakl("Mirakl OR23", retry),
        OutboundCall::mirakl("Mirakl OR24", retry),
        OutboundCall::mirakl("Mirakl OR11", retry),
    ]);
    TimeBudget {
        function: "fetch-shipping-label",
        trigger: Trigger::Queue,
        record: RecordWork::Calls(calls),
        concurrent_records: true,
        after_batch: Vec::new(),
        lease: Some(labels::LABEL_LEASE),
    }
}

/// `ingest-orders-file`: one order file per invocation, resumed after its last batch
/// when it needs longer; the import's lease must outlast the invocation.
pub fn ingest_orders_file() -> TimeBudget {
    TimeBudget {
        function: "ingest-orders-file",
        trigger: Trigger::Queue,
        record: RecordWork::UntilDone,
        concurrent_records: false,
        after_batch: Vec::new(),
        lease: Some(IMPORT_LEASE),
    }
}

/// The longest one page of a marketplace poll (OR11 or M11) can take when asked with
/// `retry`: a poll starts a page only while this much, and what follows it, is left.
pub fn poll_page_worst_case(retry: RetryPolicy) -> Duration {
    OutboundCall::mirakl("Mirakl page", retry).worst_case()
}

/// The longest one page of the Shopify reconciliation can take when asked with `retry`:
/// the query with its retries (a throttled one asked again after the cost bucket's
/// refill, up to the policy's longest wait), and the refill the poll lets the bucket
/// have before the next page.
pub fn shopify_page_worst_case(retry: RetryPolicy) -> Duration {
    OutboundCall::shopify("Shopify orders page", retry)
        .worst_case()
        .saturating_add(retry.max_delay)
}

/// The longest one page of the helpdesk sync (a page of tickets, or of one ticket's
/// conversations) can take when asked with `retry`.
pub fn freshdesk_page_worst_case(retry: RetryPolicy) -> Duration {
    OutboundCall::freshdesk("Freshdesk page", retry).worst_case()
}

/// `sync-marketplace`: one run's fixed part, the first OR11 page, the first M11 page,
/// the first Shopify orders page and the first Freshdesk tickets page with their
/// retries, then one outbox send: the publish starts no send once too little time is
/// left. Later pages fit by construction: a poll starts another page (a ticket's
/// conversations included) only while that page, the later polls' first pages and one
/// send still fit before the deadline, and a poll cut short leaves its watermark for
/// the next run (the Shopify and Freshdesk ones move it to the newest change recorded). The purge at the end fits the
/// same way: it starts each of its three bounded deletes only while one statement's
/// database allowance is left ([`crate::ops::retention`]).
pub fn sync_marketplace() -> TimeBudget {
    TimeBudget {
        function: "sync-marketplace",
        trigger: Trigger::Schedule,
        record: RecordWork::Calls(vec![
            OutboundCall::mirakl("Mirakl OR11", POLL_RETRY),
            OutboundCall::mirakl("Mirakl M11", POLL_RETRY),
            OutboundCall::shopify("Shopify orders page", SHOPIFY_POLL_RETRY),
            OutboundCall::freshdesk("Freshdesk tickets page", FRESHDESK_POLL_RETRY),
        ]),
        concurrent_records: false,
        after_batch: vec![OutboundCall::aws("SQS SendMessageBatch")],
        lease: None,
    }
}

/// `conversation-auto-reply`: per customer message, the longest path through the reply
/// flow: the thread read from Mirakl when it was not recorded yet (M10), the thread
/// read back when an earlier attempt's reply may have been sent (M10), and the reply
/// sent (M12), each once ([`replies::RETRY`]); on a Freshdesk ticket, its conversations
/// read back ([`replies::READ_BACK_PAGES`] pages) and the reply. The longer of the two
/// counts. A message that could not be settled goes back to its queue and resumes.
/// Records run side by side, each holding its message's lease
/// ([`replies::REPLY_LEASE`]).
pub fn conversation_auto_reply() -> TimeBudget {
    let retry = replies::RETRY;
    let best_buy = vec![
        OutboundCall::mirakl("Mirakl M10 (thread not recorded)", retry),
        OutboundCall::mirakl("Mirakl M10 (reply read back)", retry),
        OutboundCall::mirakl("Mirakl M12", retry),
    ];
    let freshdesk: Vec<OutboundCall> = (0..replies::READ_BACK_PAGES)
        .map(|_| OutboundCall::freshdesk("Freshdesk conversations page (reply read back)", retry))
        .chain([OutboundCall::freshdesk("Freshdesk ticket reply", retry)])
        .collect();
    let length =
        |path: &Vec<OutboundCall>| -> Duration { path.iter().map(OutboundCall::worst_case).sum() };
    let longest = if length(&freshdesk) > length(&best_buy) {
        freshdesk
    } else {
        best_buy
    };
    TimeBudget {
        function: "conversation-auto-reply",
        trigger: Trigger::Queue,
        record: RecordWork::Calls(longest),
        concurrent_records: true,
        after_batch: Vec::new(),
        lease: Some(replies::REPLY_LEASE),
    }
}

/// `evaluate-pricing-rules`: per pricing-queue message, one evaluation of the listings
/// it names (no outside call, a few set-based statements, one slow one allowed), or one
/// price change applied, whose longest path is three calls of one attempt each: on Best
/// Buy the offer read (OF21), the imports read back after a request in doubt (OF04) and
/// the offer update (OF24); on Amazon an LWA token, the listing read and the patch, as
/// long. After the batch, the "apply a price change" messages are published. Records
/// run one after the other, so two messages about one listing do not race. The
/// scheduled full evaluation runs in the same function and works in pages, starting a
/// page only while one page's database allowance and the publish are left; what it does
/// not reach, the next scheduled run does.
pub fn evaluate_pricing_rules() -> TimeBudget {
    let retry = apply::RETRY;
    TimeBudget {
        function: "evaluate-pricing-rules",
        trigger: Trigger::Queue,
        record: RecordWork::Calls(vec![
            OutboundCall::mirakl("Mirakl OF21 (offer read)", retry),
            OutboundCall::mirakl("Mirakl OF04 (imports, after a request in doubt)", retry),
            OutboundCall::mirakl("Mirakl OF24 (offer update)", retry),
        ]),
        concurrent_records: false,
        after_batch: vec![OutboundCall::aws("SQS SendMessageBatch")],
        lease: Some(apply::APPLY_LEASE),
    }
}

/// Every function that runs from a queue or a schedule.
pub fn all() -> Vec<TimeBudget> {
    vec![
        accept_orders(),
        fetch_shipping_label(),
        ingest_orders_file(),
        sync_marketplace(),
        conversation_auto_reply(),
        evaluate_pricing_rules(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::config::FromEnvironment;

    fn database(max_connections: &str) -> DatabaseSettings {
        let vars = [
            ("DATABASE_URL", "postgres://app@db/sellerops"),
            ("DATABASE_MAX_CONNECTIONS", max_connections),
        ];
        DatabaseSettings::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn budget(calls: Vec<OutboundCall>) -> TimeBudget {
        TimeBudget {
            function: "test",
            trigger: Trigger::Queue,
            record: RecordWork::Calls(calls),
            concurrent_records: true,
            after_batch: Vec::new(),
            lease: None,
        }
    }

    fn on_queue(timeout: u64, batch_size: u32, visibility: u64, pool: &str) -> Deployment {
        Deployment {
            timeout: secs(timeout),
            database: database(pool),
            queue: Some(QueueDeployment {
                batch_size,
                visibility_timeout: secs(visibility),
            }),
        }
    }

    const CALL: OutboundCall = OutboundCall {
        what: "call",
        timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            attempts: 2,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(2),
        },
    };

    #[test]
    fn a_record_counts_every_attempt_every_wait_and_one_slow_statement() {
        // 2 x 10 s + 2 s per call, two calls, 5 s acquire + 10 s statement.
        let line = budget(vec![CALL, CALL])
            .check(&on_queue(100, 1, 600, "2"))
            .unwrap();
        assert_eq!(line.record_worst_case, secs(59));
        assert_eq!(line.worst_case, secs(59));
    }

    #[test]
    fn records_run_in_rounds_of_the_pool_size() {
        let line = budget(vec![CALL])
            .check(&on_queue(140, 5, 840, "2"))
            .unwrap();
        assert_eq!((line.rounds, line.worst_case), (3, secs(111)));
        let one_by_one = TimeBudget {
            concurrent_records: false,
            ..budget(vec![CALL])
        };
        let problems = one_by_one.check(&on_queue(140, 5, 840, "2")).unwrap_err();
        assert!(problems[0].contains("185 s"), "{problems:?}");
    }

    #[test]
    fn a_worst_case_past_four_fifths_of_the_timeout_does_not_fit() {
        // 37 s a record: fits 50 s (40 usable), not 45 s (36 usable).
        assert!(budget(vec![CALL]).check(&on_queue(50, 2, 300, "2")).is_ok());
        let problems = budget(vec![CALL])
            .check(&on_queue(45, 2, 300, "2"))
            .unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    #[test]
    fn the_visibility_timeout_is_six_times_the_function_timeout() {
        let problems = budget(vec![CALL])
            .check(&on_queue(60, 1, 359, "2"))
            .unwrap_err();
        assert!(problems[0].contains("visibility"), "{problems:?}");
        assert!(budget(vec![CALL]).check(&on_queue(60, 1, 360, "2")).is_ok());
    }

    #[test]
    fn a_lease_outlasts_the_invocation_and_ends_before_the_redelivery() {
        let leased = |lease| TimeBudget {
            lease: Some(secs(lease)),
            ..budget(vec![CALL])
        };
        assert!(leased(90).check(&on_queue(60, 1, 360, "2")).is_ok());
        assert_eq!(
            leased(50)
                .check(&on_queue(60, 1, 360, "2"))
                .unwrap_err()
                .len(),
            1
        );
        assert_eq!(
            leased(400)
                .check(&on_queue(60, 1, 360, "2"))
                .unwrap_err()
                .len(),
            1
        );
    }

    #[test]
    fn a_reply_takes_two_thread_reads_and_one_send_within_a_minute() {
        let reply = conversation_auto_reply();
        let line = reply.check(&on_queue(60, 2, 360, "2")).unwrap();
        // M10, M10, M12: 10 s each, one attempt; 5 s acquire + 10 s statement.
        assert_eq!((line.record_worst_case, line.rounds), (secs(45), 1));
        // Its lease outlasts a 60 s invocation and ends before a 360 s redelivery.
        assert!(reply.check(&on_queue(60, 2, 359, "2")).is_err());
        assert!(reply.check(&on_queue(150, 2, 900, "2")).is_err());
    }

    #[test]
    fn work_that_resumes_takes_one_record_a_batch() {
        let import = ingest_orders_file();
        assert!(import.check(&on_queue(300, 1, 1800, "2")).is_ok());
        let problems = import.check(&on_queue(300, 10, 1800, "2")).unwrap_err();
        assert!(problems[0].contains("batch size must be 1"), "{problems:?}");
    }

    #[test]
    fn the_label_budget_counts_the_calls_the_flow_makes_with_its_policy() {
        let label = fetch_shipping_label();
        let RecordWork::Calls(calls) = &label.record else {
            panic!("the label flow makes calls");
        };
        assert!(calls.iter().all(|call| call.retry == labels::RETRY));
        assert_eq!(
            calls
                .iter()
                .filter(|call| call.timeout == canadapost::REQUEST_TIMEOUT)
                .count(),
            2
        );
        let searches = calls
            .iter()
            .filter(|call| call.timeout == canadapost::SEARCH_READ_TIMEOUT)
            .count();
        assert_eq!(searches, 1 + 2 * 3, "a list and three rounds of reads");
    }
}
