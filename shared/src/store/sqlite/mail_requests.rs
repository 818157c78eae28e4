//! Mail requests on SQLite: one row per request, swept when expired.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::*;

#[async_trait]
impl MailRequestStore for SqliteStore {
    async fn put_mail_request(&self, request: &MailRequest) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO mail_requests (id, kind, email, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![
                    request.id,
                    request.kind.as_str(),
                    request.email,
                    request.expires_at
                ],
            )
            .map_err(backend)?;
            Ok(())
        })
    }

    async fn mail_request(&self, id: &str, now: i64) -> StoreResult<Option<MailRequest>> {
        let row: Option<(String, String, i64)> = self.write(|tx| {
            // Requests past their time are swept as the mailer comes (DynamoDB's TTL does
            // this there).
            tx.execute("DELETE FROM mail_requests WHERE expires_at <= ?1", [now])
                .map_err(backend)?;
            tx.query_row(
                "SELECT kind, email, expires_at FROM mail_requests WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(backend)
        })?;
        Ok(row.and_then(|(kind, email, expires_at)| {
            Some(MailRequest {
                id: id.to_string(),
                kind: MailRequestKind::parse(&kind)?,
                email,
                expires_at,
            })
        }))
    }

    async fn forget_mail_request(&self, id: &str) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM mail_requests WHERE id = ?1", [id])
                .map_err(backend)?;
            Ok(())
        })
    }
}
