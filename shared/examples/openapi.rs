//! Prints the OpenAPI description `GET /auth/openapi.json` serves, for tools that need it without
//! a running API: `cargo run -q -p authyy --example openapi > openapi.json` (the JS client's type
//! generation, `clients/js`).

fn main() -> Result<(), serde_json::Error> {
    let doc = authyy::endpoints::docs::openapi_document("/")?;
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}
