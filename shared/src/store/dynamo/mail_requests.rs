//! Mail requests on DynamoDB: one item per request, by its random id, expiring with TTL.

use async_trait::async_trait;

use super::item::*;
use super::DynamoStore;
use crate::store::*;

#[async_trait]
impl MailRequestStore for DynamoStore {
    async fn put_mail_request(&self, request: &MailRequest) -> StoreResult<()> {
        let mut item = mail_request_key(&request.id);
        item.extend([
            ("kind".into(), s(request.kind.as_str())),
            ("email".into(), s(&request.email)),
            ("expires_at".into(), n(request.expires_at)),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| super::sdk_error("put mail request", e))
    }

    async fn mail_request(&self, id: &str, now: i64) -> StoreResult<Option<MailRequest>> {
        let Some(item) = self.get("get mail request", mail_request_key(id)).await? else {
            return Ok(None);
        };
        let expires_at: i64 = get_n(&item, "expires_at")?;
        let Some(kind) = MailRequestKind::parse(&get_s(&item, "kind")?) else {
            return Ok(None);
        };
        Ok((expires_at > now).then(|| MailRequest {
            id: id.to_string(),
            kind,
            email: opt_s(&item, "email").unwrap_or_default(),
            expires_at,
        }))
    }

    async fn forget_mail_request(&self, id: &str) -> StoreResult<()> {
        self.delete_if(
            "forget mail request",
            mail_request_key(id),
            "attribute_exists(pk)",
        )
        .await
        .map(|_| ())
    }
}
