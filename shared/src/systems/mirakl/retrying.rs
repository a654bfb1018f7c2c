//! Mirakl calls retried within the invocation: 429 (honouring a short `Retry-After`),
//! 5xx and transport failures. Each attempt is logged by [`MiraklClient::send`].

use super::{MiraklClient, MiraklError, MiraklRequest, MiraklResponse};
use crate::ops::retry::{with_retries, RetryPolicy, Transient};

impl MiraklClient {
    /// Sends `request`, retrying transient failures as `policy` allows.
    pub async fn send_retrying(
        &self,
        request: MiraklRequest<'_>,
        policy: RetryPolicy,
    ) -> Result<MiraklResponse, MiraklError> {
        with_retries(policy, transient, || self.send(request.clone())).await
    }
}

/// Whether another attempt may succeed now.
pub(crate) fn transient(err: &MiraklError) -> Transient {
    match err {
        MiraklError::RateLimited { retry_after, .. } => Transient::Yes(*retry_after),
        MiraklError::Unavailable { .. } | MiraklError::Transport { .. } => Transient::Yes(None),
        MiraklError::Rejected { .. } | MiraklError::UnexpectedBody { .. } => Transient::No,
    }
}
