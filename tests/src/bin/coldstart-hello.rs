//! The anchor of `make bench-coldstart`: a `lambda_runtime` function that answers each
//! event with the event itself, on the functions' runtime (tokio's multi-threaded one).
//! Its cold start is the floor a Rust function on this machine can reach, so the
//! functions' cold starts are read as a ratio to it, measured in the same run.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(event.payload)
    }))
    .await
}
