//! Moving a deployed table's campaigns and messages from `gsi1` to `gsi2` (README, "Migrating a
//! deployed table"): each item created before `gsi2` gets its `gsi2` keys and loses its `gsi1`
//! ones, so its updates stop writing `gsi1`. The readers read both while this runs, and running
//! it twice moves nothing twice.

use super::expr::Expr;
use super::queries::{text, unsigned};
use super::{dynamo, keys, s, Item, Store, StoreError};

/// What one page of the move did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MovePage {
    /// Items read (a Scan page).
    pub scanned: usize,
    /// Campaigns and messages moved (or that would be, on a dry run).
    pub moved: usize,
    /// Where the next page starts; `None` when the table is done.
    pub next: Option<Item>,
}

/// The `gsi2` keys of a campaign or message item that still has `gsi1` ones.
fn member_keys(item: &Item) -> Option<(String, String)> {
    let tenant = text(item, "tenant_id")?;
    match text(item, "entity")?.as_str() {
        "message" => {
            let wamid = text(item, "wamid")?;
            let campaign = text(item, "campaign_id")?;
            Some((
                keys::campaign_messages_shard(&tenant, &campaign, keys::message_shard(&wamid)),
                keys::message_member(&wamid),
            ))
        }
        "campaign" => {
            let campaign = text(item, "campaign_id")?;
            let template = unsigned(item, "template_id")?;
            Some((
                keys::template_campaigns(&tenant, template),
                keys::campaign(&campaign),
            ))
        }
        _ => None,
    }
}

impl Store {
    /// Moves one Scan page (up to `limit` items read) of legacy campaigns and messages to
    /// `gsi2`; with `dry_run`, counts them only. Each move is conditional on the item still
    /// having its `gsi1` key, so a concurrent or repeated run moves nothing twice.
    pub async fn move_page_to_member_index(
        &self,
        start: Option<Item>,
        limit: i32,
        dry_run: bool,
    ) -> Result<MovePage, StoreError> {
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression(
                "attribute_exists(gsi1pk) AND (entity = :message OR entity = :campaign)",
            )
            .expression_attribute_values(":message", s("message"))
            .expression_attribute_values(":campaign", s("campaign"))
            .set_exclusive_start_key(start)
            .limit(limit)
            .send()
            .await
            .map_err(dynamo)?;
        let mut page = MovePage {
            scanned: out.scanned_count as usize,
            next: out.last_evaluated_key.filter(|k| !k.is_empty()),
            ..MovePage::default()
        };
        for item in out.items.unwrap_or_default() {
            let (Some((pk, sk)), Some(table_pk), Some(table_sk)) =
                (member_keys(&item), text(&item, "pk"), text(&item, "sk"))
            else {
                continue;
            };
            if dry_run {
                page.moved += 1;
                continue;
            }
            let mut e = Expr::new();
            e.set("gsi2pk", s(pk))
                .set("gsi2sk", s(sk))
                .remove("gsi1pk")
                .remove("gsi1sk");
            let legacy = e.name("gsi1pk");
            e.condition(format!("attribute_exists({legacy})"));
            match self.update(super::key(table_pk, table_sk), e, None).await {
                Ok(_) => page.moved += 1,
                Err(StoreError::Conflict) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::super::n;
    use super::*;

    #[test]
    fn messages_and_campaigns_get_the_keys_new_ones_are_written_with() {
        let message: Item = [
            ("entity", s("message")),
            ("tenant_id", s("acme")),
            ("wamid", s("wamid.A")),
            ("campaign_id", s("c1")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(
            member_keys(&message),
            Some((
                keys::campaign_messages_shard("acme", "c1", keys::message_shard("wamid.A")),
                "MESSAGE#wamid.A".to_owned()
            ))
        );
        let campaign: Item = [
            ("entity", s("campaign")),
            ("tenant_id", s("acme")),
            ("campaign_id", s("c1")),
            ("template_id", n(18_446_744_073_709_551_615u64)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(
            member_keys(&campaign),
            Some((
                keys::template_campaigns("acme", u64::MAX),
                "CAMPAIGN#c1".to_owned()
            ))
        );
        let alert: Item = [("entity", s("alert")), ("tenant_id", s("acme"))]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(member_keys(&alert), None);
    }
}
