//! A hello-world `lambda_http` function: the same runtime, tracing set-up and release profile as
//! the bridge's functions, and nothing else. `scripts/bench` compares their cold starts with it.

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    lambda_http::run(service_fn(|_: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
