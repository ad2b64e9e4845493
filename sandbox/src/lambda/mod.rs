//! AWS Lambda, simulated: the Lambda Runtime API that a function binary polls, and an API
//! Gateway HTTP API (payload v2) in front of it.
//!
//! With these, the real `bootstrap` binaries run on this machine exactly as on Lambda: the
//! same `lambda_runtime` loop, the same event JSON, the same response conversion. Whole-flow
//! tests use them to drive the AWS path, and the benchmarks use them to time cold starts.

mod function;
mod http_api;
mod runtime_api;

pub use function::{FunctionSpec, InvokeError, InvokeOutcome, LambdaFunction};
pub use http_api::{HttpApiGateway, Route};
