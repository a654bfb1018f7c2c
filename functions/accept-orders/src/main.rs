use accept_orders::{handle, AcceptOrders};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use sellerops::flows::fulfilment::acceptance::{self, Acceptance};
use sellerops::ops::config::{AcceptOrdersSettings, FromEnvironment};
use sellerops::ops::time_budget;
use sellerops::systems::aws::AwsClients;
use sellerops::systems::mirakl::MiraklClient;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerops::ops::telemetry::init();
    let settings = AcceptOrdersSettings::from_env()?;
    let pool = sellerops::systems::db::pool(&settings.database, "accept-orders")?;
    let mirakl = MiraklClient::from_settings(&settings.mirakl, pool.clone())?;
    let aws = AwsClients::from_env(settings.aws.endpoint_url.as_deref()).await;
    let function = AcceptOrders {
        acceptance: Acceptance {
            pool: &pool,
            mirakl: &mirakl,
            retry: acceptance::RETRY,
            reservation_hold: settings.reservation_hold,
        },
        sqs: &aws.sqs,
        queues: &settings.outbox_queues,
        batch: time_budget::accept_orders().batch_plan(&settings.database),
    };
    let function = &function;
    run(service_fn(move |event: LambdaEvent<_>| {
        handle(function, event)
    }))
    .await
}
