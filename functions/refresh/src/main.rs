//! The `refresh` function: serves `refresh`'s route of the authyy API. It builds the shared
//! state once per execution environment and hands every request to the shared endpoint code.

authyy::lambda_main!(Refresh);
