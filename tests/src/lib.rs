//! Support for the workspace integration tests in `tests/tests/`.
//!
//! The tests run against the local stack (`infra/local/up.sh`): a real PostgreSQL and
//! moto's S3/SQS. `make test` starts it and exports its settings; running `cargo test`
//! by hand needs `source infra/local/env.sh` after `infra/local/up.sh`.

use sellerops::systems::aws::AwsClients;

pub mod bench;
pub mod events;
pub mod fixtures;
pub mod fulfilment;
pub mod marketplace;
pub mod order_files;
pub mod pricing;
pub mod reliability;

/// Reads a variable the local stack exports, or explains how to get it.
pub fn stack_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: start the local stack with `infra/local/up.sh` and \
             `source infra/local/env.sh` (or run `make test`)"
        )
    })
}

/// AWS clients pointed at the local stack's S3/SQS endpoint.
pub async fn local_aws() -> AwsClients {
    let endpoint = stack_var("AWS_ENDPOINT_URL");
    AwsClients::from_env(Some(&endpoint)).await
}

/// A name no other test run uses, for buckets, queues and keys a test creates.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Creates a bucket of the caller's own in the local S3 (named from `prefix`), in the
/// stack's region, so tests never share or fight over a bucket.
pub async fn create_local_bucket(aws: &AwsClients, prefix: &str) -> String {
    let bucket = unique_name(prefix);
    let region = stack_var("AWS_REGION");
    aws.s3
        .create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    region.as_str(),
                ))
                .build(),
        )
        .send()
        .await
        .expect("create bucket");
    bucket
}
