//! The endpoint suite on the DynamoDB store, SES mailer and Secrets Manager keys, over HTTP
//! against the local AWS server the test command starts.

mod suite;

use suite::dynamo::Dynamo;

endpoint_suite!(Dynamo);
