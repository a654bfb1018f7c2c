use conversation_auto_reply::{handle, ConversationAutoReply};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use sellerops::ops::config::{AutoReplySettings, FromEnvironment};
use sellerops::systems::aws::load_sdk_config;
use sellerops::systems::freshdesk::FreshdeskClient;
use sellerops::systems::mirakl::MiraklClient;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sellerops::ops::telemetry::init();
    let aws_config = load_sdk_config().await;
    let settings = AutoReplySettings::load(&aws_config).await?;
    let pool = sellerops::systems::db::pool(&settings.database, "conversation-auto-reply")?;
    let mirakl = MiraklClient::from_settings(&settings.mirakl, pool.clone())?;
    let freshdesk = settings
        .freshdesk
        .as_ref()
        .map(|freshdesk| FreshdeskClient::from_settings(freshdesk, pool.clone()))
        .transpose()?;
    let function = ConversationAutoReply::new(&settings, &pool, &mirakl, freshdesk.as_ref());
    let function = &function;
    run(service_fn(move |event: LambdaEvent<_>| {
        handle(function, event)
    }))
    .await
}
