//! The `docs` function: the API's OpenAPI description (GET /auth/openapi.json), the interactive
//! documentation page rendering it (GET /auth/docs), and 404 JSON for every unmatched route.

authyy::lambda_main!(OpenApi, Docs);
