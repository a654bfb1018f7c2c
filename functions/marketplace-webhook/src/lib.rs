//! marketplace-webhook: API Gateway (HTTP API, payload v2) in front of
//! [`sellerops::flows::webhooks::WebhookService`]. This crate only translates HTTP.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use lambda_http::http::header::{HeaderValue, CONTENT_TYPE};
use lambda_http::http::StatusCode;
use lambda_http::lambda_runtime::LambdaInvocation;
use lambda_http::{Body, Error, Request, Response, Service};
use sellerops::flows::webhooks::{WebhookAnswer, WebhookDelivery, WebhookService};

/// The runtime's invocation service, with the follow-ups published after each answer:
/// the inner service has posted the response to the Runtime API when its call ends,
/// so API Gateway's caller has it, and the function publishes before it asks for the
/// next request (the instance is not frozen while a send is on its way).
pub struct PublishAfterAnswer<S> {
    /// The runtime's own service, which answers the invocation.
    pub inner: S,
    /// The service whose deliveries' follow-ups are published.
    pub service: &'static WebhookService,
}

impl<S> Service<LambdaInvocation> for PublishAfterAnswer<S>
where
    S: Service<LambdaInvocation, Response = (), Error = Error>,
    S::Future: 'static,
{
    type Response = ();
    type Error = Error;
    // Not `Send`: the runtime's own answering future is not, and the runtime polls
    // its invocations on its own task.
    type Future = Pin<Box<dyn Future<Output = Result<(), Error>>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        let answered = self.inner.call(invocation);
        let service = self.service;
        Box::pin(async move {
            let outcome = answered.await;
            service.publish_follow_ups().await;
            outcome
        })
    }
}

/// Answers one API Gateway request.
pub async fn handle(service: &WebhookService, request: Request) -> Response<Body> {
    let body: &[u8] = match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    let answer = service
        .handle(WebhookDelivery {
            method: request.method().as_str(),
            path: request.uri().path(),
            headers: request.headers(),
            body,
        })
        .await;
    respond(&answer)
}

/// The HTTP response for an answer. One that cannot be built (a status HTTP does not
/// have) is a 500: the sender must never read success into a failure of ours.
fn respond(answer: &WebhookAnswer) -> Response<Body> {
    let mut response = Response::builder()
        .status(answer.status)
        .header("content-type", "application/json");
    if answer.status == 405 {
        response = response.header("allow", "POST");
    }
    response
        .body(Body::Text(answer.body.to_string()))
        .unwrap_or_else(|err| {
            tracing::error!(status = answer.status, error = %err, "webhook answer not built");
            let mut failed = Response::new(Body::Text(r#"{"error":"internal error"}"#.to_owned()));
            *failed.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            failed
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            failed
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sellerops::model::customer_email::EmailPepper;
    use sellerops::ops::config::{DatabaseSettings, WebhookSettings};

    fn service() -> WebhookService {
        // Never connects: these answers are decided before any database work.
        let database = DatabaseSettings {
            url: "postgres://nobody@127.0.0.1:1/none".to_owned().into(),
            max_connections: 1,
            statement_timeout: std::time::Duration::from_secs(1),
            lock_timeout: std::time::Duration::from_secs(1),
        };
        let pool = sellerops::systems::db::pool(&database, "unit-test").unwrap();
        WebhookService::new(
            pool,
            WebhookSettings {
                body_limit_bytes: 16,
                ..WebhookSettings::default()
            },
            EmailPepper::new("pepper-for-the-unit-tests".to_owned().into()),
            None,
        )
    }

    fn request(method: &str, path: &str, body: &str) -> Request {
        lambda_http::http::Request::builder()
            .method(method)
            .uri(path)
            .body(Body::Text(body.to_owned()))
            .unwrap()
    }

    #[tokio::test]
    async fn an_unknown_route_is_404_and_a_get_is_405_with_allow() {
        let service = service();
        let missing = handle(&service, request("POST", "/webhooks/ebay", "[]")).await;
        assert_eq!(missing.status(), 404);
        let get = handle(&service, request("GET", "/webhooks/mirakl", "")).await;
        assert_eq!(get.status(), 405);
        assert_eq!(get.headers()["allow"], "POST");
    }

    #[tokio::test]
    async fn a_body_above_the_limit_is_413_and_an_unsigned_one_401() {
        let service = service();
        let large = handle(
            &service,
            request("POST", "/webhooks/mirakl", &"x".repeat(17)),
        )
        .await;
        assert_eq!(large.status(), 413);
        let unsigned = handle(&service, request("POST", "/webhooks/mirakl", "[]")).await;
        assert_eq!(unsigned.status(), 401);
        assert_eq!(unsigned.headers()["content-type"], "application/json");
    }

    #[test]
    fn an_answer_that_cannot_be_built_is_a_500_never_a_200() {
        let answer = WebhookAnswer {
            status: 1000,
            body: serde_json::json!({ "status": "recorded" }),
        };

        let response = respond(&answer);

        assert_eq!(response.status(), 500);
        let Body::Text(text) = response.body() else {
            panic!("a JSON text body");
        };
        assert!(!text.contains("recorded"), "{text}");
    }
}
